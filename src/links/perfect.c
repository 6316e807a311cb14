/* Perfect point-to-point links (book Alg. 2.2 "Eliminate Duplicates", with the FIFO order of
 * Alg. 2.11 "Sequence Number"), bounded.
 *
 * Module pl. Properties guaranteed between correct processes:
 *   PL1 Reliable delivery: if a correct p sends m to a correct q, q eventually delivers m.
 *   PL2 No duplication: no message is delivered more than once.
 *   PL3 No creation: if q delivers m from p, p sent m to q.
 *   (FIFO) messages from p are delivered at q in the order p sent them.
 *
 * Instead of the book's ever-growing `delivered` set and retransmitting forever, each direction
 * between two incarnations is a session with sequence numbers 1, 2, ...: the sender keeps its
 * unacknowledged frames (at most `window` in flight, the rest queued up to `backlog_bytes`) and
 * retransmits those not acknowledged within the retransmission timeout (RTT-estimated, Karn's
 * rule, exponential backoff between retransmit_min_ms and retransmit_max_ms); the receiver keeps
 * the next expected sequence number and a `window`-slot buffer for frames that arrived early, and
 * acknowledges cumulatively plus a 64-bit selective bitmap. Memory per peer: O(window) slots plus
 * the queued bytes. A value larger than one frame is cut into fragments that travel as consecutive
 * sequence numbers and are reassembled in order (at most max_value bytes).
 *
 * Sessions are bound to incarnations. A sender sends perfect-link frames only to a peer whose
 * incarnation it knows (until then it sends an empty "hello" datagram once per retransmission
 * timeout, which the peer answers), and a receiver accepts them only when addressed to its own
 * incarnation. When a peer's incarnation changes (it restarted), the frames it had not
 * acknowledged move, in order, to a new session with the new incarnation (a message whose first
 * fragments were already acknowledged is dropped, counted as pl_reset_dropped): nothing the upper
 * layer handed over is lost because the receiver restarted, which is what crash-recovery
 * algorithms need, and a crash-stop algorithm sees at worst a message its peer's previous life
 * may also have received. A receiver that sees the sender's incarnation change starts a fresh
 * receive session. */
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "links/internal.h"

#define PL_RTO_BURST 32

static uint64_t initial_rto(const struct strata_links *l)
{
	uint64_t lo = (uint64_t)l->cfg->retransmit_min_ms * 1000;
	uint64_t hi = (uint64_t)l->cfg->retransmit_max_ms * 1000;
	uint64_t rto = lo * 4;
	return rto > hi ? hi : rto;
}

static struct tx_entry *tx_at(struct link_peer *p, size_t i)
{
	return &p->tx[(p->tx_head + i) % p->tx_cap];
}

static uint64_t tx_base(const struct link_peer *p)
{
	return p->tx_len ? p->tx[p->tx_head].fr.seq : p->tx_next_seq;
}

static bool tx_push(struct link_peer *p, const struct out_frame *f)
{
	if (p->tx_len == p->tx_cap) {
		size_t cap = p->tx_cap ? p->tx_cap * 2 : 64;
		struct tx_entry *t = malloc(cap * sizeof(*t));
		if (!t)
			return false;
		for (size_t i = 0; i < p->tx_len; i++)
			t[i] = *tx_at(p, i);
		free(p->tx);
		p->tx = t;
		p->tx_cap = cap;
		p->tx_head = 0;
	}
	struct tx_entry *e = &p->tx[(p->tx_head + p->tx_len) % p->tx_cap];
	memset(e, 0, sizeof(*e));
	e->fr = *f;
	p->tx_len++;
	p->tx_bytes += f->len;
	p->tx_pending = true;
	return true;
}

/* Marks e for the next flush and keeps pl_collect's scan start at or below it. */
static void tx_mark_resend(struct link_peer *p, struct tx_entry *e)
{
	e->resend = true;
	if (e->fr.seq < p->tx_scan_seq)
		p->tx_scan_seq = e->fr.seq;
}

