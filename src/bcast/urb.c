/* Uniform reliable broadcast, book Alg. 3.4 "All-Ack Uniform Reliable Broadcast" (module
 * urb_allack) and Alg. 3.5 "Majority-Ack Uniform Reliable Broadcast" (module urb): one engine,
 * two predicates. The two algorithms are the same text except for candeliver(m).
 *
 * Specification (Module 3.3, uniform reliable broadcast):
 *   URB1 Validity: if a correct process broadcasts m, every correct process eventually
 *        delivers m.
 *   URB2 No duplication: no message is delivered more than once.
 *   URB3 No creation: if a process delivers m with sender s, then m was previously broadcast
 *        by s.
 *   URB4 Uniform agreement: if a message m is delivered by some process (correct or faulty),
 *        then m is eventually delivered by every correct process.
 * Uses: BestEffortBroadcast, instance beb (bcast/bcast.h: the module's own beb instance);
 *       urb_allack also PerfectFailureDetector, instance P (STRATA_ROLE_FD).
 * Model and resilience:
 *   urb_allack  fail-stop, any f:   candeliver(m) = correct ⊆ ack[m]
 *   urb         fail-silent, N > 2f: candeliver(m) = #ack[m] > N/2
 * Cost: 2 steps, O(N^2) messages per broadcast (every process relays once; the relay is the
 * acknowledgement).
 *
 * Bounded implementation. pending and ack[m] live in an instance table (core/itab.h) of at
 * most URB_PENDING_CAP messages keyed by (origin, incarnation, seq); an entry is retired as
 * soon as its message is delivered (later copies are recognised by the delivered window and
 * ignored), so the table only holds messages in flight. The ack set is a bitmask (n <= 64). A
 * local broadcast is refused with STRATA_EFULL when the table is full; a relayed message that
 * does not fit is dropped and traced (liveness then depends on the table draining, which it
 * does while the predicate can become true). Each entry keeps the beb message it arrived in and
 * where its payload lies, so the DATA is parsed once, on arrival.
 * Restart: a restarted origin is a new process (new incarnation, seq from 1); its older
 * pending messages are retired. */
#include <stdlib.h>
#include <string.h>

#include "bcast/bcast.h"
#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/itab.h"
#include "core/stack.h"

#define URB_PENDING_CAP 4096

struct urb;
typedef bool (*urb_candeliver)(const struct urb *u, uint64_t ack);

struct urb_pend {
	uint32_t origin;
	uint64_t inc, seq;
	uint64_t ack;            /* processes that beb-delivered it to us (bit p) */
	struct strata_msg *msg;  /* the beb message it arrived in (one reference) */
	size_t off, len;         /* the payload within msg */
};

struct urb {
	struct strata_module m;
	const char *name;
	urb_candeliver candeliver;
	struct bcast_lower beb;
	uint64_t crashed;        /* urb_allack: bitmask, from P */
	uint64_t lsn;
	struct bc_origin *org;   /* [n+1] */
	struct strata_itab *pending;
};

/* function candeliver(m) returns Boolean is return (correct ⊆ ack[m]); (Alg. 3.4) */
static bool urb_allack_candeliver(const struct urb *u, uint64_t ack)
{
	uint64_t all = bc_all(strata_node_n(u->m.node));
	return ((ack | u->crashed) & all) == all;
}

/* function candeliver(m) returns Boolean is return #(ack[m]) > N/2; (Alg. 3.5) */
static bool urb_majority_candeliver(const struct urb *u, uint64_t ack)
{
	return (uint32_t)__builtin_popcountll(ack) * 2 > strata_node_n(u->m.node);
}

static void pend_key(uint8_t k[20], uint32_t origin, uint64_t inc, uint64_t seq)
{
	memcpy(k, &origin, 4);
	memcpy(k + 4, &inc, 8);
	memcpy(k + 12, &seq, 8);
}

static void pend_fini(void *ext, void *arg)
{
	(void)arg;
	strata_msg_unref(((struct urb_pend *)ext)->msg);
}

