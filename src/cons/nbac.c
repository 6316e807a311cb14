/* Non-blocking atomic commit, book Alg. 6.6 "Consensus-Based Non-Blocking Atomic Commit"
 * (module nbac).
 *
 * Specification (Module 6.4):
 *   Request:    <nbac, Propose | v>      v = COMMIT or ABORT (a vote: yes or no)
 *   Indication: <nbac, Decide | d>       d = COMMIT or ABORT
 *   NBAC1 Termination: every correct process eventually decides some value.
 *   NBAC2 Abort-Validity: a process decides ABORT only if some process proposes ABORT or a
 *         process crashes.
 *   NBAC3 Commit-Validity: a process decides COMMIT only if no process proposes ABORT.
 *   NBAC4 Integrity: no process decides twice.
 *   NBAC5 Uniform Agreement: no two processes decide differently.
 *
 * Implementation (uses BestEffortBroadcast beb; UniformConsensus uc; PerfectFailureDetector P):
 *   upon <nbac, Init> do voted := ∅; proposed := FALSE;
 *   upon <P, Crash | p> do
 *       if proposed = FALSE then proposed := TRUE; trigger <uc, Propose | ABORT>;
 *   upon <nbac, Propose | v> do trigger <beb, Broadcast | v>;
 *   upon <beb, Deliver | p, v> do
 *       if v = ABORT ∧ proposed = FALSE then proposed := TRUE; trigger <uc, Propose | ABORT>;
 *       else voted := voted ∪ {p};
 *            if voted = Π ∧ proposed = FALSE then proposed := TRUE; trigger <uc, Propose | COMMIT>;
 *   upon <uc, Decide | decided> do trigger <nbac, Decide | decided>;
 *
 * Multi-instance: one NBAC instance per transaction id tx >= 1 (the family's instance table,
 * cons.h: created on the first request or message naming it, retired once decided, at most
 * CONS_LIVE_MAX undecided, a decided window of CONS_WINDOW ids, the last CONS_CACHE outcomes
 * kept for late votes). Every beb message carries tx; instance tx of nbac proposes on instance
 * (CONS_SPACE_NBAC << 48) | tx of the node's uniform consensus (uhier, Alg. 5.4: fail-stop, any
 * f < N), whose Decide comes back as CONS_EV_DECIDE.
 *
 * Departures, each needed by many instances and by clients:
 *   - A crash reported by P before a transaction began is a crash all the same: a transaction
 *     this process first hears of after P reported a crash proposes ABORT at once (the book's
 *     single instance exists from Init, so its Crash handler would have fired).
 *   - <nbac, Begin | tx> (client op WRITE) beb-broadcasts [BEGIN, tx] so that every process
 *     knows the transaction before anyone votes; it is not in the book and decides nothing: a
 *     process that is told of tx this way only learns that it exists (and aborts it at once if
 *     P already reported a crash, as above). Votes work without it.
 *   - A Decide that uc indicated before this module existed at the node (it is created lazily)
 *     is fetched from uc's decided cache when Propose finds the instance decided.
 * Like the book's, the algorithm waits for every process to vote or crash: a correct process
 * whose client never votes blocks the transaction (no timeout; the broken variant below shows
 * why a timeout must not commit).
 *
 * Model: fail-stop (P), N processes, any f < N (that of uhier). Faithful otherwise.
 * Memory: the instance table (above); per undecided instance a bitmask of votes.
 * Wire: beb payload [u8 type][varint tx] + for VOTE [u8 vote], type BEGIN = 1, VOTE = 2.
 * Client: WRITE key = tx (empty: the next id after the highest this node knows) -> reply
 * [varint tx]; PROPOSE key = tx, value "yes" | "no" -> reply [varint tx][outcome] once this node
 * decided, outcome "commit" | "abort". Outputs (cons.h): STRATA_OUT_BCAST when this node votes
 * (a = tx, data = "yes"/"no"), STRATA_OUT_DELIVER when it decides (a = tx, data = outcome). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcast/bcast.h"
#include "cons/cons.h"
#include "cons/variants.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"

enum { NB_BEGIN = 1, NB_VOTE = 2 };

static const char NB_COMMIT[] = "commit";
static const char NB_ABORT[] = "abort";

struct nb_inst {
	struct cons_inst c;
	uint64_t voted;    /* processes whose vote yes was delivered (bit q-1) */
	bool ucproposed;   /* the book's `proposed` */
	bool begun;
	bool tinit;                  /* timeout initialized (a zeroed timer is not disarmed) */
	struct strata_timer timeout; /* TEST ONLY (broken variant) */
};

