/* Stubborn best-effort broadcast, book Alg. 3.6 "Basic Stubborn Broadcast" (module sbeb).
 *
 * Specification (Module 3.10, stubborn best-effort broadcast):
 *   SBEB1 Best-effort validity: if a process that never crashes broadcasts m, every correct
 *         process delivers m an infinite number of times.
 *   SBEB2 No creation: if a process delivers m with sender s, then m was previously broadcast
 *         by s.
 * (No duplication is not a property: every retransmission is delivered.)
 * Model: fail-recovery, over stubborn links. Resilience: any f.
 * Cost: 1 step, N messages per broadcast, then N per retransmission period (heartbeat_ms) for
 * as long as the stubborn links keep the message.
 *
 * Bounded implementation: "infinitely often" is "once per retransmission period for as long as
 * the message stays in the stubborn link's ring" (STRATA_SL_CAP messages per peer, the oldest
 * evicted, links.h). The ring is volatile: a broadcast by a process that then crashes may stop
 * being retransmitted, which the property allows (it only covers processes that never crash).
 * Restart: seq is kept on stable storage ("sbeb/lsn", persisted before the message leaves), so
 * (sender, seq) names one message for the node's whole life. A recovering node sends a HELLO
 * so that peers learn its new incarnation (the link layer drops datagrams addressed to an
 * earlier one until then). Payloads are limited to one datagram's frame.
 *
 * Stackable (bcast/bcast.h), as the book stacks the logged broadcasts on it (Alg. 3.7 lbeb:
 * "uses StubbornBestEffortBroadcast, instance sbeb"): one instance per user in an instance table
 * of at most SBEB_INST_CAP, each with its own seq (instance 0, the client-facing one, keeps
 * "sbeb/lsn"; instance i "sbeb/lsn/<i in hex>", read back when the instance is created, so a
 * recovered node continues its numbering). Frames carry the instance id; every stubborn
 * delivery goes up to the instance's subscribers as a Deliver indication (origin, seq, bytes),
 * duplicates included (SBEB has no no-duplication property: the upper deduplicates).
 * Instances are never retired: one per upper module, created by code, not by peers' choice (a
 * peer's frame for an instance without an upper here is dropped and counted, rej_module). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcast/bcast.h"
#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/itab.h"
#include "core/stack.h"
#include "links/links.h"

#define SBEB_INST_CAP 16

struct sbeb_inst {
	struct bc_subs up; /* who gets this instance's Deliver indications */
	uint64_t lsn;      /* this instance's last own sequence number (stable) */
};

struct sbeb {
	struct strata_module m;
	struct strata_itab *inst;
};

static void lsn_key(char *key, size_t len, uint64_t id)
{
	if (id == 0)
		snprintf(key, len, "sbeb/lsn");
	else
		snprintf(key, len, "sbeb/lsn/%llx", (unsigned long long)id);
}

static struct sbeb_inst *sbeb_inst(struct sbeb *b, uint64_t id, int *rc)
{
	bool created = false;
	struct sbeb_inst *i = strata_itab_get_id(b->inst, id, &created, rc);
	if (!i || !created)
		return i;
	if (bc_subs_default(&b->m, id, &i->up) != 0) {
		/* Nobody here stands on this instance: a peer's frame for an upper we do not run. */
		strata_itab_del_id(b->inst, id);
		*rc = STRATA_ENOENT;
		return NULL;
	}
	char key[48];
	lsn_key(key, sizeof(key), id);
	(void)bc_retrieve_u64(b->m.node, key, &i->lsn); /* absent: never broadcast on it */
	return i;
}

/* upon event <sl, Deliver | p, [DATA, m]> do trigger <sbeb, Deliver | p, m> */
static void sbeb_recv(struct sbeb *b, const struct strata_event *ev)
{
	struct strata_node *n = b->m.node;
	if (bc_is_hello(ev->msg))
		return;
	struct bc_hdr h;
	const uint8_t *p;
	size_t len;
	if (bc_parse_data(ev->msg, strata_node_n(n), ev->msg->len, &h, &p, &len) != 0 ||
	    h.origin != ev->peer) {
		strata_node_bad_payload(n, &b->m, ev->peer, "sbeb: malformed DATA");
		return;
	}
	int rc = 0;
	struct sbeb_inst *i = sbeb_inst(b, ev->instance, &rc);
	if (!i) {
		strata_node_counters(n)->rej_module++;
		strata_trace(n, "sbeb", "DATA from %u for instance %llx: %s -> dropped", ev->peer,
			     (unsigned long long)ev->instance,
			     rc == STRATA_EFULL ? strata_itab_error(b->inst) : "no upper module here");
		return;
	}
	struct strata_deliver d = { .origin = h.origin, .seq = h.seq, .data = p, .len = len };
	bc_subs_indicate(&b->m, &i->up, ev->instance, ev->msg, &d);
}

