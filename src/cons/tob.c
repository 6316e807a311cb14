/* Total-order broadcast, book Alg. 6.1 "Consensus-Based Total-Order Broadcast" (module tob).
 *
 * Specification (Module 6.1, regular total-order broadcast):
 *   TOB1 Validity: if a correct process p broadcasts m, then p eventually delivers m.
 *   TOB2 No duplication: no message is delivered more than once.
 *   TOB3 No creation: if a process delivers m with sender s, then m was previously broadcast
 *        by process s.
 *   TOB4 Agreement: if a message m is delivered by some correct process, then m is eventually
 *        delivered by every correct process.
 *   TOB5 Total order: let m1 and m2 be any two messages and suppose p and q are any two correct
 *        processes that deliver m1 and m2; if p delivers m1 before m2, then q delivers m1
 *        before m2.
 * Model: that of its consensus, chosen by `[tob] consensus` (default ldc: fail-noisy, N > 2f;
 * flood, hier, uflood, uhier on a fail-stop cluster), over the node's eager reliable broadcast
 * erb. Over a regular consensus (flood, hier) this is the book's regular total-order broadcast
 * (a process that crashes may have delivered differently); over a uniform one (ldc, uflood,
 * uhier) the order is uniform too (Sect. 6.1.4). Cost per batch: one rb broadcast per message
 * (O(N^2)) and one consensus (ldc: 5N messages, 5 steps) per round, whatever the batch holds.
 *
 * Faithful transcription, stacked as the book draws it: <rb, Broadcast> on the module's own erb
 * instance (bcast_open), and <c.r, Propose | unordered> on consensus instance r of the node's ldc
 * in its own instance space (cons_lower_propose; CONS_SPACE_TOB), whose Decide comes back as a
 * typed indication. A message's identity is (sender, incarnation, seq), seq counting the
 * sender's tob broadcasts 1, 2, ... (carried in the rb payload). Bounds: `delivered` is a
 * delivered window per sender (bcast/common.h); `unordered` holds at most TOB_UNORDERED_MAX
 * messages (beyond, a broadcast is refused with EFULL and a relayed message is dropped and
 * counted: a bound, not the book); a batch carries as many unordered messages as fit in one
 * consensus value; a Decide of a later round than the current one (this process joined it
 * through a peer) waits in a buffer of TOBR_AHEAD_MAX rounds (the batches, their order and
 * that buffer are shared with ltob: tob_rounds.h). The consensus algorithm is the
 * config's `[tob] consensus` (checked at start by strata_stack_check_config: a multi-valued
 * consensus of the family that the cluster's model runs).
 *
 * Stacking (bcast/bcast.h): upper modules open instances BCAST_INST(upper wire, sub) of tob
 * and broadcast on them; there is one total order for every instance together (a message's
 * instance travels with it: the rb payload is [seq][instance][bytes]), and a delivered
 * message of instance k goes to k's subscribers (at most TOB_UPPERS instances), instance 0's
 * to the client adapter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcast/bcast.h"
#include "bcast/common.h"
#include "cons/cons.h"
#include "cons/tob_rounds.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"

#define TOB_UNORDERED_MAX 1024u
#define TOB_UPPERS 4u
#define TOB_CONSENSUS_DEFAULT "ldc"

struct tob {
	struct strata_module m;
	struct bcast_lower rb;
	struct strata_module *cons;
	uint64_t lsn;             /* this process's tob broadcasts */
	struct bc_origin *org;    /* [n+1]: delivered windows */
	struct tobr_msg *unordered;
	size_t nun;
	uint64_t round;
	bool wait;
	struct tobr_ahead ahead; /* Decides of later rounds */
	uint64_t dropped;
	struct {
		uint64_t inst;
		struct bc_subs subs;
	} up[TOB_UPPERS];
	unsigned nup;
};

static uint64_t tob_inst(uint64_t round)
{
	return CONS_SPACE_TOB << CONS_SPACE_BITS | round;
}

static bool tob_delivered(struct tob *t, uint32_t origin, uint64_t inc, uint64_t seq)
{
	struct bc_origin *o = &t->org[origin];
	return inc < o->inc || (inc == o->inc && bc_win_has(&o->win, seq));
}

/* upon unordered ≠ ∅ ∧ wait = FALSE do
 *     wait := TRUE;
 *     Initialize a new instance c.round of consensus;
 *     trigger <c.round, Propose | unordered>; */
static void tob_try(struct tob *t)
{
	if (t->wait || t->nun == 0)
		return;
	size_t max = cons_value_max(t->m.node, 1);
	struct strata_wr w;
	strata_wr_init(&w, max);
	size_t count = tobr_encode(&w, max, t->unordered, t->nun, true);
	int rc = w.err ? w.err : cons_lower_propose(t->cons, tob_inst(t->round), w.buf, w.len);
	strata_wr_free(&w);
	if (rc && rc != STRATA_ESTATE) {
		strata_trace(t->m.node, "tob", "round %llu: propose failed (%s) -> retried later",
			     (unsigned long long)t->round, strata_strerror(rc));
		return;
	}
	t->wait = true;
	strata_trace(t->m.node, "tob", "round %llu: propose %zu unordered messages",
		     (unsigned long long)t->round, count);
}

