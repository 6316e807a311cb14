/* Logged uniform total-order broadcast, book Alg. 6.12 "Logged Uniform Total-Order Broadcast"
 * (module ltob).
 *
 * Specification (Module 6.12, logged uniform total-order broadcast): as Module 6.1 with
 * log-delivery (a message is log-delivered when it enters the process's logged delivered
 * sequence) and "correct" meaning "eventually up forever":
 *   LTOB1 Validity: if a correct process p broadcasts m, then p eventually log-delivers m.
 *   LTOB2 No duplication: no message is log-delivered more than once.
 *   LTOB3 No creation: if a process log-delivers m with sender s, then m was previously
 *         broadcast by s.
 *   LTOB4 Uniform agreement: if a message m is log-delivered by some process (correct or
 *         faulty), then m is eventually log-delivered by every correct process.
 *   LTOB5 Uniform total order: let m1 and m2 be any two messages and suppose p and q are any
 *         two processes that log-deliver m1 and m2; if p log-delivers m1 before m2, then q
 *         log-delivers m1 before m2.
 * Model: fail-recovery (crash and recover, stable storage), over logged uniform reliable
 * broadcast (lurb, Alg. 3.8) and logged leader-driven consensus (lldc, Alg. 5.10-5.11, over the
 * logged epoch change and the eventual leader detector). Resilience: N > 2f.
 * Cost per batch: one lurb broadcast per message (2 steps, O(N^2) messages) and one lldc
 * consensus per round (5 steps, 5N messages in a stable epoch), whatever the batch holds; stable
 * storage: lurb's and lldc's writes plus one record (round and delivered windows) per round.
 *
 * The book's algorithm, as transcribed here:
 *   upon Init: unordered := ∅; delivered := ∅; round := 1; wait := FALSE;
 *   upon Recovery: retrieve(delivered, round); trigger <Deliver | delivered>; wait := FALSE;
 *   upon <ltob, Broadcast | m>: trigger <lurb, Broadcast | m>;
 *   upon <lurb, Deliver | p, m>: if m ∉ delivered: unordered := unordered ∪ {(p, m)};
 *   upon unordered \ delivered ≠ ∅ ∧ wait = FALSE: wait := TRUE;
 *       trigger <lc.round, Propose | unordered \ delivered>;
 *   upon <lc.r, Decide | decided> such that r = round:
 *       delivered := delivered ⊕ sort(decided \ delivered); store(delivered, round + 1);
 *       round := round + 1; wait := FALSE; trigger <Deliver | delivered>;
 * Each handler below quotes its line.
 *
 * Bounded implementation (departures, each argued):
 *   - delivered is logged as a window per sender over lurb's sequence numbers of this module's
 *     lurb instance ("ltob/st": round, the replay mark below, and the windows, one record per
 *     round), not as the growing sequence. A client sees the sequence as it grows
 *     (STRATA_OUT_DELIVER in order). "trigger <Deliver | delivered>" on recovery is bounded the
 *     same way: the deliveries whose announcement a crash can have lost are those of rounds
 *     decided in turn-batches not yet synced; the record keeps `mark`, the first round whose
 *     delivering batch was not known synced when the record was written, and recovery announces
 *     the deliveries of rounds mark .. round - 1 again (replays; the decided values are lldc's
 *     logged decisions, cons_lower_decided), recorders keeping the first announcement.
 *   - A message is named by (sender, seq) of lurb's instance: lurb keeps seq on stable storage,
 *     so the name is unique for the sender's whole life, across recoveries.
 *   - unordered is volatile and holds at most LTOB_UNORDERED_MAX messages (lurb's pending cap):
 *     after a recovery lurb announces again every logged delivery still pending, and an entry
 *     stays pending in lurb until every process has logged its ltob delivery (bc_lurb_release:
 *     released in the batch that stores this module's record), so no message broadcast by a
 *     correct process is forgotten by every process at once.
 *   - Consensus instance lc.r is instance r of lldc's instance space CONS_SPACE_LTOB. lldc
 *     indicates its decisions again on recovery (the book's logged consensus does, ld_recover);
 *     a Decide of a round this process has passed is ignored, one of a later round waits in a
 *     buffer of TOBR_AHEAD_MAX rounds (tob_rounds.h, shared with tob), and the rounds in between are read from lldc's log
 *     (cons_lower_decided) or, when this process has not decided them, joined by proposing
 *     (an empty batch if unordered is empty): every process takes part in every round.
 *   - A batch carries as many unordered messages as fit in one consensus value.
 * Own broadcasts announced again after a recovery: lurb lists the own broadcasts still pending
 * (bc_lurb_own_pending): their BCAST output may have been lost with the crash that kept them.
 * Stacking: instance 0 only (the client-facing one, deliveries to the client adapter). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcast/bcast.h"
#include "bcast/common.h"
#include "bcast/lurb.h"
#include "cons/cons.h"
#include "cons/tob_rounds.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"

#define LTOB_UNORDERED_MAX 256u
#define LTOB_RING 256u
#define LTOB_REPLAY_MAX 4096u /* rounds announced again after a recovery, at most */
#define LTOB_CONSENSUS "lldc"

