/* Uniform consensus, book Alg. 5.7 "Leader-Driven Consensus" (module ldc), and its
 * fail-recovery variant, Alg. 5.10-5.11 "Logged Leader-Driven Consensus" (module lldc).
 *
 * Logged (lldc, over the logged epoch change lec and the logged epoch consensus): the same
 * handlers, plus the book's stores, each durable before any message of the turn leaves: an
 * instance's val when it is proposed, its epoch-consensus state (valts, val) when a WRITE is
 * accepted, and its decision (with the decided window of its instance space) when it is
 * decided. Upon recovery the windows are retrieved (decided instances stay decided and are
 * answered from storage) and, as the book's logged consensus indicates its logged decision again
 * on recovery, the decisions of each upper module's instance space are indicated again to it
 * (the last CONS_CACHE below the watermark and every decided one above it; ld_recover); an
 * undecided instance is restored lazily, when a client or a peer next names it: its val and
 * (valts, val) are retrieved and it resumes in the epoch that lec restarts. Storage grows by one
 * decision record per decided instance (compacting them is the replicated log's business,
 * src/smr/); memory stays bounded as for ldc.
 *
 * Specification (Module 5.2, uniform consensus): C1 Termination, C2 Validity, C3 Integrity,
 * UC4 Uniform agreement (cons.h).
 * Model: fail-noisy (eventual leader detector Omega, asynchrony until an unknown time), over
 * the epoch-change abstraction (Alg. 5.5, ec.c) and one epoch consensus per epoch (Alg. 5.6,
 * ep.c). Resilience: N > 2f. Cost in a stable epoch: 5 communication steps from the leader's
 * Propose (READ, STATE, WRITE, ACCEPT, DECIDED; one more for a non-leader's VALUE), 4N + N
 * messages.
 *
 * Composition, as the book draws it: the node's epoch-change module raises StartEpoch(ts, l)
 * (CONS_EV_START_EPOCH, a queued indication); on it, every live instance aborts its current
 * epoch consensus, takes the (valts, val) state it returns and initialises the epoch consensus of
 * the new epoch with it; the leader of the new epoch proposes its val there. Every epoch-consensus
 * message carries its epoch timestamp; one of a later epoch than this process has started (the
 * StartEpoch indication is queued behind frames of the same datagram) waits in a bounded buffer
 * (LD_FUTURE_MAX messages, the earliest epoch's evicted first) until that epoch starts; one of
 * an earlier epoch is dropped (that epoch consensus has halted). A process may also start an
 * epoch after dropping its leader's messages (it refused the epoch first, then Omega changed its
 * mind): the leader repeats its current phase every period while an instance is undecided.
 *
 * Multi-instance departures (cons.h): one epoch change serves every instance; an instance
 * created in epoch ets starts ep.ets with state (0, ⊥), which is the state it would have
 * returned from every earlier epoch it never heard of. A proposer announces its value with
 * VALUE so that whichever process leads has a value to propose (the book has every process
 * propose). Decided instances are retired (cons.h); a retired process answers READ, WRITE and
 * VALUE of that instance with DECIDED(v) from its cache of decided values, and every period
 * ([fd] timeout_ms) a process re-announces its value for instances it has not decided, so a
 * process that missed the leader's DECIDED (the leader crashed while sending it) still learns the
 * decision. Memory: the instance table's bound (cons.h) plus O(N) per instance for states. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "cons/ep.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "links/links.h"

#define LD_FUTURE_MAX 64u

enum { LD_TOK_ANNOUNCE = 1 };

struct ld_inst {
	struct cons_inst c;
	int val;        /* ldc's val: index in c.vals, -1 = ⊥ */
	bool proposed;  /* proposed in the current epoch */
	bool started;   /* ep initialised */
	uint64_t born_us;
	struct ep ep;
};

