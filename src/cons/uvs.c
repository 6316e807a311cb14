/* Uniform view-synchronous communication, book Alg. 6.10-6.11 "Consensus-Based Uniform View
 * Synchrony" (module uvs).
 *
 * Specification (Module 6.7, uniform view-synchronous communication):
 *   Request:    <uvs, Broadcast | m>
 *   Indication: <uvs, Deliver | p, m>      delivered in the current view
 *   Indication: <uvs, View | V>            V = (id, M)
 *   Indication: <uvs, Block>, Request: <uvs, BlockOk>
 *   VS1 View inclusion: if some process delivers a message m from process p in view V, then m
 *       was broadcast by p in view V. (Hence same-view delivery: every process that delivers m
 *       delivers it in the same view.)
 *   VS2-VS5: GM1-GM4 of group membership (monotonicity, uniform agreement, completeness,
 *       accuracy: gm.c) for the views it installs.
 *   VS6-VS9: URB1-URB4 of uniform reliable broadcast (validity, no duplication, no creation,
 *       uniform agreement: if some process delivers m in view V, then every correct process
 *       delivers m, in V).
 *
 * Implementation (uses UniformConsensus, multiple instances uc.i; BestEffortBroadcast beb;
 * PerfectFailureDetector P):
 *   upon <uvs, Init> do (vid, M) := (0, Π); correct := Π; flushing := blocked := wait := FALSE;
 *       pending := delivered := ∅; ack[m] := ∅ for all m; seen := [⊥]^N;
 *       trigger <uvs, View | (vid, M)>;
 *   upon <uvs, Broadcast | m> such that blocked = FALSE do
 *       pending := pending ∪ {(self, m)}; trigger <beb, Broadcast | [DATA, vid, self, m]>;
 *   upon <beb, Deliver | p, [DATA, id, s, m]> do
 *       if id = vid ∧ blocked = FALSE then
 *           ack[m] := ack[m] ∪ {p};
 *           if (s, m) ∉ pending then
 *               pending := pending ∪ {(s, m)}; trigger <beb, Broadcast | [DATA, vid, s, m]>;
 *   upon exists (s, m) ∈ pending such that M ⊆ ack[m] ∧ m ∉ delivered do
 *       delivered := delivered ∪ {m}; trigger <uvs, Deliver | s, m>;
 *   upon <P, Crash | p> do correct := correct \ {p};
 *   upon exists p ∈ M \ correct ∧ flushing = FALSE do
 *       flushing := TRUE; trigger <uvs, Block>;
 *   upon <uvs, BlockOk> do
 *       blocked := TRUE; trigger <beb, Broadcast | [PENDING, vid, pending]>;
 *   upon <beb, Deliver | p, [PENDING, id, pd]> such that id = vid do seen[p] := pd;
 *   upon (forall p ∈ correct ∩ M: seen[p] ≠ ⊥) ∧ blocked = TRUE ∧ wait = FALSE do
 *       wait := TRUE; trigger <uc.(vid + 1), Propose | (correct ∩ M, seen)>;
 *   upon <uc.i, Decide | (M', S)> such that i = vid + 1 do
 *       forall (s, m) ∈ ∪ S such that m ∉ delivered do
 *           delivered := delivered ∪ {m}; trigger <uvs, Deliver | s, m>;
 *       (vid, M) := (i, M'); flushing := blocked := wait := FALSE;
 *       pending := delivered := ∅; ack := ∅; seen := [⊥]^N;
 *       trigger <uvs, View | (vid, M)>;
 *
 * Why it works. m is delivered in view V only once every member of V acknowledged it, so every
 * member had m in pending when it blocked; the new view M' is a non-empty subset of V's members
 * whose pending sets all are in the decided S, so every process that installs the next view
 * delivers m in V first. A process stops taking DATA of view V when it blocks, and DATA names
 * its view: nothing is delivered in a later view.
 *
 * Departures and choices:
 *   - Block / BlockOk: the application here is the client interface, which has nothing to
 *     flush; BlockOk is given at once. A Broadcast asked while blocked waits (the book's "such
 *     that blocked = FALSE") in a queue of UVS_HELD_MAX requests and is broadcast in the next
 *     view; beyond, EFULL.
 *   - The proposal carries correct ∩ M (as gm.c: views only shrink) and, for S, the union of
 *     the pending sets seen (every PENDING of view vid received, crashed senders' included): a
 *     superset of the book's, all of whose messages were broadcast in vid, so VS1 is kept and
 *     the union is what the decision's handler delivers anyway. It keeps the value to one copy
 *     of each message.
 *   - Messages are named (s, seq): seq counts s's broadcasts in the view; DATA and PENDING of a
 *     later view (a process that installed it first) are kept (UVS_EARLY_MAX messages) and
 *     handled when this process installs that view; those of an earlier view are dropped.
 *   - Decisions of uc.i for i > vid + 1 are kept (at most STRATA_MAX_NODES: a view loses a
 *     member each time) and installed in order; one reached before this module existed at the
 *     node is fetched from uc's decided cache when it proposes there.
 *   - A restarted node is a new process that this fail-stop algorithm never admits again.
 * Bounds: pending holds at most UVS_PEND_MAX messages per view, at most UVS_PEND_MAX / N and
 * value_max / N bytes per sender (a sender refuses a Broadcast beyond that with EFULL, a
 * process drops and counts a DATA beyond it: never from a correct sender), so that the
 * decided value (all of them) fits one consensus value. Memory: O(UVS_PEND_MAX) messages.
 *
 * View (i, M) is consensus instance (CONS_SPACE_VS << 48) | i of the node's uniform consensus
 * (uhier, Alg. 5.4). Model: fail-stop (P), any f < N.
 * Wire: beb payloads [u8 DATA=1][varint vid][varint s][varint seq][bytes m] and
 * [u8 PENDING=2][varint vid][varint count][count x (varint s, varint seq, bytes m)]; the
 * consensus value [varint M'][varint count][count x (s, seq, m)].
 * Client: BROADCAST value = m -> reply [varint vid][varint seq][varint this node] once this
 * node delivered m;
 * READ -> [varint vid][varint M]. Outputs: STRATA_OUT_BCAST on a Broadcast (a = vid, b = seq,
 * data = m), STRATA_OUT_DELIVER on a Deliver (peer = s, a = vid, b = seq, data = m, text
 * "deliver") and on a View (peer = this node, a = vid, b = M as a bitmask, data "1,2,4", text
 * "view"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcast/bcast.h"
#include "cons/cons.h"
#include "cons/variants.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"

#define UVS_PEND_MAX 256u
#define UVS_HELD_MAX 64u
#define UVS_EARLY_MAX 256u
#define UVS_DPEND (STRATA_MAX_NODES + 2)

enum { UVS_DATA = 1, UVS_PENDING = 2 };

struct uvs_msg {
	uint32_t s;
	uint64_t seq;
	struct strata_msg *m;
	uint64_t ack;   /* processes whose DATA for it arrived (bit q-1) */
	bool delivered;
	bool relayed;   /* this process sent DATA for it (its own, or the relay) */
	uint64_t req;   /* the client waiting for its delivery here (0 none) */
};

