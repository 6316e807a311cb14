/* lkv-vc: the leaderless store with causal versions and siblings (Dynamo's vector clocks),
 * the second module of the lkv family (wire id 161). Same placement (lkv_ring.c), same [lkv]
 * replicas/r/w, same per-request overrides; docs/leaderless.md compares the two.
 *
 * Specification (per key; N replicas, quorums R and W):
 *   Put(ctx, v)  completes after W replicas stored a new version of the key whose causal past
 *                is exactly ctx (a context returned by an earlier get, or empty). The new
 *                version supersedes every version ctx covers and no other: a put that did not
 *                read a version is concurrent with it, and both stay, as siblings.
 *   Del(ctx)     the same with a tombstone (a sibling without a value).
 *   Get          completes after R replicas replied, with every non-superseded version among
 *                them (the siblings; tombstones are not listed) and a context covering all of
 *                them, to be passed to the next put.
 *   Sibling property  no acknowledged version disappears from the replicas unless a put whose
 *                context covers it was written (or the per-key bound below overflowed, counted).
 *   Outcome unknown  no quorum within LKV_TIMEOUT_US: STRATA_ETIMEDOUT, as in lkv.
 *
 * Versions are dotted version vectors, the exact form of "the coordinator's entry incremented
 * past the context": a version is (dot, ctx) where the dot (node, counter) names the put -- node
 * is the coordinator, counter = max(previous counter + 1, its clock in us), unique per node even
 * across restarts -- and ctx is the client's context. Its full vector clock is ctx with entry
 * `node` raised to counter. Version Y supersedes X iff Y.ctx[X.node] >= X.counter. A plain
 * vector clock (ctx with the coordinator's entry bumped, compared by dominance) would make two
 * context-free puts through the same coordinator ordered, silently losing one; the dot keeps
 * them concurrent.
 *
 * Replicas keep the set of versions no other version supersedes: at most LKV_VC_MAX_SIBLINGS,
 * and their values at most max_value - key - overhead bytes in all (so one VAL message carries
 * them). Beyond either bound the version with the smallest (counter, node) -- the oldest by the
 * clock of its coordinator, a rule every replica applies identically -- is dropped and counted
 * (lkv_vc_stats().sibling_drops): the one place the sibling property yields to bounded memory.
 *
 * Not done here (lkv has them, this module not yet): read repair, anti-entropy, write-back and
 * tombstone collection. A replica that missed a put (crash, or partition healed before perfect
 * links retransmitted) stays behind until a later put reaches it; a get with R replies still
 * merges what the quorum holds. Tombstones are kept as siblings until a put covers them.
 * Consistency is therefore per-quorum: with R + W > N a get sees every version acknowledged
 * before it started (quorum intersection); with smaller quorums only eventually.
 *
 * The store is an instance table of the core (core/itab.h) keyed by the key bytes, capacity
 * [lkv] max_keys (the same bound as lkv's), each instance one key's sibling set. Retirement
 * rule: none. A key's versions are this replica's copy and its tombstones are siblings that must
 * keep superseding what their contexts cover (a late PUT of a covered version would otherwise
 * come back), and there is no tombstone collection yet; so an entry lives as long as the module,
 * and a full table refuses new keys: the replica answers full, and a put all of whose replicas
 * are full fails with STRATA_EFULL and a text that names the bound.
 *
 * Bounds: max_keys keys per node, at most LKV_MAX_PENDING coordinated requests,
 * LKV_VC_MAX_SIBLINGS versions per key.
 *
 * Wire (one u8 type, then codec fields; a version = node ctr tomb nctx ctx[nctx] value):
 *   GET rid key           -> VAL rid count version...
 *   PUT rid key version   -> ACK rid full
 * Client reply of a get: flags STRATA_REPLY_SIBLINGS (| FOUND if a value), data = count,
 * value bytes x count, context bytes; a context = n, then n u64 entries (node id - 1). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/itab.h"
#include "core/stack.h"
#include "links/links.h"
#include "reg/lkv.h"

enum { M_GET = 1, M_VAL, M_PUT, M_ACK };
enum { K_GET = LKV_K_GET, K_PUT = LKV_K_PUT, K_DEL = LKV_K_DEL };
enum { T_OP = 1, T_OWED };

/* Per-version overhead on the wire, bytes: dot, flag and length fields, ctx of n varints. */
#define SIB_OVERHEAD(n) (32 + 10 * (size_t)(n))