struct nbac {
	struct cons_mod c; /* c.tab.beb is "beb"; the instance table */
	struct strata_module *uc;
	uint32_t n;
	uint64_t test_timeout_us; /* TEST ONLY: commit on a timeout (0 = never) */
	uint64_t rejected;
};

static uint64_t uc_inst(uint64_t tx)
{
	return CONS_SPACE_NBAC << CONS_SPACE_BITS | tx;
}

static bool is_outcome(const uint8_t *v, size_t len)
{
	return (len == 6 && !memcmp(v, NB_COMMIT, 6)) || (len == 5 && !memcmp(v, NB_ABORT, 5));
}

static void nb_decide(struct nbac *b, struct nb_inst *i, const uint8_t *v, size_t len)
{
	if (i->tinit)
		strata_timer_disarm(b->c.m.node, &i->timeout);
	cons_decide(&b->c.tab, &i->c, v, len, (uint64_t)__builtin_popcountll(i->voted));
}

/* proposed := TRUE; trigger <uc, Propose | d>. Returns true if i was decided (and freed) now:
 * uc had decided the instance before this module could hear its Decide. */
static bool nb_uc_propose(struct nbac *b, struct nb_inst *i, const char *d)
{
	STRATA_ASSERT(!i->ucproposed);
	i->ucproposed = true;
	strata_trace(b->c.m.node, "nbac", "tx %llu -> uc propose %s", (unsigned long long)i->c.id,
		     d);
	struct strata_msg *v;
	int rc = cons_lower_propose_fetch(b->uc, uc_inst(i->c.id), (const uint8_t *)d, strlen(d), &v);
	if (v) {
		bool ok = is_outcome(v->data, v->len);
		if (ok)
			nb_decide(b, i, v->data, v->len);
		strata_msg_unref(v);
		if (ok)
			return true;
		rc = STRATA_ENOENT;
	}
	if (rc) {
		/* Nothing proposed: uc's instance table is full or the id is outside its window (a
		 * later crash, vote or BEGIN retries). */
		i->ucproposed = false;
		b->rejected++;
		strata_trace(b->c.m.node, "nbac", "tx %llu: uc propose refused: %s",
			     (unsigned long long)i->c.id, strata_strerror(rc));
	}
	return false;
}

/* The instance tx, created if new; a new instance created after P reported a crash proposes
 * ABORT at once (see the header). NULL: decided already, refused, or decided right now. */
static struct nb_inst *nb_get(struct nbac *b, uint64_t tx, uint32_t from)
{
	struct nb_inst *i = (struct nb_inst *)cons_tab_get_peer(&b->c.tab, tx, from);
	if (!i)
		return NULL;
	if (!i->ucproposed && i->c.excluded && nb_uc_propose(b, i, NB_ABORT))
		return NULL;
	return i;
}

/* upon <P, Crash | p> do if proposed = FALSE then proposed := TRUE; <uc, Propose | ABORT> */
static void nb_on_crash(struct nbac *b, uint32_t q)
{
	cons_tab_crash(&b->c.tab, q);
	for (size_t k = 0; k < b->c.tab.nlive;) {
		struct nb_inst *i = (struct nb_inst *)b->c.tab.live[k];
		if (!i->ucproposed && nb_uc_propose(b, i, NB_ABORT))
			continue; /* decided and removed: live[k] is another instance now */
		k++;
	}
}

static void nb_arm_test_timeout(struct nbac *b, struct nb_inst *i)
{
	if (b->test_timeout_us && !i->tinit) {
		strata_timer_init(&i->timeout, &b->c.m, 1, i->c.id);
		i->tinit = true;
		strata_timer_arm_in(b->c.m.node, &i->timeout, b->test_timeout_us);
	}
}

/* upon <beb, Deliver | p, v> do
 *     if v = ABORT ∧ proposed = FALSE then proposed := TRUE; trigger <uc, Propose | ABORT>;
 *     else voted := voted ∪ {p};
 *          if voted = Π ∧ proposed = FALSE then proposed := TRUE; <uc, Propose | COMMIT>; */
