/* Epoch change, book Alg. 5.5 "Leader-Based Epoch-Change" (module ec), and its fail-recovery
 * variant, Alg. 5.8 "Logged Leader-Based Epoch-Change" (module lec).
 *
 * Logged (lec): the same handlers, plus the book's stores: ts before a NEWEPOCH leaves, lastts
 * (the promise: no epoch below it is ever started again) and its leader before StartEpoch is
 * indicated; both reach stable storage before any message of the turn is sent (the node syncs
 * before flushing). Upon recovery they are retrieved and the last started epoch is indicated
 * again (StartEpoch(lastts, its leader)), so the consensus above resumes in it. Over the node's
 * Omega role, which on a fail-recovery node is the book's crash-recovery leader detector, Elect
 * Lower Epoch (Alg. 2.9, fd/ele.c; fd/ctors.c picks it). Messages: the node's beb and perfect
 * links (perfect-link sessions resend to a restarted peer what its previous life had not
 * acknowledged, docs/architecture.md), and the periodic repeats of leader-driven consensus,
 * stand in for the book's stubborn links. A refusal's NACK lost with its sender's crash is sent
 * again by ec_on_trust when the new life trusts another leader than its last epoch's; the one
 * path left (a newer epoch of that same leader refused) is in docs/consensus.md, "Logged
 * leader-driven consensus".
 *
 * Specification (Module 5.3, epoch-change):
 *   Indication: <ec, StartEpoch | ts, l> - starts the epoch identified by timestamp ts with
 *               leader l (raised as CONS_EV_START_EPOCH: peer = l, arg = ts).
 *   EC1 Monotonicity: if a correct process starts an epoch (ts, l) and later starts an epoch
 *       (ts', l'), then ts' > ts.
 *   EC2 Consistency: if a correct process starts an epoch (ts, l) and another correct process
 *       starts an epoch (ts', l') with ts = ts', then l = l'.
 *   EC3 Eventual leadership: there is a time after which every correct process has started
 *       some epoch and starts no further epoch, such that the last epoch started at every
 *       correct process is epoch (ts, l) and process l is correct.
 * Model: fail-noisy, over the eventual leader detector Omega (the node's STRATA_ROLE_LEADER),
 * best-effort broadcast and perfect links. Resilience: any f (consistency comes from the
 * timestamps: process p only ever uses ts = p + kN).
 * Cost per epoch change: N NEWEPOCH messages, plus N per refusal.
 *
 * Faithful transcription with two changes, both found by the simulator:
 *   - A NACK names a timestamp, and only a NACK of a timestamp >= the leader's current one makes
 *     it try again, with its first timestamp above the named one. The book bumps on every NACK,
 *     so N - 1 refusals of one NEWEPOCH start N - 1 new epochs, each refused again: the messages
 *     grow exponentially while Omega disagrees. A refusal because of our promise names the
 *     promise (lastts), not the refused timestamp, and the next timestamp is computed, not
 *     stepped by N: a recovered or peer's promise far above ours (a corrupted store once made a
 *     node loop 2^60 times inside one turn) costs one round, and one that no 64-bit timestamp
 *     of ours can pass stops this process from leading (counted), never hangs it.
 *   - When Omega makes a process trust l != self while its last started epoch is not l's, it
 *     tells l with a NACK of its lastts. Without it EC3 fails: l trusted itself all along (no new
 *     Trust, no new NEWEPOCH) while a partition let the others start a later epoch of another
 *     leader; after the partition heals everyone trusts l but l's epoch is older than theirs,
 *     and its epoch consensus is ignored forever (sim_cons_ld, ldc-split-heal). One epoch-change module serves
 * every consensus instance of the node (leader-driven consensus starts all its instances'
 * epochs from it). O(1) state, plus the NACKs owed (below).
 *
 * Sends the links refuse: NEWEPOCH goes over beb, which owes what the links refuse; a NACK goes
 * over perfect links once, and nothing repeats it: the leader moves only on a NACK or a new
 * trust, so one refused (the backlog toward l full, STRATA_EFULL) can leave l in an epoch older
 * than the one every other process started, trusted by all and ignored by all (EC3). A NACK the
 * links refuse is owed to l and sent again, in order, when l's backlog has room (links.h,
 * strata_pl_owed, queued): per peer at most EC_OWED_MAX NACKs (11 bytes at most). A NACK answers a
 * NEWEPOCH of l or a change of trust to l, and l sends a new NEWEPOCH only on a NACK or its own
 * trust, so NACKs owed to l while l hears none of ours stay few; one beyond is dropped (lost as
 * before), counted and traced, and the NACKs l does get make it send a NEWEPOCH that is answered
 * again. */
#include <stdio.h>
#include <stdlib.h>

#include "cons/cons.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "links/links.h"

enum { EC_NEWEPOCH = 1, EC_NACK = 2 };
enum { EC_TOK_OWED = 1 }; /* the timer that sends owed NACKs again */
#define EC_OWED_MAX 256u  /* NACKs owed to one peer, at most (see the top) */

