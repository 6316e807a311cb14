/* Logged uniform reliable broadcast, book Alg. 3.8 "Logged Majority-Ack Uniform Reliable
 * Broadcast" (module lurb).
 *
 * Specification (Module 3.12, logged uniform reliable broadcast):
 *   LURB1 Validity: if a correct process broadcasts m, then it eventually log-delivers m.
 *   LURB2 No duplication: no message is log-delivered more than once.
 *   LURB3 No creation: if a process log-delivers m with sender s, then m was previously
 *         broadcast by s.
 *   LURB4 Uniform agreement: if a message m is log-delivered by some process (correct or
 *         faulty), then m is eventually log-delivered by every correct process.
 * (Correct = eventually up forever.)
 * Model: fail-recovery, stable storage, stubborn retransmission. Resilience: N > 2f.
 * Cost: 2 steps, O(N^2) messages per broadcast, then one retransmission per pending message
 * and peer every heartbeat_ms until garbage collection; stable-storage writes: the pending
 * slot at first receipt, the delivery window at delivery, the slot again when collected.
 *
 * As in the book, `pending` and `delivered` are logged and `ack` is volatile (rebuilt by the
 * retransmissions after a recovery): a message enters a process's pending log before that
 * process acknowledges it (the node syncs before it flushes datagrams), so a majority of
 * acknowledgements includes a correct process that keeps retransmitting it forever.
 *
 * Bounded implementation.
 *   - delivered: a window per sender ("lurb/d/<s>", common.h).
 *   - pending: at most LURB_PENDING_CAP messages in an instance table of the core (bc_ptab
 *     over core/itab; retired when collected, see below), each in a fixed storage slot
 *     ("lurb/p/<slot>", emptied when collected), so recovery reads a bounded number of keys.
 *     The book retransmits pending forever; we garbage-collect a message once every process has
 *     logged its delivery: retransmissions carry a "delivered here" flag (the frame's instance
 *     field), a process answers a retransmission of a message it has already collected with
 *     DONE, and an entry whose done-set is everyone is dropped. A process that never recovers
 *     holds collection back; a full table refuses local broadcasts (STRATA_EFULL) and ignores
 *     new messages (their senders retransmit).
 *   - Retransmission is over fair-loss links driven by our own period timer (the stubborn
 *     behaviour, without a second ring of copies in the stubborn link layer).
 * Restart: seq is kept on stable storage ("lurb/lsn") so (sender, seq) names one message for
 * the node's whole life; a recovering node re-reads pending and delivered, announces itself
 * with a HELLO (common.h) and resumes retransmitting. Logged deliveries still pending are
 * announced again as replays (strata_output.replay): a kill between a batch's commit and the
 * release of its outputs leaves the delivery logged but never announced; own broadcasts still
 * pending are announced again as replays too (the BCAST output of a logged broadcast can be lost
 * the same way), and an entry is never collected before the batch that delivered it is synced.
 * A STRATA_OUT_EVENT
 * reports the recovery. Payloads are limited to one datagram's
 * frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"
#include "links/links.h"

#define LURB_PENDING_CAP 256

struct lurb {
	struct strata_module m;
	uint64_t lsn;
	struct bc_win *win; /* [n+1] */
	struct bc_ptab pending;
	bool slot_used[LURB_PENDING_CAP];
	struct strata_timer tick;
};

static void slot_key(char *key, size_t len, uint32_t slot)
{
	snprintf(key, len, "lurb/p/%u", slot);
}

static void win_key(char *key, size_t len, uint32_t s)
{
	snprintf(key, len, "lurb/d/%u", s);
}

static int lurb_parse(const struct strata_node *n, const struct strata_msg *msg, struct bc_hdr *h,
		      const uint8_t **p, size_t *len)
{
	return bc_parse_data(msg, strata_node_n(n), msg->len, h, p, len);
}

/* Adds a pending entry and logs it; NULL when full or when the log write fails. */
static struct bc_pend *lurb_add(struct lurb *l, const struct bc_hdr *h, struct strata_msg *msg)
{
	uint32_t slot = 0;
	while (slot < LURB_PENDING_CAP && l->slot_used[slot])
		slot++;
	if (slot == LURB_PENDING_CAP)
		return NULL;
	char key[32];
	slot_key(key, sizeof(key), slot);
	if (strata_store(l->m.node, key, msg->data, msg->len) != 0)
		return NULL; /* counted by strata_store */
	struct bc_pend *e = bc_ptab_add(&l->pending, h->origin, 0, h->seq, msg);
	STRATA_ASSERT(e); /* slots and table have the same capacity */
	e->slot = slot;
	l->slot_used[slot] = true;
	return e;
}

