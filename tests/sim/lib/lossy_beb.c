/* The lossy best-effort broadcast (test module); see lossy_beb.h. */
#include "lossy_beb.h"

#include <stdint.h>
#include <stdlib.h>

#include "bcast/bcast.h"
#include "bcast/common.h"
#include "core/assert.h"
#include "core/stack.h"
#include "links/links.h"

#define LOSSY_INST_MAX 4

struct lossy_beb {
	struct strata_module m;
	uint64_t lsn;
	struct bc_subs up[LOSSY_INST_MAX]; /* the uppers' instances (lldc and lec: two) */
	uint64_t inst[LOSSY_INST_MAX];     /* 0 = unused */
};

static int lossy_find(const struct lossy_beb *b, uint64_t inst)
{
	for (int k = 0; k < LOSSY_INST_MAX; k++)
		if (inst != 0 && b->inst[k] == inst)
			return k;
	return -1;
}

static void lossy_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct lossy_beb *b = (struct lossy_beb *)m;
	struct strata_node *n = m->node;
	int k = lossy_find(b, ev->instance);
	if (ev->type != STRATA_EV_PL_DELIVER || !ev->msg || k < 0)
		return;
	struct bc_hdr h;
	const uint8_t *p;
	size_t len;
	if (bc_parse_data(ev->msg, strata_node_n(n), ev->msg->len, &h, &p, &len) != 0 ||
	    h.origin != ev->peer) {
		strata_node_bad_payload(n, m, ev->peer, "lossy beb: malformed DATA");
		return;
	}
	struct strata_deliver d = { .origin = h.origin, .inc = h.inc, .seq = h.seq, .data = p,
				    .len = len };
	bc_subs_indicate(m, &b->up[k], ev->instance, ev->msg, &d);
}

static int lossy_open(struct strata_module *m, uint64_t inst, struct strata_module *upper)
{
	struct lossy_beb *b = (struct lossy_beb *)m;
	STRATA_ASSERT(inst != 0);
	int k = lossy_find(b, inst);
	for (int j = 0; k < 0 && j < LOSSY_INST_MAX; j++)
		if (b->inst[j] == 0) {
			b->inst[j] = inst;
			k = j;
		}
	STRATA_ASSERT(k >= 0); /* a test stacks at most LOSSY_INST_MAX uppers on it */
	return bc_subs_add(&b->up[k], upper);
}

static int lossy_broadcast(struct strata_module *m, uint64_t inst, const uint8_t *data,
			   size_t len)
{
	struct lossy_beb *b = (struct lossy_beb *)m;
	struct strata_node *n = m->node;
	struct bc_hdr h = { BC_DATA, strata_node_id(n), strata_node_incarnation(n), ++b->lsn };
	struct strata_msg *msg = bc_encode_data(&h, data, len);
	STRATA_ASSERT(msg);
	for (uint32_t q = 1; q <= strata_node_n(n); q++)
		if (q == strata_node_id(n) || strata_random_below(n, 2) == 0)
			(void)strata_pl_send(m, q, inst, msg);
	strata_msg_unref(msg);
	return 0;
}

static size_t lossy_payload_max(const struct strata_module *m)
{
	return bc_pl_payload_max(m->node, 0);
}

static void lossy_destroy(struct strata_module *m)
{
	free(m);
}

static const struct bcast_iface lossy_iface = {
	.open = lossy_open, .broadcast = lossy_broadcast, .payload_max = lossy_payload_max,
};

static const struct strata_module_ops lossy_ops = {
	.name = "beb", .handle = lossy_handle, .destroy = lossy_destroy, .iface = &lossy_iface,
};

/* The same, registered as "sbeb" under a fail-recovery algorithm (lbeb stands on sbeb): it
 * drops where sbeb would retransmit forever, so lbeb's validity must break. */
static const struct strata_module_ops lossy_sbeb_ops = {
	.name = "sbeb", .handle = lossy_handle, .destroy = lossy_destroy, .iface = &lossy_iface,
};

void sim_lossy_beb_add(struct strata_node *n, bool as_sbeb)
{
	struct lossy_beb *b = calloc(1, sizeof(*b));
	STRATA_ASSERT(b);
	strata_node_add_module(n, &b->m, as_sbeb ? &lossy_sbeb_ops : &lossy_ops,
			       strata_wire_id(as_sbeb ? "sbeb" : "beb"));
}