struct sib {
	uint32_t node;
	uint64_t ctr;
	bool tomb;
	uint64_t *ctx;          /* [n] */
	struct strata_msg *val; /* one reference, NULL for a tombstone */
};

struct sibset {
	unsigned count;
	struct sib s[LKV_VC_MAX_SIBLINGS];
};

/* One key's replica: an instance of the node's instance table (core/itab.h), keyed by the key
 * bytes. */
struct vc_entry {
	struct sibset set;
};

struct vc_op {
	struct lkv_coord c;    /* the request, its replicas and timeout (lkv_common.c) */
	struct sibset merged;  /* get: the union of the replies */
	struct sib put;        /* put/del: the new version */
};

struct lkv_vc {
	struct strata_module m;
	struct lkv_ring ring;
	uint32_t self, n, replicas, r, w;
	size_t max_value, max_keys;
	struct strata_itab *tab; /* the store: max_keys instances (struct vc_entry) */
	uint64_t ctr;
	struct lkv_coords ops; /* of struct vc_op */
	struct lkv_vc_stats st;
	struct strata_pl_owed *owed; /* sends the links refused (lkv_send_to) */
};

static struct lkv_vc *V(struct strata_module *m)
{
	return (struct lkv_vc *)(void *)m;
}


/* ---- versions and sibling sets ---- */

static void sib_clear(struct sib *s)
{
	free(s->ctx);
	if (s->val)
		strata_msg_unref(s->val);
	memset(s, 0, sizeof(*s));
}

/* Y supersedes X: Y's causal past holds X's dot. */
static bool covers(const struct sib *y, const struct sib *x)
{
	return y->ctx[x->node - 1] >= x->ctr;
}

static size_t sib_bytes(const struct lkv_vc *l, const struct sib *s)
{
	return (s->val ? s->val->len : 0) + SIB_OVERHEAD(l->n);
}

static void set_clear(struct sibset *set)
{
	for (unsigned i = 0; i < set->count; i++)
		sib_clear(&set->s[i]);
	set->count = 0;
}

static void set_remove(struct sibset *set, unsigned i)
{
	sib_clear(&set->s[i]);
	set->s[i] = set->s[set->count - 1];
	memset(&set->s[set->count - 1], 0, sizeof(set->s[0]));
	set->count--;
}

/* Adds a copy of y to set unless y is already there or superseded; removes what y supersedes;
 * then enforces the bounds. Returns 1 if y was added, 0 if not, STRATA_ENOMEM. */
