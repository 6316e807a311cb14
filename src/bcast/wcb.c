/* Causal-order reliable broadcast, book Alg. 3.15 "Waiting Causal Broadcast" (module wcb).
 *
 * Specification (Module 3.9, causal-order (regular) reliable broadcast): RB1 validity, RB2 no
 * duplication, RB3 no creation, RB4 agreement (Module 3.2), and
 *   CRB5 Causal delivery: for any message m1 that potentially caused a message m2 (m1 -> m2),
 *        no process delivers m2 unless it has already delivered m1.
 * Model: fail-silent. Uses: ReliableBroadcast, instance rb (erb, Alg. 3.3: wcb's own erb
 * instance, bcast/bcast.h). Resilience: any f.
 * Cost: as eager RB (1 step, O(N^2) messages) plus N integers per message.
 *
 * Vector clocks: V[s] counts the messages of s this process has delivered. A broadcast carries
 * W = V with W[self] = the number of earlier own broadcasts; a message waits in `pending` until
 * W <= V. The delivery output carries the message's own vector timestamp W' = W with
 * W'[origin] = seq (so m1 -> m2 iff W'1 < W'2), indexed by node id - 1.
 *
 * Bounded implementation: pending is an instance table (core/itab.h) of at most
 * WCB_PENDING_CAP messages keyed by (origin, incarnation, seq), each keeping its W and the rb
 * message it came in; rb delivers each message once, so one arriving while the table is full
 * is lost to this process (traced). The rb message is [W[1..n]][m]; the origin and its seq are
 * rb's, and W[origin] must be seq - 1 (the origin's earlier broadcasts).
 * Restart: a restarted origin is a new process (new incarnation): V[s] restarts at 0 and its
 * pending messages are dropped. Messages of other processes that depended on the old
 * incarnation's undelivered messages then wait forever; crash-stop models never restart a
 * process, so this only concerns a daemon restarted outside its model. */
#include <stdlib.h>
#include <string.h>

#include "bcast/bcast.h"
#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/itab.h"
#include "core/stack.h"

#define WCB_PENDING_CAP 4096

struct wcb_pend {
	uint32_t s;
	uint64_t inc, seq;
	struct strata_msg *msg; /* the rb message it came in (one reference) */
	size_t off, len;        /* m within msg */
	uint64_t w[];           /* W[1..n] */
};

struct wcb {
	struct strata_module m;
	struct bcast_lower rb;
	uint64_t lsn;
	uint64_t *inc; /* [n+1]: the origin incarnation V[s] is about */
	uint64_t *v;   /* [n+1] */
	struct strata_itab *pending;
};

static void pend_key(uint8_t k[20], uint32_t s, uint64_t inc, uint64_t seq)
{
	memcpy(k, &s, 4);
	memcpy(k + 4, &inc, 8);
	memcpy(k + 12, &seq, 8);
}

static void pend_fini(void *ext, void *arg)
{
	(void)arg;
	strata_msg_unref(((struct wcb_pend *)ext)->msg);
}

static bool wcb_ready(const struct wcb *c, const struct wcb_pend *e)
{
	uint32_t nn = strata_node_n(c->m.node);
	for (uint32_t k = 1; k <= nn; k++)
		if (e->w[k] > c->v[k])
			return false;
	return true;
}

/* while exists (p', W', m') ∈ pending such that W' <= V do
 *     pending := pending \ {(p', W', m')}; V[rank(p')] := V[rank(p')] + 1;
 *     trigger <crb, Deliver | p', m'> */
static void wcb_drain(struct wcb *c)
{
	uint32_t nn = strata_node_n(c->m.node);
	uint64_t vc[STRATA_MAX_NODES];
	bool progress = true;
	while (progress) {
		progress = false;
		size_t it = 0;
		const void *key;
		size_t key_len;
		struct wcb_pend *e;
		while ((e = strata_itab_next(c->pending, &it, &key, &key_len))) {
			if (!wcb_ready(c, e))
				continue;
			c->v[e->s]++;
			for (uint32_t k = 1; k <= nn; k++)
				vc[k - 1] = e->w[k];
			vc[e->s - 1] = e->seq;
			bc_out_deliver(&c->m, e->s, e->inc, e->seq, e->msg->data + e->off, e->len, vc,
				       nn);
			strata_itab_del(c->pending, key, key_len);
			progress = true;
		}
	}
}

static void wcb_forget_origin(struct wcb *c, uint32_t s)
{
	size_t it = 0;
	const void *key;
	size_t key_len;
	struct wcb_pend *e;
	while ((e = strata_itab_next(c->pending, &it, &key, &key_len)))
		if (e->s == s)
			strata_itab_del(c->pending, key, key_len);
}