static void tx_pop(struct link_peer *p)
{
	struct tx_entry *e = tx_at(p, 0);
	p->tx_bytes -= e->fr.len;
	strata_msg_unref(e->fr.msg);
	p->tx_head = (p->tx_head + 1) % p->tx_cap;
	p->tx_len--;
}

static void frag_reset(struct link_peer *p)
{
	free(p->frag_buf);
	p->frag_buf = NULL;
	p->frag_len = p->frag_cap = 0;
	p->frag_next = p->frag_count = 0;
}

void pl_peer_new_session(struct strata_links *l, struct link_peer *p)
{
	struct strata_counters *c = strata_node_counters(l->node);
	/* A message cut in the middle cannot be completed in a new session. */
	while (p->tx_len && tx_at(p, 0)->fr.frag_index != 0) {
		c->pl_reset_dropped++;
		tx_pop(p);
	}
	uint64_t seq = 1;
	for (size_t i = 0; i < p->tx_len; i++) {
		struct tx_entry *e = tx_at(p, i);
		e->fr.seq = seq++;
		e->tx_count = 0;
		e->acked = false;
		e->resend = false;
	}
	p->tx_next_seq = seq;
	p->tx_scan_seq = 1;
	p->tx_pending = p->tx_len > 0;
	p->srtt_us = p->rttvar_us = 0;
	p->rto_us = initial_rto(l);
	strata_timer_disarm(l->node, &p->rto_timer);
}

bool pl_hello_due(struct strata_links *l, struct link_peer *p)
{
	if (p->incarnation != 0 || p->tx_len == 0)
		return false;
	uint64_t now = strata_now_us(l->node);
	if (p->hello_sent && now < p->hello_us + p->rto_us)
		return false;
	p->hello_sent = true;
	p->hello_us = now;
	if (!strata_timer_armed(&p->rto_timer))
		strata_timer_arm(l->node, &p->rto_timer, now + p->rto_us);
	return true;
}

void pl_peer_reset_recv(struct strata_links *l, struct link_peer *p)
{
	if (p->rx) {
		for (uint32_t i = 0; i < l->cfg->window; i++) {
			if (p->rx[i].full)
				strata_msg_unref(p->rx[i].fr.msg);
			p->rx[i].full = false;
		}
	}
	p->rx_next = 1;
	p->ack_needed = false;
	p->ack_now = false;
	p->rx_unacked = 0;
	frag_reset(p);
}

void pl_peer_free(struct link_peer *p)
{
	while (p->tx_len)
		tx_pop(p);
	free(p->tx);
	p->tx = NULL;
	p->tx_cap = 0;
	if (p->rx) {
		/* rx slots are released by pl_peer_reset_recv before; be safe on teardown */
		free(p->rx);
		p->rx = NULL;
	}
	frag_reset(p);
}

static int pl_send(struct strata_module *from, uint32_t to, uint64_t instance,
		   struct strata_msg *msg, bool early)
{
	STRATA_ASSERT(from && from->node && from->wire_id && msg);
	struct strata_node *n = from->node;
	struct strata_links *l = strata_node_links(n);
	if (to < 1 || to > l->n)
		return STRATA_EINVAL;
	if (msg->len > l->cfg->max_value)
		return STRATA_ETOOBIG;
	uint64_t ts = strata_lamport_send(n);
	if (to == l->self) {
		link_deliver(l, STRATA_EV_PL_DELIVER, to, from->wire_id, instance, ts, msg);
		return 0;
	}
	struct link_peer *p = &l->peers[to];
	if (p->tx_bytes + msg->len > l->cfg->backlog_bytes) {
		strata_node_counters(n)->send_full++;
		return STRATA_EFULL;
	}
	size_t fmax = l->frame_max;
	uint32_t count = msg->len <= fmax ? 1 : (uint32_t)((msg->len + fmax - 1) / fmax);
	for (uint32_t i = 0; i < count; i++) {
		size_t off = (size_t)i * fmax;
		size_t len = msg->len - off < fmax ? msg->len - off : fmax;
		struct out_frame f = {
			.link = STRATA_LINK_PL, .module = from->wire_id, .instance = instance,
			.seq = p->tx_next_seq, .lamport = ts, .frag_index = i,
			.frag_count = count > 1 ? count : 0, .msg = strata_msg_ref(msg),
			.off = (uint32_t)off, .len = (uint32_t)len, .early = early,
		};
		if (!tx_push(p, &f)) {
			/* Frames already queued stay consistent: they are a prefix of the message and
			 * the receiver drops an incomplete fragment run when the next message starts. */
			strata_msg_unref(msg);
			return STRATA_ENOMEM;
		}
		p->tx_next_seq++;
	}
	return 0;
}

