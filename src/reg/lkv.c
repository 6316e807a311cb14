/* lkv: the leaderless quorum key-value store (the Dynamo family), a bounded implementation.
 *
 * Specification (per key; N = replicas, R and W the quorums of one request):
 *   Placement  the key lives on the N nodes of its preference list on the hash ring
 *              (lkv_ring.c); any node coordinates a request for any key.
 *   Put/Del    completes after W replicas acknowledged the new version; a delete writes a
 *              tombstone. A put that cannot reach W in LKV_TIMEOUT_US replies STRATA_ETIMEDOUT
 *              (outcome unknown), never a definite failure for a write that may have happened.
 *   Get        completes after R replicas replied, with the newest version among them
 *              (found = false for never written or deleted).
 *   Strong     (R + W > N): every get is linearizable with the puts and deletes, i.e. the
 *              history of each key is that of an atomic register: quorums intersect, a put
 *              first reads the versions of R replicas and takes a timestamp above all of them,
 *              and a get writes the version it returns back to W replicas before returning
 *              (unless W of the R replies already hold it), as ABD does (book Alg. 4.10-4.11).
 *   Weak       (R + W <= N): eventual consistency only; reads may be stale and a put does not
 *              consult first (one round trip). The module warns when configured so.
 *   Convergence  read repair (a get writes the newest version to the replicas that answered
 *              with an older one) and anti-entropy (digest exchange, below) make all correct
 *              replicas of a key equal once the network heals and writes stop.
 *
 * Versions are last-write-wins: (ts, writer node id) ordered lexicographically, ts from a hybrid
 * logical clock: ts = max(now_us, every stamp seen) + 1. Deletes are tombstones, dropped
 * LKV_GC_AGE_US after their ts (bounded work per sweep); a tombstone older than that which
 * arrives later removes older data but is not stored again.
 *
 * Anti-entropy: every node keeps, for every peer p, LKV_AE_BUCKETS XOR digests over the versions
 * of the keys it shares with p (key hash's top 8 bits = bucket), updated incrementally on every
 * change. Every LKV_AE_PERIOD_US a node sends DIGEST to the next peer (round robin); the peer
 * answers with a summary (key hash, version) of up to LKV_AE_BUCKETS_PER_ROUND mismatched
 * buckets; the initiator pushes the entries the peer lacks and asks for the ones it lacks.
 *
 * Model: fail-silent (crash-stop, no failure detector): a key stays available while at most
 * N - max(R, W) of its replicas crashed. The store is volatile: a restarted node is a new,
 * empty replica (filled again by anti-entropy), which is outside crash-stop.
 *
 * The store is an instance table of the core (core/itab.h) keyed by the key bytes, capacity
 * max_keys, each instance one key's replica (version, value, digest-bucket links). Retirement
 * rule: an entry is retired only when it holds a tombstone older than the tombstone age (the
 * collection sweep, below) or a tombstone that old arrives for it; values are a replica's copy
 * and are never retired (a full table refuses new keys).
 *
 * Bounds: at most max_keys entries per node (new keys beyond it: STRATA_EFULL), LKV_MAX_PENDING
 * coordinated requests holding at most LKV_PENDING_BYTES of put values, keys up to LKV_KEY_MAX,
 * key + value + 64 bytes within cfg->max_value, summaries up to LKV_AE_SUM_MAX items, pushes up to cfg->max_value bytes.
 *
 * Wire (one u8 type, then codec fields):
 *   GET  rid key want_value        -> VAL rid flags(1 present, 2 tomb) ts wr value
 *   PUT  rid key ts wr tomb value  -> ACK rid full   (rid 0: repair, no ACK)
 *   DIGEST raw u64[256]  -> SUM nbuckets bucket... count (raw h, ts, wr, tomb)...
 *   PUSH count (key ts wr tomb value)...     WANT count raw h... */
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

#define LKV_AE_SUM_MAX 4096
#define LKV_GC_PERIOD_US 1000000u
#define LKV_GC_SCAN 4096
#define LKV_PENDING_BYTES ((size_t)64 << 20) /* values held by pending puts, per node */

enum { M_GET = 1, M_VAL, M_PUT, M_ACK, M_DIGEST, M_SUM, M_PUSH, M_WANT };
enum { K_GET = LKV_K_GET, K_PUT = LKV_K_PUT, K_DEL = LKV_K_DEL };
enum { PH_QUERY = 1, PH_WRITE };
enum { T_OP = 1, T_AE, T_GC, T_OWED };

struct ver {
	uint64_t ts; /* 0 = absent */
	uint32_t wr;
	bool tomb;
	struct strata_msg *val; /* one reference, or NULL */
};

/* One key's replica: an instance of the node's instance table (core/itab.h), keyed by the key
 * bytes (which the table holds; `key` points at them). */
struct lkv_entry {
	struct lkv_entry *bprev, *bnext; /* digest-bucket list */
	uint64_t h, dig;
	struct ver v;
	const uint8_t *key;
	size_t klen;
};

struct lkv_op {
	struct lkv_coord c; /* the request, its replicas and timeout (lkv_common.c) */
	uint8_t phase;
	bool strong;
	uint64_t h;
	uint64_t holders;               /* bit (id - 1) */
	uint64_t rts[STRATA_MAX_NODES]; /* query replies, by replica position */
	uint32_t rwr[STRATA_MAX_NODES];
	struct ver best;
	struct strata_msg *val; /* the put's value */
};

