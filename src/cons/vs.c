/* View-synchronous communication, book Alg. 6.8-6.9 "TRB-Based View Synchrony" (module vs).
 *
 * Specification (Module 6.6, view-synchronous communication):
 *   Request:    <vs, Broadcast | m>
 *   Indication: <vs, Deliver | p, m>      delivered in the current view
 *   Indication: <vs, View | V>            V = (id, M)
 *   Indication: <vs, Block>, Request: <vs, BlockOk>
 *   VS1 View inclusion: if some process delivers a message m from process p in view V, then m
 *       was broadcast by p in view V (hence same-view delivery).
 *   VS2-VS5: GM1-GM4 of group membership for the views (they are gm's: gm.c).
 *   VS6-VS9: RB1-RB4 of (regular) reliable broadcast: validity, no duplication, no creation,
 *       agreement (if a correct process delivers m in V, every correct process delivers m, in
 *       V). Uniform agreement is uvs.c's (Alg. 6.10-6.11).
 *
 * Implementation (uses TerminatingReliableBroadcast, multiple instances trb.i.p;
 * GroupMembership gm; BestEffortBroadcast beb):
 *   upon <vs, Init> do (vid, M) := (0, Π); flushing := blocked := FALSE;
 *       inview := delivered := ∅; pendingviews := []; trbdone := ∅;
 *   upon <vs, Broadcast | m> such that blocked = FALSE do
 *       inview := inview ∪ {(self, m)}; delivered := delivered ∪ {m};
 *       trigger <vs, Deliver | self, m>; trigger <beb, Broadcast | [DATA, vid, m]>;
 *   upon <beb, Deliver | p, [DATA, id, m]> do
 *       if id = vid ∧ blocked = FALSE ∧ m ∉ delivered then
 *           inview := inview ∪ {(p, m)}; delivered := delivered ∪ {m};
 *           trigger <vs, Deliver | p, m>;
 *   upon <gm, View | V> do if V.id > 0 then append(pendingviews, V);
 *   upon pendingviews ≠ [] ∧ flushing = FALSE do flushing := TRUE; trigger <vs, Block>;
 *   upon <vs, BlockOk> do
 *       blocked := TRUE; trbdone := ∅;
 *       forall p ∈ M do initialize trb.vid.p with sender p;
 *           if p = self then trigger <trb.vid.p, Broadcast | inview>;
 *   upon <trb.id.p, Deliver | p, iv> such that id = vid do
 *       trbdone := trbdone ∪ {p};
 *       if iv ≠ ⊥ then forall (s, m) ∈ iv such that m ∉ delivered do
 *           delivered := delivered ∪ {m}; trigger <vs, Deliver | s, m>;
 *   upon trbdone = M ∧ blocked = TRUE do
 *       V := head(pendingviews); pendingviews := tail(pendingviews);
 *       (vid, M) := V; flushing := blocked := FALSE; inview := delivered := ∅;
 *       trigger <vs, View | V>;
 *
 * The TRB instances. trb.i.p is Alg. 6.3 (trb.c) instantiated here, on the same uniform
 * consensus (uhier, Alg. 5.4) and P: p beb-broadcasts [TRB, i, inview]; a process proposes what
 * it receives from p on consensus instance (CONS_SPACE_VSTRB << 48) | (i * N + p), or ⊥ when P
 * reports p crashed and it received nothing from p; the decision is trb.i.p's Deliver. (trb.c
 * runs one open-ended sequence of instances per sender for clients; the flush needs one
 * instance per view and member, which everyone knows in advance.) A process proposes on
 * trb.i.p as soon as p's message arrives, even before it reaches view i itself; a decision of a
 * view it has not reached yet is kept (at most N views x N members) until it does.
 *
 * Departures and choices:
 *   - Block / BlockOk: BlockOk at once (the client interface has nothing to flush); a Broadcast
 *     asked while blocked waits (the book's "such that blocked = FALSE") in a queue of
 *     VS_HELD_MAX requests and is broadcast in the next view; beyond, EFULL.
 *   - Messages are named (s, seq): seq counts s's broadcasts in the view. DATA of a later view
 *     (a process that installed it first) is kept (VS_EARLY_MAX frames) and handled when this
 *     process installs that view; DATA of an earlier view is dropped.
 *   - gm is the node's (gm.c), opened with var_gm_open; views gm installed before this module
 *     existed are read from gm and queued in order.
 *   - A restarted node is a new process that this fail-stop algorithm never admits again.
 * Bounds (as uvs.c): at most VS_MSG_MAX messages in a view's inview, at most VS_MSG_MAX / N and
 * value_max / N bytes per sender (a sender refuses a Broadcast beyond with EFULL; a DATA beyond
 * is dropped and counted, never from a correct sender), so that an inview fits one consensus
 * value. Memory: O(VS_MSG_MAX) messages plus the kept TRB decisions.
 *
 * Model: fail-stop (P), any f < N. Wire: beb payloads [u8 DATA=1][varint vid][varint seq]
 * [bytes m] (s is beb's origin) and [u8 TRB=2][varint vid][inview]; inview and the TRB value
 * [u8 tag: 1 = inview, 0 = ⊥][varint count][count x (varint s, varint seq, bytes m)].
 * Client and outputs: as uvs.c (BROADCAST -> [vid][seq][this node] once delivered here; READ
 * -> [vid][M]; DELIVER text "deliver" (peer = s, a = vid, b = seq) and "view" (a = vid, b = M)). */
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