static int set_add(struct lkv_vc *l, struct sibset *set, const struct sib *y, size_t budget)
{
	for (unsigned i = 0; i < set->count; i++) {
		const struct sib *x = &set->s[i];
		if ((x->node == y->node && x->ctr == y->ctr) || covers(x, y))
			return 0;
	}
	uint64_t *ctx = malloc(l->n * sizeof(*ctx));
	if (!ctx)
		return STRATA_ENOMEM;
	memcpy(ctx, y->ctx, l->n * sizeof(*ctx));
	for (unsigned i = 0; i < set->count;) {
		if (covers(y, &set->s[i])) {
			l->st.superseded++;
			set_remove(set, i);
		} else {
			i++;
		}
	}
	/* Room for y: count and bytes. The oldest by (counter, node) goes first. */
	size_t bytes = sib_bytes(l, y);
	for (unsigned i = 0; i < set->count; i++)
		bytes += sib_bytes(l, &set->s[i]);
	while (set->count > 0 && (set->count >= LKV_VC_MAX_SIBLINGS || bytes > budget)) {
		unsigned old = 0;
		for (unsigned i = 1; i < set->count; i++) {
			const struct sib *a = &set->s[i], *b = &set->s[old];
			if (a->ctr < b->ctr || (a->ctr == b->ctr && a->node < b->node))
				old = i;
		}
		/* y competes too: when it is the oldest it is the one dropped, so that the
		 * versions kept do not depend on the order they arrived in (a replica that gets
		 * an old put late, and a coordinator merging replies, keep the same newest ones). */
		const struct sib *b = &set->s[old];
		if (y->ctr < b->ctr || (y->ctr == b->ctr && y->node < b->node)) {
			l->st.sibling_drops++;
			strata_trace(l->m.node, "lkv-vc", "sibling bound: drop version %u.%llu",
				     y->node, (unsigned long long)y->ctr);
			free(ctx);
			return 0;
		}
		bytes -= sib_bytes(l, &set->s[old]);
		l->st.sibling_drops++;
		strata_trace(l->m.node, "lkv-vc", "sibling bound: drop version %u.%llu",
			     set->s[old].node, (unsigned long long)set->s[old].ctr);
		set_remove(set, old);
	}
	struct sib *d = &set->s[set->count++];
	d->node = y->node;
	d->ctr = y->ctr;
	d->tomb = y->tomb;
	d->ctx = ctx;
	d->val = y->val;
	if (d->val)
		strata_msg_ref(d->val);
	return 1;
}

/* The budget for a key's versions: one VAL message must carry them all. */
static size_t budget(const struct lkv_vc *l, size_t klen)
{
	return l->max_value > klen + 64 ? l->max_value - klen - 64 : 0;
}

/* Full clock of v: ctx with the dot's entry raised. Merged pointwise into out. */
static void clock_merge(const struct lkv_vc *l, uint64_t *out, const struct sib *v)
{
	for (uint32_t i = 0; i < l->n; i++)
		if (v->ctx[i] > out[i])
			out[i] = v->ctx[i];
	if (v->ctr > out[v->node - 1])
		out[v->node - 1] = v->ctr;
}

static void wr_version(struct strata_wr *w, const struct lkv_vc *l, const struct sib *s)
{
	strata_wr_u64(w, s->node);
	strata_wr_u64(w, s->ctr);
	strata_wr_u8(w, s->tomb);
	strata_wr_u64(w, l->n);
	for (uint32_t i = 0; i < l->n; i++)
		strata_wr_u64(w, s->ctx[i]);
	strata_wr_bytes(w, s->val ? s->val->data : NULL, s->val ? s->val->len : 0);
}

/* Reads a version into s (s->ctx: caller's [n] buffer). 0, or STRATA_EPROTO. */
static int rd_version(struct strata_rd *rd, const struct lkv_vc *l, struct sib *s,
		      const uint8_t **v, size_t *vlen)
{
	s->node = (uint32_t)strata_rd_u64_max(rd, l->n);
	s->ctr = strata_rd_u64(rd);
	uint8_t tomb = strata_rd_u8(rd);
	uint64_t nctx = strata_rd_u64(rd);
	if (!strata_rd_ok(rd) || nctx != l->n || s->node == 0 || s->ctr == 0 || tomb > 1)
		return STRATA_EPROTO;
	s->tomb = tomb != 0;
	for (uint32_t i = 0; i < l->n; i++)
		s->ctx[i] = strata_rd_u64(rd);
	*vlen = strata_rd_bytes(rd, v, l->max_value);
	return strata_rd_ok(rd) ? 0 : STRATA_EPROTO;
}

/* ---- the store ---- */

static struct vc_entry *e_find(struct lkv_vc *l, const uint8_t *key, size_t klen)
{
	return strata_itab_find(l->tab, key, klen);
}

static void entry_fini(void *ext, void *arg)
{
	(void)arg;
	set_clear(&((struct vc_entry *)ext)->set);
}

/* Stores version y of key. 0 (stored or already known/superseded), STRATA_EFULL, ENOMEM. */
static int store(struct lkv_vc *l, const uint8_t *key, size_t klen, const struct sib *y)
{
	int rc = 0;
	struct vc_entry *e = strata_itab_get(l->tab, key, klen, NULL, &rc);
	if (!e) {
		if (rc == STRATA_EFULL)
			l->st.full_rejects++;
		return rc;
	}
	rc = set_add(l, &e->set, y, budget(l, klen));
	return rc < 0 ? rc : 0;
}