struct lkv {
	struct strata_module m;
	struct lkv_ring ring;
	uint32_t self, n, replicas, r, w;
	size_t max_value, max_keys;
	uint64_t gc_age_us, ae_period_us;
	struct strata_itab *tab; /* the store: max_keys instances (struct lkv_entry) */
	struct lkv_entry *bucket[LKV_AE_BUCKETS];
	uint64_t *dig; /* [(n + 1) * LKV_AE_BUCKETS], row = peer id */
	uint64_t hlc;
	uint64_t skew_us; /* test-only: added to this node's clock to model unsynchronised clocks */
	struct lkv_coords ops; /* of struct lkv_op */
	size_t pending_bytes;
	struct strata_timer ae_timer, gc_timer;
	uint32_t ae_peer;
	unsigned gc_cursor;
	struct lkv_stats st;
	struct strata_pl_owed *owed; /* sends the links refused (lkv_send_to) */
};

static struct lkv *L(struct strata_module *m)
{
	return (struct lkv *)(void *)m;
}


static unsigned bucket_of(uint64_t h)
{
	return (unsigned)(h >> 56);
}

static bool newer(uint64_t ts, uint32_t wr, uint64_t ts2, uint32_t wr2)
{
	return ts > ts2 || (ts == ts2 && wr > wr2);
}

static void ver_set(struct ver *dst, uint64_t ts, uint32_t wr, bool tomb, struct strata_msg *val)
{
	if (val)
		strata_msg_ref(val);
	if (dst->val)
		strata_msg_unref(dst->val);
	dst->ts = ts;
	dst->wr = wr;
	dst->tomb = tomb;
	dst->val = val;
}

/* ---- hybrid logical clock ---- */

static uint64_t hlc_now(struct lkv *l)
{
	uint64_t t = strata_now_us(l->m.node) + l->skew_us;
	return t > l->hlc ? t : l->hlc;
}

static void hlc_observe(struct lkv *l, uint64_t ts)
{
	if (ts > l->hlc)
		l->hlc = ts;
}

/* max(clock, seen) + 1: above every version this node has seen, and above `seen` (the newest
 * version a read quorum holds), so a put that starts after another completed wins. */
static uint64_t hlc_tick(struct lkv *l, uint64_t seen)
{
	uint64_t t = hlc_now(l);
	if (seen > t)
		t = seen;
	l->hlc = t + 1;
	return l->hlc;
}

/* ---- the store: hash table + digest buckets ---- */

static uint64_t entry_digest(const struct lkv_entry *e)
{
	uint8_t b[8 + 8 + 4 + 1];
	memcpy(b, &e->h, 8);
	memcpy(b + 8, &e->v.ts, 8);
	memcpy(b + 16, &e->v.wr, 4);
	b[20] = e->v.tomb;
	return lkv_hash(b, sizeof(b));
}

static bool shared_with(const struct lkv *l, uint64_t h, uint32_t peer)
{
	uint32_t reps[STRATA_MAX_NODES];
	unsigned k = lkv_ring_replicas(&l->ring, h, l->replicas, reps);
	for (unsigned i = 0; i < k; i++)
		if (reps[i] == peer)
			return true;
	return false;
}

/* XORs delta into the digest of every replica of h: a change is then visible to each peer
 * that shares the key, at O(N) cost, with no scan. */
static void dig_xor(struct lkv *l, uint64_t h, uint64_t delta)
{
	uint32_t reps[STRATA_MAX_NODES];
	unsigned k = lkv_ring_replicas(&l->ring, h, l->replicas, reps);
	for (unsigned i = 0; i < k; i++)
		l->dig[(size_t)reps[i] * LKV_AE_BUCKETS + bucket_of(h)] ^= delta;
}

static struct lkv_entry *e_find(struct lkv *l, const uint8_t *key, size_t klen, uint64_t h)
{
	(void)h;
	return strata_itab_find(l->tab, key, klen);
}

/* Anti-entropy names entries by their 64-bit hash; a collision would only delay repair of the
 * two keys concerned (both are still stored and served by key). */
static struct lkv_entry *e_find_hash(struct lkv *l, uint64_t h)
{
	for (struct lkv_entry *e = l->bucket[bucket_of(h)]; e; e = e->bnext)
		if (e->h == h)
			return e;
	return NULL;
}

/* The instance table's fini: an entry's value reference. */
static void entry_fini(void *ext, void *arg)
{
	(void)arg;
	struct lkv_entry *e = ext;
	ver_set(&e->v, 0, 0, false, NULL);
}

static void e_remove(struct lkv *l, struct lkv_entry *e)
{
	dig_xor(l, e->h, e->dig);
	if (e->bprev)
		e->bprev->bnext = e->bnext;
	else
		l->bucket[bucket_of(e->h)] = e->bnext;
	if (e->bnext)
		e->bnext->bprev = e->bprev;
	strata_itab_del(l->tab, e->key, e->klen); /* entry_fini releases the value */
}

/* Stores version v of key if it is newer than the local one. Returns 1 if applied, 0 if not
 * newer, STRATA_EFULL / STRATA_ENOMEM when a new key cannot be stored. */
static int apply(struct lkv *l, const uint8_t *key, size_t klen, uint64_t h, uint64_t ts,
		 uint32_t wr, bool tomb, struct strata_msg *val)
{
	hlc_observe(l, ts);
	struct lkv_entry *e = e_find(l, key, klen, h);
	if (e && !newer(ts, wr, e->v.ts, e->v.wr))
		return 0;
	if (tomb && hlc_now(l) - ts > l->gc_age_us) {
		/* A tombstone past its age: it still removes older data, but storing it again
		 * would let two replicas hand it back and forth forever. */
		if (e)
			e_remove(l, e);
		return 1;
	}
	if (!e) {
		int rc = 0;
		e = strata_itab_get(l->tab, key, klen, NULL, &rc);
		if (!e) {
			if (rc == STRATA_EFULL)
				l->st.full_rejects++;
			return rc;
		}
		e->key = strata_itab_ext_key(e, &e->klen);
		e->h = h;
		unsigned b = bucket_of(h);
		e->bnext = l->bucket[b];
		if (e->bnext)
			e->bnext->bprev = e;
		l->bucket[b] = e;
	} else {
		dig_xor(l, h, e->dig);
	}
	ver_set(&e->v, ts, wr, tomb, tomb ? NULL : val);
	e->dig = entry_digest(e);
	dig_xor(l, h, e->dig);
	return 1;
}

