/* The instance machinery shared by the Byzantine broadcasts (see byz.h): the per-sender windows
 * of instances, client requests, the channels' in-order discipline, value interning and votes,
 * and the test-only Byzantine behaviours that are the same for every algorithm.
 *
 * The algorithm files (aeb.c, seb.c, brb.c) only say what one instance does with each message;
 * everything about which instance a message belongs to, when an instance may be freed and when
 * a delivery is handed to the client lives here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcast/byz.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"
#include "links/links.h"

/* ---- Wire helpers ---- */

void byzb_wr_hdr(struct strata_wr *w, uint8_t type, uint32_t sender, uint64_t seq)
{
	strata_wr_u8(w, type);
	strata_wr_u64(w, sender);
	strata_wr_u64(w, seq);
}

struct strata_msg *byzb_msg(uint8_t type, uint32_t sender, uint64_t seq, const uint8_t *p,
			   size_t len)
{
	struct strata_wr w;
	strata_wr_init(&w, len + BYZ_HDR_MAX);
	byzb_wr_hdr(&w, type, sender, seq);
	strata_wr_bytes(&w, p, len);
	int err = 0;
	struct strata_msg *m = strata_wr_take_msg(&w, &err);
	STRATA_ASSERT(m);
	return m;
}

struct strata_msg *byzb_alter(const uint8_t *p, size_t len)
{
	/* Appending a byte changes the length and the hash: a clearly different value. */
	struct strata_msg *m = strata_msg_alloc(len + 1);
	STRATA_ASSERT(m);
	if (len)
		memcpy(m->data, p, len);
	m->data[len] = '!';
	return m;
}

bool byzb_second_half(const struct byzb_mod *b, uint32_t peer)
{
	uint32_t idx = peer < b->self ? peer - 1 : peer - 2; /* index among the others */
	return idx >= b->n / 2;
}

static void ring_keep(struct byzb_mod *b, struct strata_msg *msg)
{
	if (b->ring[b->ring_next])
		strata_msg_unref(b->ring[b->ring_next]);
	b->ring[b->ring_next] = strata_msg_ref(msg);
	b->ring_next = (b->ring_next + 1) % BYZ_RING;
}

void byzb_send(struct byzb_mod *b, uint32_t to, struct strata_msg *msg)
{
	struct strata_module *m = &b->base;
	if (b->byz == STRATA_BYZ_SILENT)
		return;
	if (b->byz == STRATA_BYZ_NONE) {
		/* One the links refuse is owed to `to` and sent again, in order (byz.h) */
		(void)strata_pl_owed_send(b->owed, to, 0, msg);
		return;
	}
	(void)strata_pl_send(m, to, 0, msg);
	if (b->byz != STRATA_BYZ_REPLAY || to == b->self)
		return;
	/* REPLAY: every message also brings an old one back, to a random peer. */
	struct strata_msg *old = b->ring[strata_random_below(m->node, BYZ_RING)];
	if (old)
		(void)strata_pl_send(m, 1 + (uint32_t)strata_random_below(m->node, b->n), 0, old);
	ring_keep(b, msg);
}

void byzb_send_all(struct byzb_mod *b, struct strata_msg *msg)
{
	for (uint32_t q = 1; q <= b->n; q++)
		byzb_send(b, q, msg);
}

void byzb_send_value(struct byzb_mod *b, uint8_t type, const struct byzb_inst *in, int v)
{
	STRATA_ASSERT(v >= 0 && (unsigned)v < in->nvals);
	const struct byzb_val *val = &in->vals[v];
	struct strata_msg *msg = byzb_msg(type, in->sender, in->seq, val->p, val->len);
	struct strata_msg *other = NULL;
	if (b->byz == STRATA_BYZ_EQUIVOCATE) {
		struct strata_msg *alt = byzb_alter(val->p, val->len);
		other = byzb_msg(type, in->sender, in->seq, alt->data, alt->len);
		strata_msg_unref(alt);
	}
	for (uint32_t q = 1; q <= b->n; q++)
		byzb_send(b, q, other && q != b->self && byzb_second_half(b, q) ? other : msg);
	if (b->byz == STRATA_BYZ_BADSIG && msg->len > 2) {
		/* No signatures to spoil here: send garbage instead (a truncated copy). */
		struct strata_msg *cut = strata_msg_new(msg->data, msg->len / 2);
		STRATA_ASSERT(cut);
		byzb_send_all(b, cut);
		strata_msg_unref(cut);
	}
	if (other)
		strata_msg_unref(other);
	strata_msg_unref(msg);
}