struct ec {
	struct strata_module m;
	bool logged, forget; /* forget: test-only, see cons.h */
	struct bcast_lower beb; /* NEWEPOCH; NACK goes over perfect links */
	uint32_t n, self;
	uint32_t trusted;
	uint32_t lastl; /* leader of the last epoch started here (0 = none) */
	uint64_t lastts, ts;
	struct strata_pl_owed *owed; /* NACKs the links refused (see the top) */
};

static void ec_send(struct ec *e, uint32_t to, uint8_t type, uint64_t ts)
{
	struct strata_wr w;
	strata_wr_init(&w, 16);
	strata_wr_u8(&w, type);
	strata_wr_u64(&w, ts);
	int err;
	struct strata_msg *msg = strata_wr_take_msg(&w, &err);
	if (!msg)
		return;
	if (to)
		(void)strata_pl_owed_send(e->owed, to, 0, msg); /* refused: owed */
	else
		cons_beb_broadcast(&e->beb, 0, msg);
	strata_msg_unref(msg);
}

static void ec_store(struct ec *e)
{
	if (!e->logged)
		return;
	uint64_t rec[3] = { e->ts, e->lastts, e->lastl };
	if (cons_store_u64s(e->m.node, "lec/state", rec, 3) != 0)
		strata_trace(e->m.node, "lec", "store failed -> the node stops at its sync");
}

/* upon event <Recovery> do retrieve(trusted, lastts, ts); (and start the last epoch again) */
static void ec_recover(struct ec *e)
{
	uint64_t rec[3];
	if (cons_retrieve_u64s(e->m.node, "lec/state", rec, 3) != 0)
		return;
	e->ts = rec[0];
	if (e->forget) {
		strata_trace(e->m.node, "lec", "recovery, TEST ONLY: the promise (lastts %llu) is forgotten",
			     (unsigned long long)rec[1]);
		return;
	}
	e->lastts = rec[1];
	e->lastl = (uint32_t)rec[2];
	if (e->lastts && e->lastl >= 1 && e->lastl <= e->n)
		strata_indicate(&e->m, CONS_EV_START_EPOCH, e->lastl, 0, e->lastts, NULL);
}

/* The next timestamp of this process (ts + kN, k >= 1) above `above`, computed rather than
 * stepped: a NACK or a recovered promise may name a timestamp far above ours. When no such
 * timestamp fits in 64 bits (only a corrupted store or a forged peer message names one), this
 * process starts no epoch and says so: it can still follow other leaders' epochs. */
static bool ec_new_epoch(struct ec *e, const char *why, uint64_t above)
{
	uint64_t base = above > e->ts ? above : e->ts;
	uint64_t step = e->n - (base - e->ts) % e->n; /* base + step = ts + kN > base */
	if (base > UINT64_MAX - step) {
		strata_trace(e->m.node, "ec", "%s: no timestamp of ours above %llu fits in 64 bits: no "
			     "new epoch", why, (unsigned long long)base);
		return false;
	}
	e->ts = base + step;
	ec_store(e);
	strata_trace(e->m.node, "ec", "%s -> NEWEPOCH ts %llu", why, (unsigned long long)e->ts);
	ec_send(e, 0, EC_NEWEPOCH, e->ts);
	return true;
}

/* upon event <Omega, Trust | p> do
 *     trusted := p;
 *     if p = self then
 *         ts := ts + N;
 *         trigger <beb, Broadcast | [NEWEPOCH, ts]>; */
static void ec_on_trust(struct ec *e, uint32_t p)
{
	e->trusted = p;
	if (p == e->self && !ec_new_epoch(e, "Omega trusts self", 0))
		strata_node_counters(e->m.node)->store_errors++; /* only a recovered ts does that */
	else if (p && e->lastl != p && e->lastts)
		ec_send(e, p, EC_NACK, e->lastts); /* tell l our last epoch is not its own */
}

/* upon event <beb, Deliver | l, [NEWEPOCH, newts]> do
 *     if l = trusted ∧ newts > lastts then
 *         lastts := newts;
 *         trigger <ec, StartEpoch | newts, l>;
 *     else
 *         trigger <pl, Send | l, [NACK]>; */
static void ec_on_newepoch(struct ec *e, uint32_t l, uint64_t newts)
{
	if (l == e->trusted && newts > e->lastts) {
		e->lastts = newts;
		e->lastl = l;
		ec_store(e);
		strata_trace(e->m.node, "ec", "NEWEPOCH %llu from trusted %u -> start epoch",
			     (unsigned long long)newts, l);
		strata_indicate(&e->m, CONS_EV_START_EPOCH, l, 0, newts, NULL);
	} else {
		/* The NACK names what stands in the way: our promise when it is newts or above
		 * (l's next try then starts above it at once, not one step of N per refusal). */
		ec_send(e, l, EC_NACK, e->lastts > newts ? e->lastts : newts);
	}
}