/* upon exists (s, m) ∈ pending such that candeliver(m) ∧ m ∉ delivered do
 *     delivered := delivered ∪ {m}; trigger <urb, Deliver | s, m> */
static void urb_try_deliver(struct urb *u, struct urb_pend *e)
{
	if (!u->candeliver(u, e->ack))
		return;
	bc_win_add(&u->org[e->origin].win, e->seq);
	bc_out_deliver_msg(&u->m, e->msg, e->origin, e->inc, e->seq, e->msg->data + e->off,
			   e->len);
	uint8_t k[20];
	pend_key(k, e->origin, e->inc, e->seq);
	strata_itab_del(u->pending, k, sizeof(k));
}

/* A newer incarnation of origin replaced the one its pending messages came from. */
static void urb_retire_origin(struct urb *u, uint32_t origin)
{
	size_t it = 0;
	struct urb_pend *e;
	while ((e = strata_itab_next(u->pending, &it, NULL, NULL)))
		if (e->origin == origin) {
			uint8_t k[20];
			pend_key(k, e->origin, e->inc, e->seq);
			strata_itab_del(u->pending, k, sizeof(k));
		}
}

/* upon event <beb, Deliver | p, [DATA, s, m]> do
 *     ack[m] := ack[m] ∪ {p};
 *     if (s, m) ∉ pending: pending := pending ∪ {(s, m)}; trigger <beb, Broadcast | [DATA, s, m]> */
static void urb_beb_deliver(struct urb *u, const struct strata_event *ev)
{
	struct strata_node *n = u->m.node;
	uint32_t self = strata_node_id(n);
	const struct strata_deliver *d = ev->body;
	struct bc_hdr h;
	const uint8_t *p;
	size_t len;
	if (bc_parse_data_bytes(d->data, d->len, strata_node_n(n), d->len, &h, &p, &len) != 0) {
		strata_node_bad_payload(n, &u->m, d->origin, "urb: malformed DATA");
		return;
	}
	struct bc_origin *o = &u->org[h.origin];
	enum bc_admit a = bc_origin_admit(o, h.inc);
	if (a == BC_STALE || bc_win_has(&o->win, h.seq))
		return; /* delivered already, or from an older incarnation */
	if (a == BC_NEWINC)
		urb_retire_origin(u, h.origin);
	uint8_t k[20];
	pend_key(k, h.origin, h.inc, h.seq);
	bool created = false;
	struct urb_pend *e = strata_itab_get(u->pending, k, sizeof(k), &created, NULL);
	if (!e) {
		strata_trace(n, u->name, "%s -> %u/%llu dropped", strata_itab_error(u->pending),
			     h.origin, (unsigned long long)h.seq);
		return;
	}
	if (created) {
		e->origin = h.origin;
		e->inc = h.inc;
		e->seq = h.seq;
		e->msg = strata_msg_ref(ev->msg);
		e->off = (size_t)(p - ev->msg->data);
		e->len = len;
		/* The origin put its own message in pending when it broadcast it. */
		if (h.origin != self) {
			int rc = bcast_broadcast(&u->beb, d->data, d->len);
			if (rc)
				strata_trace(n, u->name, "relay of %u/%llu failed (%s) -> lost",
					     h.origin, (unsigned long long)h.seq, strata_strerror(rc));
		}
	}
	e->ack |= bc_bit(d->origin);
	urb_try_deliver(u, e);
}

/* upon event <P, Crash | p> do correct := correct \ {p} (urb_allack) */
static void urb_crash(struct urb *u, uint32_t p)
{
	if (p < 1 || p > strata_node_n(u->m.node) || (u->crashed & bc_bit(p)))
		return;
	u->crashed |= bc_bit(p);
	strata_trace(u->m.node, u->name, "crash of %u detected -> re-check %zu pending", p,
		     strata_itab_len(u->pending));
	size_t it = 0;
	struct urb_pend *e;
	while ((e = strata_itab_next(u->pending, &it, NULL, NULL)))
		urb_try_deliver(u, e);
}