/* ---- sending ---- */

static struct strata_msg *enc_put(struct lkv *l, uint64_t rid, const uint8_t *key, size_t klen,
				  const struct ver *v)
{
	struct strata_wr w;
	strata_wr_init(&w, l->max_value);
	strata_wr_u8(&w, M_PUT);
	strata_wr_u64(&w, rid);
	strata_wr_bytes(&w, key, klen);
	strata_wr_u64(&w, v->ts);
	strata_wr_u64(&w, v->wr);
	strata_wr_u8(&w, v->tomb);
	strata_wr_bytes(&w, v->val ? v->val->data : NULL, v->val ? v->val->len : 0);
	return lkv_wr_done(&l->m, &w);
}

/* ---- coordinator ---- */

static struct lkv_op *op_by_rid(struct lkv *l, uint64_t rid)
{
	return (struct lkv_op *)lkv_coord_find(&l->ops, rid);
}

static void op_free(struct lkv *l, struct lkv_op *o)
{
	lkv_coord_remove(&l->ops, &l->m, &o->c);
	ver_set(&o->best, 0, 0, false, NULL);
	if (o->val) {
		l->pending_bytes -= o->val->len;
		strata_msg_unref(o->val);
	}
	free(o);
}

static void complete(struct lkv *l, struct lkv_op *o, int status, const char *text)
{
	bool found = status == 0 && o->c.kind == K_GET && o->best.ts && !o->best.tomb;
	const struct strata_msg *v = found ? o->best.val : NULL;
	strata_node_reply(l->m.node, &l->m, o->c.req_id, status, found ? STRATA_REPLY_FOUND : 0,
			  v ? v->data : NULL, v ? v->len : 0, text);
	op_free(l, o);
}

static void send_get(struct lkv *l, struct lkv_op *o, bool want_value)
{
	struct strata_wr w;
	strata_wr_init(&w, l->max_value);
	strata_wr_u8(&w, M_GET);
	strata_wr_u64(&w, o->c.rid);
	strata_wr_bytes(&w, o->c.key, o->c.klen);
	strata_wr_u8(&w, want_value);
	lkv_send_reps(&l->m, l->owed, &o->c, lkv_wr_done(&l->m, &w));
}

/* Sends the op's best version to the replicas not in `skip` (rid 0: a repair, not awaited). */
static void send_put(struct lkv *l, struct lkv_op *o, uint64_t rid, uint64_t skip)
{
	struct strata_msg *m = enc_put(l, rid, o->c.key, o->c.klen, &o->best);
	if (!m)
		return;
	for (unsigned i = 0; i < o->c.nrep; i++)
		if (!(skip & lkv_bit(o->c.reps[i])))
			lkv_send_to(&l->m, l->owed, o->c.reps[i], m);
	strata_msg_unref(m);
}

static void write_phase(struct lkv *l, struct lkv_op *o, uint64_t holders)
{
	o->phase = PH_WRITE;
	o->c.acked = holders;
	o->c.full = 0;
	send_put(l, o, o->c.rid, holders);
}

static void query_done(struct lkv *l, struct lkv_op *o)
{
	if (o->c.kind != K_GET) {
		uint64_t ts = hlc_tick(l, o->best.ts);
		bool del = o->c.kind == K_DEL;
		ver_set(&o->best, ts, l->self, del, del ? NULL : o->val);
		strata_trace(l->m.node, "lkv", "put rid=%llu consulted %u -> write ts=%llu",
			     (unsigned long long)o->c.rid, lkv_popcount(o->c.replied),
			     (unsigned long long)ts);
		write_phase(l, o, 0);
		return;
	}
	uint64_t holders = 0, stale = 0;
	for (unsigned i = 0; i < o->c.nrep; i++) {
		if (!(o->c.replied & lkv_bit(o->c.reps[i])))
			continue;
		if (o->rts[i] == o->best.ts && o->rwr[i] == o->best.wr)
			holders |= lkv_bit(o->c.reps[i]);
		else
			stale |= lkv_bit(o->c.reps[i]);
	}
	if (o->best.ts == 0) {
		complete(l, o, 0, NULL); /* no replica of the quorum ever saw the key */
		return;
	}
	if (o->strong && lkv_popcount(holders) < o->c.w) {
		/* ABD's write-back: without it a later read could miss a version this read returned
		 * (a new-old inversion), since only the R replies are known to hold it. */
		l->st.writebacks++;
		strata_trace(l->m.node, "lkv", "get rid=%llu newest on %u < W=%u -> write back",
			     (unsigned long long)o->c.rid, lkv_popcount(holders), o->c.w);
		write_phase(l, o, holders);
		return;
	}
	if (stale) {
		l->st.read_repairs++;
		strata_trace(l->m.node, "lkv", "get rid=%llu %u stale replies -> read repair",
			     (unsigned long long)o->c.rid, lkv_popcount(stale));
		send_put(l, o, 0, ~stale);
	}
	complete(l, o, 0, NULL);
}

