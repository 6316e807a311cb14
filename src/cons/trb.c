/* Uniform terminating reliable broadcast, book Alg. 6.3 "Consensus-Based Uniform Terminating
 * Reliable Broadcast" (module trb).
 *
 * Specification (Module 6.2), for an instance with sender s known to every process:
 *   Request:    <utrb, Broadcast | m>        executed by s only
 *   Indication: <utrb, Deliver | p, m>       m is a message, or ⊥ (written SF: "sender failed")
 *   TRB1 Validity: if a correct process p broadcasts m, then p eventually delivers m.
 *   TRB2 Termination: every correct process eventually delivers exactly one message.
 *   TRB3 Integrity: if a correct process delivers some message m, then either m = SF or m was
 *        previously broadcast by s.
 *   TRB4 Uniform Agreement: if any process delivers m, then every correct process eventually
 *        delivers m.
 *   (So SF is delivered only if s crashed: a correct s delivers its own m, and by agreement so
 *   does everyone.)
 *
 * Implementation (uses BestEffortBroadcast beb; UniformConsensus uc; PerfectFailureDetector P):
 *   upon <utrb, Init> do proposal := ⊥;
 *   upon <utrb, Broadcast | m> do trigger <beb, Broadcast | m>;      (only process s)
 *   upon <beb, Deliver | s, m> do
 *       if proposal = ⊥ then proposal := m; trigger <uc, Propose | proposal>;
 *   upon <P, Crash | p> do
 *       if p = s ∧ proposal = ⊥ then proposal := SF; trigger <uc, Propose | proposal>;
 *   upon <uc, Decide | decided> do trigger <utrb, Deliver | s, decided>;
 *
 * Instances. The book's instance has one sender fixed in advance. Here every process is the
 * sender of an unbounded sequence of instances (s, k), k = 1, 2, ...: `trb send` at s opens
 * (s, k) with k one above the highest instance of s that s knows, and every process expects the
 * next instance of every sender. When P reports s crashed, a process proposes SF on every
 * instance of s it knows and has not proposed on, and on (s, k + 1) for the highest k of s it
 * knows: a sender killed before or while broadcasting yields SF, delivered by every correct
 * process, on its first instance that not everyone knows the message of. Later instances of a
 * crashed sender never start (a fail-stop process does not come back; a restarted node is a new
 * process, and its instances restart at k = 1, which the others may have decided: out of the
 * model, see docs/consensus-variants.md).
 *
 * The instance (s, k) is consensus instance (CONS_SPACE_TRB << 48) | ((k - 1) * N + s) of the
 * node's uniform consensus (uhier, Alg. 5.4), and the same id in this module's instance table
 * (cons.h: at most CONS_LIVE_MAX undecided, a decided window of CONS_WINDOW ids, so every
 * sender's sequence may run about CONS_WINDOW / N instances ahead of the lowest undecided
 * one). The value proposed is [u8 tag][varint s][varint k][m], tag 1 = message, 0 = SF: every
 * proposal for (s, k) names (s, k), and the decision is delivered as it is.
 *
 * Model: fail-stop (P), any f < N (uhier). Faithful otherwise. Memory: the instance table and
 * per sender the highest instance known (N words).
 * Wire: beb payload [varint k][m] (s is beb's origin).
 * Client: BROADCAST value = m at the sender -> reply [varint id][tag][s][k][m] once the sender
 * delivered instance (s, k). Outputs: STRATA_OUT_BCAST when s broadcasts (a = id, data = m),
 * STRATA_OUT_DELIVER on every utrb Deliver (a = id, data = [tag][s][k][m], text "sender S"). */
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

struct trb_inst {
	struct cons_inst c;
	bool ucproposed; /* the book's proposal ≠ ⊥ */
};