int strata_pl_send(struct strata_module *from, uint32_t to, uint64_t instance,
		   struct strata_msg *msg)
{
	return pl_send(from, to, instance, msg, false);
}

int strata_pl_send_early(struct strata_module *from, uint32_t to, uint64_t instance,
			 struct strata_msg *msg)
{
	return pl_send(from, to, instance, msg, true);
}

bool strata_pl_room(const struct strata_node *n, uint32_t to, size_t len)
{
	const struct strata_links *l = strata_node_links(n);
	if (to < 1 || to > l->n)
		return false;
	return to == l->self || l->peers[to].tx_bytes + len <= l->cfg->backlog_bytes;
}

void strata_pl_send_all(struct strata_module *from, uint64_t instance, struct strata_msg *msg)
{
	uint32_t n = strata_node_n(from->node);
	for (uint32_t i = 1; i <= n; i++)
		(void)strata_pl_send(from, i, instance, msg);
}

static void rto_update(struct strata_links *l, struct link_peer *p, uint64_t sample)
{
	/* Jacobson/Karels, as in TCP (RFC 6298). */
	if (p->srtt_us == 0) {
		p->srtt_us = sample;
		p->rttvar_us = sample / 2;
	} else {
		uint64_t err = sample > p->srtt_us ? sample - p->srtt_us : p->srtt_us - sample;
		p->rttvar_us = (3 * p->rttvar_us + err) / 4;
		p->srtt_us = (7 * p->srtt_us + sample) / 8;
	}
	uint64_t rto = p->srtt_us + 4 * p->rttvar_us;
	uint64_t lo = (uint64_t)l->cfg->retransmit_min_ms * 1000;
	uint64_t hi = (uint64_t)l->cfg->retransmit_max_ms * 1000;
	p->rto_us = rto < lo ? lo : rto > hi ? hi : rto;
}

/* The timeout the estimator gives, without the exponential backoff: what a frame sent to a
 * reachable peer waits before it is resent. */
static uint64_t unbacked_rto(const struct strata_links *l, const struct link_peer *p)
{
	if (!p->srtt_us)
		return initial_rto(l);
	uint64_t lo = (uint64_t)l->cfg->retransmit_min_ms * 1000;
	uint64_t hi = (uint64_t)l->cfg->retransmit_max_ms * 1000;
	uint64_t rto = p->srtt_us + 4 * p->rttvar_us;
	return rto < lo ? lo : rto > hi ? hi : rto;
}

