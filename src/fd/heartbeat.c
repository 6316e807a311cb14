/* Heartbeats shared by P (fd/p.c) and <>P (fd/evp.c): payload codec, fan-out over fair-loss
 * links and the per-peer stream classification. See fd/fd.h.
 *
 * Payload: varint incarnation (> 0), varint seq (> 0). Nothing else: the datagram header already
 * authenticates the sender, and the detector needs only "this incarnation was alive at seq". */
#include <stdio.h>

#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "fd/fd.h"
#include "links/links.h"

#define HB_MAX 24 /* two varints */

static struct strata_msg *hb_encode(struct strata_module *m, uint64_t seq)
{
	struct strata_wr w;
	strata_wr_init(&w, HB_MAX);
	strata_wr_u64(&w, strata_node_incarnation(m->node));
	strata_wr_u64(&w, seq);
	int err = 0;
	struct strata_msg *msg = strata_wr_take_msg(&w, &err);
	if (!msg) {
		/* Out of memory: this heartbeat is lost, exactly like a dropped datagram; the
		 * detectors' timeouts already account for lost heartbeats. */
		strata_trace(m->node, m->ops->name, "heartbeat %llu not encoded (%s) -> skipped",
			     (unsigned long long)seq, strata_strerror(err));
	}
	return msg;
}

static void hb_send(struct strata_module *m, uint32_t to, struct strata_msg *msg)
{
	int rc = strata_fll_send(m, to, 0, msg);
	if (rc != 0)
		strata_trace(m->node, m->ops->name, "heartbeat to %u not queued (%s) -> lost", to,
			     strata_strerror(rc));
}

void fd_heartbeat_send_all(struct strata_module *m, uint64_t seq)
{
	struct strata_msg *msg = hb_encode(m, seq);
	if (!msg)
		return;
	uint32_t self = strata_node_id(m->node);
	for (uint32_t p = 1; p <= strata_node_n(m->node); p++)
		if (p != self)
			hb_send(m, p, msg);
	strata_msg_unref(msg);
}

void fd_heartbeat_send(struct strata_module *m, uint32_t to, uint64_t seq)
{
	struct strata_msg *msg = hb_encode(m, seq);
	if (!msg)
		return;
	hb_send(m, to, msg);
	strata_msg_unref(msg);
}

int fd_heartbeat_decode(struct strata_module *m, const struct strata_event *ev,
			struct fd_heartbeat *hb)
{
	if (!ev->msg) {
		strata_node_bad_payload(m->node, m, ev->peer, "heartbeat without payload");
		return STRATA_EPROTO;
	}
	struct strata_rd r;
	strata_rd_init(&r, ev->msg->data, ev->msg->len);
	hb->incarnation = strata_rd_u64(&r);
	hb->seq = strata_rd_u64(&r);
	if (strata_rd_done(&r) != 0 || hb->incarnation == 0 || hb->seq == 0) {
		strata_node_bad_payload(m->node, m, ev->peer, "malformed heartbeat");
		return STRATA_EPROTO;
	}
	return 0;
}

enum fd_hb_verdict fd_stream_accept(struct fd_stream *s, const struct fd_heartbeat *hb)
{
	if (hb->incarnation < s->incarnation)
		return FD_HB_STALE;
	if (hb->incarnation > s->incarnation) {
		bool first = s->incarnation == 0;
		s->incarnation = hb->incarnation;
		s->seq = hb->seq;
		return first ? FD_HB_FIRST : FD_HB_NEW_INC;
	}
	if (hb->seq <= s->seq)
		return FD_HB_STALE;
	s->seq = hb->seq;
	return FD_HB_FRESH;
}

void fd_output_view(struct strata_module *m, uint32_t peer, enum strata_peer_state s,
		    uint64_t inc)
{
	struct strata_output o = {
		.kind = STRATA_OUT_FD,
		.module = m->wire_id,
		.module_name = m->ops->name,
		.peer = peer,
		.a = (uint64_t)s,
		.b = inc,
	};
	strata_output(m->node, &o);
}

bool fd_deadline_stalled(struct strata_module *m, struct strata_timer *t, uint64_t period_us,
			 uint64_t timeout_us)
{
	uint64_t now = strata_now_us(m->node);
	/* A fired timer keeps its deadline. */
	if (now <= t->deadline_us || now - t->deadline_us <= period_us)
		return false;
	strata_trace(m->node, m->ops->name,
		     "deadline for %llu fired %llu us late: this node was not running -> re-armed, "
		     "no verdict",
		     (unsigned long long)t->instance, (unsigned long long)(now - t->deadline_us));
	strata_timer_arm_in(m->node, t, timeout_us);
	return true;
}