/* ---- sending ---- */

/* ---- coordinator ---- */

static struct vc_op *op_by_rid(struct lkv_vc *l, uint64_t rid)
{
	return (struct vc_op *)lkv_coord_find(&l->ops, rid);
}

static void op_free(struct lkv_vc *l, struct vc_op *o)
{
	lkv_coord_remove(&l->ops, &l->m, &o->c);
	set_clear(&o->merged);
	sib_clear(&o->put);
	free(o);
}

static void reply(struct lkv_vc *l, struct vc_op *o, int status, const char *text)
{
	strata_node_reply(l->m.node, &l->m, o->c.req_id, status, 0, NULL, 0, text);
	op_free(l, o);
}

/* The get's answer: every sibling value and the merged context (format: lkv.h, node.h). */
static void reply_get(struct lkv_vc *l, struct vc_op *o)
{
	uint64_t ctx[STRATA_MAX_NODES] = { 0 };
	unsigned values = 0;
	size_t bytes = 64 + 10 * (size_t)l->n;
	for (unsigned i = 0; i < o->merged.count; i++) {
		clock_merge(l, ctx, &o->merged.s[i]);
		if (!o->merged.s[i].tomb) {
			values++;
			bytes += o->merged.s[i].val->len + 10;
		}
	}
	struct strata_wr w;
	strata_wr_init(&w, bytes);
	strata_wr_u64(&w, values);
	for (unsigned i = 0; i < o->merged.count; i++) {
		const struct sib *s = &o->merged.s[i];
		if (!s->tomb)
			strata_wr_bytes(&w, s->val->data, s->val->len);
	}
	struct strata_wr c;
	strata_wr_init(&c, 16 + 10 * (size_t)l->n);
	strata_wr_u64(&c, l->n);
	for (uint32_t i = 0; i < l->n; i++)
		strata_wr_u64(&c, ctx[i]);
	strata_wr_bytes(&w, c.buf, c.len);
	strata_wr_free(&c);
	if (w.err) {
		strata_wr_free(&w);
		reply(l, o, STRATA_ENOMEM, "reply encoding failed");
		return;
	}
	strata_node_reply(l->m.node, &l->m, o->c.req_id, 0,
			  STRATA_REPLY_SIBLINGS | (values ? STRATA_REPLY_FOUND : 0), w.buf, w.len,
			  NULL);
	strata_wr_free(&w);
	op_free(l, o);
}

static void on_val(struct lkv_vc *l, uint32_t from, struct strata_rd *rd)
{
	uint64_t rid = strata_rd_u64(rd);
	size_t count = (size_t)strata_rd_u64_max(rd, LKV_VC_MAX_SIBLINGS);
	struct vc_op *o = op_by_rid(l, rid);
	bool take = o && o->c.kind == K_GET && lkv_coord_rep(&o->c, from) >= 0 &&
		    !(o->c.replied & lkv_bit(from));
	uint64_t ctx[STRATA_MAX_NODES];
	for (size_t i = 0; i < count && strata_rd_ok(rd); i++) {
		struct sib s = { .ctx = ctx };
		const uint8_t *v;
		size_t vlen;
		if (rd_version(rd, l, &s, &v, &vlen) != 0)
			break;
		if (!take)
			continue;
		if (!s.tomb && !(s.val = strata_msg_new(v, vlen))) {
			reply(l, o, STRATA_ENOMEM, "out of memory");
			return;
		}
		int rc = set_add(l, &o->merged, &s, SIZE_MAX);
		if (s.val)
			strata_msg_unref(s.val);
		if (rc < 0) {
			reply(l, o, STRATA_ENOMEM, "out of memory");
			return;
		}
	}
	if (strata_rd_done(rd) != 0) {
		strata_node_bad_payload(l->m.node, &l->m, from, "lkv-vc VAL");
		return;
	}
	if (!take)
		return; /* late or duplicate */
	o->c.replied |= lkv_bit(from);
	if (lkv_popcount(o->c.replied) >= o->c.r)
		reply_get(l, o);
}