struct trb {
	struct cons_mod c; /* c.tab.beb is "beb"; the instance table */
	struct strata_module *uc;
	uint32_t n;
	uint64_t hi[STRATA_MAX_NODES + 1]; /* highest instance k of each sender known here */
	uint64_t refused;
	bool test_direct; /* TEST ONLY: deliver beb's message without consensus */
};

static uint64_t trb_id(const struct trb *t, uint32_t s, uint64_t k)
{
	return (k - 1) * t->n + s;
}

static uint64_t uc_inst(uint64_t id)
{
	return CONS_SPACE_TRB << CONS_SPACE_BITS | id;
}

static void trb_sender(const struct trb *t, uint64_t id, uint32_t *s, uint64_t *k)
{
	*s = (uint32_t)((id - 1) % t->n) + 1;
	*k = (id - 1) / t->n + 1;
}

static void trb_note(struct trb *t, uint32_t s, uint64_t k)
{
	if (k > t->hi[s])
		t->hi[s] = k;
}

static size_t trb_value_max(const struct trb *t)
{
	size_t a = bcast_payload_max(&t->c.tab.beb), b = cons_value_max(t->c.m.node, t->n);
	size_t m = a < b ? a : b;
	return m > 32 ? m - 32 : 0;
}

/* Decodes a decided value [tag][s][k][m]; false if malformed or not for (s, k). */
static bool trb_value_ok(const uint8_t *v, size_t len, uint32_t s, uint64_t k)
{
	struct strata_rd r;
	strata_rd_init(&r, v, len);
	uint8_t tag = strata_rd_u8(&r);
	uint64_t vs = strata_rd_u64(&r), vk = strata_rd_u64(&r);
	return strata_rd_ok(&r) && tag <= 1 && vs == s && vk == k && (tag == 1 || r.off == len);
}

static void trb_expect_next(struct trb *t, uint32_t s);

/* <utrb, Deliver | s, decided>; then, if s crashed and this was its highest known instance,
 * with a message, s's sequence goes on: SF is proposed on (s, k + 1). Every delivery takes
 * this path: uc may have decided (s, k) before this module proposed on it, and then the
 * value comes back from the proposal (trb_uc_propose), not as a Decide. */
static void trb_deliver(struct trb *t, struct trb_inst *i, const uint8_t *v, size_t len)
{
	uint32_t s;
	uint64_t k;
	trb_sender(t, i->c.id, &s, &k);
	bool message = len > 0 && v[0] == 1;
	cons_decide(&t->c.tab, &i->c, v, len, s);
	if (message && (t->c.tab.crashed & cons_bit(s)) && k == t->hi[s])
		trb_expect_next(t, s);
}

/* Writes [tag][s][k][m] (m = NULL: SF, tag 0) into w. */
static void trb_encode(struct strata_wr *w, uint32_t s, uint64_t k, const uint8_t *m, size_t len)
{
	strata_wr_init(w, len + 24);
	strata_wr_u8(w, m ? 1 : 0);
	strata_wr_u64(w, s);
	strata_wr_u64(w, k);
	if (m)
		strata_wr_raw(w, m, len);
}

/* proposal := p; trigger <uc, Propose | proposal>. p = NULL: SF. true if i was decided (and
 * freed) now: uc decided it before this module could hear its Decide. */
static bool trb_uc_propose(struct trb *t, struct trb_inst *i, const uint8_t *m, size_t len)
{
	uint32_t s;
	uint64_t k;
	trb_sender(t, i->c.id, &s, &k);
	struct strata_wr w;
	struct strata_msg *v = NULL;
	trb_encode(&w, s, k, m, len);
	int rc = w.err;
	if (!rc) {
		i->ucproposed = true;
		strata_trace(t->c.m.node, "trb", "instance (%u, %llu) -> uc propose %s", s,
			     (unsigned long long)k, m ? "the message" : "SF");
		rc = cons_lower_propose_fetch(t->uc, uc_inst(i->c.id), w.buf, w.len, &v);
	}
	strata_wr_free(&w);
	if (v) {
		bool ok = trb_value_ok(v->data, v->len, s, k);
		if (ok)
			trb_deliver(t, i, v->data, v->len);
		strata_msg_unref(v);
		if (ok)
			return true;
		rc = STRATA_ENOENT;
	}
	if (rc) {
		i->ucproposed = false;
		t->refused++;
		strata_trace(t->c.m.node, "trb", "instance (%u, %llu): uc propose refused: %s", s,
			     (unsigned long long)k, strata_strerror(rc));
	}
	return false;
}