struct ldc {
	struct strata_module m;
	struct cons_tab tab;
	bool logged, forget; /* forget: test-only, see cons.h */
	bool no_reannounce;  /* test-only, see cons.h */
	uint32_t n, self, quorum;
	uint64_t ets;     /* the current epoch's timestamp */
	uint32_t leader;  /* and its leader */
	uint64_t period_us;
	struct strata_timer announce;
	struct cons_future_msg fut_buf[LD_FUTURE_MAX];
	struct cons_future fut; /* messages of later epochs (cons.h), in fut_buf */
};

/* ---- stable storage (lldc) ---- */

static void ld_key(char *buf, size_t n, const char *what, uint64_t id)
{
	snprintf(buf, n, "lldc/%s/%llu", what, (unsigned long long)id);
}

static void ld_store_bytes(struct ldc *l, const char *what, uint64_t id, const uint8_t *v,
			   size_t len)
{
	char key[64];
	ld_key(key, sizeof key, what, id);
	if (strata_store(l->m.node, key, v, len) != 0)
		strata_trace(l->m.node, "lldc", "store %s failed -> the node stops at its sync", key);
}

/* store(valts, val) of an instance's epoch consensus, before its ACCEPT leaves. */
static void ld_store_state(const struct ep_env *env, uint64_t valts, int val)
{
	struct ldc *l = (struct ldc *)env->m;
	struct strata_wr w;
	const struct strata_msg *v = val >= 0 ? env->ci->vals[val] : NULL;
	strata_wr_init(&w, (v ? v->len : 0) + 24);
	strata_wr_u64(&w, valts);
	if (v)
		strata_wr_bytes(&w, v->data, v->len);
	if (!w.err)
		ld_store_bytes(l, "acc", env->ci->id, w.buf, w.len);
	strata_wr_free(&w);
}

static struct strata_msg *ld_load(struct ldc *l, const char *what, uint64_t id)
{
	char key[64];
	struct strata_msg *m = NULL;
	ld_key(key, sizeof key, what, id);
	return strata_retrieve(l->m.node, key, &m) == 0 ? m : NULL;
}

static struct strata_msg *ld_load_decided(struct cons_tab *t, uint64_t id)
{
	return ld_load((struct ldc *)t->m, "dec", id);
}

/* A recovered instance: its val and its epoch consensus's (valts, val), as stored. */
static void ld_restore(struct ldc *l, struct ld_inst *i, uint64_t *valts, int *val)
{
	struct strata_msg *m = ld_load(l, "val", i->c.id);
	if (m) {
		i->val = cons_val_index(&i->c, m->data, m->len);
		i->c.proposed = i->val >= 0;
		strata_msg_unref(m);
	}
	if (l->forget || !(m = ld_load(l, "acc", i->c.id)))
		return;
	struct strata_rd r;
	strata_rd_init(&r, m->data, m->len);
	uint64_t ts = strata_rd_u64(&r);
	const uint8_t *v = NULL;
	size_t len = 0;
	if (r.off < m->len)
		len = strata_rd_bytes(&r, &v, SIZE_MAX);
	if (strata_rd_done(&r) == 0) {
		*valts = ts;
		*val = v ? cons_val_index(&i->c, v, len) : -1;
	}
	strata_msg_unref(m);
}

static struct ep_env ld_env(struct ldc *l, struct ld_inst *i)
{
	return (struct ep_env){ .m = &l->m, .beb = &l->tab.beb, .ci = &i->c, .n = l->n,
				.self = l->self, .quorum = l->quorum,
				.store_state = l->logged ? ld_store_state : NULL };
}

static void ld_start(struct ldc *l, struct ld_inst *i)
{
	if (i->started)
		return;
	i->started = true;
	i->val = -1;
	i->born_us = strata_now_us(l->m.node);
	uint64_t valts = 0;
	int val = -1;
	if (l->logged)
		ld_restore(l, i, &valts, &val);
	ep_init(&i->ep, l->ets, l->leader, valts, val);
}