static void on_ack(struct lkv_vc *l, uint32_t from, struct strata_rd *rd)
{
	uint64_t rid = strata_rd_u64(rd);
	uint8_t full = strata_rd_u8(rd);
	if (strata_rd_done(rd) != 0) {
		strata_node_bad_payload(l->m.node, &l->m, from, "lkv-vc ACK");
		return;
	}
	struct vc_op *o = op_by_rid(l, rid);
	if (!o || o->c.kind == K_GET || !lkv_coord_ack(&o->c, from, full))
		return;
	unsigned acks = lkv_popcount(o->c.acked), nfull = lkv_popcount(o->c.full);
	if (acks >= o->c.w) {
		reply(l, o, 0, NULL);
	} else if (o->c.nrep - nfull < o->c.w && acks + nfull == o->c.nrep) {
		char text[160];
		snprintf(text, sizeof(text),
			 "W=%u not reachable: %u replicas stored it, %u are full (%zu keys per "
			 "node)%s",
			 o->c.w, acks, nfull, l->max_keys,
			 acks ? ": the write may be visible later" : "");
		reply(l, o, acks ? STRATA_ETIMEDOUT : STRATA_EFULL, text);
	}
}

static void on_op_timeout(struct lkv_vc *l, uint64_t rid)
{
	struct vc_op *o = op_by_rid(l, rid);
	if (!o)
		return;
	char text[200];
	if (o->c.kind == K_GET)
		snprintf(text, sizeof(text), "no read quorum in %u ms: %u of R=%u replicas answered",
			 LKV_TIMEOUT_US / 1000, lkv_popcount(o->c.replied), o->c.r);
	else
		snprintf(text, sizeof(text), "no write quorum in %u ms: %u of W=%u replicas acknowledged",
			 LKV_TIMEOUT_US / 1000, lkv_popcount(o->c.acked), o->c.w);
	reply(l, o, STRATA_ETIMEDOUT, text);
}

/* ---- client requests ---- */

int lkv_vc_context_decode(const uint8_t *p, size_t len, uint32_t n, uint64_t *out)
{
	memset(out, 0, n * sizeof(*out));
	if (len == 0)
		return 0;
	struct strata_rd rd;
	strata_rd_init(&rd, p, len);
	uint64_t cn = strata_rd_u64_max(&rd, STRATA_MAX_NODES);
	if (!strata_rd_ok(&rd) || cn != n)
		return STRATA_EINVAL;
	for (uint32_t i = 0; i < n; i++)
		out[i] = strata_rd_u64(&rd);
	return strata_rd_done(&rd) == 0 ? 0 : STRATA_EINVAL;
}