void pl_on_ack(struct strata_links *l, struct link_peer *p, uint64_t cumulative, uint64_t sel)
{
	uint64_t now = strata_now_us(l->node);
	if (cumulative >= p->tx_next_seq)
		return; /* acknowledges what we never sent in this session: stale, ignore */
	bool progress = false;
	while (p->tx_len && tx_at(p, 0)->fr.seq <= cumulative) {
		struct tx_entry *e = tx_at(p, 0);
		if (e->tx_count == 1 && !e->acked)
			rto_update(l, p, now - e->sent_us);
		tx_pop(p);
		progress = true;
	}
	uint64_t high = cumulative; /* the highest sequence number the peer is known to have */
	for (uint64_t i = 0; i < 64 && sel; i++) {
		if (!(sel & (1ull << i)))
			continue;
		uint64_t seq = cumulative + 2 + i;
		high = seq;
		uint64_t base = tx_base(p);
		if (seq < base || seq - base >= p->tx_len)
			continue;
		struct tx_entry *e = tx_at(p, (size_t)(seq - base));
		if (!e->acked && e->tx_count == 1)
			rto_update(l, p, now - e->sent_us);
		e->acked = true;
	}
	size_t inflight = p->tx_len < l->cfg->window ? p->tx_len : l->cfg->window;
	uint64_t base_rto = unbacked_rto(l, p);
	if (progress || high > cumulative) {
		/* The peer is reachable: undo the backoff (Karn's rule gives no sample for
		 * retransmitted frames, so the estimator alone would keep the long timeout), and
		 * resend at once a burst of frames that are surely lost: below a sequence number the
		 * peer has (a hole the selective ack shows) and older than a round trip, or older
		 * than four timeouts (sent into a partition that has healed). The backlog then drains
		 * at the pace of the acks, and frames that are merely queued behind a burst are not
		 * sent twice. */
		p->rto_us = base_rto;
		size_t marked = 0;
		uint64_t rtt = p->srtt_us ? p->srtt_us : p->rto_us;
		for (size_t i = 0; i < inflight && marked < PL_RTO_BURST; i++) {
			struct tx_entry *e = tx_at(p, i);
			/* Beyond `high` only ancient frames qualify, and first sends go out in seq
			 * order: past an unsent frame, or a frame sent once that is not ancient,
			 * every later frame was first sent no earlier, so none is ancient. This
			 * keeps an ack's scan to the frames below `high` plus the ancient ones
			 * instead of the whole window. */
			if (e->fr.seq >= high &&
			    (!e->tx_count || (e->tx_count == 1 && e->sent_us + 4 * p->rto_us > now)))
				break;
			if (!e->tx_count || e->acked || e->resend)
				continue;
			bool hole = e->fr.seq < high && e->sent_us + rtt <= now;
			bool ancient = e->sent_us + 4 * p->rto_us <= now;
			if (hole || ancient) {
				tx_mark_resend(p, e);
				marked++;
			}
		}
		if (progress) {
			strata_timer_disarm(l->node, &p->rto_timer);
			if (p->tx_len)
				strata_timer_arm(l->node, &p->rto_timer, now + p->rto_us);
		}
		/* The window moved (or frames were marked): send what may go now. */
		p->tx_pending = true;
		return;
	}
	/* An acknowledgement without progress. The peer answers only what reached it, so it shows
	 * the path works both ways now; if the timeout is backed off (retransmissions were lost,
	 * e.g. into a partition that has since healed) and the oldest unacknowledged frame is
	 * older than the estimator's timeout, waiting out the backoff would only delay the
	 * catch-up (up to retransmit_max_ms): undo the backoff and resend the oldest frames now,
	 * as the timer would have done without it. A frame younger than that may still be on its
	 * way, so an ack that merely overtook it changes nothing. */
	if (!p->tx_len || p->rto_us <= base_rto)
		return;
	struct tx_entry *oldest = NULL;
	for (size_t i = 0; i < inflight && !oldest; i++) {
		struct tx_entry *e = tx_at(p, i);
		if (e->tx_count && !e->acked)
			oldest = e;
	}
	if (!oldest || oldest->sent_us + base_rto > now)
		return;
	p->rto_us = base_rto;
	size_t marked = 0;
	for (size_t i = 0; i < inflight && marked < PL_RTO_BURST; i++) {
		struct tx_entry *e = tx_at(p, i);
		if (e->tx_count && !e->acked && !e->resend && e->sent_us + base_rto <= now) {
			tx_mark_resend(p, e);
			marked++;
		}
	}
	strata_timer_disarm(l->node, &p->rto_timer);
	strata_timer_arm(l->node, &p->rto_timer, now + p->rto_us);
	p->tx_pending = marked > 0;
	strata_trace(l->node, "pl", "ack from %u without progress, oldest unacked %llu us old, "
		     "timeout backed off -> undo the backoff, resend %zu", p->id,
		     (unsigned long long)(now - oldest->sent_us), marked);
}

