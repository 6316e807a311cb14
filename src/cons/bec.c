/* Byzantine epoch change, book Alg. 5.15 "Byzantine Leader-Based Epoch-Change" (module bec),
 * over the Byzantine leader detector (Alg. 2.10, src/fd/bld.c) and authenticated perfect
 * links (links/auth.c).
 *
 * Specification (Module 5.3 in the fail-arbitrary model, Byzantine epoch-change):
 *   Indication: <bec, StartEpoch | ts, l> (raised as CONS_EV_START_EPOCH: peer = l, arg = ts)
 *   EC1 Monotonicity: if a correct process starts an epoch (ts, l) and later starts an epoch
 *       (ts', l'), then ts' > ts.
 *   EC2 Consistency: if a correct process starts an epoch (ts, l) and another correct process
 *       starts an epoch (ts', l') with ts = ts', then l = l'.
 *   EC3 Eventual leadership: there is a time after which every correct process has started
 *       some epoch and starts no further epoch, such that the last epoch started at every
 *       correct process is epoch (ts, l) and process l is correct.
 * Model: fail-noisy-arbitrary (Byzantine processes, a Byzantine leader detector), N > 3f.
 * Epochs are numbered 1, 2, ... (0 is the initial epoch, started by everyone at Init); the
 * leader of epoch ts is leader(ts) = (ts mod N) + 1, a deterministic function, which gives
 * EC2 outright.
 *
 *   upon event <bec, Init> do lastts := 0; nextts := 0; newepoch := [⊥]^N;
 *   upon event <bld, Trust | p> do
 *       nextts := lastts + 1;
 *       forall q do trigger <al, Send | q, [NEWEPOCH, nextts]>;
 *   upon event <al, Deliver | p, [NEWEPOCH, ts]> such that ts = lastts + 1 do
 *       newepoch[p] := NEWEPOCH;
 *   upon #(newepoch) > f ∧ nextts = lastts do
 *       nextts := lastts + 1;
 *       forall q do trigger <al, Send | q, [NEWEPOCH, nextts]>;
 *   upon #(newepoch) > 2f ∧ nextts > lastts do
 *       lastts := nextts; newepoch := [⊥]^N;
 *       trigger <bec, StartEpoch | lastts, leader(lastts)>;
 *
 * Quorum arithmetic. f + 1 NEWEPOCH messages contain one from a correct process, which sent it
 * because its detector moved on; so the f Byzantine processes alone never make a correct one
 * join (amplification needs f + 1). 2f + 1 contain f + 1 correct ones, which reach every correct
 * process and make it amplify: once one correct process starts epoch ts, all N - f >= 2f + 1
 * correct ones send NEWEPOCH for ts and every correct process starts it. With the detector's
 * eventual agreement (BLD3) correct processes eventually stop sending NEWEPOCH, so epochs stop
 * changing; a Byzantine leader that makes no progress is complained about by the consensus
 * above (bldc.c), which moves the detector and so the epoch (EC3).
 *
 * Nothing is signed: a NEWEPOCH only names a timestamp and links authenticate its sender.
 *
 * Faithful, with two departures. The detector's initial Trust (round 1, whose leader is that
 * of the initial epoch 0) starts nothing: the book's processes start epoch 0 at Init. And, as
 * bld does with complaints, NEWEPOCH messages for the next BEC_AHEAD timestamps are kept (one
 * bit per sender and timestamp) and counted when this process reaches that timestamp: the
 * book's guard "ts = lastts + 1" drops them, and a correct process that moved first could leave
 * a slower one behind, since authenticated perfect links deliver a message once. Older ones
 * (stale, replayed) and further ones are dropped and counted. Memory: BEC_AHEAD + 1 bitmaps.
 *
 * Byzantine test behaviours: silent sends nothing; equivocate sends its NEWEPOCH to odd
 * processes only; replay re-sends the NEWEPOCH of the two epochs before the one it moves to;
 * forge also sends NEWEPOCH for the two epochs after it (trying to rush correct processes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "fd/fd.h"
#include "links/links.h"

#define BEC_AHEAD 64u
#define BEC_NEWEPOCH 1u

struct bec {
	struct strata_module m;
	uint32_t n, f;
	uint64_t lastts, nextts;
	uint64_t newepoch[BEC_AHEAD + 1]; /* [ts % (BEC_AHEAD + 1)]: senders (bit q - 1) */
	uint64_t stale, ahead, bad;
	/* NEWEPOCH messages the links refused (STRATA_EFULL), owed and sent again in order when
	 * they have room (links.h, strata_pl_owed, numbered by timestamp: bec_owed_item). A
	 * correct process sends NEWEPOCH for every timestamp up to nextts (it moves nextts one at
	 * a time, and sends at every move). */
	struct strata_pl_owed *owed;
	bool test_no_owed; /* TEST ONLY: a refused NEWEPOCH is lost (cons_bec_test_no_owed) */
};