#define VS_MSG_MAX 256u
#define VS_HELD_MAX 64u
#define VS_EARLY_MAX 256u
#define VS_VIEWS (STRATA_MAX_NODES + 1)
#define VS_DEC_MAX 64u

enum { VS_DATA = 1, VS_TRB = 2 };

struct vs_msg {
	uint32_t s;
	uint64_t seq;
	struct strata_msg *m;
};

struct vs_dec { /* a decided trb.vid.p of a view this process has not reached */
	uint64_t vid;
	uint32_t p;
	struct strata_msg *v;
};

struct vs {
	struct strata_module m;
	struct bcast_lower beb;
	struct strata_module *uc, *gm;
	uint32_t n;
	uint64_t vid, members, crashed;
	bool flushing, blocked, announced;
	uint64_t trbdone;
	struct vs_msg inview[VS_MSG_MAX]; /* = delivered in this view */
	uint32_t ninview;
	uint32_t per_sender[STRATA_MAX_NODES + 1];
	size_t bytes[STRATA_MAX_NODES + 1];
	size_t sender_bytes_max;
	uint64_t nextseq;
	uint64_t pendingviews[VS_VIEWS]; /* members of views vid + 1, vid + 2, ... (0 = none) */
	uint64_t queued_to;              /* the highest view id queued */
	struct { uint64_t req; struct strata_msg *m; } held[VS_HELD_MAX];
	uint32_t nheld;
	struct { uint32_t from; uint64_t vid; struct strata_msg *frame; } early[VS_EARLY_MAX];
	uint32_t nearly;
	struct vs_dec dec[VS_DEC_MAX];
	uint32_t ndec;
	uint64_t dropped;
	bool test_late; /* TEST ONLY: deliver DATA of an earlier view in the current one */
};

static uint64_t uc_inst(const struct vs *v, uint64_t vid, uint32_t p)
{
	return CONS_SPACE_VSTRB << CONS_SPACE_BITS | (vid * v->n + p);
}

static void vs_output_view(struct vs *v)
{
	char text[STRATA_MAX_NODES * 4 + 1];
	size_t len = 0;
	text[0] = 0;
	for (uint32_t q = 1; q <= v->n; q++)
		if (v->members & cons_bit(q))
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%u", len ? "," : "", q);
	strata_trace(v->m.node, "vs", "view %llu: %s", (unsigned long long)v->vid, text);
	struct strata_output o = {
		.kind = STRATA_OUT_DELIVER, .module = v->m.wire_id, .module_name = "vs",
		.peer = strata_node_id(v->m.node), .a = v->vid, .b = v->members,
		.data = (const uint8_t *)text, .len = len, .text = "view",
	};
	strata_output(v->m.node, &o);
}