static void nb_on_vote(struct nbac *b, uint32_t p, uint64_t tx, bool yes)
{
	struct nb_inst *i = nb_get(b, tx, p);
	if (!i)
		return;
	nb_arm_test_timeout(b, i);
	if (!yes && !i->ucproposed) {
		nb_uc_propose(b, i, NB_ABORT);
		return;
	}
	if (yes)
		i->voted |= cons_bit(p);
	if (i->voted == cons_all(b->n) && !i->ucproposed)
		nb_uc_propose(b, i, NB_COMMIT);
}

static void nb_on_begin(struct nbac *b, uint32_t p, uint64_t tx)
{
	struct nb_inst *i = nb_get(b, tx, p);
	if (i) {
		i->begun = true;
		nb_arm_test_timeout(b, i);
	}
}

static void nb_on_beb(struct nbac *b, const struct strata_event *ev)
{
	const struct strata_deliver *d = ev->body;
	struct strata_rd r;
	strata_rd_init(&r, d->data, d->len);
	uint8_t type = strata_rd_u8(&r);
	uint64_t tx = strata_rd_u64(&r);
	uint8_t vote = type == NB_VOTE ? strata_rd_u8(&r) : 0;
	if (!strata_rd_ok(&r) || r.off != d->len || tx == 0 || d->origin < 1 || d->origin > b->n ||
	    (type != NB_BEGIN && type != NB_VOTE) || vote > 1) {
		strata_node_bad_payload(b->c.m.node, &b->c.m, d->origin, "nbac: malformed message");
		return;
	}
	if (type == NB_BEGIN)
		nb_on_begin(b, d->origin, tx);
	else
		nb_on_vote(b, d->origin, tx, vote == 1);
}

/* upon <uc, Decide | decided> do trigger <nbac, Decide | decided> */
static void nb_on_uc_decide(struct nbac *b, const struct strata_event *ev)
{
	uint64_t tx;
	const struct cons_decided *d = cons_upper_decided(ev, b->uc, CONS_SPACE_NBAC, &tx);
	if (!d)
		return;
	if (!is_outcome(d->value, d->len)) {
		strata_node_bad_payload(b->c.m.node, &b->c.m, ev->peer, "nbac: uc decided a non-outcome");
		return;
	}
	struct cons_inst *c;
	if (cons_tab_get(&b->c.tab, tx, &c) != CONS_GOT)
		return; /* decided already, or outside the window */
	nb_decide(b, (struct nb_inst *)c, d->value, d->len);
}

static void nb_on_timer(struct nbac *b, const struct strata_event *ev)
{
	/* TEST ONLY, the broken variant: COMMIT without every vote. */
	struct nb_inst *i = (struct nb_inst *)cons_tab_find(&b->c.tab, ev->instance);
	if (i && !i->ucproposed && b->test_timeout_us)
		nb_uc_propose(b, i, NB_COMMIT);
}

static void nb_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct nbac *b = (struct nbac *)m;
	if (bcast_is_deliver(&b->c.tab.beb, ev)) {
		nb_on_beb(b, ev);
		return;
	}
	switch (ev->type) {
	case CONS_EV_DECIDE:
		nb_on_uc_decide(b, ev);
		break;
	case STRATA_EV_CRASH:
		if (ev->peer >= 1 && ev->peer <= b->n)
			nb_on_crash(b, ev->peer);
		break;
	case STRATA_EV_RESTORE:
		if (ev->peer >= 1 && ev->peer <= b->n)
			cons_tab_restore(&b->c.tab, ev->peer);
		break;
	case STRATA_EV_TIMER:
		nb_on_timer(b, ev);
		break;
	default:
		break;
	}
}

static int nb_send(struct nbac *b, uint8_t type, uint64_t tx, int vote)
{
	struct strata_wr w;
	strata_wr_init(&w, 16);
	strata_wr_u8(&w, type);
	strata_wr_u64(&w, tx);
	if (vote >= 0)
		strata_wr_u8(&w, (uint8_t)vote);
	int rc = w.err ? w.err : bcast_broadcast(&b->c.tab.beb, w.buf, w.len);
	strata_wr_free(&w);
	return rc;
}