struct uvs_held {
	uint64_t req;
	struct strata_msg *m;
};

struct uvs_early {
	uint32_t from;
	uint64_t vid;
	struct strata_msg *frame;
};

struct uvs {
	struct strata_module m;
	struct bcast_lower beb;
	struct strata_module *uc;
	uint32_t n;
	uint64_t vid, members, correct;
	bool flushing, blocked, wait, announced;
	uint64_t seen;                    /* processes whose PENDING of vid arrived */
	uint64_t nextseq;                 /* this process's broadcasts in vid */
	struct uvs_msg pend[UVS_PEND_MAX]; /* pending (delivered ones stay until the view ends) */
	uint32_t npend;
	uint32_t per_sender[STRATA_MAX_NODES + 1];
	size_t bytes[STRATA_MAX_NODES + 1];
	size_t sender_bytes_max;
	struct uvs_held held[UVS_HELD_MAX];
	uint32_t nheld;
	struct uvs_early early[UVS_EARLY_MAX];
	uint32_t nearly;
	struct strata_msg *dec[UVS_DPEND]; /* decided, not installed: dec[i - vid] for view i */
	uint64_t dropped, test_late_delivered;
	bool test_late; /* TEST ONLY: deliver DATA of an earlier view in the current one */
	bool test_early; /* TEST ONLY: a sender delivers its own message at once (no relays) */
};