/* upon <beb, Deliver | s, m> do if proposal = ⊥ then proposal := m; <uc, Propose | m> */
static void trb_on_beb(struct trb *t, const struct strata_event *ev)
{
	const struct strata_deliver *d = ev->body;
	struct strata_rd r;
	strata_rd_init(&r, d->data, d->len);
	uint64_t k = strata_rd_u64(&r);
	if (!strata_rd_ok(&r) || k == 0 || k > CONS_SPACE_MASK / STRATA_MAX_NODES ||
	    d->origin < 1 || d->origin > t->n) {
		strata_node_bad_payload(t->c.m.node, &t->c.m, d->origin, "trb: malformed message");
		return;
	}
	uint32_t s = d->origin;
	trb_note(t, s, k);
	struct trb_inst *i =
		(struct trb_inst *)cons_tab_get_peer(&t->c.tab, trb_id(t, s, k), s);
	if (i && t->test_direct) { /* BROKEN VARIANT: no consensus */
		struct strata_wr w;
		trb_encode(&w, s, k, d->data + r.off, d->len - r.off);
		if (!w.err)
			trb_deliver(t, i, w.buf, w.len);
		strata_wr_free(&w);
		return;
	}
	if (i && !i->ucproposed)
		trb_uc_propose(t, i, d->data + r.off, d->len - r.off);
}

/* P reported s crashed and this process knows no instance of s above k: it proposes SF on
 * (s, k + 1), so that every correct process ends s's sequence with the same SF. */
static void trb_expect_next(struct trb *t, uint32_t s)
{
	uint64_t k = t->hi[s] + 1;
	struct cons_inst *c;
	if (cons_tab_get(&t->c.tab, trb_id(t, s, k), &c) != CONS_GOT)
		return;
	trb_note(t, s, k);
	struct trb_inst *i = (struct trb_inst *)c;
	if (!i->ucproposed)
		trb_uc_propose(t, i, NULL, 0);
}

/* upon <P, Crash | p> do if p = s ∧ proposal = ⊥ then proposal := SF; <uc, Propose | SF>
 * (on every known instance of p, and on p's next one) */
static void trb_on_crash(struct trb *t, uint32_t p)
{
	cons_tab_crash(&t->c.tab, p);
	trb_expect_next(t, p);
	for (size_t k = 0; k < t->c.tab.nlive;) {
		struct trb_inst *i = (struct trb_inst *)t->c.tab.live[k];
		uint32_t s;
		uint64_t kk;
		trb_sender(t, i->c.id, &s, &kk);
		if (s == p && !i->ucproposed && trb_uc_propose(t, i, NULL, 0))
			continue; /* decided and removed: live[k] is another instance now */
		k++;
	}
}

/* upon <uc, Decide | decided> do trigger <utrb, Deliver | s, decided> */
static void trb_on_uc_decide(struct trb *t, const struct strata_event *ev)
{
	uint64_t id;
	const struct cons_decided *d = cons_upper_decided(ev, t->uc, CONS_SPACE_TRB, &id);
	if (!d || id == 0)
		return;
	uint32_t s;
	uint64_t k;
	trb_sender(t, id, &s, &k);
	if (!trb_value_ok(d->value, d->len, s, k)) {
		strata_node_bad_payload(t->c.m.node, &t->c.m, ev->peer, "trb: uc decided a malformed value");
		return;
	}
	trb_note(t, s, k);
	struct cons_inst *c;
	if (cons_tab_get(&t->c.tab, id, &c) != CONS_GOT)
		return; /* delivered already, or outside the window */
	trb_deliver(t, (struct trb_inst *)c, d->value, d->len);
}