/* upon <nbac, Propose | v> do trigger <beb, Broadcast | v> */
static int nb_propose(struct strata_module *m, struct cons_inst *c, const uint8_t *v, size_t len,
		      bool by_client)
{
	struct nbac *b = (struct nbac *)m;
	bool yes = len == 3 && !memcmp(v, "yes", 3);
	int rc = nb_send(b, NB_VOTE, c->id, yes ? 1 : 0);
	if (rc == 0)
		cons_out_propose(&b->c.tab, c, v, len, by_client);
	return rc;
}

/* <nbac, Begin | tx>: not in the book (see the header). Reply [varint tx]. */
static int nb_begin(struct nbac *b, const struct strata_request *req)
{
	struct strata_request p = *req;
	p.op = STRATA_OP_PROPOSE;
	uint64_t tx;
	int rc = cons_check_request(&b->c.tab, &p, 0, &tx);
	if (rc)
		return rc;
	struct cons_inst *c;
	switch (cons_tab_get(&b->c.tab, tx, &c)) {
	case CONS_GOT:
		break;
	case CONS_RETIRED:
		return STRATA_ESTATE;
	case CONS_OUTSIDE:
		return STRATA_EINVAL;
	case CONS_NOROOM:
		return STRATA_EFULL;
	}
	struct nb_inst *i = (struct nb_inst *)c;
	if (!i->begun && (rc = nb_send(b, NB_BEGIN, tx, -1)) != 0)
		return rc;
	i->begun = true;
	struct strata_wr w;
	strata_wr_init(&w, 16);
	strata_wr_u64(&w, tx);
	rc = w.err;
	if (!rc)
		strata_node_reply(b->c.m.node, &b->c.m, req->id, 0, STRATA_REPLY_FOUND, w.buf, w.len,
				  NULL);
	strata_wr_free(&w);
	return rc;
}

static int nb_request(struct strata_module *m, const struct strata_request *req)
{
	struct nbac *b = (struct nbac *)m;
	if (req->op == STRATA_OP_WRITE)
		return nb_begin(b, req);
	if (req->op != STRATA_OP_PROPOSE || req->key_len == 0)
		return STRATA_EINVAL;
	bool yes = req->value_len == 3 && !memcmp(req->value, "yes", 3);
	bool no = req->value_len == 2 && !memcmp(req->value, "no", 2);
	if (!yes && !no)
		return STRATA_EINVAL;
	return cons_request(&b->c.tab, req, 3, nb_propose);
}

static void nb_destroy(struct strata_module *m)
{
	struct nbac *b = (struct nbac *)m;
	for (size_t k = 0; k < b->c.tab.nlive; k++) {
		struct nb_inst *i = (struct nb_inst *)b->c.tab.live[k];
		if (i->tinit)
			strata_timer_disarm(m->node, &i->timeout);
	}
	cons_tab_free(&b->c.tab);
	free(b);
}

static const struct strata_module_ops nb_ops = {
	.name = "nbac", .handle = nb_handle, .request = nb_request, .destroy = nb_destroy,
};

struct strata_module *var_nbac_create(struct strata_node *n, char *err, size_t errlen)
{
	struct nbac *b = calloc(1, sizeof(*b));
	if (!b || cons_tab_init(&b->c.tab, &b->c.m, sizeof(struct nb_inst)) != 0) {
		free(b);
		snprintf(err, errlen, "nbac: out of memory");
		return NULL;
	}
	b->n = strata_node_n(n);
	b->c.tab.round_name = "yes-votes";
	b->c.tab.propose = nb_propose;
	strata_node_add_module(n, &b->c.m, &nb_ops, strata_wire_id("nbac"));
	if (bcast_open(n, "beb", &b->c.m, 0, &b->c.tab.beb, err, errlen) != 0 ||
	    cons_need_fd(&b->c.m, "nbac", err, errlen) != 0 ||
	    cons_lower_open_space(n, VAR_UC, CONS_SPACE_NBAC, &b->c.m, &b->uc, err, errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	return &b->c.m;
}

void var_nbac_test_commit_timeout(struct strata_module *m, uint64_t ms)
{
	((struct nbac *)m)->test_timeout_us = ms * 1000;
}