static void urb_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct urb *u = (struct urb *)m;
	if (bcast_is_deliver(&u->beb, ev))
		urb_beb_deliver(u, ev);
	else if (ev->type == STRATA_EV_CRASH)
		urb_crash(u, ev->peer);
	else
		bc_reject_frame(m, ev);
}

/* upon event <urb, Broadcast | m> do
 *     pending := pending ∪ {(self, m)}; trigger <beb, Broadcast | [DATA, self, m]> */
static int urb_request(struct strata_module *m, const struct strata_request *req)
{
	struct urb *u = (struct urb *)m;
	size_t max = bcast_payload_max(&u->beb);
	int rc = bc_check_request(req, max > BC_HDR_MAX ? max - BC_HDR_MAX : 0);
	if (rc)
		return rc;
	if (strata_itab_len(u->pending) >= strata_itab_cap(u->pending))
		return STRATA_EFULL;
	/* The pending entry is made when beb delivers the message to us (it is kept in the
	 * message it arrives in); until then nothing can be delivered anyway. */
	struct strata_node *n = m->node;
	struct bc_hdr h = { BC_DATA, strata_node_id(n), strata_node_incarnation(n), u->lsn + 1 };
	struct strata_wr w;
	rc = bc_encode_data_into(&w, &h, req->value, req->value_len);
	if (rc == 0)
		rc = bcast_broadcast(&u->beb, w.buf, w.len);
	strata_wr_free(&w);
	if (rc)
		return rc;
	u->lsn++;
	bc_out_bcast(m, u->lsn, req->value, req->value_len, NULL, 0);
	strata_node_reply(n, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

static void urb_destroy(struct strata_module *m)
{
	struct urb *u = (struct urb *)m;
	strata_itab_free(u->pending);
	free(u->org);
	free(u);
}

static const struct strata_module_ops urb_ops = {
	.name = "urb", .handle = urb_handle, .request = urb_request, .destroy = urb_destroy,
};

static const struct strata_module_ops urb_allack_ops = {
	.name = "urb_allack", .handle = urb_handle, .request = urb_request, .destroy = urb_destroy,
};

static struct strata_module *urb_create(struct strata_node *n, const struct strata_module_ops *ops,
					uint16_t wire, urb_candeliver cd, bool needs_p, char *err,
					size_t errlen)
{
	struct urb *u = calloc(1, sizeof(*u));
	if (u) {
		u->org = calloc(strata_node_n(n) + 1, sizeof(*u->org));
		u->pending = strata_itab_new(ops == &urb_ops ? "urb pending" : "urb_allack pending",
					     URB_PENDING_CAP, sizeof(struct urb_pend), pend_fini,
					     NULL);
	}
	if (!u || !u->org || !u->pending) {
		if (u) {
			strata_itab_free(u->pending);
			free(u->org);
		}
		free(u);
		snprintf(err, errlen, "%s: out of memory", ops->name);
		return NULL;
	}
	u->name = ops->name;
	u->candeliver = cd;
	strata_node_add_module(n, &u->m, ops, wire);
	/* From here on the node owns (and frees) the module. */
	if (needs_p && bc_need_fd(&u->m, ops->name, err, errlen) != 0)
		return NULL;
	/* uses BestEffortBroadcast, instance beb */
	if (bcast_open(n, "beb", &u->m, 0, &u->beb, err, errlen) != 0)
		return NULL;
	return &u->m;
}

struct strata_module *bc_urb_create(struct strata_node *n, char *err, size_t errlen)
{
	return urb_create(n, &urb_ops, strata_wire_id("urb"), urb_majority_candeliver, false, err,
			  errlen);
}

struct strata_module *bc_urb_allack_create(struct strata_node *n, char *err, size_t errlen)
{
	return urb_create(n, &urb_allack_ops, strata_wire_id("urb_allack"), urb_allack_candeliver,
			  true, err, errlen);
}