static void vs_announce0(struct vs *v)
{
	if (!v->announced) {
		v->announced = true;
		vs_output_view(v);
	}
}

static void vs_reply(struct vs *v, uint64_t req, uint64_t a, uint64_t b, uint64_t c)
{
	struct strata_wr w;
	strata_wr_init(&w, 32);
	strata_wr_u64(&w, a);
	strata_wr_u64(&w, b);
	if (c)
		strata_wr_u64(&w, c);
	if (!w.err)
		strata_node_reply(v->m.node, &v->m, req, 0, STRATA_REPLY_FOUND, w.buf, w.len, NULL);
	else
		strata_node_reply(v->m.node, &v->m, req, w.err, 0, NULL, 0, NULL);
	strata_wr_free(&w);
}

static bool vs_delivered(const struct vs *v, uint32_t s, uint64_t seq)
{
	for (uint32_t k = 0; k < v->ninview; k++)
		if (v->inview[k].s == s && v->inview[k].seq == seq)
			return true;
	return false;
}

/* inview := inview ∪ {(s, m)}; delivered := delivered ∪ {m}; trigger <vs, Deliver | s, m>.
 * false (counted) if s's share of the bounds is used up. */
static bool vs_deliver(struct vs *v, uint32_t s, uint64_t seq, const uint8_t *m, size_t len)
{
	if (v->ninview >= VS_MSG_MAX || v->per_sender[s] >= VS_MSG_MAX / v->n ||
	    v->bytes[s] + len > v->sender_bytes_max) {
		v->dropped++;
		strata_trace(v->m.node, "vs", "view %llu: (%u, %llu) beyond the sender's share -> dropped",
			     (unsigned long long)v->vid, s, (unsigned long long)seq);
		return false;
	}
	struct strata_msg *msg = strata_msg_new(m, len);
	if (!msg)
		return false;
	v->inview[v->ninview++] = (struct vs_msg){ .s = s, .seq = seq, .m = msg };
	v->per_sender[s]++;
	v->bytes[s] += len;
	strata_trace(v->m.node, "vs", "view %llu: deliver (%u, %llu)", (unsigned long long)v->vid, s,
		     (unsigned long long)seq);
	struct strata_output o = {
		.kind = STRATA_OUT_DELIVER, .module = v->m.wire_id, .module_name = "vs",
		.peer = s, .a = v->vid, .b = seq, .data = m, .len = len, .text = "deliver",
	};
	strata_output(v->m.node, &o);
	return true;
}

/* upon <vs, Broadcast | m> such that blocked = FALSE do ... */
static int vs_broadcast(struct vs *v, uint64_t req, const uint8_t *m, size_t len)
{
	uint32_t self = strata_node_id(v->m.node);
	uint64_t seq = v->nextseq + 1;
	if (v->ninview >= VS_MSG_MAX || v->per_sender[self] >= VS_MSG_MAX / v->n ||
	    v->bytes[self] + len > v->sender_bytes_max)
		return STRATA_EFULL;
	struct strata_wr w;
	strata_wr_init(&w, len + 32);
	strata_wr_u8(&w, VS_DATA);
	strata_wr_u64(&w, v->vid);
	strata_wr_u64(&w, seq);
	strata_wr_bytes(&w, m, len);
	int rc = w.err ? w.err : bcast_broadcast(&v->beb, w.buf, w.len);
	strata_wr_free(&w);
	if (rc)
		return rc;
	v->nextseq = seq;
	struct strata_output o = {
		.kind = STRATA_OUT_BCAST, .module = v->m.wire_id, .module_name = "vs",
		.peer = self, .a = v->vid, .b = seq, .data = m, .len = len,
	};
	strata_output(v->m.node, &o);
	if (!vs_deliver(v, self, seq, m, len))
		return STRATA_EFULL; /* not reached: checked above */
	vs_reply(v, req, v->vid, seq, self);
	return 0;
}

