/* The KV state machine: what every replica applies, in log order, to the same state.
 *
 * State-machine interface: apply(index, command) -> result, deterministic (no clock, no random,
 * no node): replicas that apply the same log prefix hold the same keys, revision and sessions.
 *
 * Specification (etcd's revision model, one keyspace):
 *   put k v      sets k to v; the store's revision increases by one and is the result.
 *   del k        removes k if present (revision + 1); a del of an absent key changes nothing.
 *   cas k e v    if k holds exactly e: put k v; else STRATA_ESTATE ("compare failed") and
 *                nothing changes (result: k's mod revision, 0 if absent).
 *   put-nx k v   put k v only if k is absent; put-xx k v only if present (num 1 if written).
 *   incr k d     k (absent = 0) must hold a signed 64-bit decimal; it becomes k + d (num = the
 *                new value); not a number or an overflow: STRATA_EINVAL, nothing changes.
 *   getset k v   put k v; the result carries the previous value.
 *   mput pairs   put of every pair, in order, as one command (one revision per pair).
 *   refused k    the marker of a write refused for the space quota (log.c): nothing changes;
 *                STRATA_ENOSPACE (cached in the session: a copy of that seq is refused too).
 *   del k        also reports num = 1 if k was present.
 *   get k        (not a command: the log module reads the state) value, mod revision,
 *                create revision, version.
 *   Exactly once: a command carries (session, seq). Each (session, seq) is applied at most
 *   once; a repeat is a duplicate, answered with the cached result of that seq and changing
 *   nothing. A session may have up to SMR_SESSION_WINDOW commands in flight (a pipelining
 *   client, e.g. one RESP connection), so seqs may arrive out of order: the session keeps its
 *   highest applied seq, which of the SMR_SESSION_WINDOW seqs below it were applied, and their
 *   results. A seq below that window is a duplicate whose result is no longer known (the client
 *   promised to have at most SMR_SESSION_WINDOW outstanding, so it was answered long ago):
 *   answered STRATA_EREPLAY. Session 0 is not deduplicated.
 *
 *   History (watch): every put and delete is also recorded, with its revision, in a ring of the
 *   newest changes (SMR_HISTORY_MAX, SMR_HISTORY_BYTES); smr_kv_history reads it. It is a cache
 *   of this replica, not replicated state: a restored snapshot starts an empty one.
 *
 * Bounds: the session table holds at most sessions_max sessions; beyond, the one applied least
 * recently (lowest log index, the same on every replica, so expiry is driven by the log) is
 * forgotten. Keys are bounded by the caller's admission (SMR_KEY_MAX, SMR_VALUE_MAX) and memory;
 * snapshots and compaction are described in docs/smr.md. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "smr/smr.h"

struct kv_ent {
	struct kv_ent *next;
	uint64_t h;
	struct strata_msg *key;
	struct strata_msg *val;
	uint64_t mod_rev, create_rev, version;
};

/* The cached result of one applied command. */
struct kv_res {
	uint64_t revision;
	int64_t num;
	int status;
};

struct kv_sess {
	struct kv_sess *next;             /* hash chain */
	struct kv_sess *lru_prev, *lru_next; /* applied order: head = least recent */
	uint64_t id, last_seq, last_index;
	uint64_t applied_mask; /* bit i: seq last_seq - i was applied (i < SMR_SESSION_WINDOW) */
	struct kv_res last;    /* the result of last_seq */
	/* Results of the window's seqs, at [seq % SMR_SESSION_WINDOW]; allocated when the session
	 * applies its second command (a one-shot session never needs it). */
	struct kv_res *win;
};

/* One change of the revision history (watch): val NULL = a delete. */
struct kv_ev {
	struct strata_msg *key, *val;
	uint64_t rev, create_rev, version;
};

struct smr_kv {
	struct kv_ent **tab;
	size_t tcap, count;
	uint64_t bytes; /* the keys' and values' bytes + SMR_KV_KEY_OVERHEAD per key (the quota's) */
	uint64_t peak;  /* the most bytes held since created or restored */
	uint64_t revision;
	struct kv_sess **stab;
	size_t scap, scount, smax;
	struct kv_sess *lru_head, *lru_tail;
	bool broken_sessions;
	bool broken_window;
	/* The revision history (watch): a ring of the newest changes, one per revision, covering
	 * revisions hist_from..revision; at most SMR_HISTORY_MAX events and SMR_HISTORY_BYTES. */
	struct kv_ev *hist;
	size_t hcap, hhead, hcount, hbytes;
	uint64_t hist_from;
	bool loading; /* restoring a snapshot: no history */
};