void byzb_forge(struct byzb_mod *b, const struct byzb_inst *in)
{
	static const uint8_t fake[] = "forged";
	/* An ECHO and a READY for the sender's next instance, which it never sent. */
	for (uint8_t t = BYZ_ECHO; t <= BYZ_READY && t <= b->proto->max_type; t++) {
		if (b->proto == &byzb_proto_seb)
			break; /* seb's ECHOs carry signatures: forged FINALs are in seb.c */
		struct strata_msg *m = byzb_msg(t, in->sender, in->seq + 1, fake, sizeof(fake));
		byzb_send_all(b, m);
		strata_msg_unref(m);
	}
	/* A SEND with the wrong sender field: it claims to come from in->sender. */
	if (in->sender != b->self) {
		struct strata_msg *m = byzb_msg(BYZ_SEND, in->sender, in->seq + 2, fake, sizeof(fake));
		byzb_send_all(b, m);
		strata_msg_unref(m);
	}
	/* An instance far beyond every window. */
	struct strata_msg *m = byzb_msg(BYZ_SEND, b->self, in->seq + 10 * BYZ_WIN, fake, sizeof(fake));
	byzb_send_all(b, m);
	strata_msg_unref(m);
}

/* ---- Values and votes ---- */

int byzb_value_by_hash(const struct byzb_inst *in, const uint8_t hash[STRATA_HASH_LEN])
{
	for (unsigned i = 0; i < in->nvals; i++)
		if (memcmp(in->vals[i].hash, hash, STRATA_HASH_LEN) == 0)
			return (int)i;
	return -1;
}

int byzb_value(struct byzb_mod *b, struct byzb_inst *in, const uint8_t *p, size_t len,
	      struct strata_msg *msg)
{
	uint8_t h[STRATA_HASH_LEN];
	strata_hash(h, p, len);
	int v = byzb_value_by_hash(in, h);
	if (v >= 0)
		return v;
	if (in->nvals >= 2 * b->n + 3)
		return -1;
	struct byzb_val *val = &in->vals[in->nvals];
	memcpy(val->hash, h, sizeof(h));
	val->msg = strata_msg_ref(msg);
	val->p = p;
	val->len = len;
	return (int)in->nvals++;
}

unsigned byzb_count(const struct byzb_mod *b, const int16_t *votes, int v)
{
	unsigned c = 0;
	for (uint32_t p = 1; p <= b->n; p++)
		c += votes[p] == v;
	return c;
}

int byzb_vote(struct byzb_mod *b, int16_t *votes, uint32_t peer, int v, const char *what)
{
	if (votes[peer] == v)
		return 0;
	if (votes[peer] >= 0) {
		byzb_bad(b, peer, what);
		return -1;
	}
	votes[peer] = (int16_t)v;
	return 1;
}

void byzb_bad(struct byzb_mod *b, uint32_t peer, const char *why)
{
	strata_node_bad_payload(b->base.node, &b->base, peer, why);
}

/* ---- Instances ---- */

static struct byzb_inst *inst_new(struct byzb_mod *b, uint32_t sender, uint64_t seq)
{
	struct byzb_inst *in = calloc(1, sizeof(*in));
	STRATA_ASSERT(in);
	in->sender = sender;
	in->seq = seq;
	in->send_v = in->dlv_v = -1;
	in->vals = calloc(2 * b->n + 3, sizeof(*in->vals));
	in->echo = malloc((b->n + 1) * sizeof(*in->echo));
	in->ready = malloc((b->n + 1) * sizeof(*in->ready));
	STRATA_ASSERT(in->vals && in->echo && in->ready);
	for (uint32_t p = 0; p <= b->n; p++)
		in->echo[p] = in->ready[p] = -1;
	return in;
}