static void vs_on_data(struct vs *v, uint32_t p, uint64_t id, struct strata_rd *r)
{
	uint64_t seq = strata_rd_u64(r);
	const uint8_t *m;
	size_t len = strata_rd_bytes(r, &m, SIZE_MAX);
	if (!strata_rd_ok(r) || r->off != r->len || seq == 0) {
		strata_node_bad_payload(v->m.node, &v->m, p, "vs: malformed DATA");
		return;
	}
	if (id < v->vid && v->test_late) { /* BROKEN VARIANT: an earlier view's message now */
		if (!vs_delivered(v, p, seq))
			vs_deliver(v, p, seq, m, len);
		return;
	}
	/* if id = vid ∧ blocked = FALSE ∧ m ∉ delivered then deliver */
	if (id == v->vid && !v->blocked && !vs_delivered(v, p, seq))
		vs_deliver(v, p, seq, m, len);
}

/* [tag][count][(s, seq, m)...]: false if malformed; with deliver, delivers what is new. */
static bool vs_take_inview(struct vs *v, const uint8_t *val, size_t len, bool deliver)
{
	struct strata_rd r;
	strata_rd_init(&r, val, len);
	uint8_t tag = strata_rd_u8(&r);
	if (tag > 1)
		return false;
	if (tag == 0)
		return strata_rd_ok(&r) && r.off == len;
	uint64_t count = strata_rd_u64_max(&r, VS_MSG_MAX);
	for (uint64_t k = 0; k < count && strata_rd_ok(&r); k++) {
		uint64_t s = strata_rd_u64(&r), seq = strata_rd_u64(&r);
		const uint8_t *m;
		size_t ml = strata_rd_bytes(&r, &m, SIZE_MAX);
		if (!strata_rd_ok(&r) || s < 1 || s > v->n || seq == 0)
			return false;
		if (deliver && !vs_delivered(v, (uint32_t)s, seq))
			vs_deliver(v, (uint32_t)s, seq, m, ml);
	}
	return strata_rd_ok(&r) && r.off == len;
}

/* trb.vid.p: <uc, Propose | value> (uc ignores a second proposal on an instance). */
static void vs_trb_propose(struct vs *v, uint64_t vid, uint32_t p, const uint8_t *val,
			   size_t len);

static void vs_on_trb_msg(struct vs *v, uint32_t p, uint64_t id, struct strata_rd *r)
{
	const uint8_t *val = r->p + r->off;
	size_t len = r->len - r->off;
	if (id > VS_VIEWS || !vs_take_inview(v, val, len, false) || len == 0 || val[0] != 1) {
		strata_node_bad_payload(v->m.node, &v->m, p, "vs: malformed TRB message");
		return;
	}
	if (id >= v->vid) /* upon <beb, Deliver | p, m> do proposal := m; <uc, Propose | m> */
		vs_trb_propose(v, id, p, val, len);
}

static void vs_try_install(struct vs *v);

/* upon <trb.id.p, Deliver | p, iv> such that id = vid do ... */
static void vs_trb_delivered(struct vs *v, uint64_t id, uint32_t p, const uint8_t *val, size_t len)
{
	if (id < v->vid || (id == v->vid && (v->trbdone & cons_bit(p))))
		return;
	if (!vs_take_inview(v, val, len, false)) {
		strata_node_bad_payload(v->m.node, &v->m, 0, "vs: uc decided a malformed TRB value");
		return;
	}
	if (id > v->vid || !v->blocked) { /* a view (or a flush) this process has not reached */
		for (uint32_t k = 0; k < v->ndec; k++)
			if (v->dec[k].vid == id && v->dec[k].p == p)
				return;
		struct strata_msg *msg = v->ndec < VS_DEC_MAX ? strata_msg_new(val, len) : NULL;
		if (!msg) {
			v->dropped++;
			return;
		}
		v->dec[v->ndec++] = (struct vs_dec){ .vid = id, .p = p, .v = msg };
		return;
	}
	v->trbdone |= cons_bit(p);
	vs_take_inview(v, val, len, true);
	vs_try_install(v);
}