static uint64_t uc_inst(uint64_t i)
{
	return CONS_SPACE_VS << CONS_SPACE_BITS | i;
}

static void uvs_output_view(struct uvs *u)
{
	char text[STRATA_MAX_NODES * 4 + 1];
	size_t len = 0;
	text[0] = 0;
	for (uint32_t q = 1; q <= u->n; q++)
		if (u->members & cons_bit(q))
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%u", len ? "," : "", q);
	strata_trace(u->m.node, "uvs", "view %llu: %s", (unsigned long long)u->vid, text);
	struct strata_output o = {
		.kind = STRATA_OUT_DELIVER, .module = u->m.wire_id, .module_name = "uvs",
		.peer = strata_node_id(u->m.node), .a = u->vid, .b = u->members,
		.data = (const uint8_t *)text, .len = len, .text = "view",
	};
	strata_output(u->m.node, &o);
}

static void uvs_announce0(struct uvs *u)
{
	if (!u->announced) {
		u->announced = true;
		uvs_output_view(u);
	}
}

/* Replies [varint a][varint b] (+ [varint c] when c != 0). */
static void uvs_reply(struct uvs *u, uint64_t req, uint64_t a, uint64_t b, uint64_t c)
{
	uint8_t buf[32];
	struct strata_wr w;
	strata_wr_init(&w, sizeof(buf));
	strata_wr_u64(&w, a);
	strata_wr_u64(&w, b);
	if (c)
		strata_wr_u64(&w, c);
	if (!w.err)
		strata_node_reply(u->m.node, &u->m, req, 0, STRATA_REPLY_FOUND, w.buf, w.len, NULL);
	else
		strata_node_reply(u->m.node, &u->m, req, w.err, 0, NULL, 0, NULL);
	strata_wr_free(&w);
}

/* trigger <uvs, Deliver | s, m> in the current view */
static void uvs_deliver(struct uvs *u, struct uvs_msg *e)
{
	e->delivered = true;
	strata_trace(u->m.node, "uvs", "view %llu: deliver (%u, %llu)", (unsigned long long)u->vid,
		     e->s, (unsigned long long)e->seq);
	struct strata_output o = {
		.kind = STRATA_OUT_DELIVER, .module = u->m.wire_id, .module_name = "uvs",
		.peer = e->s, .a = u->vid, .b = e->seq, .data = e->m->data, .len = e->m->len,
		.text = "deliver",
	};
	strata_output(u->m.node, &o);
	if (e->req) {
		uvs_reply(u, e->req, u->vid, e->seq, strata_node_id(u->m.node));
		e->req = 0;
	}
}

static struct uvs_msg *uvs_find(struct uvs *u, uint32_t s, uint64_t seq)
{
	for (uint32_t k = 0; k < u->npend; k++)
		if (u->pend[k].s == s && u->pend[k].seq == seq)
			return &u->pend[k];
	return NULL;
}