static void inst_free(struct byzb_inst *in)
{
	for (unsigned i = 0; i < in->nvals; i++)
		strata_msg_unref(in->vals[i].msg);
	free(in->vals);
	free(in->echo);
	free(in->ready);
	free(in->aux);
	free(in);
}

/* The instance (sender, seq) if it lies in the window, created on first use; NULL otherwise. */
static struct byzb_inst *inst_get(struct byzb_mod *b, uint32_t sender, uint64_t seq)
{
	struct byzb_sender *s = &b->snd[sender];
	if (seq <= s->low) {
		b->late++;
		return NULL;
	}
	if (seq > s->low + BYZ_WIN) {
		b->window_drops++;
		strata_trace(b->base.node, b->base.ops->name,
			     "instance %u:%llu beyond window (low %llu) -> dropped", sender,
			     (unsigned long long)seq, (unsigned long long)s->low);
		return NULL;
	}
	struct byzb_inst **slot = &s->slot[seq % BYZ_WIN];
	if (!*slot)
		*slot = inst_new(b, sender, seq);
	STRATA_ASSERT((*slot)->seq == seq);
	return *slot;
}

/* Frees the instances at the bottom of sender's window that are done. */
static void retire(struct byzb_mod *b, uint32_t sender)
{
	struct byzb_sender *s = &b->snd[sender];
	for (;;) {
		struct byzb_inst **slot = &s->slot[(s->low + 1) % BYZ_WIN];
		struct byzb_inst *in = *slot;
		if (!in || !in->emitted || !b->proto->retirable(b, in))
			return;
		inst_free(in);
		*slot = NULL;
		s->low++;
	}
}

static void emit(struct byzb_mod *b, struct byzb_inst *in)
{
	struct strata_module *m = &b->base;
	const struct byzb_val *v = &in->vals[in->dlv_v];
	in->emitted = true;
	b->delivered++;
	strata_trace(m->node, m->ops->name, "instance %u:%llu delivered -> deliver %zu bytes",
		     in->sender, (unsigned long long)in->seq, v->len);
	struct strata_output o = {
		.kind = STRATA_OUT_DELIVER, .module = m->wire_id, .module_name = m->ops->name,
		.peer = in->sender, .a = in->seq, .data = v->p, .len = v->len,
	};
	strata_output(m->node, &o);
}

static void channel_next(struct byzb_mod *b);

void byzb_deliver(struct byzb_mod *b, struct byzb_inst *in, int v)
{
	if (in->delivered)
		return;
	STRATA_ASSERT(v >= 0 && (unsigned)v < in->nvals);
	in->delivered = true;
	in->dlv_v = v;
	if (!b->channel) {
		emit(b, in);
		return; /* retired by the caller's turn (byzb_handle) */
	}
	/* Channels hand each sender's instances up in sequence order. */
	struct byzb_sender *s = &b->snd[in->sender];
	for (;;) {
		struct byzb_inst *nx = s->slot[(s->dlv + 1) % BYZ_WIN];
		if (!nx || nx->seq != s->dlv + 1 || !nx->delivered)
			break;
		emit(b, nx);
		s->dlv++;
		if (nx->sender == b->self && nx->seq == b->next_seq)
			b->busy = false;
	}
	if (!b->busy)
		channel_next(b);
}

/* ---- Broadcasting ---- */

static int start(struct byzb_mod *b, const uint8_t *p, size_t len)
{
	struct byzb_sender *s = &b->snd[b->self];
	uint64_t seq = b->next_seq + 1;
	if (seq > s->low + BYZ_WIN)
		return STRATA_EFULL; /* our own window: wait until earlier instances deliver */
	struct byzb_inst *in = inst_get(b, b->self, seq);
	STRATA_ASSERT(in);
	struct strata_msg *val = strata_msg_new(p, len);
	STRATA_ASSERT(val);
	int v = byzb_value(b, in, val->data, val->len, val);
	strata_msg_unref(val);
	STRATA_ASSERT(v >= 0);
	b->next_seq = seq;
	b->busy = true;
	struct strata_module *m = &b->base;
	struct strata_output o = {
		.kind = STRATA_OUT_BCAST, .module = m->wire_id, .module_name = m->ops->name,
		.a = seq, .data = p, .len = len,
	};
	strata_output(m->node, &o);
	strata_trace(m->node, m->ops->name, "broadcast request -> start instance %u:%llu",
		     b->self, (unsigned long long)seq);
	b->proto->start(b, in, v);
	return 0;
}