static void check_write(struct lkv *l, struct lkv_op *o)
{
	unsigned acks = lkv_popcount(o->c.acked), full = lkv_popcount(o->c.full);
	if (acks >= o->c.w) {
		complete(l, o, 0, NULL);
		return;
	}
	if (o->c.nrep - full >= o->c.w)
		return; /* W still reachable */
	if (acks + full < o->c.nrep)
		return; /* wait for the rest: one of them may have stored it */
	char text[160];
	if (acks == 0 && o->c.kind != K_GET) {
		snprintf(text, sizeof(text), "all %u replicas of the key are full (%zu keys per node)",
			 o->c.nrep, l->max_keys);
		complete(l, o, STRATA_EFULL, text);
	} else {
		snprintf(text, sizeof(text),
			 "W=%u not reachable: %u replicas stored it, %u are full: the write may be "
			 "visible later",
			 o->c.w, acks, full);
		complete(l, o, STRATA_ETIMEDOUT, text);
	}
}

static void on_val(struct lkv *l, uint32_t from, struct strata_rd *rd)
{
	uint64_t rid = strata_rd_u64(rd);
	uint8_t flags = strata_rd_u8(rd);
	uint64_t ts = strata_rd_u64(rd);
	uint32_t wr = (uint32_t)strata_rd_u64_max(rd, STRATA_MAX_NODES);
	const uint8_t *v;
	size_t vlen = strata_rd_bytes(rd, &v, l->max_value);
	if (strata_rd_done(rd) != 0 || ((flags & 1) && ts == 0)) {
		strata_node_bad_payload(l->m.node, &l->m, from, "lkv VAL");
		return;
	}
	struct lkv_op *o = op_by_rid(l, rid);
	int idx = o ? lkv_coord_rep(&o->c, from) : -1;
	if (!o || o->phase != PH_QUERY || idx < 0 || (o->c.replied & lkv_bit(from)))
		return; /* late or duplicate */
	if (!(flags & 1))
		ts = 0, wr = 0;
	hlc_observe(l, ts);
	o->c.replied |= lkv_bit(from);
	o->rts[idx] = ts;
	o->rwr[idx] = wr;
	if (ts && newer(ts, wr, o->best.ts, o->best.wr)) {
		struct strata_msg *m = NULL;
		if (!(flags & 2) && o->c.kind == K_GET) {
			m = strata_msg_new(v, vlen);
			if (!m) {
				complete(l, o, STRATA_ENOMEM, "out of memory");
				return;
			}
		}
		ver_set(&o->best, ts, wr, (flags & 2) != 0, m);
		if (m)
			strata_msg_unref(m);
	}
	if (lkv_popcount(o->c.replied) >= o->c.r)
		query_done(l, o);
}

static void on_ack(struct lkv *l, uint32_t from, struct strata_rd *rd)
{
	uint64_t rid = strata_rd_u64(rd);
	uint8_t full = strata_rd_u8(rd);
	if (strata_rd_done(rd) != 0) {
		strata_node_bad_payload(l->m.node, &l->m, from, "lkv ACK");
		return;
	}
	struct lkv_op *o = op_by_rid(l, rid);
	if (!o || o->phase != PH_WRITE || !lkv_coord_ack(&o->c, from, full))
		return;
	check_write(l, o);
}

static void on_op_timeout(struct lkv *l, uint64_t rid)
{
	struct lkv_op *o = op_by_rid(l, rid);
	if (!o)
		return;
	char text[200];
	if (o->phase == PH_QUERY)
		snprintf(text, sizeof(text),
			 "no read quorum in %u ms: %u of R=%u replicas answered%s",
			 LKV_TIMEOUT_US / 1000, lkv_popcount(o->c.replied), o->c.r,
			 o->c.kind == K_GET ? "" : " (before writing)");
	else
		snprintf(text, sizeof(text), "no write quorum in %u ms: %u of W=%u replicas acknowledged",
			 LKV_TIMEOUT_US / 1000, lkv_popcount(o->c.acked), o->c.w);
	strata_trace(l->m.node, "lkv", "rid=%llu %s -> outcome unknown", (unsigned long long)rid,
		     text);
	complete(l, o, STRATA_ETIMEDOUT, text);
}

/* ---- client requests ---- */

static int lkv_request(struct strata_module *m, const struct strata_request *q)
{
	struct lkv *l = L(m);
	struct lkv_limits lim = { .max_value = l->max_value, .overhead = 64,
				  .replicas = l->replicas, .r = l->r, .w = l->w, .nops = l->ops.n };
	uint8_t kind;
	if (lkv_request_check(m, q, &lim, &kind) != 0)
		return 0;
	if (q->value2_len)
		return lkv_reject(m, q->id, STRATA_EINVAL,
				  "causal contexts (value2) are not supported: lkv is last-write-wins "
				  "(lkv-vc keeps siblings and takes contexts)");
	if (kind == K_PUT && l->pending_bytes + q->value_len > LKV_PENDING_BYTES)
		return lkv_reject(&l->m, q->id, STRATA_EFULL,
			      "pending puts on this node hold %zu bytes (at most %zu): retry later",
			      l->pending_bytes, LKV_PENDING_BYTES);
	struct lkv_op *o = calloc(1, sizeof(*o));
	uint8_t *key = malloc(q->key_len);
	struct strata_msg *val = kind == K_PUT ? strata_msg_new(q->value, q->value_len) : NULL;
	if (!o || !key || (kind == K_PUT && !val)) {
		free(o);
		free(key);
		if (val)
			strata_msg_unref(val);
		return STRATA_ENOMEM;
	}
	o->h = lkv_coord_add(&l->ops, &o->c, m, q, kind, &lim, key, &l->ring, T_OP);
	o->strong = o->c.r + o->c.w > l->replicas;
	o->val = val;
	if (val)
		l->pending_bytes += val->len;
	if (!o->strong)
		strata_trace(m->node, "lkv", "request r=%u w=%u replicas=%u -> weak quorums: reads "
			     "may be stale", o->c.r, o->c.w, l->replicas);
	o->phase = PH_QUERY;
	if (kind == K_GET || o->strong) {
		send_get(l, o, kind == K_GET);
	} else {
		/* Weak put: no consulting round (pure Dynamo); the clock alone orders writes. */
		ver_set(&o->best, hlc_tick(l, 0), l->self, kind == K_DEL, o->val);
		write_phase(l, o, 0);
	}
	return 0;
}