/* pending := pending ∪ {(s, m)}: NULL (counted) if s's share of the bounds is used up. */
static struct uvs_msg *uvs_add(struct uvs *u, uint32_t s, uint64_t seq, const uint8_t *m,
			       size_t len)
{
	if (u->npend >= UVS_PEND_MAX || u->per_sender[s] >= UVS_PEND_MAX / u->n ||
	    u->bytes[s] + len > u->sender_bytes_max) {
		u->dropped++;
		strata_trace(u->m.node, "uvs", "view %llu: (%u, %llu) beyond the sender's share -> dropped",
			     (unsigned long long)u->vid, s, (unsigned long long)seq);
		return NULL;
	}
	struct strata_msg *msg = strata_msg_new(m, len);
	if (!msg)
		return NULL;
	struct uvs_msg *e = &u->pend[u->npend++];
	*e = (struct uvs_msg){ .s = s, .seq = seq, .m = msg };
	u->per_sender[s]++;
	u->bytes[s] += len;
	return e;
}

/* upon exists (s, m) ∈ pending such that M ⊆ ack[m] ∧ m ∉ delivered do deliver */
static void uvs_try_deliver(struct uvs *u, struct uvs_msg *e)
{
	if (!e->delivered && (u->members & ~e->ack) == 0)
		uvs_deliver(u, e);
}

static int uvs_send_data(struct uvs *u, uint32_t s, uint64_t seq, const struct strata_msg *m)
{
	struct strata_wr w;
	strata_wr_init(&w, m->len + 40);
	strata_wr_u8(&w, UVS_DATA);
	strata_wr_u64(&w, u->vid);
	strata_wr_u64(&w, s);
	strata_wr_u64(&w, seq);
	strata_wr_bytes(&w, m->data, m->len);
	int rc = w.err ? w.err : bcast_broadcast(&u->beb, w.buf, w.len);
	strata_wr_free(&w);
	return rc;
}

/* upon <uvs, Broadcast | m> such that blocked = FALSE do
 *     pending := pending ∪ {(self, m)}; trigger <beb, Broadcast | [DATA, vid, self, m]> */
static int uvs_broadcast(struct uvs *u, uint64_t req, const uint8_t *m, size_t len)
{
	uint32_t self = strata_node_id(u->m.node);
	uint64_t seq = u->nextseq + 1;
	struct uvs_msg *e = uvs_add(u, self, seq, m, len);
	if (!e)
		return STRATA_EFULL;
	int rc = uvs_send_data(u, self, seq, e->m);
	if (rc) {
		strata_msg_unref(e->m);
		u->npend--;
		u->per_sender[self]--;
		u->bytes[self] -= len;
		return rc;
	}
	u->nextseq = seq;
	e->req = req;
	e->relayed = true;
	struct strata_output o = {
		.kind = STRATA_OUT_BCAST, .module = u->m.wire_id, .module_name = "uvs",
		.peer = self, .a = u->vid, .b = seq, .data = m, .len = len,
	};
	strata_output(u->m.node, &o);
	if (u->test_early)
		uvs_deliver(u, e); /* BROKEN VARIANT: without waiting for every member's relay */
	return 0;
}

static void uvs_on_data(struct uvs *u, uint32_t p, uint64_t id, struct strata_rd *r)
{
	uint64_t s = strata_rd_u64(r), seq = strata_rd_u64(r);
	const uint8_t *m;
	size_t len = strata_rd_bytes(r, &m, SIZE_MAX);
	if (!strata_rd_ok(r) || r->off != r->len || s < 1 || s > u->n || seq == 0) {
		strata_node_bad_payload(u->m.node, &u->m, p, "uvs: malformed DATA");
		return;
	}
	if (id < u->vid && u->test_late) {
		/* BROKEN VARIANT: an earlier view's message delivered in this one. */
		struct uvs_msg *e = uvs_find(u, (uint32_t)s, seq);
		if (!e)
			e = uvs_add(u, (uint32_t)s, seq, m, len);
		if (e && !e->delivered) {
			u->test_late_delivered++;
			uvs_deliver(u, e);
		}
		return;
	}
	/* if id = vid ∧ blocked = FALSE then ... */
	if (id != u->vid || u->blocked)
		return;
	struct uvs_msg *e = uvs_find(u, (uint32_t)s, seq);
	if (!e && !(e = uvs_add(u, (uint32_t)s, seq, m, len)))
		return;
	if (!e->relayed) {
		/* (s, m) ∉ pending: pending := pending ∪ {(s, m)}; <beb, Broadcast | [DATA, vid, s, m]>
		 * (an entry taken from a PENDING is relayed on its first DATA all the same) */
		e->relayed = true;
		int rc = uvs_send_data(u, (uint32_t)s, seq, e->m);
		if (rc)
			strata_trace(u->m.node, "uvs", "relay of (%llu, %llu): %s",
				     (unsigned long long)s, (unsigned long long)seq, strata_strerror(rc));
	}
	e->ack |= cons_bit(p); /* ack[m] := ack[m] ∪ {p} */
	uvs_try_deliver(u, e);
}