static void lurb_del(struct lurb *l, struct bc_pend *e)
{
	char key[32];
	slot_key(key, sizeof(key), e->slot);
	(void)strata_store(l->m.node, key, "", 0); /* a failure is counted by strata_store and
						    * fails the batch's sync: the node stops */
	l->slot_used[e->slot] = false;
	bc_ptab_del(&l->pending, e);
}

/* Delivers e if a majority acknowledged it; collects it if everyone logged it. Returns false
 * when e was removed. */
static bool lurb_progress(struct lurb *l, struct bc_pend *e)
{
	struct strata_node *n = l->m.node;
	uint32_t nn = strata_node_n(n), self = strata_node_id(n);
	struct bc_win *w = &l->win[e->origin];
	if (!bc_win_has(w, e->seq) && (uint32_t)__builtin_popcountll(e->ack) * 2 > nn) {
		struct bc_win saved = *w;
		bc_win_add(w, e->seq);
		char key[32];
		win_key(key, sizeof(key), e->origin);
		if (bc_store_win(n, key, w) != 0) {
			*w = saved; /* not logged: not delivered; retried on the next copy */
		} else {
			struct bc_hdr h;
			const uint8_t *p;
			size_t len;
			STRATA_ASSERT(lurb_parse(n, e->msg, &h, &p, &len) == 0);
			bc_out_deliver(&l->m, h.origin, 0, h.seq, p, len, NULL, 0);
			e->dlv_batch = strata_node_counters(n)->batches + 1;
		}
	}
	if (bc_win_has(w, e->seq))
		e->done |= bc_bit(self);
	/* Not collected before the turn-batch that delivered it is synced: a crash that keeps a
	 * prefix of the unsynced writes (the delivery log, then the emptied slot) but loses the
	 * outputs would leave a logged delivery that recovery cannot announce again (its payload
	 * gone). Once that batch is synced, its outputs have left (released in order). Batch
	 * tickets: the open batch is number batches + 1; batches - unsynced are synced. */
	uint64_t synced = strata_node_counters(n)->batches - strata_node_batches_unsynced(n);
	if ((e->done & bc_all(nn)) == bc_all(nn) && synced >= e->dlv_batch) {
		lurb_del(l, e);
		return false;
	}
	return true;
}

static void lurb_send_done(struct lurb *l, uint32_t to, const struct bc_hdr *h)
{
	struct strata_wr w;
	strata_wr_init(&w, BC_HDR_MAX);
	struct bc_hdr d = { BC_DONE, h->origin, 0, h->seq };
	bc_wr_hdr(&w, &d);
	int err = 0;
	struct strata_msg *msg = strata_wr_take_msg(&w, &err);
	if (msg) {
		(void)strata_fll_send(&l->m, to, 0, msg);
		strata_msg_unref(msg);
	}
}

static void lurb_send_all(struct lurb *l, struct bc_pend *e)
{
	struct strata_node *n = l->m.node;
	uint32_t self = strata_node_id(n);
	uint64_t flag = bc_win_has(&l->win[e->origin], e->seq) ? 1 : 0;
	for (uint32_t q = 1; q <= strata_node_n(n); q++)
		if (q != self && !(e->done & bc_bit(q)))
			(void)strata_fll_send(&l->m, q, flag, e->msg);
}