static uint64_t kv_hash(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	h ^= h >> 31;
	h *= 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

struct smr_kv *smr_kv_new(size_t sessions_max)
{
	struct smr_kv *kv = calloc(1, sizeof(*kv));
	if (!kv)
		return NULL;
	kv->tcap = 1024;
	kv->tab = calloc(kv->tcap, sizeof(*kv->tab));
	kv->scap = 1024;
	kv->stab = calloc(kv->scap, sizeof(*kv->stab));
	kv->smax = sessions_max ? sessions_max : 1;
	kv->hist_from = 1;
	if (!kv->tab || !kv->stab) {
		smr_kv_free(kv);
		return NULL;
	}
	return kv;
}

void smr_kv_free(struct smr_kv *kv)
{
	if (!kv)
		return;
	for (size_t i = 0; kv->tab && i < kv->tcap; i++) {
		for (struct kv_ent *e = kv->tab[i], *nx; e; e = nx) {
			nx = e->next;
			strata_msg_unref(e->key);
			strata_msg_unref(e->val);
			free(e);
		}
	}
	for (struct kv_sess *s = kv->lru_head, *nx; s; s = nx) {
		nx = s->lru_next;
		free(s->win);
		free(s);
	}
	for (size_t i = 0; i < kv->hcount; i++) {
		struct kv_ev *ev = &kv->hist[(kv->hhead + i) & (kv->hcap - 1)];
		strata_msg_unref(ev->key);
		strata_msg_unref(ev->val);
	}
	free(kv->hist);
	free(kv->tab);
	free(kv->stab);
	free(kv);
}

/* ---- the revision history ---- */

static void hist_drop_oldest(struct smr_kv *kv)
{
	struct kv_ev *ev = &kv->hist[kv->hhead];
	kv->hbytes -= ev->key->len + (ev->val ? ev->val->len : 0);
	kv->hist_from = ev->rev + 1;
	strata_msg_unref(ev->key);
	strata_msg_unref(ev->val);
	kv->hhead = (kv->hhead + 1) & (kv->hcap - 1);
	kv->hcount--;
}

/* Records the change that made revision kv->revision (val NULL: a delete of key). When the
 * ring cannot grow (bound or memory), the oldest events go first: the history is a cache of
 * the newest changes, never needed for the state. */
static void hist_add(struct smr_kv *kv, struct strata_msg *key, struct strata_msg *val,
		     uint64_t create_rev, uint64_t version)
{
	if (kv->loading)
		return;
	if (kv->hcount == kv->hcap && kv->hcap < SMR_HISTORY_MAX) {
		size_t cap = kv->hcap ? kv->hcap * 2 : 64;
		struct kv_ev *h = malloc(cap * sizeof(*h));
		if (h) {
			for (size_t i = 0; i < kv->hcount; i++)
				h[i] = kv->hist[(kv->hhead + i) & (kv->hcap - 1)];
			free(kv->hist);
			kv->hist = h;
			kv->hcap = cap;
			kv->hhead = 0;
		}
	}
	size_t bytes = key->len + (val ? val->len : 0);
	while (kv->hcount > 0 && (kv->hcount == kv->hcap || kv->hbytes + bytes > SMR_HISTORY_BYTES))
		hist_drop_oldest(kv);
	if (kv->hcap == 0 || bytes > SMR_HISTORY_BYTES) {
		kv->hist_from = kv->revision + 1; /* this change is not kept: nothing before it is */
		return;
	}
	if (kv->hcount == 0)
		kv->hist_from = kv->revision;
	struct kv_ev *ev = &kv->hist[(kv->hhead + kv->hcount) & (kv->hcap - 1)];
	ev->key = strata_msg_ref(key);
	ev->val = val ? strata_msg_ref(val) : NULL;
	ev->rev = kv->revision;
	ev->create_rev = create_rev;
	ev->version = version;
	kv->hcount++;
	kv->hbytes += bytes;
}

int smr_kv_history(const struct smr_kv *kv, uint64_t from, const void *key, size_t klen,
		   bool prefix, size_t limit, struct smr_kv_event *out, size_t *count,
		   uint64_t *next, uint64_t *oldest)
{
	*count = 0;
	*oldest = kv->hist_from;
	*next = kv->revision + 1;
	if (from == 0)
		from = 1;
	if (from < kv->hist_from)
		return STRATA_ENOENT;
	if (from > kv->revision)
		return 0;
	for (uint64_t r = from; r <= kv->revision; r++) {
		const struct kv_ev *ev = &kv->hist[(kv->hhead + (r - kv->hist_from)) & (kv->hcap - 1)];
		STRATA_ASSERT(ev->rev == r);
		if (prefix ? ev->key->len < klen || memcmp(ev->key->data, key, klen) != 0
			   : ev->key->len != klen || memcmp(ev->key->data, key, klen) != 0)
			continue;
		if (*count == limit) {
			*next = r;
			return 0;
		}
		out[*count].key = ev->key;
		out[*count].val = ev->val;
		out[*count].revision = ev->rev;
		out[*count].create_revision = ev->create_rev;
		out[*count].version = ev->version;
		(*count)++;
	}
	return 0;
}

void smr_kv_set_broken_sessions(struct smr_kv *kv, bool broken)
{
	kv->broken_sessions = broken;
}

void smr_kv_set_broken_window(struct smr_kv *kv, bool broken)
{
	kv->broken_window = broken;
}

void smr_kv_test_skip_revision(struct smr_kv *kv)
{
	while (kv->hcount > 0)
		hist_drop_oldest(kv);
	kv->revision++;
	kv->hist_from = kv->revision + 1; /* nothing before the next change is kept */
}

/* ---- keys ---- */

static struct kv_ent **ent_slot(const struct smr_kv *kv, const void *key, size_t klen, uint64_t h)
{
	struct kv_ent **pp = &kv->tab[h & (kv->tcap - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->h == h && (*pp)->key->len == klen && memcmp((*pp)->key->data, key, klen) == 0)
			return pp;
	return pp;
}

static int ent_grow(struct smr_kv *kv)
{
	size_t cap = kv->tcap * 2;
	struct kv_ent **t = calloc(cap, sizeof(*t));
	if (!t)
		return STRATA_ENOMEM;
	for (size_t i = 0; i < kv->tcap; i++) {
		for (struct kv_ent *e = kv->tab[i], *nx; e; e = nx) {
			nx = e->next;
			e->next = t[e->h & (cap - 1)];
			t[e->h & (cap - 1)] = e;
		}
	}
	free(kv->tab);
	kv->tab = t;
	kv->tcap = cap;
	return 0;
}

int smr_kv_get(const struct smr_kv *kv, const void *key, size_t klen, struct smr_kv_value *out)
{
	struct kv_ent *e = *ent_slot(kv, key, klen, kv_hash(key, klen));
	if (!e)
		return STRATA_ENOENT;
	out->val = e->val;
	out->mod_revision = e->mod_rev;
	out->create_revision = e->create_rev;
	out->version = e->version;
	return 0;
}

static int kv_put(struct smr_kv *kv, const struct smr_cmd *c, const uint8_t *v, size_t vlen)
{
	uint64_t h = kv_hash(c->key, c->key_len);
	struct kv_ent **pp = ent_slot(kv, c->key, c->key_len, h);
	struct strata_msg *val = strata_msg_new(v, vlen);
	if (!val)
		return STRATA_ENOMEM;
	struct kv_ent *e = *pp;
	if (!e) {
		if (kv->count + 1 > kv->tcap && ent_grow(kv) != 0) {
			strata_msg_unref(val);
			return STRATA_ENOMEM;
		}
		pp = ent_slot(kv, c->key, c->key_len, h);
		e = calloc(1, sizeof(*e));
		struct strata_msg *key = strata_msg_new(c->key, c->key_len);
		if (!e || !key) {
			free(e);
			strata_msg_unref(key);
			strata_msg_unref(val);
			return STRATA_ENOMEM;
		}
		e->h = h;
		e->key = key;
		e->create_rev = kv->revision + 1;
		*pp = e;
		kv->count++;
		kv->bytes += key->len + SMR_KV_KEY_OVERHEAD;
	}
	if (e->val)
		kv->bytes -= e->val->len;
	kv->bytes += vlen;
	if (kv->bytes > kv->peak)
		kv->peak = kv->bytes;
	strata_msg_unref(e->val);
	e->val = val;
	e->mod_rev = ++kv->revision;
	e->version++;
	hist_add(kv, e->key, val, e->create_rev, e->version);
	return 0;
}

static bool kv_del(struct smr_kv *kv, const struct smr_cmd *c)
{
	struct kv_ent **pp = ent_slot(kv, c->key, c->key_len, kv_hash(c->key, c->key_len));
	struct kv_ent *e = *pp;
	if (!e)
		return false;
	*pp = e->next;
	kv->count--;
	kv->bytes -= e->key->len + e->val->len + SMR_KV_KEY_OVERHEAD;
	kv->revision++;
	hist_add(kv, e->key, NULL, 0, 0);
	strata_msg_unref(e->key);
	strata_msg_unref(e->val);
	free(e);
	return true;
}

/* Parses a signed 64-bit decimal: optional '-', digits; no blanks, no '+', no leading zeros
 * (except "0" itself), no "-0". */
static bool parse_i64(const uint8_t *p, size_t len, int64_t *out)
{
	if (len == 0 || len > 20)
		return false;
	size_t i = 0;
	bool neg = p[0] == '-';
	if (neg)
		i = 1;
	if (i == len || (p[i] == '0' && len - i > 1) || (neg && p[i] == '0'))
		return false;
	uint64_t v = 0;
	for (; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		uint64_t d = (uint64_t)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return false;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > (uint64_t)INT64_MAX)
			return false;
		*out = (int64_t)v;
	}
	return true;
}

static int kv_incr(struct smr_kv *kv, const struct smr_cmd *c, struct smr_result *res)
{
	int64_t cur = 0, d;
	struct smr_kv_value v;
	if (!parse_i64(c->val, c->val_len, &d) ||
	    (smr_kv_get(kv, c->key, c->key_len, &v) == 0 &&
	     !parse_i64(v.val->data, v.val->len, &cur)) ||
	    (d > 0 && cur > INT64_MAX - d) || (d < 0 && cur < INT64_MIN - d)) {
		res->status = STRATA_EINVAL;
		return 0;
	}
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%lld", (long long)(cur + d));
	int rc = kv_put(kv, c, (const uint8_t *)buf, (size_t)n);
	if (rc == 0)
		res->num = cur + d;
	return rc;
}

/* Applies every pair of an MPUT; the pair list was checked by smr_cmd_decode. */
static int kv_mput(struct smr_kv *kv, const struct smr_cmd *c, struct smr_result *res)
{
	struct strata_rd rd;
	strata_rd_init(&rd, c->val, c->val_len);
	uint64_t count = strata_rd_u64_max(&rd, SMR_MPUT_MAX);
	for (uint64_t i = 0; i < count; i++) {
		struct smr_cmd one = *c;
		one.key_len = strata_rd_bytes(&rd, &one.key, SMR_KEY_MAX);
		const uint8_t *v;
		size_t vlen = strata_rd_bytes(&rd, &v, SMR_VALUE_MAX);
		if (!strata_rd_ok(&rd))
			break;
		int rc = kv_put(kv, &one, v, vlen);
		if (rc)
			return rc;
		res->num++;
	}
	return 0;
}

/* ---- sessions ---- */

static struct kv_sess **sess_slot(const struct smr_kv *kv, uint64_t id)
{
	struct kv_sess **pp = &kv->stab[mix64(id) & (kv->scap - 1)];
	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

static void lru_unlink(struct smr_kv *kv, struct kv_sess *s)
{
	if (s->lru_prev)
		s->lru_prev->lru_next = s->lru_next;
	else
		kv->lru_head = s->lru_next;
	if (s->lru_next)
		s->lru_next->lru_prev = s->lru_prev;
	else
		kv->lru_tail = s->lru_prev;
	s->lru_prev = s->lru_next = NULL;
}

static void lru_append(struct smr_kv *kv, struct kv_sess *s)
{
	s->lru_prev = kv->lru_tail;
	s->lru_next = NULL;
	if (kv->lru_tail)
		kv->lru_tail->lru_next = s;
	else
		kv->lru_head = s;
	kv->lru_tail = s;
}

static void sess_evict_oldest(struct smr_kv *kv)
{
	struct kv_sess *s = kv->lru_head;
	STRATA_ASSERT(s);
	lru_unlink(kv, s);
	struct kv_sess **pp = sess_slot(kv, s->id);
	STRATA_ASSERT(*pp == s);
	*pp = s->next;
	free(s->win);
	free(s);
	kv->scount--;
}

static int sess_grow(struct smr_kv *kv)
{
	size_t cap = kv->scap * 2;
	struct kv_sess **t = calloc(cap, sizeof(*t));
	if (!t)
		return STRATA_ENOMEM;
	for (size_t i = 0; i < kv->scap; i++) {
		for (struct kv_sess *s = kv->stab[i], *nx; s; s = nx) {
			nx = s->next;
			s->next = t[mix64(s->id) & (cap - 1)];
			t[mix64(s->id) & (cap - 1)] = s;
		}
	}
	free(kv->stab);
	kv->stab = t;
	kv->scap = cap;
	return 0;
}

/* The session of id, created if new (evicting the least recent one when the table is full). */
static struct kv_sess *sess_get(struct smr_kv *kv, uint64_t id, bool *fresh)
{
	struct kv_sess **pp = sess_slot(kv, id);
	*fresh = *pp == NULL;
	if (*pp)
		return *pp;
	if (kv->scount >= kv->smax)
		sess_evict_oldest(kv);
	if (kv->scount + 1 > kv->scap && sess_grow(kv) != 0)
		return NULL;
	struct kv_sess *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->id = id;
	pp = sess_slot(kv, id);
	*pp = s;
	lru_append(kv, s);
	kv->scount++;
	return s;
}

/* ---- apply ---- */

static int apply_cmd(struct smr_kv *kv, const struct smr_cmd *c, struct smr_result *res)
{
	res->status = 0;
	switch (c->type) {
	case SMR_CMD_NOOP:
		break;
	case SMR_CMD_PUT: {
		int rc = kv_put(kv, c, c->val, c->val_len);
		if (rc)
			return rc;
		break;
	}
	case SMR_CMD_DEL:
		res->num = kv_del(kv, c) ? 1 : 0;
		break;
	case SMR_CMD_PUT_NX:
	case SMR_CMD_PUT_XX: {
		struct smr_kv_value cur;
		bool present = smr_kv_get(kv, c->key, c->key_len, &cur) == 0;
		if (present != (c->type == SMR_CMD_PUT_XX))
			break;
		int rc = kv_put(kv, c, c->val, c->val_len);
		if (rc)
			return rc;
		res->num = 1;
		break;
	}
	case SMR_CMD_INCR: {
		int rc = kv_incr(kv, c, res);
		if (rc || res->status)
			return rc;
		break;
	}
	case SMR_CMD_GETSET: {
		struct smr_kv_value cur;
		if (smr_kv_get(kv, c->key, c->key_len, &cur) == 0)
			res->old = strata_msg_ref((struct strata_msg *)(uintptr_t)cur.val);
		int rc = kv_put(kv, c, c->val, c->val_len);
		if (rc) {
			strata_msg_unref(res->old);
			res->old = NULL;
			return rc;
		}
		break;
	}
	case SMR_CMD_MPUT: {
		int rc = kv_mput(kv, c, res);
		if (rc)
			return rc;
		break;
	}
	case SMR_CMD_REFUSED:
		/* A write the leader refused (space quota): nothing changes. */
		res->status = STRATA_ENOSPACE;
		return 0;
	case SMR_CMD_CAS: {
		struct smr_kv_value cur;
		if (smr_kv_get(kv, c->key, c->key_len, &cur) != 0 || cur.val->len != c->val_len ||
		    (c->val_len && memcmp(cur.val->data, c->val, c->val_len) != 0)) {
			res->status = STRATA_ESTATE;
			res->revision = smr_kv_get(kv, c->key, c->key_len, &cur) == 0
						? cur.mod_revision : 0;
			return 0;
		}
		int rc = kv_put(kv, c, c->val2, c->val2_len);
		if (rc)
			return rc;
		break;
	}
	default:
		/* Decoding admits only the types above. */
		STRATA_ASSERT(0 && "unknown command type");
	}
	res->revision = kv->revision;
	return 0;
}

/* The cached result of seq d below the session's highest (d < SMR_SESSION_WINDOW, applied). */
static const struct kv_res *sess_result(const struct kv_sess *s, uint64_t seq)
{
	if (seq == s->last_seq || !s->win)
		return &s->last;
	return &s->win[seq % SMR_SESSION_WINDOW];
}

/* Records that seq was applied with result r. 0, or STRATA_ENOMEM. */
static int sess_record(struct kv_sess *s, bool fresh, uint64_t seq, const struct kv_res *r)
{
	if (!fresh && !s->win) {
		s->win = calloc(SMR_SESSION_WINDOW, sizeof(*s->win));
		if (!s->win)
			return STRATA_ENOMEM;
		s->win[s->last_seq % SMR_SESSION_WINDOW] = s->last;
	}
	if (s->win)
		s->win[seq % SMR_SESSION_WINDOW] = *r;
	if (fresh) {
		s->last_seq = seq;
		s->applied_mask = 1;
		s->last = *r;
	} else if (seq > s->last_seq) {
		uint64_t shift = seq - s->last_seq;
		s->applied_mask = shift >= SMR_SESSION_WINDOW ? 1 : (s->applied_mask << shift) | 1;
		s->last_seq = seq;
		s->last = *r;
	} else {
		s->applied_mask |= 1ull << (s->last_seq - seq);
	}
	return 0;
}

int smr_kv_apply(struct smr_kv *kv, uint64_t index, const struct smr_cmd *c,
		 struct smr_result *res)
{
	memset(res, 0, sizeof(*res));
	if (c->session == 0 || c->type == SMR_CMD_NOOP || kv->broken_sessions)
		return apply_cmd(kv, c, res);
	bool fresh;
	struct kv_sess *s = sess_get(kv, c->session, &fresh);
	if (!s)
		return STRATA_ENOMEM;
	if (!fresh && c->seq <= s->last_seq) {
		uint64_t d = s->last_seq - c->seq;
		if (d >= SMR_SESSION_WINDOW) {
			/* Below the window: applied or not, long answered; its result is gone. */
			res->status = STRATA_EREPLAY;
			res->duplicate = true;
			return 0;
		}
		if (kv->broken_window || (s->applied_mask >> d) & 1) {
			/* A retry (or a stale copy) of a command already applied: its cached
			 * result. (The broken variant treats every seq at or below the highest as
			 * applied: it loses pipelined commands that arrive out of order.) */
			const struct kv_res *r = sess_result(s, c->seq);
			res->status = r->status;
			res->revision = r->revision;
			res->num = r->num;
			res->duplicate = true;
			return 0;
		}
	}
	int rc = apply_cmd(kv, c, res);
	if (rc)
		return rc;
	struct kv_res r = { .revision = res->revision, .num = res->num, .status = res->status };
	rc = sess_record(s, fresh, c->seq, &r);
	if (rc)
		return rc;
	s->last_index = index;
	lru_unlink(kv, s);
	lru_append(kv, s);
	return 0;
}

uint64_t smr_kv_revision(const struct smr_kv *kv) { return kv->revision; }
uint64_t smr_kv_bytes(const struct smr_kv *kv) { return kv->bytes; }
uint64_t smr_kv_bytes_peak(const struct smr_kv *kv) { return kv->peak; }

void smr_quota_text(uint64_t held, uint64_t quota, char *buf, size_t len)
{
	snprintf(buf, len,
		 "kv: space exceeded: the store holds %" PRIu64 " bytes of its quota %" PRIu64
		 " ([smr] quota_bytes); delete keys to make room", held, quota);
}

uint64_t smr_cmd_growth(const struct smr_cmd *c)
{
	switch (c->type) {
	case SMR_CMD_PUT:
	case SMR_CMD_PUT_NX:
	case SMR_CMD_PUT_XX:
	case SMR_CMD_GETSET:
		return c->key_len + c->val_len + SMR_KV_KEY_OVERHEAD;
	case SMR_CMD_CAS:
		return c->key_len + c->val2_len + SMR_KV_KEY_OVERHEAD;
	case SMR_CMD_INCR:
		return c->key_len + SMR_INCR_VALUE_MAX + SMR_KV_KEY_OVERHEAD;
	case SMR_CMD_MPUT: {
		/* The pair list was checked (smr_cmd_decode, smr_mput_check): every pair a put. */
		struct strata_rd rd;
		strata_rd_init(&rd, c->val, c->val_len);
		uint64_t count = strata_rd_u64_max(&rd, SMR_MPUT_MAX), g = 0;
		for (uint64_t i = 0; i < count && strata_rd_ok(&rd); i++) {
			const uint8_t *x;
			g += strata_rd_bytes(&rd, &x, SMR_KEY_MAX) + SMR_KV_KEY_OVERHEAD;
			g += strata_rd_bytes(&rd, &x, SMR_VALUE_MAX);
		}
		return g;
	}
	default: /* noop, del: never more bytes */
		return 0;
	}
}
size_t smr_kv_count(const struct smr_kv *kv) { return kv->count; }
size_t smr_kv_sessions(const struct smr_kv *kv) { return kv->scount; }

/* ---- command codec ---- */

int smr_mput_check(const uint8_t *pairs, size_t len)
{
	struct strata_rd pr;
	strata_rd_init(&pr, pairs, len);
	uint64_t count = strata_rd_u64_max(&pr, SMR_MPUT_MAX);
	for (uint64_t i = 0; i < count && strata_rd_ok(&pr); i++) {
		const uint8_t *x;
		if (strata_rd_bytes(&pr, &x, SMR_KEY_MAX) == 0)
			return STRATA_EPROTO;
		strata_rd_bytes(&pr, &x, SMR_VALUE_MAX);
	}
	if (count == 0 || strata_rd_done(&pr) != 0)
		return STRATA_EPROTO;
	return 0;
}

void smr_cmd_encode(struct strata_wr *w, const struct smr_cmd *c)
{
	strata_wr_u8(w, c->type);
	strata_wr_u64(w, c->origin);
	strata_wr_u64(w, c->origin_id);
	strata_wr_u64(w, c->session);
	strata_wr_u64(w, c->seq);
	strata_wr_bytes(w, c->key, c->key_len);
	strata_wr_bytes(w, c->val, c->val_len);
	strata_wr_bytes(w, c->val2, c->val2_len);
}

int smr_cmd_decode(struct strata_rd *r, struct smr_cmd *c)
{
	memset(c, 0, sizeof(*c));
	c->type = strata_rd_u8(r);
	c->origin = (uint32_t)strata_rd_u64_max(r, STRATA_MAX_NODES);
	c->origin_id = strata_rd_u64(r);
	c->session = strata_rd_u64(r);
	c->seq = strata_rd_u64(r);
	c->key_len = strata_rd_bytes(r, &c->key, SMR_KEY_MAX);
	c->val_len = strata_rd_bytes(r, &c->val, SMR_VALUE_MAX);
	c->val2_len = strata_rd_bytes(r, &c->val2, SMR_VALUE_MAX);
	if (!strata_rd_ok(r))
		return STRATA_EPROTO;
	if (c->type > SMR_CMD_LAST || (c->type != SMR_CMD_NOOP && c->key_len == 0))
		return STRATA_EPROTO;
	/* The pair list must be well formed: apply trusts it. */
	if (c->type == SMR_CMD_MPUT && smr_mput_check(c->val, c->val_len) != 0)
		return STRATA_EPROTO;
	return 0;
}

/* ---- range ---- */

static int item_cmp(const void *a, const void *b)
{
	const struct kv_ent *x = *(const struct kv_ent *const *)a;
	const struct kv_ent *y = *(const struct kv_ent *const *)b;
	size_t n = x->key->len < y->key->len ? x->key->len : y->key->len;
	int c = memcmp(x->key->data, y->key->data, n);
	if (c)
		return c;
	return x->key->len < y->key->len ? -1 : x->key->len > y->key->len ? 1 : 0;
}

static bool key_after(const struct strata_msg *key, const void *after, size_t alen)
{
	size_t n = key->len < alen ? key->len : alen;
	int c = memcmp(key->data, after, n);
	return c > 0 || (c == 0 && key->len > alen);
}

int smr_kv_range(const struct smr_kv *kv, const void *prefix, size_t plen, const void *after,
		 size_t alen, size_t limit, struct smr_kv_item *items, size_t *count, bool *more)
{
	*count = 0;
	*more = false;
	size_t nmatch = 0;
	for (size_t i = 0; i < kv->tcap; i++)
		for (struct kv_ent *e = kv->tab[i]; e; e = e->next)
			if (e->key->len >= plen && memcmp(e->key->data, prefix, plen) == 0 &&
			    (alen == 0 || key_after(e->key, after, alen)))
				nmatch++;
	if (nmatch == 0 || limit == 0) {
		*more = nmatch > 0;
		return 0;
	}
	struct kv_ent **m = malloc(nmatch * sizeof(*m));
	if (!m)
		return STRATA_ENOMEM;
	size_t j = 0;
	for (size_t i = 0; i < kv->tcap; i++)
		for (struct kv_ent *e = kv->tab[i]; e; e = e->next)
			if (e->key->len >= plen && memcmp(e->key->data, prefix, plen) == 0 &&
			    (alen == 0 || key_after(e->key, after, alen)))
				m[j++] = e;
	qsort(m, nmatch, sizeof(*m), item_cmp);
	size_t take = nmatch < limit ? nmatch : limit;
	for (size_t i = 0; i < take; i++) {
		items[i].key = m[i]->key;
		items[i].val = m[i]->val;
		items[i].mod_revision = m[i]->mod_rev;
		items[i].create_revision = m[i]->create_rev;
		items[i].version = m[i]->version;
	}
	free(m);
	*count = take;
	*more = nmatch > take;
	return 0;
}

/* ---- snapshots ----
 * Encoding (codec): u64 SNAP_MAGIC, u64 revision, u64 keys, keys x (bytes key, bytes value,
 * u64 mod, u64 create, u64 version), u64 sessions, sessions in applied order (least recent
 * first) x (u64 id, u64 last_seq, u64 last_index, u64 applied mask, result of last_seq, then
 * the result of each other seq of the window the mask marks applied, highest first), a result
 * being (u64 revision, i64 num, i64 status). Restoring appends the sessions in that order, so
 * the restored table expires the same session next as the replicas that applied the log.
 * (Version 1, SNAP_MAGIC_V1, had no mask and no window: still read, as a window of one.) */
#define SNAP_MAGIC_V1 0x31534b56534d5253ull /* "SRMSVKS1" */
#define SNAP_MAGIC 0x32534b56534d5253ull    /* "SRMSVKS2" */

static void wr_res(struct strata_wr *w, const struct kv_res *r)
{
	strata_wr_u64(w, r->revision);
	strata_wr_i64(w, r->num);
	strata_wr_i64(w, r->status);
}

static bool rd_res(struct strata_rd *r, struct kv_res *out)
{
	out->revision = strata_rd_u64(r);
	out->num = strata_rd_i64(r);
	int64_t st = strata_rd_i64(r);
	if (st < -1000 || st > 0)
		return false;
	out->status = (int)st;
	return strata_rd_ok(r);
}

static void wr_ent(struct strata_wr *w, const struct kv_ent *e)
{
	strata_wr_bytes(w, e->key->data, e->key->len);
	strata_wr_bytes(w, e->val->data, e->val->len);
	strata_wr_u64(w, e->mod_rev);
	strata_wr_u64(w, e->create_rev);
	strata_wr_u64(w, e->version);
}

static int ent_cmp(const void *a, const void *b)
{
	const struct kv_ent *x = *(const struct kv_ent *const *)a;
	const struct kv_ent *y = *(const struct kv_ent *const *)b;
	size_t n = x->key->len < y->key->len ? x->key->len : y->key->len;
	int c = memcmp(x->key->data, y->key->data, n);
	return c ? c : (x->key->len > y->key->len) - (x->key->len < y->key->len);
}

/* A bound on a snapshot's size (the writer's cap). */
static size_t snapshot_bytes(const struct smr_kv *kv)
{
	size_t bytes = 64;
	for (size_t i = 0; i < kv->tcap; i++)
		for (struct kv_ent *e = kv->tab[i]; e; e = e->next)
			bytes += e->key->len + e->val->len + 64;
	for (struct kv_sess *s = kv->lru_head; s; s = s->lru_next)
		bytes += 64 + (s->win ? 24u * SMR_SESSION_WINDOW : 0);
	return bytes;
}

/* Appends the snapshot to w. 0, or STRATA_ENOMEM (w's error is the writer's). */
static int snapshot_write(const struct smr_kv *kv, bool omit_sessions, bool sorted,
			  struct strata_wr *w)
{
	struct kv_ent **order = NULL;
	if (sorted && kv->count) {
		order = malloc(kv->count * sizeof(*order));
		if (!order)
			return STRATA_ENOMEM;
		size_t k = 0;
		for (size_t i = 0; i < kv->tcap; i++)
			for (struct kv_ent *e = kv->tab[i]; e; e = e->next)
				order[k++] = e;
		STRATA_ASSERT(k == kv->count);
		qsort(order, k, sizeof(*order), ent_cmp);
	}
	strata_wr_u64(w, SNAP_MAGIC);
	strata_wr_u64(w, kv->revision);
	strata_wr_u64(w, kv->count);
	if (order) {
		for (size_t k = 0; k < kv->count; k++)
			wr_ent(w, order[k]);
		free(order);
	} else {
		for (size_t i = 0; i < kv->tcap; i++)
			for (struct kv_ent *e = kv->tab[i]; e; e = e->next)
				wr_ent(w, e);
	}
	strata_wr_u64(w, omit_sessions ? 0 : kv->scount);
	for (struct kv_sess *s = kv->lru_head; s && !omit_sessions; s = s->lru_next) {
		strata_wr_u64(w, s->id);
		strata_wr_u64(w, s->last_seq);
		strata_wr_u64(w, s->last_index);
		strata_wr_u64(w, s->applied_mask);
		wr_res(w, &s->last);
		for (unsigned b = 1; b < SMR_SESSION_WINDOW; b++)
			if ((s->applied_mask >> b) & 1)
				wr_res(w, sess_result(s, s->last_seq - b));
	}
	return 0;
}

static int snapshot(const struct smr_kv *kv, bool omit_sessions, bool sorted,
		    struct strata_msg **out)
{
	*out = NULL;
	struct strata_wr w;
	strata_wr_init(&w, snapshot_bytes(kv));
	int err = snapshot_write(kv, omit_sessions, sorted, &w);
	if (err) {
		strata_wr_free(&w);
		return err;
	}
	*out = strata_wr_take_msg(&w, &err);
	return *out ? 0 : err;
}

int smr_kv_snapshot(const struct smr_kv *kv, bool omit_sessions, struct strata_msg **out)
{
	return snapshot(kv, omit_sessions, false, out);
}

int smr_kv_snapshot_canonical(const struct smr_kv *kv, struct strata_msg **out)
{
	return snapshot(kv, false, true, out);
}

size_t smr_kv_snapshot_bound(const struct smr_kv *kv)
{
	return snapshot_bytes(kv);
}

int smr_kv_snapshot_canonical_write(const struct smr_kv *kv, struct strata_wr *w)
{
	return snapshot_write(kv, false, true, w);
}

static int restore_into(struct smr_kv *kv, struct strata_rd *r)
{
	uint64_t magic = strata_rd_u64(r);
	if (magic != SNAP_MAGIC && magic != SNAP_MAGIC_V1)
		return STRATA_EPROTO;
	kv->revision = strata_rd_u64(r);
	uint64_t nkeys = strata_rd_u64_max(r, r->len);
	for (uint64_t i = 0; i < nkeys && strata_rd_ok(r); i++) {
		struct smr_cmd c = { .type = SMR_CMD_PUT };
		c.key_len = strata_rd_bytes(r, &c.key, SMR_KEY_MAX);
		c.val_len = strata_rd_bytes(r, &c.val, SMR_VALUE_MAX);
		uint64_t mod = strata_rd_u64(r), create = strata_rd_u64(r), ver = strata_rd_u64(r);
		if (!strata_rd_ok(r) || c.key_len == 0 || mod > kv->revision || create > mod)
			return STRATA_EPROTO;
		struct smr_kv_value v;
		if (smr_kv_get(kv, c.key, c.key_len, &v) == 0)
			return STRATA_EPROTO; /* a key twice */
		uint64_t rev = kv->revision;
		int rc = kv_put(kv, &c, c.val, c.val_len);
		kv->revision = rev;
		if (rc)
			return rc;
		struct kv_ent *e = *ent_slot(kv, c.key, c.key_len, kv_hash(c.key, c.key_len));
		e->mod_rev = mod;
		e->create_rev = create;
		e->version = ver;
	}
	uint64_t nsess = strata_rd_u64_max(r, r->len);
	for (uint64_t i = 0; i < nsess && strata_rd_ok(r); i++) {
		uint64_t id = strata_rd_u64(r);
		bool fresh;
		struct kv_sess *s = sess_get(kv, id, &fresh);
		if (!s)
			return STRATA_ENOMEM;
		if (!fresh)
			return STRATA_EPROTO; /* a session twice */
		s->last_seq = strata_rd_u64(r);
		s->last_index = strata_rd_u64(r);
		s->applied_mask = magic == SNAP_MAGIC ? strata_rd_u64(r) : 1;
		if (!rd_res(r, &s->last) || !(s->applied_mask & 1) ||
		    (s->last_seq < SMR_SESSION_WINDOW &&
		     s->applied_mask >> s->last_seq != 0))
			return STRATA_EPROTO; /* the highest seq applied; no seq 0 or below */
		if (s->applied_mask == 1)
			continue;
		s->win = calloc(SMR_SESSION_WINDOW, sizeof(*s->win));
		if (!s->win)
			return STRATA_ENOMEM;
		s->win[s->last_seq % SMR_SESSION_WINDOW] = s->last;
		for (unsigned b = 1; b < SMR_SESSION_WINDOW; b++)
			if ((s->applied_mask >> b) & 1 &&
			    !rd_res(r, &s->win[(s->last_seq - b) % SMR_SESSION_WINDOW]))
				return STRATA_EPROTO;
	}
	return strata_rd_done(r);
}

int smr_kv_restore(const void *data, size_t len, size_t sessions_max, struct smr_kv **out)
{
	*out = NULL;
	struct smr_kv *kv = smr_kv_new(sessions_max);
	if (!kv)
		return STRATA_ENOMEM;
	struct strata_rd r;
	strata_rd_init(&r, data, len);
	kv->loading = true;
	int rc = restore_into(kv, &r);
	kv->loading = false;
	kv->hist_from = kv->revision + 1; /* the history starts after the snapshot */
	kv->peak = kv->bytes;
	if (rc) {
		smr_kv_free(kv);
		return rc;
	}
	*out = kv;
	return 0;
}

/* An order-independent digest of keys, values, revisions and sessions: replicas that applied
 * the same log prefix have the same digest (a test's agreement check). */
uint64_t smr_kv_digest(const struct smr_kv *kv)
{
	uint64_t d = mix64(kv->revision + 1);
	for (size_t i = 0; i < kv->tcap; i++) {
		for (struct kv_ent *e = kv->tab[i]; e; e = e->next) {
			uint64_t h = e->h ^ kv_hash(e->val->data, e->val->len);
			h = mix64(h ^ e->mod_rev) ^ mix64(e->create_rev * 31 + e->version);
			d += mix64(h);
		}
	}
	uint64_t pos = 0;
	for (struct kv_sess *s = kv->lru_head; s; s = s->lru_next, pos++)
		d ^= mix64(mix64(s->id + pos) ^ mix64(s->last_seq) ^
			   mix64(s->last.revision + 7 * (uint64_t)s->last.num) ^ mix64(s->applied_mask));
	return d;
}
