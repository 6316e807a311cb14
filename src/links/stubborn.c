/* Stubborn point-to-point links (book Alg. 2.1 "Retransmit Forever"), bounded.
 *
 * Module sl. Properties:
 *   SL1 Stubborn delivery: if a correct p sends m once to a correct q, q delivers m infinitely
 *       often (here: once per retransmission period for as long as m stays in p's ring).
 *   SL2 No creation: if q delivers m from p, p sent m to q.
 *
 * The book's `sent` set grows forever. Ours is a ring of STRATA_SL_CAP messages per peer: when a
 * new message would overflow it, the oldest is evicted (counted as sl_evicted) and no longer
 * retransmitted. Users of stubborn links (e.g. Basic Stubborn Broadcast) retransmit at a higher
 * level or tolerate that bound; it is what keeps a long-running daemon's memory bounded.
 * Retransmission period: heartbeat_ms from the [fd] section. */
#include <stdlib.h>

#include "core/assert.h"
#include "core/error.h"
#include "links/internal.h"

void sl_peer_free(struct link_peer *p)
{
	if (!p->sl)
		return;
	for (size_t i = 0; i < p->sl_len; i++)
		strata_msg_unref(p->sl[(p->sl_head + i) % STRATA_SL_CAP].msg);
	free(p->sl);
	p->sl = NULL;
	p->sl_len = 0;
}

static int sl_enqueue(struct strata_links *l, struct link_peer *p, uint16_t module,
		      uint64_t instance, struct strata_msg *msg)
{
	struct out_frame f = {
		.link = STRATA_LINK_SL, .module = module, .instance = instance,
		.lamport = strata_lamport_send(l->node), .msg = strata_msg_ref(msg),
		.len = (uint32_t)msg->len,
	};
	if (!frame_q_push(&p->fll, &f)) {
		strata_msg_unref(msg);
		return STRATA_ENOMEM;
	}
	return 0;
}

int strata_sl_send(struct strata_module *from, uint32_t to, uint64_t instance,
		   struct strata_msg *msg)
{
	STRATA_ASSERT(from && from->node && from->wire_id && msg);
	struct strata_links *l = strata_node_links(from->node);
	if (to < 1 || to > l->n)
		return STRATA_EINVAL;
	if (msg->len > l->frame_max)
		return STRATA_ETOOBIG;
	if (to == l->self) {
		/* Local delivery is reliable; once is as good as infinitely often. */
		link_deliver(l, STRATA_EV_SL_DELIVER, to, from->wire_id, instance,
			     strata_lamport_send(from->node), msg);
		return 0;
	}
	struct link_peer *p = &l->peers[to];
	if (!p->sl) {
		p->sl = calloc(STRATA_SL_CAP, sizeof(*p->sl));
		if (!p->sl)
			return STRATA_ENOMEM;
	}
	if (p->sl_len == STRATA_SL_CAP) {
		strata_msg_unref(p->sl[p->sl_head].msg);
		p->sl_head = (p->sl_head + 1) % STRATA_SL_CAP;
		p->sl_len--;
		strata_node_counters(from->node)->sl_evicted++;
	}
	struct sl_entry *e = &p->sl[(p->sl_head + p->sl_len) % STRATA_SL_CAP];
	e->module = from->wire_id;
	e->instance = instance;
	e->msg = strata_msg_ref(msg);
	p->sl_len++;
	if (!strata_timer_armed(&p->sl_timer))
		strata_timer_arm_in(from->node, &p->sl_timer,
				    (uint64_t)l->cfg->heartbeat_ms * 1000);
	return sl_enqueue(l, p, from->wire_id, instance, msg);
}

void sl_on_timer(struct strata_links *l, struct link_peer *p)
{
	struct strata_counters *c = strata_node_counters(l->node);
	for (size_t i = 0; i < p->sl_len; i++) {
		struct sl_entry *e = &p->sl[(p->sl_head + i) % STRATA_SL_CAP];
		if (sl_enqueue(l, p, e->module, e->instance, e->msg) == 0)
			c->retransmits++;
	}
	if (p->sl_len)
		strata_timer_arm_in(l->node, &p->sl_timer, (uint64_t)l->cfg->heartbeat_ms * 1000);
}
