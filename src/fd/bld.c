/* The Byzantine leader detector of the fail-arbitrary model, book Alg. 2.10 "Rotating Byzantine
 * Leader Detection" (module bld), over authenticated perfect links.
 *
 * Specification (module Byzantine leader detector, instance "bld"):
 *   Request:    <bld, Complain | p> - the upper layer complains that leader p makes no progress.
 *   Indication: <bld, Trust | p>    - p is trusted to be the leader.
 *   BLD1 Eventual succession: if more than f correct processes that trust some process p
 *        complain about p, then every correct process eventually trusts a different process.
 *   BLD2 Putsch resistance: a correct process does not trust a new leader unless at least one
 *        correct process has complained against the previous leader.
 *   BLD3 Eventual agreement: there is a time after which no two correct processes trust
 *        different processes.
 * Model: fail-arbitrary (N > 3f, at most f Byzantine processes; links authenticate the sender,
 * links/auth.c, so a Byzantine process can complain only in its own name). Leaders rotate over
 * rounds: leader(r) = ((r - 1) mod N) + 1, so round 1 trusts p1.
 *
 *   upon event <Init> do round := 1; complainlist := [⊥]^N; complained := FALSE;
 *       trigger <Trust | leader(round)>;
 *   upon event <Complain | p> such that p = leader(round) ∧ complained = FALSE do
 *       complained := TRUE; forall q do trigger <al, Send | q, [COMPLAINT, round]>;
 *   upon event <al, Deliver | p, [COMPLAINT, r]> such that r = round ∧ complainlist[p] = ⊥ do
 *       complainlist[p] := COMPLAINT;
 *       if #(complainlist) = f + 1 ∧ complained = FALSE then
 *           complained := TRUE; forall q do trigger <al, Send | q, [COMPLAINT, round]>;
 *       else if #(complainlist) = 2f + 1 then
 *           round := round + 1; complainlist := [⊥]^N; complained := FALSE;
 *           trigger <Trust | leader(round)>;
 *
 * Why it holds: f Byzantine complaints never reach f + 1, so no correct process amplifies them
 * and 2f + 1 needs at least f + 1 complaints of correct processes (BLD2); more than f correct
 * complaints make every correct process amplify, and the N - f >= 2f + 1 correct complaints move
 * every correct process on (BLD1); and every correct process moves through the same rounds, each
 * one only when its 2f + 1 complaints (f + 1 of them correct, which reach everyone) are out, so
 * once correct processes stop complaining they end in one round (BLD3).
 *
 * Faithful, with one bounded addition: a complaint of a round ahead of this process's (sent by a
 * correct process that moved on first) is kept, one bit per process for each of the next
 * BLD_AHEAD rounds, and counted when this process reaches that round; the book's guard
 * "r = round" would drop it, and since authenticated perfect links deliver it once, a lagging
 * correct process could then miss the complaints that move the others. Complaints of earlier
 * rounds (stale or replayed) and of rounds further ahead are dropped and counted; so are
 * malformed ones (with strata_node_bad_payload). Memory: (BLD_AHEAD + 1) bitmaps of N bits.
 * Messages: a round change costs at most N complaints from each correct process (N² in all).
 *
 * Trust goes up as STRATA_EV_LEADER (peer = leader, instance = round) to subscribers and out as
 * STRATA_OUT_EVENT ("round R trusts P") for watchers. A client (or the simulator) may issue
 * <Complain | p> as a request with r = p: the reply is 0 if the complaint went out, STRATA_ESTATE
 * if it was ignored (p is not the current leader, or this process complained already).
 *
 * Byzantine test behaviours (strata_node_byz, simulator and --byzantine-test only): silent
 * sends nothing; equivocate complains to half the processes only; replay re-sends complaints of
 * old rounds (so does old-epoch); forge complains about every leader as soon as it is trusted,
 * correct ones included, and for the rounds ahead; complain only about every leader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "fd/fd.h"
#include "links/links.h"

#define BLD_AHEAD 64u /* rounds ahead whose complaints are kept */
#define BLD_MSG_COMPLAINT 1u