static void lurb_recv(struct lurb *l, const struct strata_event *ev)
{
	struct strata_node *n = l->m.node;
	uint32_t self = strata_node_id(n), p = ev->peer;
	struct strata_rd r;
	strata_rd_init(&r, ev->msg->data, ev->msg->len);
	uint8_t type = strata_rd_u8(&r);
	if (bc_is_hello(ev->msg))
		return;
	if (type == BC_DONE) {
		struct bc_hdr h = { .type = type };
		bc_rd_hdr(&r, &h, strata_node_n(n));
		if (strata_rd_done(&r) != 0) {
			strata_node_bad_payload(n, &l->m, p, "lurb: malformed DONE");
			return;
		}
		struct bc_pend *e = bc_ptab_find(&l->pending, h.origin, 0, h.seq);
		if (e) {
			e->done |= bc_bit(p);
			e->ack |= bc_bit(p);
			(void)lurb_progress(l, e);
		}
		return;
	}
	struct bc_hdr h;
	const uint8_t *pl;
	size_t len;
	if (lurb_parse(n, ev->msg, &h, &pl, &len) != 0 || ev->instance > 1) {
		strata_node_bad_payload(n, &l->m, p, "lurb: malformed DATA");
		return;
	}
	struct bc_pend *e = bc_ptab_find(&l->pending, h.origin, 0, h.seq);
	if (!e) {
		if (bc_win_has(&l->win[h.origin], h.seq)) {
			lurb_send_done(l, p, &h); /* delivered and collected here */
			return;
		}
		e = lurb_add(l, &h, ev->msg);
		if (!e) {
			strata_trace(n, "lurb", "pending full -> %u/%llu ignored", h.origin,
				     (unsigned long long)h.seq);
			return;
		}
		e->ack = bc_bit(self);
		lurb_send_all(l, e); /* our relay is our acknowledgement */
	}
	e->ack |= bc_bit(p);
	if (ev->instance == 1)
		e->done |= bc_bit(p);
	(void)lurb_progress(l, e);
}

static void lurb_recover(struct lurb *l)
{
	struct strata_node *n = l->m.node;
	uint32_t self = strata_node_id(n);
	(void)bc_retrieve_u64(n, "lurb/lsn", &l->lsn);
	for (uint32_t s = 1; s <= strata_node_n(n); s++) {
		char key[32];
		win_key(key, sizeof(key), s);
		(void)bc_retrieve_win(n, key, &l->win[s]);
	}
	for (uint32_t slot = 0; slot < LURB_PENDING_CAP; slot++) {
		char key[32];
		slot_key(key, sizeof(key), slot);
		struct strata_msg *msg = NULL;
		if (strata_retrieve(n, key, &msg) != 0)
			continue;
		struct bc_hdr h;
		const uint8_t *p;
		size_t len;
		if (msg->len > 0 && lurb_parse(n, msg, &h, &p, &len) == 0 &&
		    !bc_ptab_find(&l->pending, h.origin, 0, h.seq)) {
			struct bc_pend *e = bc_ptab_add(&l->pending, h.origin, 0, h.seq, msg);
			e->slot = slot;
			e->ack = bc_bit(self);
			l->slot_used[slot] = true;
		}
		strata_msg_unref(msg);
	}
	char text[96];
	snprintf(text, sizeof(text), "lurb recovered %zu pending messages and its delivery log",
		 bc_ptab_len(&l->pending));
	struct strata_output o = { .kind = STRATA_OUT_EVENT, .module = l->m.wire_id,
				   .module_name = "lurb", .text = text };
	strata_output(n, &o);
	bc_sl_hello(&l->m);
	struct bc_pend *e;
	for (size_t it = 0; (e = bc_ptab_next(&l->pending, &it));)
		lurb_send_all(l, e);
	/* An own broadcast logged (lsn and pending slot) in a batch whose outputs the crash lost
	 * was never announced as broadcast, yet it goes out now: announce every own broadcast still
	 * pending again, in sequence order, marked as a replay (recorders keep the first). An own
	 * broadcast no longer pending was collected, hence delivered everywhere, hence sent, hence
	 * announced (its BCAST output left with the batch that sent it). */
	uint64_t own[LURB_PENDING_CAP];
	size_t nown = 0;
	for (size_t it = 0; (e = bc_ptab_next(&l->pending, &it));)
		if (e->origin == self) {
			own[nown++] = e->seq;
			if (e->seq > l->lsn)
				l->lsn = e->seq;
		}
	for (size_t i = 1; i < nown; i++) /* insertion sort: at most LURB_PENDING_CAP */
		for (size_t j = i; j > 0 && own[j - 1] > own[j]; j--) {
			uint64_t t = own[j];
			own[j] = own[j - 1];
			own[j - 1] = t;
		}
	uint64_t stored_lsn = 0;
	if (nown && (bc_retrieve_u64(n, "lurb/lsn", &stored_lsn) != 0 || stored_lsn < l->lsn))
		(void)bc_store_u64(n, "lurb/lsn", l->lsn); /* the slot survived, lsn did not: keep
							    * it, or a later collection forgets it */
	for (size_t i = 0; i < nown; i++) {
		struct bc_pend *mine = bc_ptab_find(&l->pending, self, 0, own[i]);
		struct bc_hdr h;
		const uint8_t *p;
		size_t len;
		if (mine && lurb_parse(n, mine->msg, &h, &p, &len) == 0)
			bc_out_bcast_replay(&l->m, h.seq, p, len);
	}
	/* "upon Recovery": the delivery log is the upper layer's to read again. A delivery logged
	 * in a batch whose outputs the crash lost (the state reached the disk, the announcement
	 * never left) would otherwise be known to nobody above: announce every logged delivery
	 * still pending again, marked as a replay (recorders keep the first). Collected entries
	 * are not among them: an entry is collected only once the batch that delivered it is
	 * synced (lurb_progress), so its announcement had left. */
	for (size_t it = 0; (e = bc_ptab_next(&l->pending, &it));) {
		struct bc_hdr h;
		const uint8_t *p;
		size_t len;
		if (bc_win_has(&l->win[e->origin], e->seq) &&
		    lurb_parse(n, e->msg, &h, &p, &len) == 0)
			bc_out_replay(&l->m, h.origin, h.seq, p, len);
	}
}