/* ---- replica side ---- */

static void on_get(struct lkv *l, uint32_t from, struct strata_rd *rd)
{
	uint64_t rid = strata_rd_u64(rd);
	const uint8_t *key;
	size_t klen = strata_rd_bytes(rd, &key, LKV_KEY_MAX);
	uint8_t want = strata_rd_u8(rd);
	if (strata_rd_done(rd) != 0 || klen == 0) {
		strata_node_bad_payload(l->m.node, &l->m, from, "lkv GET");
		return;
	}
	struct lkv_entry *e = e_find(l, key, klen, lkv_hash(key, klen));
	struct strata_wr w;
	strata_wr_init(&w, l->max_value);
	strata_wr_u8(&w, M_VAL);
	strata_wr_u64(&w, rid);
	strata_wr_u8(&w, (uint8_t)(e ? 1 | (e->v.tomb ? 2 : 0) : 0));
	strata_wr_u64(&w, e ? e->v.ts : 0);
	strata_wr_u64(&w, e ? e->v.wr : 0);
	bool with = e && want && e->v.val;
	strata_wr_bytes(&w, with ? e->v.val->data : NULL, with ? e->v.val->len : 0);
	struct strata_msg *m = lkv_wr_done(&l->m, &w);
	if (m) {
		lkv_send_to(&l->m, l->owed, from, m);
		strata_msg_unref(m);
	}
}

/* One version off the wire (PUT or PUSH), applied; 0 or the apply() error. */
static int take_version(struct lkv *l, const uint8_t *key, size_t klen, uint64_t ts, uint32_t wr,
			bool tomb, const uint8_t *v, size_t vlen)
{
	struct strata_msg *val = NULL;
	if (!tomb) {
		val = strata_msg_new(v, vlen);
		if (!val)
			return STRATA_ENOMEM;
	}
	int rc = apply(l, key, klen, lkv_hash(key, klen), ts, wr, tomb, val);
	if (val)
		strata_msg_unref(val);
	return rc < 0 ? rc : 0;
}

static void on_put(struct lkv *l, uint32_t from, struct strata_rd *rd)
{
	uint64_t rid = strata_rd_u64(rd);
	const uint8_t *key, *v;
	size_t klen = strata_rd_bytes(rd, &key, LKV_KEY_MAX);
	uint64_t ts = strata_rd_u64(rd);
	uint32_t wr = (uint32_t)strata_rd_u64_max(rd, STRATA_MAX_NODES);
	uint8_t tomb = strata_rd_u8(rd);
	size_t vlen = strata_rd_bytes(rd, &v, l->max_value);
	if (strata_rd_done(rd) != 0 || klen == 0 || ts == 0 || wr == 0 || tomb > 1) {
		strata_node_bad_payload(l->m.node, &l->m, from, "lkv PUT");
		return;
	}
	int rc = take_version(l, key, klen, ts, wr, tomb, v, vlen);
	if (rid)
		lkv_send_ack(&l->m, l->owed, from, M_ACK, rid, rc);
}

/* ---- anti-entropy ---- */

static void ae_round(struct lkv *l)
{
	if (l->n < 2)
		return;
	do
		l->ae_peer = l->ae_peer % l->n + 1;
	while (l->ae_peer == l->self);
	struct strata_wr w;
	strata_wr_init(&w, 16 + 8 * LKV_AE_BUCKETS);
	strata_wr_u8(&w, M_DIGEST);
	const uint64_t *d = &l->dig[(size_t)l->ae_peer * LKV_AE_BUCKETS];
	for (unsigned b = 0; b < LKV_AE_BUCKETS; b++)
		strata_wr_raw(&w, &d[b], 8);
	struct strata_msg *m = lkv_wr_done(&l->m, &w);
	if (m) {
		l->st.ae_rounds++;
		lkv_send_to(&l->m, l->owed, l->ae_peer, m);
		strata_msg_unref(m);
	}
}