struct bld {
	struct strata_module m;
	uint32_t n, f;
	uint64_t round;
	bool complained;
	uint64_t *list;          /* [(round + k) % (BLD_AHEAD + 1)]: complainers (bit q - 1), k = 0..AHEAD */
	uint32_t move_at;        /* 2f + 1 (the broken variant lowers it) */
	uint64_t stale, ahead, bad;
	/* Complaints the links refused (STRATA_EFULL), owed and sent again in round order when
	 * they have room (links.h, strata_pl_owed, numbered by round: bld_owed_item). */
	struct strata_pl_owed *owed;
	bool test_no_owed; /* TEST ONLY: a refused complaint is lost (strata_fd_bld_test_no_owed) */
};

#define BLD_TOK_OWED 1

static uint32_t bld_leader(const struct bld *b, uint64_t r)
{
	return (uint32_t)((r - 1) % b->n) + 1;
}

static uint64_t *bld_slot(struct bld *b, uint64_t r)
{
	return &b->list[r % (BLD_AHEAD + 1)];
}

static unsigned bld_count(uint64_t set)
{
	unsigned c = 0;
	for (; set; set &= set - 1)
		c++;
	return c;
}

static void bld_trust(struct bld *b)
{
	struct strata_node *n = b->m.node;
	uint32_t l = bld_leader(b, b->round);
	char text[64];
	snprintf(text, sizeof(text), "round %llu trusts %u", (unsigned long long)b->round, l);
	strata_trace(n, "bld", "%s", text);
	struct strata_output o = { .kind = STRATA_OUT_EVENT, .module = b->m.wire_id,
				   .module_name = b->m.ops->name, .peer = l, .a = b->round,
				   .text = text };
	strata_output(n, &o);
	strata_indicate(&b->m, STRATA_EV_LEADER, l, b->round, 0, NULL);
}

static struct strata_msg *bld_complaint(uint64_t r)
{
	struct strata_wr w;
	strata_wr_init(&w, 12);
	strata_wr_u8(&w, BLD_MSG_COMPLAINT);
	strata_wr_u64(&w, r);
	int err;
	return strata_wr_take_msg(&w, &err);
}

/* The last round this process complained in: a correct process complains in every round
 * before it leaves it (f + 1 complaints make it amplify before 2f + 1 move it), so every round
 * up to it had its complaint sent. */
static uint64_t bld_last_sent(const struct bld *b)
{
	return b->complained ? b->round : b->round - 1;
}

/* Complaint k for q, if this process complained in round k yet (numbered by round). */
static struct strata_msg *bld_owed_item(struct strata_module *m, uint32_t q, uint64_t k,
					bool *wait)
{
	(void)q;
	(void)wait;
	return k <= bld_last_sent((struct bld *)m) ? bld_complaint(k) : NULL;
}

static const struct strata_pl_owed_ops bld_owed_ops = { .item = bld_owed_item };

/* Sends each peer the complaints owed to it, in round order, while the links take them (the
 * way a correct process sends its complaints: its new one goes after those owed); the timer
 * ticks while any is still owed. A complaint refused is lost otherwise (the book's links
 * deliver it once): a process that missed 2f + 1 of a round's complaints would stay in that
 * round for good, trusting a leader the others left. */
static void bld_flush_owed(struct bld *b)
{
	if (strata_node_byz(b->m.node) == STRATA_BYZ_NONE)
		strata_pl_owed_flush(b->owed);
}

static void bld_send_complaint(struct bld *b, uint64_t r)
{
	struct strata_node *n = b->m.node;
	enum strata_byz byz = strata_node_byz(n);
	if (byz == STRATA_BYZ_SILENT)
		return;
	struct strata_wr w;
	strata_wr_init(&w, 12);
	strata_wr_u8(&w, BLD_MSG_COMPLAINT);
	strata_wr_u64(&w, r);
	int err;
	struct strata_msg *msg = strata_wr_take_msg(&w, &err);
	if (!msg)
		return;
	for (uint32_t q = 1; q <= b->n; q++) {
		if (byz == STRATA_BYZ_EQUIVOCATE && (q % 2) == 0)
			continue;
		(void)strata_pl_send(&b->m, q, 0, msg);
	}
	strata_msg_unref(msg);
}