void pl_on_rto(struct strata_links *l, struct link_peer *p)
{
	uint64_t now = strata_now_us(l->node);
	if (p->incarnation == 0) {
		/* Still waiting for the handshake: the flush sends another hello. */
		if (p->tx_len)
			strata_timer_arm(l->node, &p->rto_timer, now + p->rto_us);
		return;
	}
	size_t inflight = p->tx_len < l->cfg->window ? p->tx_len : l->cfg->window;
	size_t marked = 0;
	/* Like TCP after a timeout, resend only the oldest unacknowledged frames (at most
	 * PL_RTO_BURST): the selective acks that come back tell which others still miss, and a
	 * window-sized burst would only be lost or reordered again. */
	for (size_t i = 0; i < inflight && marked < PL_RTO_BURST; i++) {
		struct tx_entry *e = tx_at(p, i);
		if (e->tx_count && !e->acked && !e->resend && e->sent_us + p->rto_us <= now) {
			tx_mark_resend(p, e);
			marked++;
		}
	}
	if (marked) {
		p->tx_pending = true;
		uint64_t hi = (uint64_t)l->cfg->retransmit_max_ms * 1000;
		p->rto_us = p->rto_us * 2 > hi ? hi : p->rto_us * 2; /* backoff */
	}
	if (p->tx_len)
		strata_timer_arm(l->node, &p->rto_timer, now + p->rto_us);
}

size_t pl_collect(struct strata_links *l, struct link_peer *p, struct out_frame *out, size_t max,
		  size_t *budget)
{
	if (!p->tx_pending || p->incarnation == 0)
		return 0;
	uint64_t now = strata_now_us(l->node);
	struct strata_counters *c = strata_node_counters(l->node);
	size_t inflight = p->tx_len < l->cfg->window ? p->tx_len : l->cfg->window;
	size_t nb = 0;
	bool more = false;
	uint64_t base = tx_base(p);
	size_t i = p->tx_scan_seq > base ? (size_t)(p->tx_scan_seq - base) : 0;
	for (; i < inflight; i++) {
		struct tx_entry *e = tx_at(p, i);
		if (e->acked || (e->tx_count && !e->resend))
			continue;
		size_t sz = 72 + (size_t)e->fr.len;
		if (nb == max || sz > *budget) {
			more = true;
			break;
		}
		*budget -= sz;
		out[nb++] = e->fr;
		if (e->tx_count) {
			c->retransmits++;
			strata_trace(l->node, "pl", "seq %llu to %u unacked after %llu us -> retransmit",
				     (unsigned long long)e->fr.seq, p->id,
				     (unsigned long long)(now - e->sent_us));
		}
		e->tx_count++;
		e->resend = false;
		e->sent_us = now;
	}
	/* Everything below index i is now acknowledged or sent and unmarked. */
	p->tx_scan_seq = base + i;
	p->tx_pending = more;
	if (nb && !strata_timer_armed(&p->rto_timer))
		strata_timer_arm(l->node, &p->rto_timer, now + p->rto_us);
	return nb;
}