static void trb_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct trb *t = (struct trb *)m;
	if (bcast_is_deliver(&t->c.tab.beb, ev)) {
		trb_on_beb(t, ev);
		return;
	}
	switch (ev->type) {
	case CONS_EV_DECIDE:
		trb_on_uc_decide(t, ev);
		break;
	case STRATA_EV_CRASH:
		if (ev->peer >= 1 && ev->peer <= t->n)
			trb_on_crash(t, ev->peer);
		break;
	case STRATA_EV_RESTORE:
		if (ev->peer >= 1 && ev->peer <= t->n)
			cons_tab_restore(&t->c.tab, ev->peer);
		break;
	default:
		break;
	}
}

/* upon <utrb, Broadcast | m> do trigger <beb, Broadcast | m> (this process is the sender of its
 * next instance) */
static int trb_request(struct strata_module *m, const struct strata_request *req)
{
	struct trb *t = (struct trb *)m;
	if (req->op != STRATA_OP_BROADCAST)
		return STRATA_EINVAL;
	if (req->value_len > trb_value_max(t))
		return STRATA_ETOOBIG;
	uint32_t self = strata_node_id(m->node);
	uint64_t k = t->hi[self] + 1;
	struct cons_inst *c;
	switch (cons_tab_get(&t->c.tab, trb_id(t, self, k), &c)) {
	case CONS_GOT:
		break;
	case CONS_RETIRED:
		return STRATA_ESTATE;
	case CONS_OUTSIDE:
		return STRATA_EINVAL;
	case CONS_NOROOM:
		return STRATA_EFULL;
	}
	int rc = cons_wait(c, req->id);
	if (rc)
		return rc;
	struct strata_wr w;
	strata_wr_init(&w, req->value_len + 16);
	strata_wr_u64(&w, k);
	strata_wr_raw(&w, req->value, req->value_len);
	rc = w.err ? w.err : bcast_broadcast(&t->c.tab.beb, w.buf, w.len);
	strata_wr_free(&w);
	if (rc) {
		c->nwait--;
		return rc;
	}
	trb_note(t, self, k);
	cons_out_propose(&t->c.tab, c, req->value, req->value_len, true);
	return 0;
}

static void trb_destroy(struct strata_module *m)
{
	struct trb *t = (struct trb *)m;
	cons_tab_free(&t->c.tab);
	free(t);
}

static const struct strata_module_ops trb_ops = {
	.name = "trb", .handle = trb_handle, .request = trb_request, .destroy = trb_destroy,
};

struct strata_module *var_trb_create(struct strata_node *n, char *err, size_t errlen)
{
	struct trb *t = calloc(1, sizeof(*t));
	if (!t || cons_tab_init(&t->c.tab, &t->c.m, sizeof(struct trb_inst)) != 0) {
		free(t);
		snprintf(err, errlen, "trb: out of memory");
		return NULL;
	}
	t->n = strata_node_n(n);
	t->c.tab.round_name = "sender";
	strata_node_add_module(n, &t->c.m, &trb_ops, strata_wire_id("trb"));
	if (bcast_open(n, "beb", &t->c.m, 0, &t->c.tab.beb, err, errlen) != 0 ||
	    cons_need_fd(&t->c.m, "trb", err, errlen) != 0 ||
	    cons_lower_open_space(n, VAR_UC, CONS_SPACE_TRB, &t->c.m, &t->uc, err, errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	return &t->c.m;
}

void var_trb_test_direct(struct strata_module *m)
{
	((struct trb *)m)->test_direct = true;
}