/* trigger <tob, Deliver | s, m> to the subscribers of m's instance (the client adapter for 0). */
static void tob_deliver(struct tob *t, const struct tobr_entry *e)
{
	struct strata_rd r;
	strata_rd_init(&r, e->p, e->len);
	uint64_t inst = strata_rd_u64(&r);
	if (!strata_rd_ok(&r)) {
		strata_node_bad_payload(t->m.node, &t->m, e->origin, "tob: message without instance");
		return;
	}
	const uint8_t *p = e->p + r.off;
	size_t len = e->len - r.off;
	if (inst == 0) {
		bc_out_deliver(&t->m, e->origin, e->inc, e->seq, p, len, NULL, 0);
		return;
	}
	unsigned k = 0;
	while (k < t->nup && t->up[k].inst != inst)
		k++;
	if (k == t->nup) {
		/* The first use of the upper algorithm on this node: created now (its constructor
		 * opens this instance). */
		struct bc_subs none = { .n = 0 };
		(void)bc_subs_default(&t->m, inst, &none);
		k = 0;
		while (k < t->nup && t->up[k].inst != inst)
			k++;
	}
	if (k < t->nup) {
		struct strata_msg *msg = strata_msg_new(p, len);
		STRATA_ASSERT(msg); /* running out of memory mid-handler cannot be recovered */
		struct strata_deliver d = { .origin = e->origin, .inc = e->inc, .seq = e->seq,
					    .data = msg->data, .len = len };
		bc_subs_indicate(&t->m, &t->up[k].subs, inst, msg, &d);
		strata_msg_unref(msg);
		return;
	}
	t->dropped++;
	strata_trace(t->m.node, "tob", "delivery for instance %llx without subscriber -> dropped",
		     (unsigned long long)inst);
}

/* upon event <c.r, Decide | decided> such that r = round do
 *     forall (s, m) ∈ sort(decided) such that (s, m) ∉ delivered do
 *         trigger <tob, Deliver | s, m>;
 *     delivered := delivered ∪ decided;
 *     unordered := unordered \ decided;
 *     round := round + 1;
 *     wait := FALSE; */
static void tob_apply(void *arg, const struct strata_msg *batch)
{
	struct tob *t = arg;
	size_t count = 0;
	struct tobr_entry *e = tobr_parse(&t->m, "tob", batch, true, &count);
	for (size_t k = 0; k < count; k++) {
		struct bc_origin *o = &t->org[e[k].origin];
		if (tob_delivered(t, e[k].origin, e[k].inc, e[k].seq))
			continue;
		if (bc_origin_admit(o, e[k].inc) == BC_STALE)
			continue;
		bc_win_add(&o->win, e[k].seq);
		tob_deliver(t, &e[k]);
		tobr_remove(t->unordered, &t->nun, e[k].origin, e[k].inc, e[k].seq);
	}
	free(e);
	t->round++;
	t->wait = false;
}

static void tob_on_decide(struct tob *t, const struct strata_event *ev)
{
	const struct cons_decided *d = ev->body;
	if (!d || ev->body_len != sizeof(*d) || (d->instance >> CONS_SPACE_BITS) != CONS_SPACE_TOB)
		return;
	uint64_t r = d->instance & CONS_SPACE_MASK;
	if (r < t->round)
		return;
	if (r > t->round) { /* joined through a peer: wait for the rounds before it */
		if (!tobr_ahead_add(&t->ahead, r, ev->msg))
			t->dropped++;
		return;
	}
	tob_apply(t, ev->msg);
	tobr_ahead_drain(&t->ahead, &t->round, tob_apply, t);
	tob_try(t);
}

/* upon event <rb, Deliver | p, m> do
 *     if m ∉ delivered then unordered := unordered ∪ {(p, m)}; */
static void tob_on_rb_deliver(struct tob *t, const struct strata_event *ev)
{
	const struct strata_deliver *d = ev->body;
	struct strata_rd r;
	strata_rd_init(&r, d->data, d->len);
	uint64_t seq = strata_rd_u64(&r);
	if (!strata_rd_ok(&r) || seq == 0 || d->origin < 1 || d->origin > strata_node_n(t->m.node)) {
		strata_node_bad_payload(t->m.node, &t->m, d->origin, "tob: malformed rb payload");
		return;
	}
	if (d->inc < t->org[d->origin].inc || tob_delivered(t, d->origin, d->inc, seq) ||
	    tobr_find(t->unordered, t->nun, d->origin, d->inc, seq) >= 0)
		return;
	if (t->nun == TOB_UNORDERED_MAX) {
		t->dropped++;
		strata_trace(t->m.node, "tob", "unordered full -> %u/%llu dropped", d->origin,
			     (unsigned long long)seq);
		return;
	}
	struct strata_msg *p = strata_msg_new(d->data + r.off, d->len - r.off);
	STRATA_ASSERT(p);
	t->unordered[t->nun++] = (struct tobr_msg){ d->origin, d->inc, seq, p };
	tob_try(t);
}