/* Delivers one in-order frame, reassembling fragments. */
static void rx_deliver(struct strata_links *l, struct link_peer *p, struct out_frame *f)
{
	struct strata_counters *c = strata_node_counters(l->node);
	if (f->frag_count <= 1) {
		if (p->frag_count) { /* an unfinished run was cut short: drop it */
			c->rej_fragment++;
			frag_reset(p);
		}
		c->pl_delivered++;
		link_deliver(l, STRATA_EV_PL_DELIVER, p->id, f->module, f->instance, f->lamport,
			     f->msg);
		return;
	}
	if (f->frag_index == 0) {
		if (p->frag_count)
			c->rej_fragment++;
		frag_reset(p);
		p->frag_count = f->frag_count;
		p->frag_module = f->module;
		p->frag_instance = f->instance;
		p->frag_lamport = f->lamport;
	}
	if (p->frag_count != f->frag_count || p->frag_next != f->frag_index ||
	    p->frag_module != f->module || p->frag_instance != f->instance ||
	    p->frag_len + f->len > l->cfg->max_value) {
		c->rej_fragment++;
		frag_reset(p);
		return;
	}
	if (p->frag_len + f->len > p->frag_cap) {
		size_t cap = p->frag_cap ? p->frag_cap : 4096;
		while (cap < p->frag_len + f->len)
			cap *= 2;
		uint8_t *b = realloc(p->frag_buf, cap);
		if (!b) {
			c->rej_fragment++;
			frag_reset(p);
			return;
		}
		p->frag_buf = b;
		p->frag_cap = cap;
	}
	memcpy(p->frag_buf + p->frag_len, f->msg->data, f->len);
	p->frag_len += f->len;
	p->frag_next++;
	if (p->frag_next == p->frag_count) {
		struct strata_msg *m = strata_msg_new(p->frag_buf, p->frag_len);
		STRATA_ASSERT(m);
		c->pl_delivered++;
		link_deliver(l, STRATA_EV_PL_DELIVER, p->id, p->frag_module, p->frag_instance,
			     p->frag_lamport, m);
		strata_msg_unref(m);
		frag_reset(p);
	}
}

void pl_on_frame(struct strata_links *l, struct link_peer *p, const Strata__Wire__Frame *wf)
{
	struct strata_counters *c = strata_node_counters(l->node);
	uint32_t w = l->cfg->window;
	p->ack_needed = true;
	p->ack_batch = strata_node_batch_ticket(l->node);
	p->rx_unacked++;
	/* A duplicate (the sender retransmits: it waits for this ack) or a frame beyond a gap (the
	 * selective ack shows the hole) is acknowledged at once; an in-order frame may wait. */
	if (wf->seq != p->rx_next)
		p->ack_now = true;
	if (wf->seq < p->rx_next) {
		c->pl_dup_dropped++;
		strata_trace(l->node, "pl", "seq %llu from %u below %llu -> duplicate, re-ack",
			     (unsigned long long)wf->seq, p->id, (unsigned long long)p->rx_next);
		return;
	}
	if (wf->seq - p->rx_next >= w) {
		c->pl_window_dropped++;
		strata_trace(l->node, "pl", "seq %llu from %u beyond window at %llu -> dropped",
			     (unsigned long long)wf->seq, p->id, (unsigned long long)p->rx_next);
		return;
	}
	if (wf->frag_count > 1 && (wf->frag_index >= wf->frag_count ||
				   (uint64_t)wf->frag_count * l->frame_max > (uint64_t)l->cfg->max_value + l->frame_max)) {
		c->rej_fragment++;
		/* Still consume the sequence number so the session does not stall. */
	}
	if (!p->rx) {
		p->rx = calloc(w, sizeof(*p->rx));
		if (!p->rx)
			return; /* no ack progress; the sender retransmits */
	}
	struct rx_slot *s = &p->rx[wf->seq % w];
	if (s->full) {
		c->pl_dup_dropped++;
		strata_trace(l->node, "pl", "seq %llu from %u already buffered (slot has %llu) -> dropped",
			     (unsigned long long)wf->seq, p->id, (unsigned long long)s->fr.seq);
		return;
	}
	struct strata_msg *m = strata_msg_new(wf->payload.data, wf->payload.len);
	if (!m)
		return;
	s->full = true;
	s->fr = (struct out_frame){
		.link = STRATA_LINK_PL, .module = (uint16_t)wf->module, .instance = wf->instance,
		.seq = wf->seq, .lamport = wf->lamport, .frag_index = wf->frag_index,
		.frag_count = wf->frag_count, .msg = m, .len = (uint32_t)wf->payload.len,
	};
	while ((s = &p->rx[p->rx_next % w])->full && s->fr.seq == p->rx_next) {
		struct out_frame f = s->fr;
		s->full = false;
		p->rx_next++;
		rx_deliver(l, p, &f);
		strata_msg_unref(f.msg);
	}
}