static void channel_next(struct byzb_mod *b)
{
	while (!b->busy && b->qlen) {
		struct byzb_pending *pd = &b->queue[b->qhead];
		int rc = start(b, pd->val->data, pd->val->len);
		strata_node_reply(b->base.node, &b->base, pd->req_id, rc, 0, NULL, 0, NULL);
		strata_msg_unref(pd->val);
		b->qhead = (b->qhead + 1) % BYZ_QUEUE;
		b->qlen--;
		retire(b, b->self);
	}
}

static int byzb_request(struct strata_module *m, const struct strata_request *req)
{
	struct byzb_mod *b = (struct byzb_mod *)m;
	if (req->op != STRATA_OP_BROADCAST)
		return STRATA_EINVAL;
	if (req->value_len > b->payload_max)
		return STRATA_ETOOBIG;
	if (!b->channel) {
		int rc = start(b, req->value, req->value_len);
		if (rc == 0) {
			strata_node_reply(m->node, m, req->id, 0, 0, NULL, 0, NULL);
			retire(b, b->self);
		}
		return rc;
	}
	if (b->qlen == BYZ_QUEUE)
		return STRATA_EFULL;
	struct byzb_pending *pd = &b->queue[(b->qhead + b->qlen) % BYZ_QUEUE];
	pd->req_id = req->id;
	pd->val = strata_msg_new(req->value, req->value_len);
	if (!pd->val)
		return STRATA_ENOMEM;
	b->qlen++;
	channel_next(b); /* replies once the instance starts */
	return 0;
}

/* ---- Receiving ---- */

static void byzb_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct byzb_mod *b = (struct byzb_mod *)m;
	if (ev->type == STRATA_EV_TIMER && ev->arg == BYZ_TOK_OWED) {
		strata_pl_owed_flush(b->owed);
		return;
	}
	if (ev->type != STRATA_EV_PL_DELIVER || !ev->msg)
		return;
	struct strata_rd r;
	strata_rd_init(&r, ev->msg->data, ev->msg->len);
	uint8_t type = strata_rd_u8(&r);
	uint64_t sender = strata_rd_u64(&r);
	uint64_t seq = strata_rd_u64(&r);
	if (!strata_rd_ok(&r) || type < BYZ_SEND || type > b->proto->max_type || sender < 1 ||
	    sender > b->n || seq < 1) {
		byzb_bad(b, ev->peer, "malformed header");
		return;
	}
	if (type == BYZ_SEND && sender != ev->peer) {
		/* Authenticated links: a SEND of instance (s, k) can only come from s. */
		byzb_bad(b, ev->peer, "SEND with another node's sender field");
		return;
	}
	struct byzb_inst *in = inst_get(b, (uint32_t)sender, seq);
	if (!in)
		return;
	b->proto->recv(b, in, ev->peer, type, &r, ev->msg);
	retire(b, (uint32_t)sender);
}

static void byzb_destroy(struct strata_module *m)
{
	struct byzb_mod *b = (struct byzb_mod *)m;
	for (uint32_t s = 1; s <= b->n; s++)
		for (unsigned i = 0; i < BYZ_WIN; i++)
			if (b->snd[s].slot[i])
				inst_free(b->snd[s].slot[i]);
	for (unsigned i = 0; i < b->qlen; i++)
		strata_msg_unref(b->queue[(b->qhead + i) % BYZ_QUEUE].val);
	for (unsigned i = 0; i < BYZ_RING; i++)
		if (b->ring[i])
			strata_msg_unref(b->ring[i]);
	strata_pl_owed_free(b->owed);
	free(b->snd);
	free(b);
}

/* One ops table per module name (each takes its wire id from the catalog: byzb_create). */
#define BYZ_OPS(nm) { .name = nm, .handle = byzb_handle, .request = byzb_request, \
		      .destroy = byzb_destroy }
