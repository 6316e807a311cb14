/* FIFO-order reliable broadcast, book Alg. 3.12 "Broadcast with Sequence Number" (module fifo).
 *
 * Specification (Module 3.8, FIFO-order (regular) reliable broadcast): RB1 validity, RB2 no
 * duplication, RB3 no creation, RB4 agreement (Module 3.2), and
 *   FRB5 FIFO delivery: if some process broadcasts m1 before m2, then no correct process
 *        delivers m2 unless it has already delivered m1.
 * Model: fail-silent. Uses: ReliableBroadcast, instance rb (erb, Alg. 3.3: fifo's own erb
 * instance, bcast/bcast.h). Resilience: any f.
 * Cost: as eager RB: 1 step, O(N^2) messages per broadcast.
 *
 * Bounded implementation: the book's next[s] is the per-origin watermark (everything below it
 * is delivered), and `pending` holds out-of-order messages in an instance table (core/itab.h)
 * of at most FIFO_PENDING_CAP entries keyed by (s, incarnation, sn), each keeping the rb
 * message it came in. rb delivers each message once, so a message that arrives while the table
 * is full is lost to this process (traced); the table only fills when more than
 * FIFO_PENDING_CAP messages of origins overtake the ones they follow, which the perfect links'
 * FIFO order and per-peer window make rare.
 * Restart: a restarted origin is a new process (new incarnation, next = 1 again). */
#include <stdlib.h>
#include <string.h>

#include "bcast/bcast.h"
#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/itab.h"
#include "core/stack.h"

#define FIFO_PENDING_CAP 4096

struct fifo_pend {
	uint32_t s;
	uint64_t inc, sn;
	struct strata_msg *msg; /* the rb message it came in (one reference) */
	size_t off, len;        /* m within msg */
};

struct fifo {
	struct strata_module m;
	struct bcast_lower rb;
	uint64_t lsn;
	uint64_t *inc;  /* [n+1]: the origin's incarnation next[] is about */
	uint64_t *next; /* [n+1] */
	struct strata_itab *pending;
};

static void pend_key(uint8_t k[20], uint32_t s, uint64_t inc, uint64_t sn)
{
	memcpy(k, &s, 4);
	memcpy(k + 4, &inc, 8);
	memcpy(k + 12, &sn, 8);
}

static void pend_fini(void *ext, void *arg)
{
	(void)arg;
	strata_msg_unref(((struct fifo_pend *)ext)->msg);
}

static void fifo_deliver(struct fifo *f, uint32_t s, uint64_t inc, uint64_t sn,
			 struct strata_msg *msg, const uint8_t *p, size_t len)
{
	f->next[s]++;
	bc_out_deliver_msg(&f->m, msg, s, inc, sn, p, len);
}

/* while exists (s, m', sn') ∈ pending such that sn' = next[s] do
 *     next[s] := next[s] + 1; pending := pending \ {(s, m', sn')}; trigger <frb, Deliver | s, m'> */
static void fifo_drain(struct fifo *f, uint32_t s)
{
	for (;;) {
		uint8_t k[20];
		pend_key(k, s, f->inc[s], f->next[s]);
		struct fifo_pend *e = strata_itab_find(f->pending, k, sizeof(k));
		if (!e)
			return;
		fifo_deliver(f, s, e->inc, e->sn, e->msg, e->msg->data + e->off, e->len);
		strata_itab_del(f->pending, k, sizeof(k));
	}
}

static void fifo_forget_origin(struct fifo *f, uint32_t s)
{
	size_t it = 0;
	const void *key;
	size_t key_len;
	struct fifo_pend *e;
	while ((e = strata_itab_next(f->pending, &it, &key, &key_len)))
		if (e->s == s)
			strata_itab_del(f->pending, key, key_len);
}

/* upon event <rb, Deliver | p, [DATA, s, m, sn]> do
 *     pending := pending ∪ {(s, m, sn)}; then deliver in sequence (fifo_drain) */