static void tob_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct tob *t = (struct tob *)m;
	if (ev->type == CONS_EV_DECIDE && ev->msg)
		tob_on_decide(t, ev);
	else if (bcast_is_deliver(&t->rb, ev))
		tob_on_rb_deliver(t, ev);
}

/* upon event <tob, Broadcast | m> do trigger <rb, Broadcast | m>; (m on instance inst) */
static int tob_broadcast_inst(struct tob *t, uint64_t inst, const uint8_t *v, size_t len)
{
	if (t->nun >= TOB_UNORDERED_MAX)
		return STRATA_EFULL;
	struct strata_wr w;
	strata_wr_init(&w, len + 32);
	strata_wr_u64(&w, t->lsn + 1);
	strata_wr_u64(&w, inst);
	strata_wr_raw(&w, v, len);
	int rc = w.err ? w.err : bcast_broadcast(&t->rb, w.buf, w.len);
	strata_wr_free(&w);
	if (rc)
		return rc;
	t->lsn++;
	return 0;
}

static int tob_request(struct strata_module *m, const struct strata_request *req)
{
	struct tob *t = (struct tob *)m;
	size_t max = cons_value_max(m->node, 1);
	int rc = bc_check_request(req, max > 64 ? max - 64 : 0);
	if (rc)
		return rc;
	rc = tob_broadcast_inst(t, 0, req->value, req->value_len);
	if (rc)
		return rc;
	bc_out_bcast(m, t->lsn, req->value, req->value_len, NULL, 0);
	strata_node_reply(m->node, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

static int tob_iface_open(struct strata_module *m, uint64_t inst, struct strata_module *upper)
{
	struct tob *t = (struct tob *)m;
	for (unsigned k = 0; k < t->nup; k++)
		if (t->up[k].inst == inst)
			return bc_subs_add(&t->up[k].subs, upper);
	if (inst == 0 || t->nup == TOB_UPPERS)
		return STRATA_EFULL;
	t->up[t->nup].inst = inst;
	t->up[t->nup].subs.n = 0;
	return bc_subs_add(&t->up[t->nup++].subs, upper);
}

static size_t tob_iface_payload_max(const struct strata_module *m)
{
	size_t max = cons_value_max(m->node, 1);
	return max > 64 ? max - 64 : 0;
}

static int tob_iface_broadcast(struct strata_module *m, uint64_t inst, const uint8_t *data,
			       size_t len)
{
	if (len > tob_iface_payload_max(m))
		return STRATA_ETOOBIG;
	return tob_broadcast_inst((struct tob *)m, inst, data, len);
}

static const struct bcast_iface tob_iface = {
	.open = tob_iface_open,
	.broadcast = tob_iface_broadcast,
	.payload_max = tob_iface_payload_max,
};

static void tob_destroy(struct strata_module *m)
{
	struct tob *t = (struct tob *)m;
	for (size_t k = 0; k < t->nun; k++)
		strata_msg_unref(t->unordered[k].payload);
	tobr_ahead_free(&t->ahead);
	free(t->unordered);
	free(t->org);
	free(t);
}

static const struct strata_module_ops tob_ops = {
	.name = "tob", .handle = tob_handle, .request = tob_request, .destroy = tob_destroy,
	.iface = &tob_iface,
};

const char *cons_tob_consensus(const struct strata_config *cfg)
{
	return cfg->tob_consensus[0] ? cfg->tob_consensus : TOB_CONSENSUS_DEFAULT;
}

struct strata_module *cons_tob_create(struct strata_node *n, char *err, size_t errlen)
{
	struct tob *t = calloc(1, sizeof(*t));
	if (t) {
		t->org = calloc(strata_node_n(n) + 1, sizeof(*t->org));
		t->unordered = calloc(TOB_UNORDERED_MAX, sizeof(*t->unordered));
	}
	if (!t || !t->org || !t->unordered) {
		if (t) {
			free(t->org);
			free(t->unordered);
		}
		free(t);
		snprintf(err, errlen, "tob: out of memory");
		return NULL;
	}
	t->round = 1;
	strata_node_add_module(n, &t->m, &tob_ops, strata_wire_id("tob"));
	if (bcast_open(n, "erb", &t->m, 0, &t->rb, err, errlen) != 0 ||
	    cons_lower_open(n, cons_tob_consensus(strata_node_config(n)), &t->m, &t->cons, err,
			    errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	return &t->m;
}