/* upon event <pl, Deliver | p, [NACK]> do
 *     if trusted = self then
 *         ts := ts + N;
 *         trigger <beb, Broadcast | [NEWEPOCH, ts]>;
 * (only for a NACK of a ts >= the current one, see above) */
static void ec_on_nack(struct ec *e, const struct strata_event *ev, uint64_t ts)
{
	if (e->trusted == e->self && ts >= e->ts && !ec_new_epoch(e, "NACK of an epoch >= ours", ts))
		strata_node_bad_payload(e->m.node, &e->m, ev->peer, "ec: NACK of a timestamp no "
					"epoch of ours can pass");
}

static void ec_recv(struct ec *e, const struct strata_event *ev, bool by_beb)
{
	struct strata_rd r;
	strata_rd_init(&r, ev->msg->data, ev->msg->len);
	uint8_t type = strata_rd_u8(&r);
	uint64_t ts = strata_rd_u64(&r);
	if (strata_rd_done(&r) != 0 || ts == 0 || (type != EC_NEWEPOCH && type != EC_NACK) ||
	    (type == EC_NEWEPOCH && !by_beb) ||
	    (type == EC_NEWEPOCH && (ts - 1) % e->n + 1 != ev->peer)) {
		strata_node_bad_payload(e->m.node, &e->m, ev->peer, "ec: malformed message");
		return;
	}
	if (type == EC_NEWEPOCH)
		ec_on_newepoch(e, ev->peer, ts);
	else
		ec_on_nack(e, ev, ts);
}

static void ec_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct ec *e = (struct ec *)m;
	struct strata_event d;
	switch (ev->type) {
	case STRATA_EV_INIT:
		if (e->logged && ev->arg)
			ec_recover(e);
		break;
	case STRATA_EV_LEADER:
		if (ev->peer <= e->n)
			ec_on_trust(e, ev->peer);
		break;
	case STRATA_EV_PL_DELIVER: /* NACK */
		if (ev->msg)
			ec_recv(e, ev, false);
		break;
	case STRATA_EV_DELIVER: /* NEWEPOCH */
		if (cons_unwrap(m, &e->beb, ev, &d)) {
			ec_recv(e, &d, true);
			strata_msg_unref(d.msg);
		}
		break;
	case STRATA_EV_TIMER:
		if (ev->arg == EC_TOK_OWED)
			strata_pl_owed_flush(e->owed);
		break;
	default:
		break;
	}
}

static void ec_destroy(struct strata_module *m)
{
	strata_pl_owed_free(((struct ec *)m)->owed);
	free(m);
}

static const struct strata_module_ops ec_ops = {
	.name = "ec", .handle = ec_handle, .destroy = ec_destroy,
};

static const struct strata_module_ops lec_ops = {
	.name = "lec", .handle = ec_handle, .destroy = ec_destroy,
};

static bool ec_is(const struct strata_module *m)
{
	return m && (m->ops == &ec_ops || m->ops == &lec_ops);
}

void cons_ec_test_no_owed(struct strata_module *m)
{
	STRATA_ASSERT(ec_is(m));
	strata_pl_owed_test_lossy(((struct ec *)m)->owed);
}

void cons_ec_test_owed_counts(struct strata_module *m, struct strata_pl_owed_counts *c)
{
	STRATA_ASSERT(ec_is(m));
	strata_pl_owed_counts(((struct ec *)m)->owed, c);
}

void cons_ec_test_forget(struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &lec_ops);
	((struct ec *)m)->forget = true;
}

struct strata_module *cons_ec_get(struct strata_node *n, bool logged, char *err, size_t errlen)
{
	struct strata_module *have = strata_node_module_by_name(n, logged ? "lec" : "ec");
	if (have)
		return have;
	struct strata_module *omega = strata_node_role(n, STRATA_ROLE_LEADER);
	if (!omega) {
		snprintf(err, errlen, "epoch change needs the eventual leader detector Omega");
		return NULL;
	}
	struct ec *e = calloc(1, sizeof(*e));
	if (e)
		e->owed = strata_pl_owed_new(n, &e->m, EC_TOK_OWED, NULL, EC_OWED_MAX,
					     EC_OWED_MAX * 16);
	if (!e || !e->owed) {
		free(e);
		snprintf(err, errlen, "ec: out of memory");
		return NULL;
	}
	e->n = strata_node_n(n);
	e->self = strata_node_id(n);
	e->ts = e->self; /* ts := rank(self) */
	e->logged = logged;
	strata_node_add_module(n, &e->m, logged ? &lec_ops : &ec_ops,
			       strata_wire_also(logged ? "lldc" : "ldc", 0));
	if (cons_open_beb(n, &e->m, &e->beb, logged, err, errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	strata_module_subscribe(omega, &e->m);
	return &e->m;
}