enum { LTOB_TOK_RETRY = 1 };

struct ltob {
	struct strata_module m;
	struct bcast_lower lurb;
	struct strata_module *lc;
	bool unlogged;          /* test-only broken variant: delivers without logging */
	uint64_t round;         /* logged */
	uint64_t mark;          /* logged: rounds below it had their outputs released */
	struct bc_win *win;     /* [n+1]: delivered (logged) */
	struct tobr_msg *unordered; /* inc 0: a message is (sender, lurb seq) */
	size_t nun;
	bool wait;
	struct tobr_ahead ahead; /* Decides of later rounds */
	struct {
		uint64_t batch, round; /* once batch is synced, every round below `round` is out */
	} ring[LTOB_RING];
	unsigned nring;
	uint64_t dropped;
	struct strata_timer retry;
	uint64_t period_us;
};

static uint64_t ltob_inst(uint64_t round)
{
	return CONS_SPACE_LTOB << CONS_SPACE_BITS | round;
}

/* ---- stable storage: "ltob/st" = [round][mark][window of each sender 1..n] ---- */

static int ltob_store(struct ltob *t)
{
	struct strata_node *n = t->m.node;
	if (t->unlogged)
		return 0; /* the broken variant: nothing logged */
	struct strata_wr w;
	strata_wr_init(&w, 64 + (size_t)strata_node_n(n) * (BC_WIN_BITS / 8 + 16));
	strata_wr_u64(&w, t->round);
	strata_wr_u64(&w, t->mark);
	for (uint32_t s = 1; s <= strata_node_n(n); s++)
		bc_win_write(&w, &t->win[s]);
	int rc = w.err ? w.err : strata_store(n, "ltob/st", w.buf, w.len);
	strata_wr_free(&w);
	return rc;
}

static void ltob_load(struct ltob *t)
{
	struct strata_node *n = t->m.node;
	struct strata_msg *m = NULL;
	if (strata_retrieve(n, "ltob/st", &m) != 0)
		return;
	struct strata_rd r;
	strata_rd_init(&r, m->data, m->len);
	uint64_t round = strata_rd_u64(&r), mark = strata_rd_u64(&r);
	for (uint32_t s = 1; s <= strata_node_n(n) && strata_rd_ok(&r); s++)
		(void)bc_win_read(&r, &t->win[s]);
	if (strata_rd_done(&r) != 0 || round == 0 || mark > round) {
		strata_trace(n, "ltob", "recovery: damaged record -> starts at round 1");
		for (uint32_t s = 1; s <= strata_node_n(n); s++)
			bc_win_reset(&t->win[s]);
	} else {
		t->round = round;
		t->mark = mark;
	}
	strata_msg_unref(m);
}