static void uvs_try_propose(struct uvs *u);

/* upon <beb, Deliver | p, [PENDING, id, pd]> such that id = vid do seen[p] := pd */
static void uvs_on_pending(struct uvs *u, uint32_t p, struct strata_rd *r)
{
	uint64_t count = strata_rd_u64_max(r, UVS_PEND_MAX);
	for (uint64_t k = 0; k < count && strata_rd_ok(r); k++) {
		uint64_t s = strata_rd_u64(r), seq = strata_rd_u64(r);
		const uint8_t *m;
		size_t len = strata_rd_bytes(r, &m, SIZE_MAX);
		if (!strata_rd_ok(r) || s < 1 || s > u->n || seq == 0)
			break;
		if (!uvs_find(u, (uint32_t)s, seq))
			uvs_add(u, (uint32_t)s, seq, m, len);
	}
	if (!strata_rd_ok(r) || r->off != r->len) {
		strata_node_bad_payload(u->m.node, &u->m, p, "uvs: malformed PENDING");
		return;
	}
	u->seen |= cons_bit(p);
	uvs_try_propose(u);
}

static void uvs_on_frame(struct uvs *u, uint32_t p, const uint8_t *data, size_t len);

/* Keeps a frame of a later view for when this process installs it. */
static void uvs_keep_early(struct uvs *u, uint32_t p, uint64_t id, const uint8_t *data,
			   size_t len)
{
	struct strata_msg *f = u->nearly < UVS_EARLY_MAX ? strata_msg_new(data, len) : NULL;
	if (!f) {
		u->dropped++;
		return;
	}
	u->early[u->nearly++] = (struct uvs_early){ .from = p, .vid = id, .frame = f };
}

static void uvs_replay_early(struct uvs *u)
{
	uint32_t k = 0;
	while (k < u->nearly) {
		if (u->early[k].vid > u->vid) {
			k++;
			continue;
		}
		struct uvs_early e = u->early[k];
		u->early[k] = u->early[--u->nearly];
		if (e.vid == u->vid)
			uvs_on_frame(u, e.from, e.frame->data, e.frame->len);
		strata_msg_unref(e.frame);
		k = 0; /* handling a frame may install a view and reorder the list */
	}
}

static void uvs_on_frame(struct uvs *u, uint32_t p, const uint8_t *data, size_t len)
{
	struct strata_rd r;
	strata_rd_init(&r, data, len);
	uint8_t type = strata_rd_u8(&r);
	uint64_t id = strata_rd_u64(&r);
	if (!strata_rd_ok(&r) || (type != UVS_DATA && type != UVS_PENDING)) {
		strata_node_bad_payload(u->m.node, &u->m, p, "uvs: malformed message");
		return;
	}
	if (id > u->vid) {
		uvs_keep_early(u, p, id, data, len);
		return;
	}
	if (type == UVS_DATA)
		uvs_on_data(u, p, id, &r);
	else if (id == u->vid)
		uvs_on_pending(u, p, &r);
}

static void uvs_encode_pending(const struct uvs *u, struct strata_wr *w)
{
	strata_wr_u64(w, u->npend);
	for (uint32_t k = 0; k < u->npend; k++) {
		strata_wr_u64(w, u->pend[k].s);
		strata_wr_u64(w, u->pend[k].seq);
		strata_wr_bytes(w, u->pend[k].m->data, u->pend[k].m->len);
	}
}