static struct ld_inst *ld_get(struct ldc *l, uint64_t id, uint32_t from)
{
	struct ld_inst *i = (struct ld_inst *)cons_tab_get_peer(&l->tab, id, from);
	if (i)
		ld_start(l, i);
	return i;
}

static void ld_send_value(struct ldc *l, uint32_t to, uint64_t id, uint8_t type,
			  const uint8_t *v, size_t len)
{
	struct strata_msg *msg = cons_enc_value(type, v, len);
	if (!msg)
		return;
	if (to)
		strata_pl_send(&l->m, to, id, msg);
	else
		cons_beb_broadcast(&l->tab.beb, id, msg);
	strata_msg_unref(msg);
}

/* upon ℓ = self ∧ val ≠ ⊥ ∧ proposed = FALSE do
 *     proposed := TRUE;
 *     trigger <ep.ets, Propose | val>; */
static void ld_try(struct ldc *l, struct ld_inst *i)
{
	if (l->leader != l->self || i->val < 0 || i->proposed)
		return;
	i->proposed = true;
	struct ep_env env = ld_env(l, i);
	ep_propose(&env, &i->ep, i->val);
}

/* The decided window of an instance space: "lldc/win" for the clients' space 0, "lldc/win/<s>"
 * for an upper module's space s. */
static void ld_win_key(char *key, size_t len, uint64_t space)
{
	if (space == 0)
		snprintf(key, len, "lldc/win");
	else
		snprintf(key, len, "lldc/win/%llu", (unsigned long long)space);
}

/* retrieve(decided windows): at creation (before any module's Init), so that an upper module
 * can read decisions from the log during its own recovery. */
static void ld_load_windows(struct ldc *l)
{
	for (uint64_t s = 0; s < CONS_SPACES; s++) {
		char key[32];
		ld_win_key(key, sizeof key, s);
		if (cons_tab_load_space(&l->tab, key, s) == STRATA_EPROTO)
			strata_trace(l->m.node, "lldc", "recovery: damaged decided window %s -> starts empty",
				     key);
	}
}

/* upon event <Recovery> do
 *     forall decided instances of an upper's space: trigger <c, Decide | decision>
 * (the book's logged consensus indicates its logged decision again on recovery; here, for each
 * upper's space, the decisions from CONS_CACHE below the watermark up, cons_tab_reannounce: the
 * upper, e.g. logged total-order broadcast, takes them idempotently and reads older ones on
 * demand). Client instances (space 0) are answered from storage when asked. */
static void ld_recover(struct ldc *l)
{
	unsigned again = 0;
	for (uint64_t s = 1; s < CONS_SPACES && !l->no_reannounce; s++)
		again += cons_tab_reannounce(&l->tab, s);
	strata_trace(l->m.node, "lldc", "recovery: %u decisions indicated again to upper modules",
		     again);
}

/* upon event <ep.ts, Decide | v> such that ts = ets do
 *     if decided = FALSE then decided := TRUE; trigger <c, Decide | v>; */
static void ld_decide(struct ldc *l, struct ld_inst *i, int k)
{
	struct strata_msg *v = strata_msg_ref(i->c.vals[k]);
	uint64_t id = i->c.id;
	if (l->logged)
		ld_store_bytes(l, "dec", id, v->data, v->len); /* store(decision) */
	cons_decide(&l->tab, &i->c, v->data, v->len, l->ets);
	if (l->logged) {
		uint64_t space = id >> CONS_SPACE_BITS;
		char key[32];
		ld_win_key(key, sizeof key, space);
		if (cons_tab_store_space(&l->tab, key, space) != 0)
			strata_trace(l->m.node, "lldc", "store of the decided window failed");
	}
	strata_msg_unref(v);
}

/* upon event <c, Propose | v> do val := v;
 * (multi-instance: announce v so the leader has a value to propose) */