static void bld_complain_now(struct bld *b)
{
	b->complained = true;
	strata_trace(b->m.node, "bld", "complain about %u (round %llu)", bld_leader(b, b->round),
		     (unsigned long long)b->round);
	if (strata_node_byz(b->m.node) == STRATA_BYZ_NONE && !b->test_no_owed)
		bld_flush_owed(b); /* to each peer in order, after those owed to it; one the links
				    * have no room for is owed */
	else
		bld_send_complaint(b, b->round); /* the test behaviours: as the book's links */
}

/* A Byzantine process's moves when a round starts (test behaviours only). */
static void bld_byz_round(struct bld *b)
{
	switch (strata_node_byz(b->m.node)) {
	case STRATA_BYZ_FORGE:
		/* Complain about every leader, correct ones included, and about the rounds ahead. */
		bld_complain_now(b);
		for (uint64_t k = 1; k <= 2; k++)
			bld_send_complaint(b, b->round + k);
		break;
	case STRATA_BYZ_COMPLAIN:
		/* Complain about every leader, correct ones included, as soon as it is trusted. */
		bld_complain_now(b);
		break;
	case STRATA_BYZ_REPLAY:
	case STRATA_BYZ_OLD_EPOCH:
		for (uint64_t r = b->round > 3 ? b->round - 3 : 1; r < b->round; r++)
			bld_send_complaint(b, r);
		if (!b->complained)
			bld_complain_now(b);
		break;
	case STRATA_BYZ_EQUIVOCATE:
		if (!b->complained)
			bld_complain_now(b);
		break;
	default:
		break;
	}
}

static void bld_check(struct bld *b);

/* round := round + 1; complainlist := [⊥]^N; complained := FALSE; trigger <Trust | ...> */
static void bld_next_round(struct bld *b)
{
	*bld_slot(b, b->round) = 0;
	b->round++;
	b->complained = false;
	bld_trust(b);
	if (strata_node_byz(b->m.node) != STRATA_BYZ_NONE)
		bld_byz_round(b);
	bld_check(b); /* complaints kept for the new round may already count */
}

static void bld_check(struct bld *b)
{
	unsigned c = bld_count(*bld_slot(b, b->round));
	/* if #(complainlist) = f + 1 ∧ complained = FALSE: amplify */
	if (c >= b->f + 1 && !b->complained)
		bld_complain_now(b);
	/* if #(complainlist) = 2f + 1: the next round's leader */
	if (c >= b->move_at)
		bld_next_round(b);
}

/* upon event <al, Deliver | p, [COMPLAINT, r]> such that r = round ∧ complainlist[p] = ⊥ */
static void bld_deliver(struct bld *b, const struct strata_event *ev)
{
	struct strata_node *n = b->m.node;
	struct strata_rd rd;
	strata_rd_init(&rd, ev->msg->data, ev->msg->len);
	uint8_t t = strata_rd_u8(&rd);
	uint64_t r = strata_rd_u64(&rd);
	if (strata_rd_done(&rd) != 0 || t != BLD_MSG_COMPLAINT || r == 0 || ev->peer < 1 ||
	    ev->peer > b->n) {
		b->bad++;
		strata_node_bad_payload(n, &b->m, ev->peer, "bld: malformed COMPLAINT");
		return;
	}
	if (r < b->round) {
		b->stale++;
		strata_trace(n, "bld", "COMPLAINT of round %llu from %u: stale (round %llu) -> dropped",
			     (unsigned long long)r, ev->peer, (unsigned long long)b->round);
		return;
	}
	if (r > b->round + BLD_AHEAD) {
		b->ahead++;
		strata_trace(n, "bld", "COMPLAINT of round %llu from %u: too far ahead -> dropped",
			     (unsigned long long)r, ev->peer);
		return;
	}
	uint64_t bit = 1ull << (ev->peer - 1);
	uint64_t *slot = bld_slot(b, r);
	if (*slot & bit)
		return;
	*slot |= bit;
	if (r == b->round)
		bld_check(b);
}