static size_t uvs_pending_size(const struct uvs *u)
{
	size_t t = 64;
	for (uint32_t k = 0; k < u->npend; k++)
		t += u->pend[k].m->len + 32;
	return t;
}

/* upon exists p ∈ M \ correct ∧ flushing = FALSE do flushing := TRUE; <uvs, Block>;
 * upon <uvs, BlockOk> do blocked := TRUE; <beb, Broadcast | [PENDING, vid, pending]> */
static void uvs_try_flush(struct uvs *u)
{
	if (u->flushing || !(u->members & ~u->correct))
		return;
	u->flushing = true;
	u->blocked = true; /* BlockOk at once (see the header) */
	strata_trace(u->m.node, "uvs", "view %llu: block, PENDING with %u messages",
		     (unsigned long long)u->vid, u->npend);
	struct strata_wr w;
	strata_wr_init(&w, uvs_pending_size(u));
	strata_wr_u8(&w, UVS_PENDING);
	strata_wr_u64(&w, u->vid);
	uvs_encode_pending(u, &w);
	int rc = w.err ? w.err : bcast_broadcast(&u->beb, w.buf, w.len);
	if (rc)
		strata_trace(u->m.node, "uvs", "PENDING not sent: %s", strata_strerror(rc));
	strata_wr_free(&w);
}

static void uvs_decided(struct uvs *u, uint64_t i, const uint8_t *v, size_t len);

/* upon (forall p ∈ correct ∩ M: seen[p] ≠ ⊥) ∧ wait = FALSE do
 *     wait := TRUE; trigger <uc.(vid + 1), Propose | (correct ∩ M, seen)> */
static void uvs_try_propose(struct uvs *u)
{
	uint64_t next = u->correct & u->members;
	if (!u->blocked || u->wait || (next & ~u->seen) || next == 0)
		return;
	u->wait = true;
	uint64_t i = u->vid + 1;
	struct strata_wr w;
	strata_wr_init(&w, uvs_pending_size(u));
	strata_wr_u64(&w, next);
	uvs_encode_pending(u, &w);
	struct strata_msg *got = NULL;
	int rc = w.err ? w.err
		       : cons_lower_propose_fetch(u->uc, uc_inst(i), w.buf, w.len, &got);
	strata_wr_free(&w);
	if (got) {
		uvs_decided(u, i, got->data, got->len);
		strata_msg_unref(got);
		return;
	}
	if (rc) {
		u->wait = false; /* nothing proposed: the next crash or PENDING retries */
		strata_trace(u->m.node, "uvs", "view %llu: uc propose refused: %s",
			     (unsigned long long)i, strata_strerror(rc));
	}
}

static void uvs_reset_view(struct uvs *u)
{
	for (uint32_t k = 0; k < u->npend; k++) {
		if (u->pend[k].req) /* never: a correct process delivers its own messages */
			strata_node_reply(u->m.node, &u->m, u->pend[k].req, STRATA_ESTATE, 0, NULL, 0,
					  "view changed before delivery");
		strata_msg_unref(u->pend[k].m);
	}
	u->npend = 0;
	memset(u->per_sender, 0, sizeof(u->per_sender));
	memset(u->bytes, 0, sizeof(u->bytes));
	u->nextseq = 0;
	u->seen = 0;
	u->flushing = u->blocked = u->wait = false;
}

/* upon <uc.i, Decide | (M', S)> such that i = vid + 1 do ... (a decided value is checked
 * before it is kept: dec[] holds only well-formed ones) */
static bool uvs_value_ok(const struct uvs *u, const uint8_t *v, size_t len, uint64_t *mm)
{
	struct strata_rd r;
	strata_rd_init(&r, v, len);
	*mm = strata_rd_u64(&r);
	uint64_t count = strata_rd_u64_max(&r, UVS_PEND_MAX);
	for (uint64_t k = 0; k < count && strata_rd_ok(&r); k++) {
		uint64_t s = strata_rd_u64(&r), seq = strata_rd_u64(&r);
		const uint8_t *m;
		strata_rd_bytes(&r, &m, SIZE_MAX);
		if (s < 1 || s > u->n || seq == 0)
			return false;
	}
	return strata_rd_ok(&r) && r.off == len && *mm != 0 && !(*mm & ~cons_all(u->n));
}