static int ld_propose(struct strata_module *m, struct cons_inst *c, const uint8_t *v, size_t len,
		      bool by_client)
{
	struct ldc *l = (struct ldc *)m;
	struct ld_inst *i = (struct ld_inst *)c;
	ld_start(l, i);
	int k = cons_val_index(c, v, len);
	if (k < 0)
		return STRATA_EFULL;
	cons_out_propose(&l->tab, c, v, len, by_client);
	if (i->val < 0) {
		i->val = k;
		if (l->logged)
			ld_store_bytes(l, "val", c->id, v, len); /* store(val) */
	}
	if (by_client)
		ld_send_value(l, 0, c->id, CONS_VALUE, v, len);
	ld_try(l, i);
	return 0;
}

/* A retired instance: answer with the decision when it is still cached. */
static void ld_answer_retired(struct ldc *l, uint32_t to, uint64_t id)
{
	struct strata_msg *v = cons_tab_decided(&l->tab, id);
	if (v) {
		ld_send_value(l, to, id, CONS_DECIDED, v->data, v->len);
		strata_msg_unref(v);
	}
}

static void ld_on_ep_msg(struct ldc *l, uint32_t from, uint64_t id, const struct strata_msg *msg);

static void ld_future_msg(void *arg, uint32_t from, uint64_t id, struct strata_msg *msg)
{
	ld_on_ep_msg(arg, from, id, msg);
}

static void ld_on_ep_msg(struct ldc *l, uint32_t from, uint64_t id, const struct strata_msg *msg)
{
	struct strata_rd r;
	strata_rd_init(&r, msg->data, msg->len);
	uint8_t type = strata_rd_u8(&r);
	uint64_t ets = strata_rd_u64(&r);
	if (cons_tab_retired(&l->tab, id)) {
		if (type == EP_READ || type == EP_WRITE)
			ld_answer_retired(l, from, id);
		return;
	}
	struct ld_inst *i = ld_get(l, id, from);
	if (!i)
		return;
	struct ep_env env = ld_env(l, i);
	if (ets != l->ets) {
		/* A DECIDED of an earlier epoch still carries a decided value (lock-in). */
		if (type != EP_DECIDED || ets > l->ets)
			return;
	}
	struct ep tmp;
	struct ep *e = &i->ep;
	if (ets != l->ets) {
		ep_init(&tmp, ets, from, 0, -1);
		e = &tmp;
	}
	int k = ep_recv(&env, e, from, type, &r);
	if (k == -2) {
		strata_node_bad_payload(l->m.node, &l->m, from, "ldc: malformed epoch-consensus message");
		return;
	}
	if (k >= 0)
		ld_decide(l, i, k);
}

static void ld_recv(struct ldc *l, const struct strata_event *ev)
{
	struct strata_rd r;
	strata_rd_init(&r, ev->msg->data, ev->msg->len);
	uint8_t type = strata_rd_u8(&r);
	if (type >= EP_READ && type <= EP_DECIDED) {
		uint64_t ets = strata_rd_u64(&r);
		if (!strata_rd_ok(&r)) {
			strata_node_bad_payload(l->m.node, &l->m, ev->peer, "ldc: malformed message");
			return;
		}
		if (ets > l->ets && !cons_tab_retired(&l->tab, ev->instance)) {
			/* Kept until its epoch starts (the earliest epoch's goes when full). */
			if (!cons_future_add(&l->fut, ev->peer, ev->instance, ets, ev->msg))
				strata_trace(l->m.node, "ldc", "epoch %llu message from %u: future buffer "
					     "full -> dropped", (unsigned long long)ets, ev->peer);
			return;
		}
		ld_on_ep_msg(l, ev->peer, ev->instance, ev->msg);
		return;
	}
	const uint8_t *v;
	size_t len = strata_rd_bytes(&r, &v, SIZE_MAX);
	if (strata_rd_done(&r) != 0 || (type != CONS_VALUE && type != CONS_DECIDED)) {
		strata_node_bad_payload(l->m.node, &l->m, ev->peer, "ldc: malformed message");
		return;
	}
	if (cons_tab_retired(&l->tab, ev->instance)) {
		if (type == CONS_VALUE)
			ld_answer_retired(l, ev->peer, ev->instance);
		return;
	}
	struct ld_inst *i = ld_get(l, ev->instance, ev->peer);
	if (!i)
		return;
	if (!i->c.proposed && ld_propose(&l->m, &i->c, v, len, false) != 0) {
		strata_node_bad_payload(l->m.node, &l->m, ev->peer, "ldc: too many values");
		return;
	}
	if (type == CONS_DECIDED) {
		int k = cons_val_index(&i->c, v, len);
		if (k >= 0)
			ld_decide(l, i, k);
		return;
	}
	ld_try(l, i); /* a recovered instance's val was restored from storage */
}