static const struct strata_module_ops byzb_ops[] = {
	BYZ_OPS("aeb"), BYZ_OPS("seb"), BYZ_OPS("brb"),
	BYZ_OPS("bcc"), BYZ_OPS("bcc-seb"), BYZ_OPS("brc"),
};
#define BYZ_NOPS (sizeof(byzb_ops) / sizeof(byzb_ops[0]))

/* The ops table of module name, NULL if it is not one of these broadcasts. */
static const struct strata_module_ops *byz_ops_named(const char *name)
{
	for (size_t i = 0; i < BYZ_NOPS; i++)
		if (strcmp(byzb_ops[i].name, name) == 0)
			return &byzb_ops[i];
	return NULL;
}

static struct byzb_mod *as_byz(struct strata_module *m)
{
	if (!m)
		return NULL;
	for (size_t i = 0; i < BYZ_NOPS; i++)
		if (m->ops == &byzb_ops[i])
			return (struct byzb_mod *)m;
	return NULL;
}

struct strata_module *byzb_create(struct strata_node *n, const struct byzb_proto *proto,
				 const char *name, uint16_t wire_id, bool channel, size_t extra,
				 char *err, size_t errlen)
{
	const struct strata_config *cfg = strata_node_config(n);
	const struct strata_module_ops *ops = byz_ops_named(name);
	STRATA_ASSERT(ops && wire_id == strata_wire_id(name));
	if (cfg->n <= 3 * cfg->f) {
		snprintf(err, errlen, "%s needs N > 3f (N=%u, f=%u)", name, cfg->n, cfg->f);
		return NULL;
	}
	if (cfg->max_value <= BYZ_HDR_MAX + extra) {
		snprintf(err, errlen, "%s: max_value %u leaves no room for a payload", name,
			 cfg->max_value);
		return NULL;
	}
	/* What a correct process sends one peer for a whole window of every sender's instances
	 * (byz.h, "Sends the links refuse"); each message at most max_value bytes. */
	size_t cap = BYZ_OWED_PER_INST * (size_t)cfg->n * BYZ_WIN;
	struct byzb_mod *b = calloc(1, sizeof(*b));
	if (b)
		b->owed = strata_pl_owed_new(n, &b->base, BYZ_TOK_OWED, NULL, cap,
					     (uint64_t)cap * cfg->max_value);
	if (!b || !b->owed || !(b->snd = calloc(cfg->n + 1, sizeof(*b->snd)))) {
		if (b)
			strata_pl_owed_free(b->owed);
		free(b);
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	b->proto = proto;
	b->channel = channel;
	b->n = cfg->n;
	b->f = cfg->f;
	b->self = strata_node_id(n);
	b->byz = strata_node_byz(n);
	b->q_echo = (cfg->n + cfg->f) / 2 + 1;
	b->q_ready = cfg->f + 1;
	b->q_deliver = 2 * cfg->f + 1;
	b->payload_max = cfg->max_value - BYZ_HDR_MAX - extra;
	strata_node_add_module(n, &b->base, ops, wire_id);
	return &b->base;
}

int byzb_test_set_quorums(struct strata_module *m, unsigned echo, unsigned ready,
			 unsigned deliver)
{
	struct byzb_mod *b = as_byz(m);
	if (!b || !echo || !ready || !deliver)
		return STRATA_EINVAL;
	b->q_echo = echo;
	b->q_ready = ready;
	b->q_deliver = deliver;
	return 0;
}

int byzb_test_no_owed(struct strata_module *m)
{
	struct byzb_mod *b = as_byz(m);
	if (!b)
		return STRATA_EINVAL;
	strata_pl_owed_test_lossy(b->owed);
	return 0;
}

int byzb_test_owed_counts(struct strata_module *m, struct strata_pl_owed_counts *c)
{
	struct byzb_mod *b = as_byz(m);
	if (!b)
		return STRATA_EINVAL;
	strata_pl_owed_counts(b->owed, c);
	return 0;
}

int byzb_test_counters(struct strata_module *m, uint64_t *late, uint64_t *window_drops,
		      uint64_t *delivered)
{
	struct byzb_mod *b = as_byz(m);
	if (!b)
		return STRATA_EINVAL;
	*late = b->late;
	*window_drops = b->window_drops;
	*delivered = b->delivered;
	return 0;
}