static void vs_trb_propose(struct vs *v, uint64_t vid, uint32_t p, const uint8_t *val, size_t len)
{
	struct strata_msg *got;
	int rc = cons_lower_propose_fetch(v->uc, uc_inst(v, vid, p), val, len, &got);
	if (got) {
		vs_trb_delivered(v, vid, p, got->data, got->len);
		strata_msg_unref(got);
	} else if (rc) {
		strata_trace(v->m.node, "vs", "trb (%llu, %u): uc propose refused: %s",
			     (unsigned long long)vid, p, strata_strerror(rc));
	}
}

/* upon <P, Crash | p> (trb.vid.p's): if nothing arrived from p, proposal := ⊥ */
static void vs_trb_sf(struct vs *v)
{
	static const uint8_t sf[] = { 0 };
	if (!v->blocked)
		return;
	for (uint32_t p = 1; p <= v->n; p++)
		if ((v->members & v->crashed & cons_bit(p)) && !(v->trbdone & cons_bit(p)))
			vs_trb_propose(v, v->vid, p, sf, sizeof(sf));
}

static size_t vs_inview_size(const struct vs *v)
{
	size_t t = 64;
	for (uint32_t k = 0; k < v->ninview; k++)
		t += v->inview[k].m->len + 32;
	return t;
}

/* upon pendingviews ≠ [] ∧ flushing = FALSE do flushing := TRUE; <vs, Block>;
 * upon <vs, BlockOk> do blocked := TRUE; trbdone := ∅; <trb.vid.self, Broadcast | inview> */
static void vs_try_flush(struct vs *v)
{
	if (v->flushing || !v->pendingviews[1])
		return;
	v->flushing = v->blocked = true; /* BlockOk at once (see the header) */
	v->trbdone = 0;
	strata_trace(v->m.node, "vs", "view %llu: block, trb of %u delivered messages",
		     (unsigned long long)v->vid, v->ninview);
	struct strata_wr w;
	strata_wr_init(&w, vs_inview_size(v));
	strata_wr_u8(&w, VS_TRB);
	strata_wr_u64(&w, v->vid);
	strata_wr_u8(&w, 1);
	strata_wr_u64(&w, v->ninview);
	for (uint32_t k = 0; k < v->ninview; k++) {
		strata_wr_u64(&w, v->inview[k].s);
		strata_wr_u64(&w, v->inview[k].seq);
		strata_wr_bytes(&w, v->inview[k].m->data, v->inview[k].m->len);
	}
	int rc = w.err ? w.err : bcast_broadcast(&v->beb, w.buf, w.len);
	if (rc)
		strata_trace(v->m.node, "vs", "trb message not sent: %s", strata_strerror(rc));
	strata_wr_free(&w);
	/* Decisions of this view's trb instances that came before the block. */
	for (uint32_t k = 0; k < v->ndec;) {
		if (v->dec[k].vid != v->vid) {
			k++;
			continue;
		}
		struct vs_dec d = v->dec[k];
		v->dec[k] = v->dec[--v->ndec];
		if (!(v->trbdone & cons_bit(d.p))) {
			v->trbdone |= cons_bit(d.p);
			vs_take_inview(v, d.v->data, d.v->len, true);
		}
		strata_msg_unref(d.v);
	}
	vs_trb_sf(v);
	vs_try_install(v);
}

static void vs_on_frame(struct vs *v, uint32_t p, const uint8_t *data, size_t len);

static void vs_replay_early(struct vs *v)
{
	uint32_t k = 0;
	while (k < v->nearly) {
		if (v->early[k].vid > v->vid) {
			k++;
			continue;
		}
		uint32_t from = v->early[k].from;
		uint64_t id = v->early[k].vid;
		struct strata_msg *f = v->early[k].frame;
		v->early[k] = v->early[--v->nearly];
		if (id == v->vid)
			vs_on_frame(v, from, f->data, f->len);
		strata_msg_unref(f);
		k = 0;
	}
}