#define BEC_TOK_OWED 1

uint32_t cons_bec_leader(uint32_t n, uint64_t ts)
{
	return (uint32_t)(ts % n) + 1;
}

static uint64_t *bec_slot(struct bec *b, uint64_t ts)
{
	return &b->newepoch[ts % (BEC_AHEAD + 1)];
}

static void bec_send(struct bec *b, uint64_t ts)
{
	enum strata_byz byz = strata_node_byz(b->m.node);
	if (byz == STRATA_BYZ_SILENT || ts == 0)
		return;
	struct strata_wr w;
	strata_wr_init(&w, 12);
	strata_wr_u8(&w, BEC_NEWEPOCH);
	strata_wr_u64(&w, ts);
	int err;
	struct strata_msg *msg = strata_wr_take_msg(&w, &err);
	if (!msg)
		return;
	for (uint32_t q = 1; q <= b->n; q++)
		if (byz != STRATA_BYZ_EQUIVOCATE || q % 2 == 1)
			(void)strata_pl_send(&b->m, q, 0, msg);
	strata_msg_unref(msg);
}

static struct strata_msg *bec_newepoch(uint64_t ts)
{
	struct strata_wr w;
	strata_wr_init(&w, 12);
	strata_wr_u8(&w, BEC_NEWEPOCH);
	strata_wr_u64(&w, ts);
	int err;
	return strata_wr_take_msg(&w, &err);
}

/* NEWEPOCH k for q, if this process moved to timestamp k yet (numbered by timestamp). */
static struct strata_msg *bec_owed_item(struct strata_module *m, uint32_t q, uint64_t k,
					bool *wait)
{
	(void)q;
	(void)wait;
	return k <= ((struct bec *)m)->nextts ? bec_newepoch(k) : NULL;
}

static const struct strata_pl_owed_ops bec_owed_ops = { .item = bec_owed_item };

/* Sends each peer the NEWEPOCH messages owed to it, in order, while the links take them (the
 * way a correct process sends its NEWEPOCH: its new one goes after those owed); the timer
 * ticks while any is still owed. One refused is lost otherwise (the book's links deliver it
 * once): a process that missed 2f + 1 of an epoch's NEWEPOCH would never start it, nor any
 * later one, and would take part in no consensus instance of the others' epochs again. */
static void bec_flush_owed(struct bec *b)
{
	if (strata_node_byz(b->m.node) == STRATA_BYZ_NONE)
		strata_pl_owed_flush(b->owed);
}

/* forall q do trigger <al, Send | q, [NEWEPOCH, nextts]> (and a Byzantine process's extras) */
static void bec_send_next(struct bec *b)
{
	if (strata_node_byz(b->m.node) == STRATA_BYZ_NONE && !b->test_no_owed) {
		/* to each peer in order, after those owed to it; one the links have no room
		 * for is owed */
		bec_flush_owed(b);
		return;
	}
	bec_send(b, b->nextts);
	switch (strata_node_byz(b->m.node)) {
	case STRATA_BYZ_REPLAY:
		for (uint64_t k = 1; k <= 2 && k < b->nextts; k++)
			bec_send(b, b->nextts - k);
		break;
	case STRATA_BYZ_FORGE:
		bec_send(b, b->nextts + 1);
		bec_send(b, b->nextts + 2);
		break;
	default:
		break;
	}
}