static int vc_request(struct strata_module *m, const struct strata_request *q)
{
	struct lkv_vc *l = V(m);
	struct lkv_limits lim = { .max_value = l->max_value, .overhead = 64 + SIB_OVERHEAD(l->n),
				  .replicas = l->replicas, .r = l->r, .w = l->w, .nops = l->ops.n };
	uint8_t kind;
	if (lkv_request_check(m, q, &lim, &kind) != 0)
		return 0;
	uint64_t ctx[STRATA_MAX_NODES];
	if (kind != K_GET && lkv_vc_context_decode(q->value2, q->value2_len, l->n, ctx) != 0)
		return lkv_reject(&l->m, q->id, STRATA_EINVAL,
			      "malformed context (value2, %zu bytes): pass the one a get returned",
			      q->value2_len);
	if (kind == K_GET && q->value2_len)
		return lkv_reject(&l->m, q->id, STRATA_EINVAL, "a get takes no context");
	struct vc_op *o = calloc(1, sizeof(*o));
	uint8_t *key = malloc(q->key_len);
	uint64_t *pctx = kind != K_GET ? malloc(l->n * sizeof(*pctx)) : NULL;
	struct strata_msg *val = kind == K_PUT ? strata_msg_new(q->value, q->value_len) : NULL;
	if (!o || !key || (kind != K_GET && !pctx) || (kind == K_PUT && !val)) {
		free(o);
		free(key);
		free(pctx);
		if (val)
			strata_msg_unref(val);
		return STRATA_ENOMEM;
	}
	lkv_coord_add(&l->ops, &o->c, m, q, kind, &lim, key, &l->ring, T_OP);
	struct strata_wr wr;
	strata_wr_init(&wr, l->max_value);
	strata_wr_u8(&wr, kind == K_GET ? M_GET : M_PUT);
	strata_wr_u64(&wr, o->c.rid);
	strata_wr_bytes(&wr, key, o->c.klen);
	if (kind != K_GET) {
		/* The dot: unique per node (a counter that also follows the clock, so a restarted
		 * node does not reuse one), whatever the context says. */
		uint64_t now = strata_now_us(m->node);
		l->ctr = l->ctr + 1 > now ? l->ctr + 1 : now;
		memcpy(pctx, ctx, l->n * sizeof(*pctx));
		o->put = (struct sib){ .node = l->self, .ctr = l->ctr, .tomb = kind == K_DEL,
				       .ctx = pctx, .val = val };
		wr_version(&wr, l, &o->put);
		strata_trace(m->node, "lkv-vc", "put rid=%llu dot %u.%llu -> write to %u replicas",
			     (unsigned long long)o->c.rid, l->self, (unsigned long long)l->ctr,
			     o->c.nrep);
	}
	lkv_send_reps(&l->m, l->owed, &o->c, lkv_wr_done(&l->m, &wr));
	return 0;
}

/* ---- replica side ---- */

static void on_get(struct lkv_vc *l, uint32_t from, struct strata_rd *rd)
{
	uint64_t rid = strata_rd_u64(rd);
	const uint8_t *key;
	size_t klen = strata_rd_bytes(rd, &key, LKV_KEY_MAX);
	if (strata_rd_done(rd) != 0 || klen == 0) {
		strata_node_bad_payload(l->m.node, &l->m, from, "lkv-vc GET");
		return;
	}
	struct vc_entry *e = e_find(l, key, klen);
	struct strata_wr w;
	strata_wr_init(&w, l->max_value);
	strata_wr_u8(&w, M_VAL);
	strata_wr_u64(&w, rid);
	strata_wr_u64(&w, e ? e->set.count : 0);
	for (unsigned i = 0; e && i < e->set.count; i++)
		wr_version(&w, l, &e->set.s[i]);
	struct strata_msg *m = lkv_wr_done(&l->m, &w);
	if (m) {
		lkv_send_to(&l->m, l->owed, from, m);
		strata_msg_unref(m);
	}
}

static void on_put(struct lkv_vc *l, uint32_t from, struct strata_rd *rd)
{
	uint64_t rid = strata_rd_u64(rd);
	const uint8_t *key, *v;
	size_t klen = strata_rd_bytes(rd, &key, LKV_KEY_MAX), vlen = 0;
	uint64_t ctx[STRATA_MAX_NODES];
	struct sib s = { .ctx = ctx };
	if (!strata_rd_ok(rd) || klen == 0 || rd_version(rd, l, &s, &v, &vlen) != 0 ||
	    strata_rd_done(rd) != 0) {
		strata_node_bad_payload(l->m.node, &l->m, from, "lkv-vc PUT");
		return;
	}
	int rc = STRATA_ENOMEM;
	if (s.tomb || (s.val = strata_msg_new(v, vlen)) != NULL) {
		rc = store(l, key, klen, &s);
		if (s.val)
			strata_msg_unref(s.val);
	}
	lkv_send_ack(&l->m, l->owed, from, M_ACK, rid, rc);
}

/* ---- module plumbing ---- */