static void uvs_install(struct uvs *u, const uint8_t *v, size_t len)
{
	struct strata_rd r;
	strata_rd_init(&r, v, len);
	uint64_t mm = strata_rd_u64(&r);
	uint64_t count = strata_rd_u64(&r);
	/* forall (s, m) ∈ ∪ S such that m ∉ delivered do deliver (in view vid) */
	for (uint64_t k = 0; k < count; k++) {
		uint64_t s = strata_rd_u64(&r), seq = strata_rd_u64(&r);
		const uint8_t *m;
		size_t ml = strata_rd_bytes(&r, &m, SIZE_MAX);
		struct uvs_msg *e = uvs_find(u, (uint32_t)s, seq);
		if (!e) {
			/* Not held here: deliver from the decided value itself. */
			struct strata_msg *msg = strata_msg_new(m, ml);
			if (!msg)
				continue;
			struct uvs_msg tmp = { .s = (uint32_t)s, .seq = seq, .m = msg };
			uvs_deliver(u, &tmp);
			strata_msg_unref(msg);
		} else if (!e->delivered) {
			uvs_deliver(u, e);
		}
	}
	if ((mm & ~u->members) || mm == u->members) {
		/* Not a strict subset: no process proposes that (see gm.c). */
		strata_node_bad_payload(u->m.node, &u->m, 0, "uvs: decided view is not a strict subset");
		return;
	}
	uvs_reset_view(u);
	u->vid++;
	u->members = mm;
	uvs_output_view(u);
}

static void uvs_drain_held(struct uvs *u)
{
	uint32_t k = 0;
	while (k < u->nheld && !u->blocked) {
		struct uvs_held h = u->held[k++];
		int rc = uvs_broadcast(u, h.req, h.m->data, h.m->len);
		if (rc)
			strata_node_reply(u->m.node, &u->m, h.req, rc, 0, NULL, 0, NULL);
		strata_msg_unref(h.m);
	}
	memmove(u->held, u->held + k, (u->nheld - k) * sizeof(u->held[0]));
	u->nheld -= k;
}

static void uvs_decided(struct uvs *u, uint64_t i, const uint8_t *v, size_t len)
{
	uint64_t mm;
	if (i <= u->vid || i - u->vid >= UVS_DPEND || u->dec[i - u->vid])
		return;
	if (!uvs_value_ok(u, v, len, &mm)) {
		strata_node_bad_payload(u->m.node, &u->m, 0, "uvs: uc decided a malformed view");
		return;
	}
	if (!(u->dec[i - u->vid] = strata_msg_new(v, len)))
		return;
	while (u->dec[1]) {
		struct strata_msg *d = u->dec[1];
		memmove(&u->dec[1], &u->dec[2], sizeof(u->dec) - 2 * sizeof(u->dec[0]));
		u->dec[UVS_DPEND - 1] = NULL;
		uint64_t before = u->vid;
		uvs_install(u, d->data, d->len);
		strata_msg_unref(d);
		if (u->vid == before)
			break; /* refused (reported) */
		uvs_replay_early(u);
	}
	uvs_drain_held(u);
	uvs_try_flush(u);
	uvs_try_propose(u);
}

static void uvs_on_uc_decide(struct uvs *u, const struct strata_event *ev)
{
	uint64_t i;
	const struct cons_decided *d = cons_upper_decided(ev, u->uc, CONS_SPACE_VS, &i);
	if (d)
		uvs_decided(u, i, d->value, d->len);
}