/* The replay mark: the rounds whose delivering batch is synced. */
static void ltob_advance_mark(struct ltob *t)
{
	struct strata_node *n = t->m.node;
	uint64_t synced = strata_node_counters(n)->batches - strata_node_batches_unsynced(n);
	unsigned k = 0;
	while (k < t->nring && t->ring[k].batch <= synced) {
		t->mark = t->ring[k].round;
		k++;
	}
	if (k) {
		memmove(t->ring, t->ring + k, (t->nring - k) * sizeof(t->ring[0]));
		t->nring -= k;
	}
	uint64_t batch = strata_node_counters(n)->batches + 1;
	if (t->nring && t->ring[t->nring - 1].batch == batch) {
		t->ring[t->nring - 1].round = t->round;
	} else if (t->nring < LTOB_RING) {
		t->ring[t->nring].batch = batch;
		t->ring[t->nring++].round = t->round;
	} else {
		/* Full: merge into the newest entry (a later batch for a later round: the mark then
		 * advances later, which only announces more again after a recovery). */
		t->ring[t->nring - 1].batch = batch;
		t->ring[t->nring - 1].round = t->round;
	}
}

/* upon unordered \ delivered ≠ ∅ ∧ wait = FALSE do
 *     wait := TRUE;
 *     trigger <lc.round, Propose | unordered \ delivered>;
 * (join: with an empty batch when a later round is known decided) */
static void ltob_decided_now(struct ltob *t, const struct strata_msg *batch);

static void ltob_try(struct ltob *t, bool join)
{
	while (!t->wait && (t->nun > 0 || join)) {
		size_t max = cons_value_max(t->m.node, 1);
		struct strata_wr w;
		strata_wr_init(&w, max);
		size_t fits = tobr_encode(&w, max, t->unordered, t->nun, false);
		int rc = w.err ? w.err : cons_lower_propose(t->lc, ltob_inst(t->round), w.buf, w.len);
		strata_wr_free(&w);
		if (rc == STRATA_ESTATE) {
			/* Decided here already (its Decide went up before a recovery, or was indicated
			 * to a previous life): read it from lldc's log. */
			struct strata_msg *v = cons_lower_decided(t->lc, ltob_inst(t->round));
			if (!v) {
				strata_trace(t->m.node, "ltob", "round %llu decided but not readable -> retried",
					     (unsigned long long)t->round);
				return; /* the retry timer asks again (lldc stores a decision before
					 * its window, so this is a read failure) */
			}
			ltob_decided_now(t, v);
			strata_msg_unref(v);
			join = false;
			continue;
		}
		if (rc) {
			strata_trace(t->m.node, "ltob", "round %llu: propose failed (%s) -> retried",
				     (unsigned long long)t->round, strata_strerror(rc));
			return;
		}
		t->wait = true;
		strata_trace(t->m.node, "ltob", "round %llu: propose %zu messages",
			     (unsigned long long)t->round, fits);
	}
}

/* upon event <lc.r, Decide | decided> such that r = round do
 *     delivered := delivered ⊕ sort(decided \ delivered);
 *     store(delivered, round + 1); round := round + 1; wait := FALSE;
 *     trigger <ltob, Deliver | delivered>;   (the new part, in order) */
static void ltob_apply(void *arg, const struct strata_msg *batch)
{
	struct ltob *t = arg;
	size_t count = 0;
	struct tobr_entry *e = tobr_parse(&t->m, "ltob", batch, false, &count);
	for (size_t k = 0; k < count; k++) {
		struct bc_win *w = &t->win[e[k].origin];
		if (bc_win_has(w, e[k].seq))
			continue;
		bc_win_add(w, e[k].seq);
		bc_out_deliver(&t->m, e[k].origin, 0, e[k].seq, e[k].p, e[k].len, NULL, 0);
		strata_trace(t->m.node, "ltob", "round %llu: deliver %u/%llu",
			     (unsigned long long)t->round, e[k].origin, (unsigned long long)e[k].seq);
		tobr_remove(t->unordered, &t->nun, e[k].origin, 0, e[k].seq);
	}
	t->round++;
	t->wait = false;
	ltob_advance_mark(t);
	if (ltob_store(t) != 0)
		strata_trace(t->m.node, "ltob", "store of round %llu failed -> the node stops at its sync",
			     (unsigned long long)t->round);
	/* Logged above in this batch: lurb may collect them once it is synced. */
	for (size_t k = 0; k < count; k++)
		bc_lurb_release(&t->lurb, e[k].origin, e[k].seq);
	free(e);
}