/* upon event <Complain | p> such that p = leader(round) ∧ complained = FALSE */
static bool bld_complain(struct bld *b, uint32_t p)
{
	if (p != bld_leader(b, b->round) || b->complained)
		return false;
	bld_complain_now(b);
	return true;
}

static int bld_request(struct strata_module *m, const struct strata_request *req)
{
	struct bld *b = (struct bld *)m;
	if (req->r < 1 || req->r > b->n)
		return STRATA_EINVAL;
	int rc = bld_complain(b, req->r) ? 0 : STRATA_ESTATE;
	strata_node_reply(m->node, m, req->id, rc, 0, NULL, 0,
			  rc ? "not the current leader, or complained already this round" : NULL);
	return 0;
}

static void bld_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct bld *b = (struct bld *)m;
	switch (ev->type) {
	case STRATA_EV_INIT:
		/* upon event <Init> */
		b->round = 1;
		b->complained = false;
		memset(b->list, 0, (BLD_AHEAD + 1) * sizeof(*b->list));
		strata_pl_owed_reset(b->owed, 1);
		bld_trust(b);
		if (strata_node_byz(m->node) != STRATA_BYZ_NONE)
			bld_byz_round(b);
		break;
	case STRATA_EV_PL_DELIVER:
		if (ev->msg)
			bld_deliver(b, ev);
		break;
	case STRATA_EV_TIMER:
		if (ev->arg == BLD_TOK_OWED)
			bld_flush_owed(b);
		break;
	default:
		break;
	}
}

static void bld_destroy(struct strata_module *m)
{
	struct bld *b = (struct bld *)m;
	strata_pl_owed_free(b->owed);
	free(b->list);
	free(b);
}

static const struct strata_module_ops bld_ops = {
	.name = "bld", .handle = bld_handle, .request = bld_request, .destroy = bld_destroy,
};

struct strata_module *strata_fd_bld_create(struct strata_node *n, char *err, size_t errlen)
{
	const struct strata_config *cfg = strata_node_config(n);
	uint32_t nn = strata_node_n(n);
	if (nn > 64) {
		snprintf(err, errlen, "bld: at most 64 processes (complaint sets are 64-bit)");
		return NULL;
	}
	if (nn <= 3 * cfg->f) {
		snprintf(err, errlen,
			 "bld: needs N > 3f (N = %u, f = %u): with N <= 3f the f + 1 correct "
			 "complaints that must move the leader may not exist",
			 nn, cfg->f);
		return NULL;
	}
	struct bld *b = calloc(1, sizeof(*b));
	uint64_t *list = calloc(BLD_AHEAD + 1, sizeof(*list));
	if (b)
		b->owed = strata_pl_owed_new(n, &b->m, BLD_TOK_OWED, &bld_owed_ops, 0, 0);
	if (!b || !list || !b->owed) {
		if (b)
			strata_pl_owed_free(b->owed);
		free(b);
		free(list);
		snprintf(err, errlen, "bld: out of memory");
		return NULL;
	}
	b->list = list;
	b->n = nn;
	b->f = cfg->f;
	b->move_at = 2 * b->f + 1;
	strata_node_add_module(n, &b->m, &bld_ops, strata_wire_id("bld"));
	return &b->m;
}

int strata_fd_bld_complain(struct strata_module *m, uint32_t p)
{
	return bld_complain((struct bld *)m, p) ? 0 : STRATA_ESTATE;
}

uint64_t strata_fd_bld_round(const struct strata_module *m)
{
	return ((const struct bld *)m)->round;
}

void strata_fd_bld_test_no_owed(struct strata_module *m)
{
	((struct bld *)m)->test_no_owed = true;
}

void strata_fd_bld_test_move_at(struct strata_module *m, uint32_t k)
{
	((struct bld *)m)->move_at = k;
}