static void on_digest(struct lkv *l, uint32_t from, struct strata_rd *rd)
{
	uint64_t theirs[LKV_AE_BUCKETS];
	for (unsigned b = 0; b < LKV_AE_BUCKETS; b++)
		strata_rd_raw(rd, &theirs[b], 8);
	if (strata_rd_done(rd) != 0) {
		strata_node_bad_payload(l->m.node, &l->m, from, "lkv DIGEST");
		return;
	}
	const uint64_t *mine = &l->dig[(size_t)from * LKV_AE_BUCKETS];
	unsigned sel[LKV_AE_BUCKETS_PER_ROUND], nsel = 0;
	unsigned start = (unsigned)strata_random_below(l->m.node, LKV_AE_BUCKETS);
	size_t items = 0;
	for (unsigned k = 0; k < LKV_AE_BUCKETS && nsel < LKV_AE_BUCKETS_PER_ROUND; k++) {
		unsigned b = (start + k) % LKV_AE_BUCKETS;
		if (mine[b] == theirs[b])
			continue;
		size_t cnt = 0;
		for (struct lkv_entry *e = l->bucket[b]; e; e = e->bnext)
			cnt += shared_with(l, e->h, from);
		if (nsel > 0 && items + cnt > LKV_AE_SUM_MAX)
			break;
		sel[nsel++] = b;
		items += cnt;
	}
	if (!nsel)
		return;
	if (items > LKV_AE_SUM_MAX)
		items = LKV_AE_SUM_MAX;
	struct strata_wr w;
	strata_wr_init(&w, 64 + 4 * LKV_AE_BUCKETS_PER_ROUND + 40 * items);
	strata_wr_u8(&w, M_SUM);
	strata_wr_u64(&w, nsel);
	for (unsigned i = 0; i < nsel; i++)
		strata_wr_u64(&w, sel[i]);
	strata_wr_u64(&w, items);
	size_t put = 0;
	for (unsigned i = 0; i < nsel; i++) {
		for (struct lkv_entry *e = l->bucket[sel[i]]; e && put < items; e = e->bnext) {
			if (!shared_with(l, e->h, from))
				continue;
			strata_wr_raw(&w, &e->h, 8);
			strata_wr_u64(&w, e->v.ts);
			strata_wr_u64(&w, e->v.wr);
			strata_wr_u8(&w, e->v.tomb);
			put++;
		}
	}
	STRATA_ASSERT(put == items);
	struct strata_msg *m = lkv_wr_done(&l->m, &w);
	if (m) {
		lkv_send_to(&l->m, l->owed, from, m);
		strata_msg_unref(m);
	}
}

struct sum_item {
	uint64_t h, ts;
	uint32_t wr;
	bool tomb;
};

static int sum_cmp(const void *a, const void *b)
{
	const struct sum_item *x = a, *y = b;
	return x->h < y->h ? -1 : x->h > y->h;
}

static const struct sum_item *sum_find(const struct sum_item *it, size_t n, uint64_t h)
{
	struct sum_item key = { .h = h };
	if (!n)
		return NULL;
	return bsearch(&key, it, n, sizeof(*it), sum_cmp);
}

/* PUSH encoder: entries until the next would not fit in max_value. */
struct pusher {
	struct strata_wr body;
	size_t count;
};

static void push_add(struct lkv *l, struct pusher *p, const struct lkv_entry *e)
{
	size_t vlen = e->v.val ? e->v.val->len : 0;
	if (p->body.len + e->klen + vlen + 64 > l->max_value - 32)
		return; /* the next round carries it */
	strata_wr_bytes(&p->body, e->key, e->klen);
	strata_wr_u64(&p->body, e->v.ts);
	strata_wr_u64(&p->body, e->v.wr);
	strata_wr_u8(&p->body, e->v.tomb);
	strata_wr_bytes(&p->body, e->v.val ? e->v.val->data : NULL, vlen);
	p->count++;
}

static void push_send(struct lkv *l, struct pusher *p, uint32_t to)
{
	if (p->count && !p->body.err) {
		struct strata_wr w;
		strata_wr_init(&w, l->max_value);
		strata_wr_u8(&w, M_PUSH);
		strata_wr_u64(&w, p->count);
		strata_wr_raw(&w, p->body.buf, p->body.len);
		struct strata_msg *m = lkv_wr_done(&l->m, &w);
		if (m) {
			l->st.ae_pushed += p->count;
			lkv_send_to(&l->m, l->owed, to, m);
			strata_msg_unref(m);
		}
	}
	strata_wr_free(&p->body);
}

static void on_sum(struct lkv *l, uint32_t from, struct strata_rd *rd)
{
	unsigned sel[LKV_AE_BUCKETS_PER_ROUND];
	size_t nsel = (size_t)strata_rd_u64_max(rd, LKV_AE_BUCKETS_PER_ROUND);
	for (size_t i = 0; i < nsel; i++)
		sel[i] = (unsigned)strata_rd_u64_max(rd, LKV_AE_BUCKETS - 1);
	size_t n = (size_t)strata_rd_u64_max(rd, LKV_AE_SUM_MAX);
	struct sum_item *it = n ? calloc(n, sizeof(*it)) : NULL;
	if (n && !it)
		return;
	for (size_t i = 0; i < n && strata_rd_ok(rd); i++) {
		strata_rd_raw(rd, &it[i].h, 8);
		it[i].ts = strata_rd_u64(rd);
		it[i].wr = (uint32_t)strata_rd_u64_max(rd, STRATA_MAX_NODES);
		it[i].tomb = strata_rd_u8(rd) != 0;
	}
	if (strata_rd_done(rd) != 0) {
		free(it);
		strata_node_bad_payload(l->m.node, &l->m, from, "lkv SUM");
		return;
	}
	if (n)
		qsort(it, n, sizeof(*it), sum_cmp);
	struct pusher p = { .count = 0 };
	strata_wr_init(&p.body, l->max_value);
	struct strata_wr want;
	strata_wr_init(&want, 16 + 8 * (n + 1));
	size_t nwant = 0;
	for (size_t i = 0; i < nsel; i++) {
		for (struct lkv_entry *e = l->bucket[sel[i]]; e; e = e->bnext) {
			if (!shared_with(l, e->h, from))
				continue;
			const struct sum_item *s = sum_find(it, n, e->h);
			if (!s || newer(e->v.ts, e->v.wr, s->ts, s->wr))
				push_add(l, &p, e);
		}
	}
	for (size_t i = 0; i < n; i++) {
		hlc_observe(l, it[i].ts);
		struct lkv_entry *e = e_find_hash(l, it[i].h);
		if (!e || newer(it[i].ts, it[i].wr, e->v.ts, e->v.wr)) {
			strata_wr_raw(&want, &it[i].h, 8);
			nwant++;
		}
	}
	free(it);
	push_send(l, &p, from);
	if (nwant && !want.err) {
		struct strata_wr w;
		strata_wr_init(&w, 16 + 8 * (nwant + 1));
		strata_wr_u8(&w, M_WANT);
		strata_wr_u64(&w, nwant);
		strata_wr_raw(&w, want.buf, want.len);
		struct strata_msg *m = lkv_wr_done(&l->m, &w);
		if (m) {
			lkv_send_to(&l->m, l->owed, from, m);
			strata_msg_unref(m);
		}
	}
	strata_wr_free(&want);
}