/* Applies the decision of the current round, then every buffered later one that is next. */
static void ltob_decided_now(struct ltob *t, const struct strata_msg *batch)
{
	ltob_apply(t, batch);
	tobr_ahead_drain(&t->ahead, &t->round, ltob_apply, t);
}

static void ltob_on_decide(struct ltob *t, const struct strata_event *ev)
{
	const struct cons_decided *d = ev->body;
	if (!d || ev->body_len != sizeof(*d) || (d->instance >> CONS_SPACE_BITS) != CONS_SPACE_LTOB)
		return;
	uint64_t r = d->instance & CONS_SPACE_MASK;
	if (r < t->round)
		return; /* passed: logged in delivered already (a re-announcement) */
	if (r > t->round) {
		/* A later round: wait for the ones before it, reading or joining them. */
		if (!tobr_ahead_has(&t->ahead, r) && !tobr_ahead_add(&t->ahead, r, ev->msg))
			t->dropped++;
		ltob_try(t, true);
		return;
	}
	ltob_decided_now(t, ev->msg);
	ltob_try(t, t->ahead.n > 0);
}

/* upon event <lurb, Deliver | p, m> do
 *     if m ∉ delivered then unordered := unordered ∪ {(p, m)}; */
static void ltob_on_lurb_deliver(struct ltob *t, const struct strata_event *ev)
{
	const struct strata_deliver *d = ev->body;
	if (d->origin < 1 || d->origin > strata_node_n(t->m.node) || d->seq == 0) {
		strata_node_bad_payload(t->m.node, &t->m, d->origin, "ltob: malformed lurb delivery");
		return;
	}
	if (bc_win_has(&t->win[d->origin], d->seq)) {
		/* Delivered and logged here before (announced again after a recovery). */
		bc_lurb_release(&t->lurb, d->origin, d->seq);
		return;
	}
	if (tobr_find(t->unordered, t->nun, d->origin, 0, d->seq) >= 0)
		return;
	if (t->nun == LTOB_UNORDERED_MAX) {
		t->dropped++; /* cannot happen: lurb holds at most as many pending */
		return;
	}
	struct strata_msg *p = strata_msg_new(d->data, d->len);
	STRATA_ASSERT(p);
	t->unordered[t->nun++] = (struct tobr_msg){ d->origin, 0, d->seq, p };
	ltob_try(t, false);
}

static void ltob_replay_own(void *arg, uint64_t seq, const uint8_t *data, size_t len)
{
	bc_out_bcast_replay(arg, seq, data, len);
}

/* upon event <ltob, Recovery> do retrieve(delivered, round); trigger <Deliver | delivered>;
 * (bounded: the deliveries of rounds mark .. round - 1, whose announcement a crash may have lost,
 * as replays; and the own broadcasts lurb still holds, whose BCAST output may have been lost) */
static void ltob_recover(struct ltob *t)
{
	struct strata_node *n = t->m.node;
	bc_lurb_own_pending(&t->lurb, ltob_replay_own, &t->m);
	uint64_t from = t->mark ? t->mark : 1;
	if (t->round - from > LTOB_REPLAY_MAX)
		from = t->round - LTOB_REPLAY_MAX;
	struct bc_win *seen = calloc(strata_node_n(n) + 1, sizeof(*seen));
	STRATA_ASSERT(seen);
	unsigned replayed = 0;
	for (uint64_t r = from; r < t->round; r++) {
		struct strata_msg *v = cons_lower_decided(t->lc, ltob_inst(r));
		if (!v)
			continue;
		size_t count = 0;
		struct tobr_entry *e = tobr_parse(&t->m, "ltob", v, false, &count);
		for (size_t k = 0; k < count; k++) {
			if (!bc_win_has(&t->win[e[k].origin], e[k].seq) ||
			    bc_win_has(&seen[e[k].origin], e[k].seq))
				continue;
			bc_win_add(&seen[e[k].origin], e[k].seq);
			bc_out_replay(&t->m, e[k].origin, e[k].seq, e[k].p, e[k].len);
			replayed++;
		}
		free(e);
		strata_msg_unref(v);
	}
	free(seen);
	char text[128];
	snprintf(text, sizeof(text), "ltob recovered at round %llu; deliveries of rounds %llu.. announced again (%u)",
		 (unsigned long long)t->round, (unsigned long long)from, replayed);
	struct strata_output o = { .kind = STRATA_OUT_EVENT, .module = t->m.wire_id,
				   .module_name = "ltob", .text = text };
	strata_output(n, &o);
	strata_trace(n, "ltob", "%s", text);
}