static void vc_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct lkv_vc *l = V(m);
	if (ev->type == STRATA_EV_TIMER && ev->arg == T_OP) {
		on_op_timeout(l, ev->instance);
		return;
	}
	if (ev->type == STRATA_EV_TIMER && ev->arg == T_OWED) {
		strata_pl_owed_flush(l->owed);
		return;
	}
	if (ev->type != STRATA_EV_PL_DELIVER || !ev->msg || ev->peer < 1 || ev->peer > l->n)
		return;
	struct strata_rd rd;
	strata_rd_init(&rd, ev->msg->data, ev->msg->len);
	switch (strata_rd_u8(&rd)) {
	case M_GET: on_get(l, ev->peer, &rd); break;
	case M_VAL: on_val(l, ev->peer, &rd); break;
	case M_PUT: on_put(l, ev->peer, &rd); break;
	case M_ACK: on_ack(l, ev->peer, &rd); break;
	default: strata_node_bad_payload(m->node, m, ev->peer, "lkv-vc: unknown message type");
	}
}

static void vc_destroy(struct strata_module *m)
{
	struct lkv_vc *l = V(m);
	for (size_t i = 0; i < LKV_MAX_PENDING; i++)
		if (l->ops.op[i])
			op_free(l, (struct vc_op *)l->ops.op[i]);
	strata_itab_free(l->tab); /* entry_fini releases the versions */
	lkv_ring_free(&l->ring);
	strata_pl_owed_free(l->owed);
	free(l);
}

static const struct strata_module_ops vc_ops = {
	.name = "lkv-vc",
	.handle = vc_handle,
	.request = vc_request,
	.destroy = vc_destroy,
};

struct strata_module *lkv_vc_create(struct strata_node *n, char *err, size_t errlen)
{
	const struct strata_config *cfg = strata_node_config(n);
	if (lkv_config_check(cfg, "lkv-vc", err, errlen) != 0)
		return NULL;
	struct lkv_vc *l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "lkv-vc: out of memory");
		return NULL;
	}
	l->self = strata_node_id(n);
	l->n = cfg->n;
	l->replicas = cfg->lkv_replicas;
	l->r = cfg->lkv_r;
	l->w = cfg->lkv_w;
	l->max_value = cfg->max_value;
	l->max_keys = cfg->lkv_max_keys;
	l->tab = strata_itab_new("lkv-vc keys", l->max_keys, sizeof(struct vc_entry), entry_fini,
				 NULL);
	l->owed = lkv_owed_new(n, &l->m, T_OWED);
	if (!l->tab || !l->owed || lkv_ring_init(&l->ring, cfg->n, LKV_VNODES) != 0) {
		strata_pl_owed_free(l->owed);
		strata_itab_free(l->tab);
		free(l);
		snprintf(err, errlen, "lkv-vc: out of memory");
		return NULL;
	}
	strata_node_add_module(n, &l->m, &vc_ops, strata_wire_id("lkv-vc"));
	return &l->m;
}

/* ---- inspection hooks ---- */

size_t lkv_vc_peek(struct strata_module *m, const void *key, size_t klen,
		   struct lkv_vc_sibling *out, size_t max)
{
	STRATA_ASSERT(m->ops == &vc_ops);
	struct vc_entry *e = e_find(V(m), key, klen);
	size_t k = 0;
	for (unsigned i = 0; e && i < e->set.count && k < max; i++, k++)
		out[k] = (struct lkv_vc_sibling){ .node = e->set.s[i].node, .ctr = e->set.s[i].ctr,
						  .tomb = e->set.s[i].tomb, .val = e->set.s[i].val };
	return k;
}

void lkv_vc_stats(struct strata_module *m, struct lkv_vc_stats *out)
{
	STRATA_ASSERT(m->ops == &vc_ops);
	*out = V(m)->st;
}

size_t lkv_vc_count(struct strata_module *m)
{
	STRATA_ASSERT(m->ops == &vc_ops);
	return strata_itab_len(V(m)->tab);
}

void lkv_vc_test_no_owed(struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &vc_ops);
	strata_pl_owed_test_lossy(V(m)->owed);
}

void lkv_vc_test_owed_counts(struct strata_module *m, struct strata_pl_owed_counts *c)
{
	STRATA_ASSERT(m && m->ops == &vc_ops);
	strata_pl_owed_counts(V(m)->owed, c);
}