static void on_want(struct lkv *l, uint32_t from, struct strata_rd *rd)
{
	size_t n = (size_t)strata_rd_u64_max(rd, LKV_AE_SUM_MAX);
	struct pusher p = { .count = 0 };
	strata_wr_init(&p.body, l->max_value);
	for (size_t i = 0; i < n && strata_rd_ok(rd); i++) {
		uint64_t h;
		strata_rd_raw(rd, &h, 8);
		struct lkv_entry *e = strata_rd_ok(rd) ? e_find_hash(l, h) : NULL;
		if (e && shared_with(l, h, from))
			push_add(l, &p, e);
	}
	if (strata_rd_done(rd) != 0) {
		strata_wr_free(&p.body);
		strata_node_bad_payload(l->m.node, &l->m, from, "lkv WANT");
		return;
	}
	push_send(l, &p, from);
}

static void on_push(struct lkv *l, uint32_t from, struct strata_rd *rd)
{
	size_t n = (size_t)strata_rd_u64_max(rd, l->max_value);
	for (size_t i = 0; i < n && strata_rd_ok(rd); i++) {
		const uint8_t *key, *v;
		size_t klen = strata_rd_bytes(rd, &key, LKV_KEY_MAX);
		uint64_t ts = strata_rd_u64(rd);
		uint32_t wr = (uint32_t)strata_rd_u64_max(rd, STRATA_MAX_NODES);
		uint8_t tomb = strata_rd_u8(rd);
		size_t vlen = strata_rd_bytes(rd, &v, l->max_value);
		if (!strata_rd_ok(rd) || klen == 0 || ts == 0 || wr == 0 || tomb > 1)
			break;
		/* Only keys this node replicates: a confused or malicious peer cannot fill it. */
		if (!shared_with(l, lkv_hash(key, klen), l->self))
			continue;
		struct lkv_entry *e = e_find(l, key, klen, lkv_hash(key, klen));
		bool applies = !e || newer(ts, wr, e->v.ts, e->v.wr);
		if (take_version(l, key, klen, ts, wr, tomb, v, vlen) == 0 && applies)
			l->st.ae_applied++;
	}
	if (strata_rd_done(rd) != 0)
		strata_node_bad_payload(l->m.node, &l->m, from, "lkv PUSH");
}

/* ---- tombstone collection: a bounded slice of the store per period ---- */

static void gc_sweep(struct lkv *l)
{
	uint64_t now = hlc_now(l);
	size_t scanned = 0;
	for (unsigned k = 0; k < LKV_AE_BUCKETS && scanned < LKV_GC_SCAN; k++) {
		unsigned b = l->gc_cursor;
		l->gc_cursor = (l->gc_cursor + 1) % LKV_AE_BUCKETS;
		struct lkv_entry *e = l->bucket[b], *nx;
		for (; e; e = nx) {
			nx = e->bnext;
			scanned++;
			if (e->v.tomb && now - e->v.ts > l->gc_age_us) {
				l->st.gc_dropped++;
				e_remove(l, e);
			}
		}
	}
}

/* ---- module plumbing ---- */

static void lkv_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct lkv *l = L(m);
	switch (ev->type) {
	case STRATA_EV_INIT:
		strata_timer_arm_in(m->node, &l->ae_timer,
				    l->ae_period_us + strata_random_below(m->node, l->ae_period_us));
		strata_timer_arm_in(m->node, &l->gc_timer, LKV_GC_PERIOD_US);
		return;
	case STRATA_EV_TIMER:
		if (ev->arg == T_OP) {
			on_op_timeout(l, ev->instance);
		} else if (ev->arg == T_AE) {
			ae_round(l);
			strata_timer_arm_in(m->node, &l->ae_timer, l->ae_period_us);
		} else if (ev->arg == T_GC) {
			gc_sweep(l);
			strata_timer_arm_in(m->node, &l->gc_timer, LKV_GC_PERIOD_US);
		} else if (ev->arg == T_OWED) {
			strata_pl_owed_flush(l->owed);
		}
		return;
	case STRATA_EV_PL_DELIVER:
		break;
	default:
		return;
	}
	if (!ev->msg || ev->peer < 1 || ev->peer > l->n)
		return;
	struct strata_rd rd;
	strata_rd_init(&rd, ev->msg->data, ev->msg->len);
	switch (strata_rd_u8(&rd)) {
	case M_GET: on_get(l, ev->peer, &rd); break;
	case M_VAL: on_val(l, ev->peer, &rd); break;
	case M_PUT: on_put(l, ev->peer, &rd); break;
	case M_ACK: on_ack(l, ev->peer, &rd); break;
	case M_DIGEST: on_digest(l, ev->peer, &rd); break;
	case M_SUM: on_sum(l, ev->peer, &rd); break;
	case M_PUSH: on_push(l, ev->peer, &rd); break;
	case M_WANT: on_want(l, ev->peer, &rd); break;
	default: strata_node_bad_payload(m->node, m, ev->peer, "lkv: unknown message type");
	}
}