static void lurb_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct lurb *l = (struct lurb *)m;
	struct strata_node *n = m->node;
	uint64_t period = (uint64_t)strata_node_config(n)->heartbeat_ms * 1000;
	switch (ev->type) {
	case STRATA_EV_INIT:
		if (ev->arg == 1)
			lurb_recover(l);
		strata_timer_arm_in(n, &l->tick, period);
		break;
	case STRATA_EV_TIMER: {
		struct bc_pend *e;
		for (size_t it = 0; (e = bc_ptab_next(&l->pending, &it));)
			lurb_send_all(l, e);
		strata_timer_arm_in(n, &l->tick, period);
		break;
	}
	case STRATA_EV_FLL_DELIVER:
	case STRATA_EV_SL_DELIVER:
		if (ev->msg)
			lurb_recv(l, ev);
		break;
	default:
		break;
	}
}

static int lurb_request(struct strata_module *m, const struct strata_request *req)
{
	struct lurb *l = (struct lurb *)m;
	struct strata_node *n = m->node;
	int rc = bc_check_request(req, bc_fll_payload_max(n, 0));
	if (rc)
		return rc;
	if (bc_ptab_len(&l->pending) >= bc_ptab_cap(&l->pending))
		return STRATA_EFULL;
	struct bc_hdr h = { BC_DATA, strata_node_id(n), 0, l->lsn + 1 };
	struct strata_msg *msg = bc_encode_data(&h, req->value, req->value_len);
	if (!msg)
		return STRATA_ENOMEM;
	/* The pending slot is written before lsn: a crash that keeps only a prefix of the batch's
	 * writes keeps lsn only with the message, so no sequence number is skipped (recovery takes
	 * lsn above every own pending message, in case the slot was kept and lsn was not). */
	struct bc_pend *e = lurb_add(l, &h, msg);
	strata_msg_unref(msg);
	if (!e)
		return STRATA_EIO;
	if (bc_store_u64(n, "lurb/lsn", h.seq) != 0) {
		lurb_del(l, e);
		return STRATA_EIO;
	}
	l->lsn++;
	e->ack = bc_bit(h.origin);
	bc_out_bcast(m, h.seq, req->value, req->value_len, NULL, 0);
	lurb_send_all(l, e);
	(void)lurb_progress(l, e);
	strata_node_reply(n, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

static void lurb_destroy(struct strata_module *m)
{
	struct lurb *l = (struct lurb *)m;
	strata_timer_disarm(m->node, &l->tick);
	bc_ptab_free(&l->pending);
	free(l->win);
	free(l);
}

static const struct strata_module_ops lurb_ops = {
	.name = "lurb", .handle = lurb_handle, .request = lurb_request, .destroy = lurb_destroy,
};

struct strata_module *bc_lurb_create(struct strata_node *n, char *err, size_t errlen)
{
	struct lurb *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->win = calloc(strata_node_n(n) + 1, sizeof(*l->win));
	if (!l->win || bc_ptab_init(&l->pending, "lurb pending", LURB_PENDING_CAP) != 0) {
		free(l->win);
		free(l);
		return NULL;
	}
	strata_node_add_module(n, &l->m, &lurb_ops, BC_WIRE_LURB);
	strata_timer_init(&l->tick, &l->m, 1, 0);
	return &l->m;
}