static void sbeb_handle(struct strata_module *m, const struct strata_event *ev)
{
	if (ev->type == STRATA_EV_INIT && ev->arg == 1)
		bc_sl_hello(m); /* a recovering node: peers learn its new incarnation */
	else if (ev->type == STRATA_EV_SL_DELIVER && ev->msg)
		sbeb_recv((struct sbeb *)m, ev);
}

/* upon event <sbeb, Broadcast | m> do forall q in Pi: trigger <sl, Send | q, [DATA, m]>
 * (seq made durable before the message leaves: the node syncs before it flushes). */
static int sbeb_send(struct sbeb *b, uint64_t id, const uint8_t *data, size_t len, uint64_t *seq)
{
	struct strata_node *n = b->m.node;
	if (len > bc_fll_payload_max(n, 0))
		return STRATA_ETOOBIG;
	int rc = 0;
	struct sbeb_inst *i = sbeb_inst(b, id, &rc);
	if (!i)
		return rc;
	struct bc_hdr h = { BC_DATA, strata_node_id(n), 0, i->lsn + 1 };
	char key[48];
	lsn_key(key, sizeof(key), id);
	if (bc_store_u64(n, key, h.seq) != 0)
		return STRATA_EIO;
	struct strata_msg *msg = bc_encode_data(&h, data, len);
	if (!msg)
		return STRATA_ENOMEM;
	i->lsn++;
	for (uint32_t q = 1; q <= strata_node_n(n); q++)
		(void)strata_sl_send(&b->m, q, id, msg);
	strata_msg_unref(msg);
	if (seq)
		*seq = i->lsn;
	return 0;
}

static int sbeb_request(struct strata_module *m, const struct strata_request *req)
{
	struct sbeb *b = (struct sbeb *)m;
	int rc = bc_check_request(req, bc_fll_payload_max(m->node, 0));
	if (rc)
		return rc;
	uint64_t seq = 0;
	rc = sbeb_send(b, 0, req->value, req->value_len, &seq);
	if (rc)
		return rc;
	bc_out_bcast(m, seq, req->value, req->value_len, NULL, 0);
	strata_node_reply(m->node, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

static int sbeb_open(struct strata_module *m, uint64_t id, struct strata_module *upper)
{
	int rc = 0;
	struct sbeb_inst *i = sbeb_inst((struct sbeb *)m, id, &rc);
	return i ? bc_subs_add(&i->up, upper) : rc;
}

static int sbeb_broadcast(struct strata_module *m, uint64_t id, const uint8_t *data, size_t len)
{
	return sbeb_send((struct sbeb *)m, id, data, len, NULL);
}

static size_t sbeb_payload_max(const struct strata_module *m)
{
	return bc_fll_payload_max(m->node, 0);
}

static void sbeb_destroy(struct strata_module *m)
{
	struct sbeb *b = (struct sbeb *)m;
	strata_itab_free(b->inst);
	free(b);
}

static const struct bcast_iface sbeb_iface = {
	.open = sbeb_open, .broadcast = sbeb_broadcast, .payload_max = sbeb_payload_max,
};

static const struct strata_module_ops sbeb_ops = {
	.name = "sbeb", .handle = sbeb_handle, .request = sbeb_request, .destroy = sbeb_destroy,
	.iface = &sbeb_iface,
};

struct strata_module *bc_sbeb_create(struct strata_node *n, char *err, size_t errlen)
{
	struct sbeb *b = calloc(1, sizeof(*b));
	if (b)
		b->inst = strata_itab_new("sbeb instances", SBEB_INST_CAP, sizeof(struct sbeb_inst),
					  NULL, NULL);
	if (!b || !b->inst) {
		free(b);
		snprintf(err, errlen, "sbeb: out of memory");
		return NULL;
	}
	strata_node_add_module(n, &b->m, &sbeb_ops, strata_wire_id("sbeb"));
	return &b->m;
}
