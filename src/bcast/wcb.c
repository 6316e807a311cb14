/* Causal-order reliable broadcast, book Alg. 3.15 "Waiting Causal Broadcast" (module wcb).
 *
 * Specification (Module 3.9, causal-order (regular) reliable broadcast): RB1 validity, RB2 no
 * duplication, RB3 no creation, RB4 agreement (Module 3.2), and
 *   CRB5 Causal delivery: for any message m1 that potentially caused a message m2 (m1 -> m2),
 *        no process delivers m2 unless it has already delivered m1.
 * Model: fail-silent, over perfect links; eager reliable broadcast (Alg. 3.3) built in.
 * Resilience: any f.
 * Cost: as eager RB (1 step, O(N^2) messages) plus N integers per message.
 *
 * Vector clocks: V[s] counts the messages of s this process has delivered. A broadcast carries
 * W = V with W[self] = the number of earlier own broadcasts; a message waits in `pending` until
 * W <= V. The delivery output carries the message's own vector timestamp W' = W with
 * W'[origin] = seq (so m1 -> m2 iff W'1 < W'2), indexed by node id - 1.
 *
 * Bounded implementation: the reliable-broadcast layer's delivered set is "seq <= V[s] or
 * pending" (causal delivery implies per-origin FIFO); pending is a table of at most
 * WCB_PENDING_CAP messages, and a message arriving while it is full is neither relayed nor
 * kept (other processes' relays bring it again).
 * Restart: a restarted origin is a new process (new incarnation): V[s] restarts at 0 and its
 * pending messages are dropped. Messages of other processes that depended on the old
 * incarnation's undelivered messages then wait forever; crash-stop models never restart a
 * process, so this only concerns a daemon restarted outside its model. */
#include <stdlib.h>
#include <string.h>

#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"
#include "links/links.h"

#define WCB_PENDING_CAP 4096

struct wcb {
	struct strata_module m;
	uint64_t lsn;
	struct bc_origin *org; /* [n+1]: incarnations */
	uint64_t *v;           /* [n+1] */
	struct bc_ptab pending;
};

/* Parses DATA; W goes into w[1..n]. */
static int wcb_parse(const struct strata_node *n, const struct strata_msg *msg, struct bc_hdr *h,
		     uint64_t *w, const uint8_t **p, size_t *len)
{
	uint32_t nn = strata_node_n(n);
	struct strata_rd r;
	strata_rd_init(&r, msg->data, msg->len);
	h->type = strata_rd_u8(&r);
	bc_rd_hdr(&r, h, nn);
	for (uint32_t k = 1; k <= nn; k++)
		w[k] = strata_rd_u64(&r);
	*len = strata_rd_bytes(&r, p, strata_node_config(n)->max_value);
	if (strata_rd_done(&r) != 0 || h->type != BC_DATA || w[h->origin] != h->seq - 1)
		return STRATA_EPROTO;
	return 0;
}

/* Delivers every pending message whose W <= V, until none is left. */
static void wcb_drain(struct wcb *c)
{
	struct strata_node *n = c->m.node;
	uint32_t nn = strata_node_n(n);
	uint64_t w[STRATA_MAX_NODES + 1], vc[STRATA_MAX_NODES];
	bool progress = true;
	while (progress) {
		progress = false;
		for (size_t i = 0; i < c->pending.len; i++) {
			struct bc_pend *e = &c->pending.e[i];
			struct bc_hdr h;
			const uint8_t *p;
			size_t len;
			STRATA_ASSERT(wcb_parse(n, e->msg, &h, w, &p, &len) == 0);
			bool ready = true;
			for (uint32_t k = 1; k <= nn && ready; k++)
				ready = w[k] <= c->v[k];
			if (!ready)
				continue;
			c->v[h.origin]++;
			for (uint32_t k = 1; k <= nn; k++)
				vc[k - 1] = w[k];
			vc[h.origin - 1] = h.seq;
			bc_out_deliver(&c->m, h.origin, h.inc, h.seq, p, len, vc, nn);
			bc_ptab_del(&c->pending, e);
			progress = true;
			break;
		}
	}
}