/* upon event <ec, StartEpoch | newts, newl> do
 *     (newts, newl) := (newts', newl');
 *     trigger <ep.ets, Abort>;
 * upon event <ep.ts, Aborted | state> such that ts = ets do
 *     (ets, ℓ) := (newts, newl);
 *     proposed := FALSE;
 *     initialize a new instance ep.ets of epoch consensus with timestamp ets,
 *         leader ℓ, and state state;
 * (abort completes at once here, for every live instance) */
static void ld_on_start_epoch(struct ldc *l, uint64_t newts, uint32_t newl)
{
	if (newts <= l->ets)
		return; /* EC1: epochs only grow */
	for (size_t k = 0; k < l->tab.nlive; k++) {
		struct ld_inst *i = (struct ld_inst *)l->tab.live[k];
		uint64_t valts;
		int val;
		ep_abort(&i->ep, &valts, &val);
		ep_init(&i->ep, newts, newl, valts, val);
		i->proposed = false;
	}
	strata_trace(l->m.node, "ldc", "StartEpoch(%llu, %u) -> %zu instances move to it",
		     (unsigned long long)newts, newl, l->tab.nlive);
	l->ets = newts;
	l->leader = newl;
	/* Messages of this epoch that arrived before its StartEpoch. */
	cons_future_start(&l->fut, newts, ld_future_msg, l);
	for (size_t k = 0; k < l->tab.nlive; k++)
		ld_try(l, (struct ld_inst *)l->tab.live[k]);
}

/* Every period, for each instance undecided for a whole period: re-announce its value, and as
 * the leader repeat the current phase of its epoch consensus. */
static void ld_on_announce(struct ldc *l)
{
	uint64_t now = strata_now_us(l->m.node);
	for (size_t k = 0; k < l->tab.nlive; k++) {
		struct ld_inst *i = (struct ld_inst *)l->tab.live[k];
		if (i->val < 0 || now - i->born_us < l->period_us)
			continue;
		ld_send_value(l, 0, i->c.id, CONS_VALUE, i->c.vals[i->val]->data,
			      i->c.vals[i->val]->len);
		struct ep_env env = ld_env(l, i);
		ep_resend(&env, &i->ep);
	}
	strata_timer_arm_in(l->m.node, &l->announce, l->period_us);
}

static void ld_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct ldc *l = (struct ldc *)m;
	switch (ev->type) {
	case STRATA_EV_INIT:
		/* upon event <Recovery>: the decided windows; instances come back lazily */
		if (l->logged && ev->arg)
			ld_recover(l);
		strata_timer_arm_in(m->node, &l->announce, l->period_us);
		break;
	case STRATA_EV_TIMER:
		if (ev->arg == LD_TOK_ANNOUNCE)
			ld_on_announce(l);
		break;
	case STRATA_EV_PL_DELIVER: /* STATE, ACCEPT, DECIDED answers */
		if (ev->msg)
			ld_recv(l, ev);
		break;
	case STRATA_EV_DELIVER: { /* beb: VALUE, READ, WRITE, DECIDED */
		struct strata_event d;
		if (cons_unwrap(m, &l->tab.beb, ev, &d)) {
			ld_recv(l, &d);
			strata_msg_unref(d.msg);
		}
		break;
	}
	case CONS_EV_START_EPOCH:
		if (ev->peer >= 1 && ev->peer <= l->n)
			ld_on_start_epoch(l, ev->arg, ev->peer);
		break;
	default:
		break;
	}
}