/* upon #(newepoch) > f ∧ nextts = lastts ...; upon #(newepoch) > 2f ∧ nextts > lastts ... */
static void bec_check(struct bec *b)
{
	for (;;) {
		unsigned c = (unsigned)__builtin_popcountll(*bec_slot(b, b->lastts + 1));
		if (c > b->f && b->nextts == b->lastts) {
			b->nextts = b->lastts + 1;
			strata_trace(b->m.node, "bec", "f + 1 NEWEPOCH %llu -> join",
				     (unsigned long long)b->nextts);
			bec_send_next(b);
		}
		if (!(c > 2 * b->f && b->nextts > b->lastts))
			return;
		b->lastts = b->nextts;
		*bec_slot(b, b->lastts) = 0;
		uint32_t l = cons_bec_leader(b->n, b->lastts);
		strata_trace(b->m.node, "bec", "2f + 1 NEWEPOCH %llu -> StartEpoch(%llu, %u)",
			     (unsigned long long)b->lastts, (unsigned long long)b->lastts, l);
		strata_indicate(&b->m, CONS_EV_START_EPOCH, l, 0, b->lastts, NULL);
	}
}

/* upon event <bld, Trust | p> (any but the initial one) */
static void bec_on_trust(struct bec *b, uint64_t round)
{
	if (round <= 1)
		return;
	b->nextts = b->lastts + 1;
	strata_trace(b->m.node, "bec", "bld round %llu -> NEWEPOCH %llu", (unsigned long long)round,
		     (unsigned long long)b->nextts);
	bec_send_next(b);
	bec_check(b);
}

/* upon event <al, Deliver | p, [NEWEPOCH, ts]> such that ts = lastts + 1 (and kept ahead) */
static void bec_deliver(struct bec *b, const struct strata_event *ev)
{
	struct strata_rd rd;
	strata_rd_init(&rd, ev->msg->data, ev->msg->len);
	uint8_t t = strata_rd_u8(&rd);
	uint64_t ts = strata_rd_u64(&rd);
	if (strata_rd_done(&rd) != 0 || t != BEC_NEWEPOCH || ts == 0 || ev->peer < 1 ||
	    ev->peer > b->n) {
		b->bad++;
		strata_node_bad_payload(b->m.node, &b->m, ev->peer, "bec: malformed NEWEPOCH");
		return;
	}
	if (ts <= b->lastts) {
		b->stale++;
		return;
	}
	if (ts > b->lastts + BEC_AHEAD) {
		b->ahead++;
		strata_trace(b->m.node, "bec", "NEWEPOCH %llu from %u: too far ahead -> dropped",
			     (unsigned long long)ts, ev->peer);
		return;
	}
	*bec_slot(b, ts) |= 1ull << (ev->peer - 1);
	if (ts == b->lastts + 1)
		bec_check(b);
}

static void bec_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct bec *b = (struct bec *)m;
	switch (ev->type) {
	case STRATA_EV_LEADER:
		bec_on_trust(b, ev->instance);
		break;
	case STRATA_EV_PL_DELIVER:
		if (ev->msg)
			bec_deliver(b, ev);
		break;
	case STRATA_EV_TIMER:
		if (ev->arg == BEC_TOK_OWED)
			bec_flush_owed(b);
		break;
	default:
		break;
	}
}

static void bec_destroy(struct strata_module *m)
{
	strata_pl_owed_free(((struct bec *)m)->owed);
	free(m);
}

static const struct strata_module_ops bec_ops = {
	.name = "bec", .handle = bec_handle, .destroy = bec_destroy,
};

struct strata_module *cons_bec_get(struct strata_node *n, char *err, size_t errlen)
{
	struct strata_module *have = strata_node_module_by_name(n, "bec");
	if (have)
		return have;
	struct strata_module *bld = strata_node_module_by_name(n, "bld");
	if (!bld && !(bld = strata_fd_bld_create(n, err, errlen)))
		return NULL;
	struct bec *b = calloc(1, sizeof(*b));
	if (b)
		b->owed = strata_pl_owed_new(n, &b->m, BEC_TOK_OWED, &bec_owed_ops, 0, 0);
	if (!b || !b->owed) {
		free(b);
		snprintf(err, errlen, "bec: out of memory");
		return NULL;
	}
	b->n = strata_node_n(n);
	b->f = strata_node_config(n)->f;
	strata_node_add_module(n, &b->m, &bec_ops, strata_wire_also("bldc", 0));
	strata_module_subscribe(bld, &b->m);
	return &b->m;
}

void cons_bec_test_no_owed(struct strata_module *m)
{
	((struct bec *)m)->test_no_owed = true;
}

uint64_t cons_bec_epoch(const struct strata_module *m)
{
	return ((const struct bec *)m)->lastts;
}