static void vs_drain_held(struct vs *v)
{
	uint32_t k = 0;
	while (k < v->nheld && !v->blocked) {
		uint64_t req = v->held[k].req;
		struct strata_msg *m = v->held[k++].m;
		int rc = vs_broadcast(v, req, m->data, m->len);
		if (rc)
			strata_node_reply(v->m.node, &v->m, req, rc, 0, NULL, 0, NULL);
		strata_msg_unref(m);
	}
	memmove(v->held, v->held + k, (v->nheld - k) * sizeof(v->held[0]));
	v->nheld -= k;
}

/* upon trbdone = M ∧ blocked = TRUE do install head(pendingviews) */
static void vs_try_install(struct vs *v)
{
	while (v->blocked && (v->members & ~v->trbdone) == 0 && v->pendingviews[1]) {
		uint64_t next = v->pendingviews[1];
		memmove(&v->pendingviews[1], &v->pendingviews[2],
			sizeof(v->pendingviews) - 2 * sizeof(v->pendingviews[0]));
		v->pendingviews[VS_VIEWS - 1] = 0;
		for (uint32_t k = 0; k < v->ninview; k++)
			strata_msg_unref(v->inview[k].m);
		v->ninview = 0;
		memset(v->per_sender, 0, sizeof(v->per_sender));
		memset(v->bytes, 0, sizeof(v->bytes));
		v->nextseq = 0;
		v->vid++;
		v->members = next;
		v->flushing = v->blocked = false;
		v->trbdone = 0;
		vs_output_view(v);
		vs_replay_early(v);
		vs_drain_held(v);
		vs_try_flush(v);
	}
}

/* upon <gm, View | V> do if V.id > 0 then append(pendingviews, V) */
static void vs_on_view(struct vs *v, uint64_t id, uint64_t mm)
{
	if (id <= v->queued_to || id - v->vid >= VS_VIEWS || mm == 0)
		return;
	v->pendingviews[id - v->vid] = mm;
	v->queued_to = id;
	vs_try_flush(v);
}

static void vs_on_frame(struct vs *v, uint32_t p, const uint8_t *data, size_t len)
{
	struct strata_rd r;
	strata_rd_init(&r, data, len);
	uint8_t type = strata_rd_u8(&r);
	uint64_t id = strata_rd_u64(&r);
	if (!strata_rd_ok(&r) || (type != VS_DATA && type != VS_TRB)) {
		strata_node_bad_payload(v->m.node, &v->m, p, "vs: malformed message");
		return;
	}
	if (type == VS_TRB) {
		vs_on_trb_msg(v, p, id, &r);
		return;
	}
	if (id > v->vid) {
		struct strata_msg *f = v->nearly < VS_EARLY_MAX && id - v->vid < VS_VIEWS
					       ? strata_msg_new(data, len) : NULL;
		if (!f) {
			v->dropped++;
			return;
		}
		v->early[v->nearly].from = p;
		v->early[v->nearly].vid = id;
		v->early[v->nearly++].frame = f;
		return;
	}
	vs_on_data(v, p, id, &r);
}

static void vs_on_uc_decide(struct vs *v, const struct strata_event *ev)
{
	uint64_t i;
	const struct cons_decided *d = cons_upper_decided(ev, v->uc, CONS_SPACE_VSTRB, &i);
	if (!d || i == 0) /* i = vid * N + p, p in 1..N */
		return;
	uint64_t vid = (i - 1) / v->n;
	uint32_t p = (uint32_t)((i - 1) % v->n) + 1;
	vs_trb_delivered(v, vid, p, d->value, d->len);
}