static void fifo_rb_deliver(struct fifo *f, const struct strata_event *ev)
{
	struct strata_node *n = f->m.node;
	const struct strata_deliver *d = ev->body;
	struct strata_rd r;
	strata_rd_init(&r, d->data, d->len);
	uint64_t sn = strata_rd_u64(&r);
	const uint8_t *p = NULL;
	size_t len = strata_rd_bytes(&r, &p, d->len);
	uint32_t s = d->origin;
	if (strata_rd_done(&r) != 0 || sn == 0 || s < 1 || s > strata_node_n(n)) {
		strata_node_bad_payload(n, &f->m, s, "fifo: malformed DATA");
		return;
	}
	if (d->inc != f->inc[s]) {
		if (d->inc < f->inc[s])
			return; /* an older incarnation's message */
		f->inc[s] = d->inc;
		f->next[s] = 1;
		fifo_forget_origin(f, s);
	}
	if (sn < f->next[s])
		return; /* rb delivers once; only a restarted origin can repeat an sn */
	if (sn == f->next[s]) {
		fifo_deliver(f, s, d->inc, sn, ev->msg, p, len);
		fifo_drain(f, s);
		return;
	}
	uint8_t k[20];
	pend_key(k, s, d->inc, sn);
	bool created = false;
	struct fifo_pend *e = strata_itab_get(f->pending, k, sizeof(k), &created, NULL);
	if (!e) {
		strata_trace(n, "fifo", "%s -> %u/%llu lost", strata_itab_error(f->pending), s,
			     (unsigned long long)sn);
		return;
	}
	if (created) {
		*e = (struct fifo_pend){ .s = s, .inc = d->inc, .sn = sn,
					 .msg = strata_msg_ref(ev->msg),
					 .off = (size_t)(p - ev->msg->data), .len = len };
	}
}

static void fifo_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct fifo *f = (struct fifo *)m;
	if (bcast_is_deliver(&f->rb, ev))
		fifo_rb_deliver(f, ev);
	else
		bc_reject_frame(m, ev); /* fifo's messages travel in rb's */
}

/* upon event <frb, Broadcast | m> do lsn := lsn + 1; trigger <rb, Broadcast | [DATA, self, m, lsn]> */
static int fifo_request(struct strata_module *m, const struct strata_request *req)
{
	struct fifo *f = (struct fifo *)m;
	size_t max = bcast_payload_max(&f->rb);
	int rc = bc_check_request(req, max > 16 ? max - 16 : 0);
	if (rc)
		return rc;
	struct strata_wr w;
	strata_wr_init(&w, req->value_len + 16);
	strata_wr_u64(&w, f->lsn + 1);
	strata_wr_bytes(&w, req->value, req->value_len);
	rc = w.err ? w.err : bcast_broadcast(&f->rb, w.buf, w.len);
	strata_wr_free(&w);
	if (rc)
		return rc;
	f->lsn++;
	bc_out_bcast(m, f->lsn, req->value, req->value_len, NULL, 0);
	strata_node_reply(m->node, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

static void fifo_destroy(struct strata_module *m)
{
	struct fifo *f = (struct fifo *)m;
	strata_itab_free(f->pending);
	free(f->next);
	free(f->inc);
	free(f);
}

static const struct strata_module_ops fifo_ops = {
	.name = "fifo", .handle = fifo_handle, .request = fifo_request, .destroy = fifo_destroy,
};

struct strata_module *bc_fifo_create(struct strata_node *n, char *err, size_t errlen)
{
	uint32_t nn = strata_node_n(n);
	struct fifo *f = calloc(1, sizeof(*f));
	if (f) {
		f->inc = calloc(nn + 1, sizeof(*f->inc));
		f->next = calloc(nn + 1, sizeof(*f->next));
		f->pending = strata_itab_new("fifo pending", FIFO_PENDING_CAP,
					     sizeof(struct fifo_pend), pend_fini, NULL);
	}
	if (!f || !f->inc || !f->next || !f->pending) {
		if (f) {
			strata_itab_free(f->pending);
			free(f->inc);
			free(f->next);
		}
		free(f);
		snprintf(err, errlen, "fifo: out of memory");
		return NULL;
	}
	for (uint32_t s = 0; s <= nn; s++)
		f->next[s] = 1;
	strata_node_add_module(n, &f->m, &fifo_ops, strata_wire_id("fifo"));
	/* uses ReliableBroadcast, instance rb */
	if (bcast_open(n, "erb", &f->m, 0, &f->rb, err, errlen) != 0)
		return NULL; /* the node owns f now and frees it */
	return &f->m;
}