static void ltob_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct ltob *t = (struct ltob *)m;
	switch (ev->type) {
	case STRATA_EV_INIT:
		if (ev->arg == 1)
			ltob_recover(t);
		strata_timer_arm_in(m->node, &t->retry, t->period_us);
		break;
	case STRATA_EV_TIMER:
		/* A propose refused for lack of room, or a round never heard of: try again. */
		ltob_try(t, t->ahead.n > 0);
		strata_timer_arm_in(m->node, &t->retry, t->period_us);
		break;
	case CONS_EV_DECIDE:
		if (ev->msg)
			ltob_on_decide(t, ev);
		break;
	default:
		if (bcast_is_deliver(&t->lurb, ev))
			ltob_on_lurb_deliver(t, ev);
		else
			bc_reject_frame(m, ev);
		break;
	}
}

static size_t ltob_payload_max(const struct ltob *t)
{
	size_t cmax = cons_value_max(t->m.node, 1);
	cmax = cmax > 64 + TOBR_ENTRY_OVERHEAD ? cmax - 64 - TOBR_ENTRY_OVERHEAD : 0;
	size_t lmax = bcast_payload_max(&t->lurb);
	lmax = lmax > BC_HDR_MAX ? lmax - BC_HDR_MAX : 0;
	return cmax < lmax ? cmax : lmax;
}

/* upon event <ltob, Broadcast | m> do trigger <lurb, Broadcast | m>; */
static int ltob_request(struct strata_module *m, const struct strata_request *req)
{
	struct ltob *t = (struct ltob *)m;
	int rc = bc_check_request(req, ltob_payload_max(t));
	if (rc)
		return rc;
	uint64_t seq = 0;
	rc = bc_lurb_broadcast(&t->lurb, req->value, req->value_len, &seq);
	if (rc)
		return rc;
	bc_out_bcast(m, seq, req->value, req->value_len, NULL, 0);
	strata_node_reply(m->node, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

static void ltob_destroy(struct strata_module *m)
{
	struct ltob *t = (struct ltob *)m;
	strata_timer_disarm(m->node, &t->retry);
	for (size_t k = 0; k < t->nun; k++)
		strata_msg_unref(t->unordered[k].payload);
	tobr_ahead_free(&t->ahead);
	free(t->unordered);
	free(t->win);
	free(t);
}

static const struct strata_module_ops ltob_ops = {
	.name = "ltob", .handle = ltob_handle, .request = ltob_request, .destroy = ltob_destroy,
};

void cons_ltob_test_unlogged(struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &ltob_ops);
	((struct ltob *)m)->unlogged = true;
}

struct strata_module *cons_ltob_create(struct strata_node *n, char *err, size_t errlen)
{
	struct ltob *t = calloc(1, sizeof(*t));
	if (t) {
		t->win = calloc(strata_node_n(n) + 1, sizeof(*t->win));
		t->unordered = calloc(LTOB_UNORDERED_MAX, sizeof(*t->unordered));
	}
	if (!t || !t->win || !t->unordered) {
		if (t) {
			free(t->win);
			free(t->unordered);
		}
		free(t);
		snprintf(err, errlen, "ltob: out of memory");
		return NULL;
	}
	t->round = 1;
	uint64_t period_ms = strata_node_config(n)->timeout_ms;
	t->period_us = (period_ms ? period_ms : 1000) * 1000;
	strata_timer_init(&t->retry, &t->m, LTOB_TOK_RETRY, 0);
	strata_node_add_module(n, &t->m, &ltob_ops, strata_wire_id("ltob"));
	ltob_load(t);
	if (bcast_open(n, "lurb", &t->m, 0, &t->lurb, err, errlen) != 0 ||
	    cons_lower_open_space(n, LTOB_CONSENSUS, CONS_SPACE_LTOB, &t->m, &t->lc, err,
				  errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	return &t->m;
}
