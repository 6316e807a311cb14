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
 * frame.
 *
 * Stackable (bcast/bcast.h, lurb.h), as the book stacks Logged Uniform Total-Order Broadcast on
 * it (Alg. 6.12, "uses LoggedUniformReliableBroadcast, instance lurb"): at most LURB_INST_CAP
 * instances, instance 0 the client-facing one. Each instance has its own sequence numbers and
 * delivered windows ("lurb/lsn", "lurb/d/<s>" for instance 0; "lurb/lsn/<id>", "lurb/d/<id>/<s>"
 * for instance id, hex), read when the instance is created, so an upper names a message by
 * (sender, seq) of its own instance for the node's whole life. lurb names its messages by
 * (sender, seq) and has no incarnation to carry: the header's incarnation field carries the
 * instance id instead (0 for the client-facing instance, so its wire format is unchanged), in DATA
 * and DONE alike, and the pending table is keyed by (sender, instance, seq); every instance shares
 * the LURB_PENDING_CAP slots. A log-delivery of an upper instance goes up as a Deliver indication
 * to the instance's subscribers. The upper's own log of it is what makes it "logged" at this
 * process: until the upper calls bc_lurb_release (in the turn-batch that logs it above), this
 * process does not tell the others it has logged the delivery, so the entry is not collected and
 * its payload stays; after a recovery every logged delivery still pending goes up again (marked
 * replay) for the upper to take idempotently and release again (release is volatile, rebuilt from
 * the upper's own log). The upper finds its own broadcasts still pending after a recovery with
 * bc_lurb_own_pending (to announce them again). Storage (lsn, windows, pending slots) is read when
 * the module is created, before any module's Init, so an upper may ask during its own recovery. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcast/common.h"
#include "bcast/lurb.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"
#include "links/links.h"

#define LURB_PENDING_CAP 256
#define LURB_INST_CAP 4

struct lurb_inst {
	uint64_t id;
	struct bc_subs up;  /* upper instances: who gets the Deliver indications (lazily) */
	uint64_t lsn;       /* this instance's last own sequence number (stable) */
	struct bc_win *win; /* [n+1]: delivered windows, one per sender (stable) */
};

struct lurb {
	struct strata_module m;
	struct lurb_inst inst[LURB_INST_CAP];
	unsigned ninst;
	struct bc_ptab pending;
	bool slot_used[LURB_PENDING_CAP];
	bool released[LURB_PENDING_CAP]; /* the upper logged the delivery (instance 0: always) */
	struct strata_timer tick;
};

static void slot_key(char *key, size_t len, uint32_t slot)
{
	snprintf(key, len, "lurb/p/%u", slot);
}

static void win_key(char *key, size_t len, uint64_t inst, uint32_t s)
{
	if (inst == 0)
		snprintf(key, len, "lurb/d/%u", s);
	else
		snprintf(key, len, "lurb/d/%llx/%u", (unsigned long long)inst, s);
}

static void lsn_key(char *key, size_t len, uint64_t inst)
{
	if (inst == 0)
		snprintf(key, len, "lurb/lsn");
	else
		snprintf(key, len, "lurb/lsn/%llx", (unsigned long long)inst);
}

static int lurb_parse(const struct strata_node *n, const struct strata_msg *msg, struct bc_hdr *h,
		      const uint8_t **p, size_t *len)
{
	return bc_parse_data(msg, strata_node_n(n), msg->len, h, p, len);
}

static struct lurb_inst *lurb_find(struct lurb *l, uint64_t id)
{
	for (unsigned k = 0; k < l->ninst; k++)
		if (l->inst[k].id == id)
			return &l->inst[k];
	return NULL;
}

/* Finds or creates instance id, its lsn and windows read from stable storage (absent: new).
 * NULL when LURB_INST_CAP instances exist or memory runs out. Subscribers are added by open, or
 * found at the first delivery (lurb_subs). */
static struct lurb_inst *lurb_inst(struct lurb *l, uint64_t id)
{
	struct lurb_inst *i = lurb_find(l, id);
	if (i || l->ninst == LURB_INST_CAP)
		return i;
	struct strata_node *n = l->m.node;
	struct bc_win *win = calloc(strata_node_n(n) + 1, sizeof(*win));
	if (!win)
		return NULL;
	i = &l->inst[l->ninst++];
	*i = (struct lurb_inst){ .id = id, .win = win };
	char key[64];
	lsn_key(key, sizeof(key), id);
	(void)bc_retrieve_u64(n, key, &i->lsn);
	for (uint32_t s = 1; s <= strata_node_n(n); s++) {
		win_key(key, sizeof(key), id, s);
		(void)bc_retrieve_win(n, key, &i->win[s]);
	}
	return i;
}

/* The subscribers of an upper instance, found on first need (a peer's message or a recovered
 * slot can name an instance before its upper opened it). 0 or STRATA_ENOENT. */
static int lurb_subs(struct lurb *l, struct lurb_inst *i)
{
	if (i->id == 0 || i->up.n > 0)
		return 0;
	return bc_subs_default(&l->m, i->id, &i->up);
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
	struct bc_pend *e = bc_ptab_add(&l->pending, h->origin, h->inc, h->seq, msg);
	STRATA_ASSERT(e); /* slots and table have the same capacity */
	e->slot = slot;
	l->slot_used[slot] = true;
	l->released[slot] = h->inc == 0;
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

/* trigger <lurb, Deliver | s, m> (replay: announced again after a recovery). */
static void lurb_deliver(struct lurb *l, struct lurb_inst *i, struct bc_pend *e, bool replay)
{
	struct strata_node *n = l->m.node;
	struct bc_hdr h;
	const uint8_t *p;
	size_t len;
	STRATA_ASSERT(lurb_parse(n, e->msg, &h, &p, &len) == 0);
	if (i->id == 0) {
		if (replay)
			bc_out_replay(&l->m, h.origin, h.seq, p, len);
		else
			bc_out_deliver(&l->m, h.origin, 0, h.seq, p, len, NULL, 0);
		return;
	}
	if (lurb_subs(l, i) != 0) {
		strata_node_counters(n)->rej_module++;
		strata_trace(n, "lurb", "delivery %u/%llu for instance %llx without an upper -> held",
			     h.origin, (unsigned long long)h.seq, (unsigned long long)i->id);
		return;
	}
	struct strata_deliver d = { .origin = h.origin, .seq = h.seq, .data = p, .len = len,
				    .replay = replay };
	bc_subs_indicate(&l->m, &i->up, i->id, e->msg, &d);
}

/* Delivers e if a majority acknowledged it; collects it if everyone logged it. Returns false
 * when e was removed. */
static bool lurb_progress(struct lurb *l, struct bc_pend *e)
{
	struct strata_node *n = l->m.node;
	uint32_t nn = strata_node_n(n), self = strata_node_id(n);
	struct lurb_inst *i = lurb_find(l, e->inc);
	STRATA_ASSERT(i); /* entries are added for existing instances only */
	struct bc_win *w = &i->win[e->origin];
	if (!bc_win_has(w, e->seq) && (uint32_t)__builtin_popcountll(e->ack) * 2 > nn) {
		struct bc_win saved = *w;
		bc_win_add(w, e->seq);
		char key[64];
		win_key(key, sizeof(key), i->id, e->origin);
		if (bc_store_win(n, key, w) != 0) {
			*w = saved; /* not logged: not delivered; retried on the next copy */
		} else {
			lurb_deliver(l, i, e, false);
			e->dlv_batch = strata_node_counters(n)->batches + 1;
		}
	}
	if (bc_win_has(w, e->seq) && l->released[e->slot])
		e->done |= bc_bit(self);
	/* Not collected before the turn-batch that delivered it (or, for an upper instance, that
	 * logged it above) is synced: a crash that keeps a prefix of the unsynced writes (the
	 * delivery log, then the emptied slot) but loses the outputs would leave a logged delivery
	 * that recovery cannot announce again (its payload gone). Once that batch is synced, its
	 * outputs have left (released in order). Batch tickets: the open batch is number
	 * batches + 1; batches - unsynced are synced. */
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
	struct bc_hdr d = { BC_DONE, h->origin, h->inc, h->seq };
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
	uint64_t flag = (e->done & bc_bit(self)) ? 1 : 0; /* logged here (and above) */
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
		struct bc_pend *e = bc_ptab_find(&l->pending, h.origin, h.inc, h.seq);
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
	struct bc_pend *e = bc_ptab_find(&l->pending, h.origin, h.inc, h.seq);
	if (!e) {
		struct lurb_inst *i = lurb_find(l, h.inc);
		if (!i) {
			/* A new instance: only for an upper algorithm this node runs. */
			struct bc_subs s = { .n = 0 };
			if (h.inc == 0 || bc_subs_default(&l->m, h.inc, &s) != 0 ||
			    !(i = lurb_inst(l, h.inc))) {
				strata_node_counters(n)->rej_module++;
				strata_trace(n, "lurb", "DATA from %u for instance %llx: %s -> dropped", p,
					     (unsigned long long)h.inc,
					     l->ninst == LURB_INST_CAP ? "instance table full"
								       : "no upper module here");
				return;
			}
			(void)lurb_subs(l, i);
		}
		if (bc_win_has(&i->win[h.origin], h.seq)) {
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

/* Reads the pending slots (at creation: an upper may ask for its own pending broadcasts during
 * its own recovery). Own pending messages raise their instance's lsn (the slot survived a crash
 * that lost lsn); lurb_recover stores it. */
static void lurb_load(struct lurb *l)
{
	struct strata_node *n = l->m.node;
	uint32_t self = strata_node_id(n);
	for (uint32_t slot = 0; slot < LURB_PENDING_CAP; slot++) {
		char key[32];
		slot_key(key, sizeof(key), slot);
		struct strata_msg *msg = NULL;
		if (strata_retrieve(n, key, &msg) != 0)
			continue;
		struct bc_hdr h;
		const uint8_t *p;
		size_t len;
		struct lurb_inst *i;
		if (msg->len > 0 && lurb_parse(n, msg, &h, &p, &len) == 0 &&
		    (i = lurb_inst(l, h.inc)) != NULL &&
		    !bc_ptab_find(&l->pending, h.origin, h.inc, h.seq)) {
			struct bc_pend *e = bc_ptab_add(&l->pending, h.origin, h.inc, h.seq, msg);
			e->slot = slot;
			e->ack = bc_bit(self);
			l->slot_used[slot] = true;
			l->released[slot] = h.inc == 0;
			if (h.origin == self && h.seq > i->lsn)
				i->lsn = h.seq;
		}
		strata_msg_unref(msg);
	}
}

/* The own pending messages of instance i in sequence order (seq[], at most LURB_PENDING_CAP). */
static size_t lurb_own(struct lurb *l, uint64_t inst, uint64_t *own)
{
	uint32_t self = strata_node_id(l->m.node);
	size_t nown = 0;
	struct bc_pend *e;
	for (size_t it = 0; (e = bc_ptab_next(&l->pending, &it));)
		if (e->origin == self && e->inc == inst)
			own[nown++] = e->seq;
	for (size_t i = 1; i < nown; i++) /* insertion sort: at most LURB_PENDING_CAP */
		for (size_t j = i; j > 0 && own[j - 1] > own[j]; j--) {
			uint64_t t = own[j];
			own[j] = own[j - 1];
			own[j - 1] = t;
		}
	return nown;
}

static void lurb_recover(struct lurb *l)
{
	struct strata_node *n = l->m.node;
	uint32_t self = strata_node_id(n);
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
	/* The slot survived, lsn did not: keep it, or a later collection forgets it. */
	for (unsigned k = 0; k < l->ninst; k++) {
		struct lurb_inst *i = &l->inst[k];
		char key[64];
		uint64_t stored_lsn = 0;
		lsn_key(key, sizeof(key), i->id);
		if (i->lsn && (bc_retrieve_u64(n, key, &stored_lsn) != 0 || stored_lsn < i->lsn))
			(void)bc_store_u64(n, key, i->lsn);
	}
	/* An own broadcast logged (lsn and pending slot) in a batch whose outputs the crash lost
	 * was never announced as broadcast, yet it goes out now: announce every own broadcast still
	 * pending again, in sequence order, marked as a replay (recorders keep the first). An own
	 * broadcast no longer pending was collected, hence delivered everywhere, hence sent, hence
	 * announced (its BCAST output left with the batch that sent it). Upper instances: the
	 * upper announces its own (bc_lurb_own_pending). */
	uint64_t own[LURB_PENDING_CAP];
	size_t nown = lurb_own(l, 0, own);
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
	 * still pending again, marked as a replay (recorders and uppers keep the first). Collected
	 * entries are not among them: an entry is collected only once the batch that delivered it
	 * (and logged it above) is synced (lurb_progress), so its announcement had left. */
	for (size_t it = 0; (e = bc_ptab_next(&l->pending, &it));) {
		struct lurb_inst *i = lurb_find(l, e->inc);
		if (i && bc_win_has(&i->win[e->origin], e->seq))
			lurb_deliver(l, i, e, true);
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

/* upon event <lurb, Broadcast | m> on instance i: log it pending, send it to all. */
static int lurb_send(struct lurb *l, struct lurb_inst *i, const uint8_t *v, size_t len,
		     uint64_t *seq)
{
	struct strata_node *n = l->m.node;
	if (len > bc_fll_payload_max(n, 0))
		return STRATA_ETOOBIG;
	if (bc_ptab_len(&l->pending) >= bc_ptab_cap(&l->pending))
		return STRATA_EFULL;
	struct bc_hdr h = { BC_DATA, strata_node_id(n), i->id, i->lsn + 1 };
	struct strata_msg *msg = bc_encode_data(&h, v, len);
	if (!msg)
		return STRATA_ENOMEM;
	/* The pending slot is written before lsn: a crash that keeps only a prefix of the batch's
	 * writes keeps lsn only with the message, so no sequence number is skipped (recovery takes
	 * lsn above every own pending message, in case the slot was kept and lsn was not). */
	struct bc_pend *e = lurb_add(l, &h, msg);
	strata_msg_unref(msg);
	if (!e)
		return STRATA_EIO;
	char key[64];
	lsn_key(key, sizeof(key), i->id);
	if (bc_store_u64(n, key, h.seq) != 0) {
		lurb_del(l, e);
		return STRATA_EIO;
	}
	i->lsn++;
	e->ack = bc_bit(h.origin);
	*seq = h.seq;
	if (i->id == 0)
		bc_out_bcast(&l->m, h.seq, v, len, NULL, 0);
	lurb_send_all(l, e);
	(void)lurb_progress(l, e);
	return 0;
}

static int lurb_request(struct strata_module *m, const struct strata_request *req)
{
	struct lurb *l = (struct lurb *)m;
	int rc = bc_check_request(req, bc_fll_payload_max(m->node, 0));
	if (rc)
		return rc;
	uint64_t seq = 0;
	rc = lurb_send(l, &l->inst[0], req->value, req->value_len, &seq);
	if (rc)
		return rc;
	strata_node_reply(m->node, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

/* ---- the stackable interface (bcast.h, lurb.h) ---- */

static int lurb_iface_open(struct strata_module *m, uint64_t inst, struct strata_module *upper)
{
	if (inst == 0)
		return STRATA_EINVAL;
	struct lurb_inst *i = lurb_inst((struct lurb *)m, inst);
	return i ? bc_subs_add(&i->up, upper) : STRATA_EFULL;
}

static int lurb_iface_broadcast(struct strata_module *m, uint64_t inst, const uint8_t *data,
				size_t len)
{
	return bc_lurb_broadcast(&(struct bcast_lower){ .m = m, .inst = inst }, data, len, NULL);
}

static size_t lurb_iface_payload_max(const struct strata_module *m)
{
	return bc_fll_payload_max(m->node, 0);
}

static void lurb_destroy(struct strata_module *m)
{
	struct lurb *l = (struct lurb *)m;
	strata_timer_disarm(m->node, &l->tick);
	bc_ptab_free(&l->pending);
	for (unsigned k = 0; k < l->ninst; k++)
		free(l->inst[k].win);
	free(l);
}

static const struct bcast_iface lurb_iface = {
	.open = lurb_iface_open,
	.broadcast = lurb_iface_broadcast,
	.payload_max = lurb_iface_payload_max,
};

static const struct strata_module_ops lurb_ops = {
	.name = "lurb", .handle = lurb_handle, .request = lurb_request, .destroy = lurb_destroy,
	.iface = &lurb_iface,
};

static struct lurb *lurb_of(const struct bcast_lower *lower)
{
	STRATA_ASSERT(lower->m && lower->m->ops == &lurb_ops);
	return (struct lurb *)lower->m;
}

int bc_lurb_broadcast(const struct bcast_lower *lower, const uint8_t *data, size_t len,
		      uint64_t *seq)
{
	struct lurb *l = lurb_of(lower);
	struct lurb_inst *i = lurb_find(l, lower->inst);
	if (!i || lower->inst == 0)
		return STRATA_EINVAL;
	uint64_t s = 0;
	int rc = lurb_send(l, i, data, len, &s);
	if (rc == 0 && seq)
		*seq = s;
	return rc;
}

void bc_lurb_release(const struct bcast_lower *lower, uint32_t origin, uint64_t seq)
{
	struct lurb *l = lurb_of(lower);
	struct lurb_inst *i = lurb_find(l, lower->inst);
	struct bc_pend *e = bc_ptab_find(&l->pending, origin, lower->inst, seq);
	if (!i || !e || !bc_win_has(&i->win[origin], seq))
		return;
	l->released[e->slot] = true;
	uint64_t batch = strata_node_counters(l->m.node)->batches + 1;
	if (e->dlv_batch < batch)
		e->dlv_batch = batch; /* collected only once the upper's log of it is synced */
	(void)lurb_progress(l, e);
}

void bc_lurb_own_pending(const struct bcast_lower *lower,
			 void (*fn)(void *arg, uint64_t seq, const uint8_t *data, size_t len),
			 void *arg)
{
	struct lurb *l = lurb_of(lower);
	uint64_t own[LURB_PENDING_CAP];
	size_t nown = lurb_own(l, lower->inst, own);
	uint32_t self = strata_node_id(l->m.node);
	for (size_t k = 0; k < nown; k++) {
		struct bc_pend *e = bc_ptab_find(&l->pending, self, lower->inst, own[k]);
		struct bc_hdr h;
		const uint8_t *p;
		size_t len;
		if (e && lurb_parse(l->m.node, e->msg, &h, &p, &len) == 0)
			fn(arg, h.seq, p, len);
	}
}

struct strata_module *bc_lurb_create(struct strata_node *n, char *err, size_t errlen)
{
	struct lurb *l = calloc(1, sizeof(*l));
	if (!l || bc_ptab_init(&l->pending, "lurb pending", LURB_PENDING_CAP) != 0) {
		free(l);
		snprintf(err, errlen, "lurb: out of memory");
		return NULL;
	}
	strata_node_add_module(n, &l->m, &lurb_ops, strata_wire_id("lurb"));
	strata_timer_init(&l->tick, &l->m, 1, 0);
	if (!lurb_inst(l, 0)) {
		snprintf(err, errlen, "lurb: out of memory");
		return NULL; /* the node owns l now and frees it */
	}
	lurb_load(l);
	return &l->m;
}