static void lkv_destroy(struct strata_module *m)
{
	struct lkv *l = L(m);
	for (size_t i = 0; i < LKV_MAX_PENDING; i++)
		if (l->ops.op[i])
			op_free(l, (struct lkv_op *)l->ops.op[i]);
	strata_itab_free(l->tab); /* entry_fini releases the values */
	strata_timer_disarm(m->node, &l->ae_timer);
	strata_timer_disarm(m->node, &l->gc_timer);
	free(l->dig);
	lkv_ring_free(&l->ring);
	strata_pl_owed_free(l->owed);
	free(l);
}

static const struct strata_module_ops lkv_ops = {
	.name = "lkv",
	.handle = lkv_handle,
	.request = lkv_request,
	.destroy = lkv_destroy,
};

static void warn(struct strata_node *n, const char *text)
{
	strata_trace(n, "lkv", "%s -> warning", text);
	struct strata_output o = { .kind = STRATA_OUT_EVENT, .module = strata_wire_id("lkv"),
				   .module_name = "lkv", .text = text };
	strata_output(n, &o);
}

struct strata_module *lkv_create(struct strata_node *n, char *err, size_t errlen)
{
	const struct strata_config *cfg = strata_node_config(n);
	if (lkv_config_check(cfg, "lkv", err, errlen) != 0)
		return NULL;
	struct lkv *l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "lkv: out of memory");
		return NULL;
	}
	l->self = strata_node_id(n);
	l->n = cfg->n;
	l->replicas = cfg->lkv_replicas;
	l->r = cfg->lkv_r;
	l->w = cfg->lkv_w;
	l->max_value = cfg->max_value;
	l->max_keys = cfg->lkv_max_keys;
	l->gc_age_us = LKV_GC_AGE_US;
	l->ae_period_us = LKV_AE_PERIOD_US;
	l->tab = strata_itab_new("lkv keys", l->max_keys, sizeof(struct lkv_entry), entry_fini,
				 NULL);
	l->dig = calloc((size_t)(cfg->n + 1) * LKV_AE_BUCKETS, sizeof(*l->dig));
	l->ae_peer = l->self;
	l->owed = lkv_owed_new(n, &l->m, T_OWED);
	if (!l->tab || !l->dig || !l->owed || lkv_ring_init(&l->ring, cfg->n, LKV_VNODES) != 0) {
		strata_pl_owed_free(l->owed);
		strata_itab_free(l->tab);
		free(l->dig);
		free(l);
		snprintf(err, errlen, "lkv: out of memory");
		return NULL;
	}
	strata_node_add_module(n, &l->m, &lkv_ops, strata_wire_id("lkv"));
	strata_timer_init(&l->ae_timer, &l->m, T_AE, 0);
	strata_timer_init(&l->gc_timer, &l->m, T_GC, 0);
	char text[320];
	if (l->r + l->w <= l->replicas) {
		snprintf(text, sizeof(text),
			 "warning: r=%u + w=%u <= replicas=%u: quorums need not intersect, reads may "
			 "return stale values (eventual consistency only)",
			 l->r, l->w, l->replicas);
		warn(n, text);
	}
	uint32_t q = l->r > l->w ? l->r : l->w;
	if (cfg->f > l->replicas - q) {
		snprintf(text, sizeof(text),
			 "warning: each key lives on %u nodes ([lkv] replicas) and an operation needs "
			 "%u of them (max of r=%u, w=%u), so a key stays available through %u crashes "
			 "of its nodes, fewer than f=%u: operations on some keys may time out (raise "
			 "[lkv] replicas to tolerate f)",
			 l->replicas, q, l->r, l->w, l->replicas - q, cfg->f);
		warn(n, text);
	}
	return &l->m;
}

/* ---- inspection hooks ---- */

int lkv_peek(struct strata_module *m, const void *key, size_t klen, struct lkv_version *out)
{
	STRATA_ASSERT(m->ops == &lkv_ops);
	struct lkv_entry *e = e_find(L(m), key, klen, lkv_hash(key, klen));
	if (!e)
		return STRATA_ENOENT;
	out->ts = e->v.ts;
	out->wr = e->v.wr;
	out->tomb = e->v.tomb;
	out->val = e->v.val;
	return 0;
}

size_t lkv_count(struct strata_module *m)
{
	STRATA_ASSERT(m->ops == &lkv_ops);
	return strata_itab_len(L(m)->tab);
}

void lkv_stats(struct strata_module *m, struct lkv_stats *out)
{
	STRATA_ASSERT(m->ops == &lkv_ops);
	*out = L(m)->st;
}

void lkv_set_limits(struct strata_module *m, size_t max_keys, uint64_t gc_age_us,
		    uint64_t ae_period_us)
{
	STRATA_ASSERT(m->ops == &lkv_ops);
	struct lkv *l = L(m);
	if (max_keys && max_keys != l->max_keys && strata_itab_len(l->tab) == 0) {
		/* The table's capacity is the limit: make a new one (only before the first key). */
		struct strata_itab *t = strata_itab_new("lkv keys", max_keys,
							sizeof(struct lkv_entry), entry_fini, NULL);
		if (t) {
			strata_itab_free(l->tab);
			l->tab = t;
			l->max_keys = max_keys;
		}
	}
	if (gc_age_us)
		l->gc_age_us = gc_age_us;
	if (ae_period_us)
		l->ae_period_us = ae_period_us;
}

void lkv_set_clock_skew(struct strata_module *m, uint64_t skew_us)
{
	STRATA_ASSERT(m->ops == &lkv_ops);
	L(m)->skew_us = skew_us;
}

void lkv_test_no_owed(struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &lkv_ops);
	strata_pl_owed_test_lossy(L(m)->owed);
}

void lkv_test_owed_counts(struct strata_module *m, struct strata_pl_owed_counts *c)
{
	STRATA_ASSERT(m && m->ops == &lkv_ops);
	strata_pl_owed_counts(L(m)->owed, c);
}