static int ld_request(struct strata_module *m, const struct strata_request *req)
{
	struct ldc *l = (struct ldc *)m;
	int rc = cons_request(&l->tab, req, cons_value_max(m->node, 1), ld_propose);
	/* An instance restored from storage with its val proposes when this node leads. */
	for (size_t k = 0; rc == 0 && k < l->tab.nlive; k++)
		ld_try(l, (struct ld_inst *)l->tab.live[k]);
	return rc;
}

static void ld_destroy(struct strata_module *m)
{
	struct ldc *l = (struct ldc *)m;
	strata_timer_disarm(m->node, &l->announce);
	cons_future_free(&l->fut);
	cons_tab_free(&l->tab);
	free(l);
}

static const struct strata_module_ops ld_ops = {
	.name = "ldc", .handle = ld_handle, .request = ld_request, .destroy = ld_destroy,
};

static const struct strata_module_ops lld_ops = {
	.name = "lldc", .handle = ld_handle, .request = ld_request, .destroy = ld_destroy,
};

void cons_ldc_test_quorum(struct strata_module *m, uint32_t quorum)
{
	STRATA_ASSERT(m && (m->ops == &ld_ops || m->ops == &lld_ops) && quorum >= 1);
	((struct ldc *)m)->quorum = quorum;
}

void cons_ldc_test_no_reannounce(struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &lld_ops);
	((struct ldc *)m)->no_reannounce = true;
}

void cons_ldc_test_forget(struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &lld_ops);
	((struct ldc *)m)->forget = true;
	struct strata_module *ec = strata_node_module_by_name(m->node, "lec");
	if (ec)
		cons_ec_test_forget(ec);
}

static struct strata_module *ld_create(struct strata_node *n, bool logged, char *err,
				       size_t errlen)
{
	struct strata_module *ec = cons_ec_get(n, logged, err, errlen);
	if (!ec)
		return NULL;
	struct ldc *l = calloc(1, sizeof(*l));
	if (!l || cons_tab_init(&l->tab, &l->m, sizeof(struct ld_inst)) != 0) {
		free(l);
		snprintf(err, errlen, "ldc: out of memory");
		return NULL;
	}
	l->tab.round_name = "epoch";
	l->tab.propose = ld_propose;
	l->fut = (struct cons_future){ .e = l->fut_buf, .cap = LD_FUTURE_MAX };
	l->logged = logged;
	if (logged)
		l->tab.load_decided = ld_load_decided;
	l->n = strata_node_n(n);
	l->self = strata_node_id(n);
	l->quorum = l->n / 2 + 1;
	l->ets = 0;
	l->leader = 1; /* (ets, ℓ) := (0, l0): l0 is the highest-ranked process, as Omega starts */
	uint64_t period_ms = strata_node_config(n)->timeout_ms;
	l->period_us = (period_ms ? period_ms : 1000) * 1000;
	strata_timer_init(&l->announce, &l->m, LD_TOK_ANNOUNCE, 0);
	strata_node_add_module(n, &l->m, logged ? &lld_ops : &ld_ops,
			       strata_wire_id(logged ? "lldc" : "ldc"));
	if (logged)
		ld_load_windows(l);
	if (cons_open_beb(n, &l->m, &l->tab.beb, logged, err, errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	strata_module_subscribe(ec, &l->m);
	return &l->m;
}

struct strata_module *cons_ldc_create(struct strata_node *n, char *err, size_t errlen)
{
	return ld_create(n, false, err, errlen);
}

struct strata_module *cons_lldc_create(struct strata_node *n, char *err, size_t errlen)
{
	return ld_create(n, true, err, errlen);
}
