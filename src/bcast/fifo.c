/* FIFO-order reliable broadcast, book Alg. 3.12 "Broadcast with Sequence Number" (module fifo).
 *
 * Specification (Module 3.8, FIFO-order (regular) reliable broadcast): RB1 validity, RB2 no
 * duplication, RB3 no creation, RB4 agreement (Module 3.2), and
 *   FRB5 FIFO delivery: if some process broadcasts m1 before m2, then no correct process
 *        delivers m2 unless it has already delivered m1.
 * Model: fail-silent, over perfect links; the reliable broadcast underneath is the eager one
 * (Alg. 3.3) built into this module. Resilience: any f.
 * Cost: as eager RB: 1 step, O(N^2) messages per broadcast.
 *
 * Bounded implementation: the book's next[s] is the per-origin watermark (everything below it
 * is delivered), and `pending` holds out-of-order messages in a table of at most
 * FIFO_PENDING_CAP entries. A message that arrives while the table is full is neither relayed
 * nor kept: it is not rb-delivered yet, and the other processes' relays bring it again. The
 * reliable-broadcast layer's delivered set is "seq < next[s] or pending".
 * Restart: a restarted origin is a new process (new incarnation, next = 1 again). */
#include <stdlib.h>

#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"
#include "links/links.h"

#define FIFO_PENDING_CAP 4096

struct fifo {
	struct strata_module m;
	uint64_t lsn;
	struct bc_origin *org; /* [n+1]: incarnations */
	uint64_t *next;        /* [n+1] */
	struct bc_ptab pending;
};

static void fifo_drain(struct fifo *f, uint32_t s)
{
	for (;;) {
		struct bc_pend *e = bc_ptab_find(&f->pending, s, f->org[s].inc, f->next[s]);
		if (!e)
			return;
		f->next[s]++;
		bc_ptab_deliver(&f->m, &f->pending, e, NULL);
	}
}

static void fifo_recv(struct fifo *f, const struct strata_event *ev)
{
	struct strata_node *n = f->m.node;
	struct bc_hdr h;
	const uint8_t *p;
	size_t len;
	if (bc_parse_data(ev->msg, strata_node_n(n), strata_node_config(n)->max_value, &h, &p,
			  &len) != 0) {
		strata_node_bad_payload(n, &f->m, ev->peer, "fifo: malformed DATA");
		return;
	}
	uint32_t s = h.origin;
	enum bc_admit a = bc_origin_admit(&f->org[s], h.inc);
	if (a == BC_STALE)
		return;
	if (a == BC_NEWINC) {
		f->next[s] = 1;
		bc_ptab_drop_origin(&f->pending, s);
	}
	if (h.seq < f->next[s] || bc_ptab_find(&f->pending, s, h.inc, h.seq))
		return; /* already rb-delivered */
	if (h.seq != f->next[s] && f->pending.len == f->pending.cap) {
		strata_trace(n, "fifo", "pending full -> %u/%llu ignored", s,
			     (unsigned long long)h.seq);
		return;
	}
	/* rb-deliver: relay first (eager reliable broadcast), then order. */
	if (s != strata_node_id(n))
		bc_pl_relay(&f->m, ev->msg, s, ev->peer);
	if (h.seq == f->next[s]) {
		f->next[s]++;
		bc_out_deliver(&f->m, s, h.inc, h.seq, p, len, NULL, 0);
		fifo_drain(f, s);
	} else {
		(void)bc_ptab_add(&f->pending, s, h.inc, h.seq, ev->msg);
	}
}

static void fifo_handle(struct strata_module *m, const struct strata_event *ev)
{
	if (ev->type == STRATA_EV_PL_DELIVER && ev->msg)
		fifo_recv((struct fifo *)m, ev);
}

static int fifo_request(struct strata_module *m, const struct strata_request *req)
{
	struct fifo *f = (struct fifo *)m;
	int rc = bc_check_request(req, bc_pl_payload_max(m->node, 0));
	if (rc)
		return rc;
	return bc_pl_broadcast(m, &f->lsn, req);
}

static void fifo_destroy(struct strata_module *m)
{
	struct fifo *f = (struct fifo *)m;
	bc_ptab_free(&f->pending);
	free(f->next);
	free(f->org);
	free(f);
}

static const struct strata_module_ops fifo_ops = {
	.name = "fifo", .handle = fifo_handle, .request = fifo_request, .destroy = fifo_destroy,
};

struct strata_module *bc_fifo_create(struct strata_node *n, char *err, size_t errlen)
{
	uint32_t nn = strata_node_n(n);
	struct fifo *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->org = calloc(nn + 1, sizeof(*f->org));
	f->next = calloc(nn + 1, sizeof(*f->next));
	if (!f->org || !f->next || bc_ptab_init(&f->pending, FIFO_PENDING_CAP) != 0) {
		free(f->org);
		free(f->next);
		free(f);
		return NULL;
	}
	for (uint32_t s = 0; s <= nn; s++)
		f->next[s] = 1;
	strata_node_add_module(n, &f->m, &fifo_ops, BC_WIRE_FIFO);
	return &f->m;
}