static void uvs_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct uvs *u = (struct uvs *)m;
	if (bcast_is_deliver(&u->beb, ev)) {
		const struct strata_deliver *d = ev->body;
		uvs_announce0(u);
		if (d->origin < 1 || d->origin > u->n) {
			strata_node_bad_payload(m->node, m, d->origin, "uvs: message from no member");
			return;
		}
		uvs_on_frame(u, d->origin, d->data, d->len);
		return;
	}
	switch (ev->type) {
	case STRATA_EV_INIT:
		uvs_announce0(u);
		break;
	case CONS_EV_DECIDE:
		uvs_on_uc_decide(u, ev);
		break;
	case STRATA_EV_CRASH: /* upon <P, Crash | p> do correct := correct \ {p} */
		if (ev->peer >= 1 && ev->peer <= u->n) {
			uvs_announce0(u);
			u->correct &= ~cons_bit(ev->peer);
			uvs_try_flush(u);
			uvs_try_propose(u);
		}
		break;
	default:
		break;
	}
}

static int uvs_request(struct strata_module *m, const struct strata_request *req)
{
	struct uvs *u = (struct uvs *)m;
	uvs_announce0(u);
	if (req->op == STRATA_OP_READ) {
		uvs_reply(u, req->id, u->vid, u->members, 0);
		return 0;
	}
	if (req->op != STRATA_OP_BROADCAST)
		return STRATA_EINVAL;
	if (req->value_len > u->sender_bytes_max)
		return STRATA_ETOOBIG;
	if (!u->blocked)
		return uvs_broadcast(u, req->id, req->value, req->value_len);
	if (u->nheld >= UVS_HELD_MAX)
		return STRATA_EFULL;
	struct strata_msg *msg = strata_msg_new(req->value, req->value_len);
	if (!msg)
		return STRATA_ENOMEM;
	u->held[u->nheld++] = (struct uvs_held){ .req = req->id, .m = msg };
	return 0;
}

static void uvs_destroy(struct strata_module *m)
{
	struct uvs *u = (struct uvs *)m;
	for (uint32_t k = 0; k < u->npend; k++)
		strata_msg_unref(u->pend[k].m);
	for (uint32_t k = 0; k < u->nheld; k++)
		strata_msg_unref(u->held[k].m);
	for (uint32_t k = 0; k < u->nearly; k++)
		strata_msg_unref(u->early[k].frame);
	for (uint32_t k = 0; k < UVS_DPEND; k++)
		if (u->dec[k])
			strata_msg_unref(u->dec[k]);
	free(u);
}

static const struct strata_module_ops uvs_ops = {
	.name = "uvs", .handle = uvs_handle, .request = uvs_request, .destroy = uvs_destroy,
};

struct strata_module *var_uvs_create(struct strata_node *n, char *err, size_t errlen)
{
	struct uvs *u = calloc(1, sizeof(*u));
	if (!u) {
		snprintf(err, errlen, "uvs: out of memory");
		return NULL;
	}
	u->n = strata_node_n(n);
	u->members = u->correct = cons_all(u->n);
	strata_node_add_module(n, &u->m, &uvs_ops, strata_wire_id("uvs"));
	if (bcast_open(n, "beb", &u->m, 0, &u->beb, err, errlen) != 0 ||
	    cons_need_fd(&u->m, "uvs", err, errlen) != 0 ||
	    cons_lower_open_space(n, VAR_UC, CONS_SPACE_VS, &u->m, &u->uc, err, errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	size_t vmax = cons_value_max(n, u->n), bmax = bcast_payload_max(&u->beb);
	size_t per = vmax / u->n;
	u->sender_bytes_max = per > UVS_PEND_MAX * 32u ? per - UVS_PEND_MAX * 32u : 0;
	if (u->sender_bytes_max + 64 > bmax)
		u->sender_bytes_max = bmax > 64 ? bmax - 64 : 0;
	return &u->m;
}

void var_uvs_test_late(struct strata_module *m)
{
	((struct uvs *)m)->test_late = true;
}

void var_uvs_test_early(struct strata_module *m)
{
	((struct uvs *)m)->test_early = true;
}