/* upon event <rb, Deliver | p, [DATA, W, m]> do pending := pending ∪ {(p, W, m)}; drain */
static void wcb_rb_deliver(struct wcb *c, const struct strata_event *ev)
{
	struct strata_node *n = c->m.node;
	uint32_t nn = strata_node_n(n);
	const struct strata_deliver *d = ev->body;
	uint32_t s = d->origin;
	uint64_t w[STRATA_MAX_NODES + 1];
	struct strata_rd r;
	strata_rd_init(&r, d->data, d->len);
	for (uint32_t k = 1; k <= nn; k++)
		w[k] = strata_rd_u64(&r);
	const uint8_t *p = NULL;
	size_t len = strata_rd_bytes(&r, &p, d->len);
	if (strata_rd_done(&r) != 0 || s < 1 || s > nn || w[s] != d->seq - 1) {
		strata_node_bad_payload(n, &c->m, s, "wcb: malformed DATA");
		return;
	}
	if (d->inc != c->inc[s]) {
		if (d->inc < c->inc[s])
			return; /* an older incarnation's message */
		c->inc[s] = d->inc;
		c->v[s] = 0;
		wcb_forget_origin(c, s);
	}
	if (d->seq <= c->v[s])
		return;
	uint8_t k[20];
	pend_key(k, s, d->inc, d->seq);
	bool created = false;
	struct wcb_pend *e = strata_itab_get(c->pending, k, sizeof(k), &created, NULL);
	if (!e) {
		strata_trace(n, "wcb", "%s -> %u/%llu lost", strata_itab_error(c->pending), s,
			     (unsigned long long)d->seq);
		return;
	}
	if (!created)
		return;
	e->s = s;
	e->inc = d->inc;
	e->seq = d->seq;
	e->msg = strata_msg_ref(ev->msg);
	e->off = (size_t)(p - ev->msg->data);
	e->len = len;
	memcpy(e->w, w, (nn + 1) * sizeof(*w));
	wcb_drain(c);
}

static void wcb_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct wcb *c = (struct wcb *)m;
	if (bcast_is_deliver(&c->rb, ev))
		wcb_rb_deliver(c, ev);
	else
		bc_reject_frame(m, ev); /* wcb's messages travel in rb's */
}

/* upon event <crb, Broadcast | m> do
 *     W := V; W[rank(self)] := lsn; lsn := lsn + 1; trigger <rb, Broadcast | [DATA, W, m]> */
static int wcb_request(struct strata_module *m, const struct strata_request *req)
{
	struct wcb *c = (struct wcb *)m;
	struct strata_node *n = m->node;
	uint32_t nn = strata_node_n(n), self = strata_node_id(n);
	size_t max = bcast_payload_max(&c->rb), extra = (size_t)nn * 10 + 10;
	int rc = bc_check_request(req, max > extra ? max - extra : 0);
	if (rc)
		return rc;
	uint64_t vc[STRATA_MAX_NODES];
	struct strata_wr w;
	strata_wr_init(&w, req->value_len + extra);
	for (uint32_t k = 1; k <= nn; k++) {
		uint64_t x = k == self ? c->lsn : c->v[k];
		strata_wr_u64(&w, x);
		vc[k - 1] = x;
	}
	vc[self - 1] = c->lsn + 1;
	strata_wr_bytes(&w, req->value, req->value_len);
	rc = w.err ? w.err : bcast_broadcast(&c->rb, w.buf, w.len);
	strata_wr_free(&w);
	if (rc)
		return rc;
	c->lsn++;
	bc_out_bcast(m, c->lsn, req->value, req->value_len, vc, nn);
	strata_node_reply(n, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

static void wcb_destroy(struct strata_module *m)
{
	struct wcb *c = (struct wcb *)m;
	strata_itab_free(c->pending);
	free(c->v);
	free(c->inc);
	free(c);
}

static const struct strata_module_ops wcb_ops = {
	.name = "wcb", .handle = wcb_handle, .request = wcb_request, .destroy = wcb_destroy,
};

struct strata_module *bc_wcb_create(struct strata_node *n, char *err, size_t errlen)
{
	uint32_t nn = strata_node_n(n);
	struct wcb *c = calloc(1, sizeof(*c));
	if (c) {
		c->inc = calloc(nn + 1, sizeof(*c->inc));
		c->v = calloc(nn + 1, sizeof(*c->v));
		c->pending = strata_itab_new("wcb pending", WCB_PENDING_CAP,
					     sizeof(struct wcb_pend) + (nn + 1) * sizeof(uint64_t),
					     pend_fini, NULL);
	}
	if (!c || !c->inc || !c->v || !c->pending) {
		if (c) {
			strata_itab_free(c->pending);
			free(c->inc);
			free(c->v);
		}
		free(c);
		snprintf(err, errlen, "wcb: out of memory");
		return NULL;
	}
	strata_node_add_module(n, &c->m, &wcb_ops, strata_wire_id("wcb"));
	/* uses ReliableBroadcast, instance rb */
	if (bcast_open(n, "erb", &c->m, 0, &c->rb, err, errlen) != 0)
		return NULL; /* the node owns c now and frees it */
	return &c->m;
}