static void wcb_recv(struct wcb *c, const struct strata_event *ev)
{
	struct strata_node *n = c->m.node;
	struct bc_hdr h;
	uint64_t w[STRATA_MAX_NODES + 1];
	const uint8_t *p;
	size_t len;
	if (wcb_parse(n, ev->msg, &h, w, &p, &len) != 0) {
		strata_node_bad_payload(n, &c->m, ev->peer, "wcb: malformed DATA");
		return;
	}
	uint32_t s = h.origin;
	enum bc_admit a = bc_origin_admit(&c->org[s], h.inc);
	if (a == BC_STALE)
		return;
	if (a == BC_NEWINC) {
		c->v[s] = 0;
		bc_ptab_drop_origin(&c->pending, s);
	}
	if (h.seq <= c->v[s] || bc_ptab_find(&c->pending, s, h.inc, h.seq))
		return; /* already rb-delivered */
	if (c->pending.len == c->pending.cap) {
		strata_trace(n, "wcb", "pending full -> %u/%llu ignored", s,
			     (unsigned long long)h.seq);
		return;
	}
	if (s != strata_node_id(n))
		bc_pl_relay(&c->m, ev->msg, s, ev->peer);
	(void)bc_ptab_add(&c->pending, s, h.inc, h.seq, ev->msg);
	wcb_drain(c);
}

static void wcb_handle(struct strata_module *m, const struct strata_event *ev)
{
	if (ev->type == STRATA_EV_PL_DELIVER && ev->msg)
		wcb_recv((struct wcb *)m, ev);
}

static int wcb_request(struct strata_module *m, const struct strata_request *req)
{
	struct wcb *c = (struct wcb *)m;
	struct strata_node *n = m->node;
	uint32_t nn = strata_node_n(n), self = strata_node_id(n);
	int rc = bc_check_request(req, bc_pl_payload_max(n, (size_t)nn * 10));
	if (rc)
		return rc;
	struct bc_hdr h = { BC_DATA, self, strata_node_incarnation(n), c->lsn + 1 };
	uint64_t vc[STRATA_MAX_NODES];
	struct strata_wr w;
	strata_wr_init(&w, req->value_len + BC_HDR_MAX + (size_t)nn * 10);
	bc_wr_hdr(&w, &h);
	for (uint32_t k = 1; k <= nn; k++) {
		uint64_t x = k == self ? c->lsn : c->v[k];
		strata_wr_u64(&w, x);
		vc[k - 1] = x;
	}
	vc[self - 1] = h.seq;
	strata_wr_bytes(&w, req->value, req->value_len);
	int err = 0;
	struct strata_msg *msg = strata_wr_take_msg(&w, &err);
	if (!msg)
		return err ? err : STRATA_ENOMEM;
	bc_pl_send_own(m, &c->lsn, req, msg, vc, nn);
	return 0;
}

static void wcb_destroy(struct strata_module *m)
{
	struct wcb *c = (struct wcb *)m;
	bc_ptab_free(&c->pending);
	free(c->v);
	free(c->org);
	free(c);
}

static const struct strata_module_ops wcb_ops = {
	.name = "wcb", .handle = wcb_handle, .request = wcb_request, .destroy = wcb_destroy,
};

struct strata_module *bc_wcb_create(struct strata_node *n, char *err, size_t errlen)
{
	uint32_t nn = strata_node_n(n);
	struct wcb *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->org = calloc(nn + 1, sizeof(*c->org));
	c->v = calloc(nn + 1, sizeof(*c->v));
	if (!c->org || !c->v || bc_ptab_init(&c->pending, WCB_PENDING_CAP) != 0) {
		free(c->org);
		free(c->v);
		free(c);
		return NULL;
	}
	strata_node_add_module(n, &c->m, &wcb_ops, BC_WIRE_WCB);
	return &c->m;
}