static void vs_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct vs *v = (struct vs *)m;
	if (bcast_is_deliver(&v->beb, ev)) {
		const struct strata_deliver *d = ev->body;
		vs_announce0(v);
		if (d->origin < 1 || d->origin > v->n) {
			strata_node_bad_payload(m->node, m, d->origin, "vs: message from no member");
			return;
		}
		vs_on_frame(v, d->origin, d->data, d->len);
		return;
	}
	switch (ev->type) {
	case STRATA_EV_INIT:
		vs_announce0(v);
		break;
	case CONS_EV_DECIDE:
		vs_on_uc_decide(v, ev);
		break;
	case VAR_EV_VIEW:
		vs_announce0(v);
		vs_on_view(v, ev->instance, ev->arg);
		break;
	case STRATA_EV_CRASH:
		if (ev->peer >= 1 && ev->peer <= v->n) {
			vs_announce0(v);
			v->crashed |= cons_bit(ev->peer);
			vs_trb_sf(v);
		}
		break;
	default:
		break;
	}
}

static int vs_request(struct strata_module *m, const struct strata_request *req)
{
	struct vs *v = (struct vs *)m;
	vs_announce0(v);
	if (req->op == STRATA_OP_READ) {
		vs_reply(v, req->id, v->vid, v->members, 0);
		return 0;
	}
	if (req->op != STRATA_OP_BROADCAST)
		return STRATA_EINVAL;
	if (req->value_len > v->sender_bytes_max)
		return STRATA_ETOOBIG;
	if (!v->blocked)
		return vs_broadcast(v, req->id, req->value, req->value_len);
	if (v->nheld >= VS_HELD_MAX)
		return STRATA_EFULL;
	struct strata_msg *msg = strata_msg_new(req->value, req->value_len);
	if (!msg)
		return STRATA_ENOMEM;
	v->held[v->nheld].req = req->id;
	v->held[v->nheld++].m = msg;
	return 0;
}

static void vs_destroy(struct strata_module *m)
{
	struct vs *v = (struct vs *)m;
	for (uint32_t k = 0; k < v->ninview; k++)
		strata_msg_unref(v->inview[k].m);
	for (uint32_t k = 0; k < v->nheld; k++)
		strata_msg_unref(v->held[k].m);
	for (uint32_t k = 0; k < v->nearly; k++)
		strata_msg_unref(v->early[k].frame);
	for (uint32_t k = 0; k < v->ndec; k++)
		strata_msg_unref(v->dec[k].v);
	free(v);
}

static const struct strata_module_ops vs_ops = {
	.name = "vs", .handle = vs_handle, .request = vs_request, .destroy = vs_destroy,
};

struct strata_module *var_vs_create(struct strata_node *n, char *err, size_t errlen)
{
	struct vs *v = calloc(1, sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "vs: out of memory");
		return NULL;
	}
	v->n = strata_node_n(n);
	v->members = cons_all(v->n);
	strata_node_add_module(n, &v->m, &vs_ops, strata_wire_id("vs"));
	if (bcast_open(n, "beb", &v->m, 0, &v->beb, err, errlen) != 0 ||
	    cons_need_fd(&v->m, "vs", err, errlen) != 0 ||
	    cons_lower_open_space(n, VAR_UC, CONS_SPACE_VSTRB, &v->m, &v->uc, err, errlen) != 0 ||
	    var_gm_open(n, &v->m, &v->gm, err, errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	size_t vmax = cons_value_max(n, v->n), bmax = bcast_payload_max(&v->beb);
	size_t per = vmax / v->n;
	v->sender_bytes_max = per > VS_MSG_MAX * 32u ? per - VS_MSG_MAX * 32u : 0;
	if (v->sender_bytes_max + 64 > bmax)
		v->sender_bytes_max = bmax > 64 ? bmax - 64 : 0;
	/* Views gm installed before this module existed, in order. */
	for (uint64_t id = 1; id < VS_VIEWS && var_gm_view(v->gm, id); id++)
		vs_on_view(v, id, var_gm_view(v->gm, id));
	return &v->m;
}

void var_vs_test_late(struct strata_module *m)
{
	((struct vs *)m)->test_late = true;
}
