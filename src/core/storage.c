/* Logs and snapshots on stable storage, for replicated logs (KV, consensus) -- see node.h.
 *
 * Specification.
 *   Log named L (a short name: "kv", "cons"):
 *     put(L, i, v)              stages entry i := v (i >= 1; overwrites; any index, holes allowed;
 *                               in the keys layout below, within a span of KEYS_SPAN_MAX)
 *     get(L, i) -> v | ENOENT   sees staged writes
 *     bounds(L) -> (first, last)
 *     truncate_prefix(L, k)     drops every entry < k (compaction behind a snapshot)
 *     truncate_suffix(L, d)     drops every entry >= d (conflicting entries)
 *   Snapshot named S: put(S, index, bytes) replaces the one current snapshot of S, which covers
 *   the log up to `index`; get(S) -> (index, total length); read(S, offset, max) -> a chunk.
 *   Properties:
 *     SP1 (durability) everything staged in a turn-batch is durable once the batch's sync
 *         completed, together with the node's other stores (one transaction): a crash loses at
 *         most whole unsynced batches, never part of a synced one;
 *     SP2 (read your writes) get/bounds/snapshot_get/read see every staged operation in order;
 *     SP3 (bounds) with no operation yet, first = 1 and last = 0; put(i) makes last >= i and
 *         first <= i; truncate_prefix(k) makes first >= k; truncate_suffix(d) makes last < d;
 *         an empty log has last = first - 1 (so after compacting everything, the next index to
 *         append is last + 1 = first); every entry present lies in [first, last] (holes read
 *         ENOENT).
 *
 * Model: crash-recovery stable storage as the runtime provides it (store / retrieve / remove /
 * sync of the environment): LMDB in rt/uv, the simulator's durable map (with lost, torn and
 * failing syncs) in rt/sim. Faithful: both runtimes get the same code, so the simulator's
 * storage faults exercise exactly what runs in the daemon.
 *
 * Layout: one key per entry "L/<name>/e/<index, 16 hex digits>", the bounds in "L/<name>/b"
 * (first, last as u64 LE); a snapshot as "S/<name>/m" (index, total length, chunk count) and
 * chunks of STORAGE_CHUNK bytes "S/<name>/c/<chunk, 8 hex digits>", so that reading one chunk
 * to stream it to a peer never copies the whole snapshot. Memory: nothing is kept in memory
 * here; a truncation removes its range one key at a time, present or not (O(indexes dropped),
 * all in the current batch's transaction). So that this walk stays bounded, a keys log never
 * spans more than KEYS_SPAN_MAX indexes (last - first + 1): a put that would widen it beyond
 * is refused (STRATA_EINVAL), and stored bounds that span more are damage (STRATA_EIO, like
 * any bounds never written so). Its users stay far below: jh-async holds at most 64 jobs, and
 * a KV log of the keys layout of earlier releases spanned at most [smr] snapshot_entries plus
 * snapshot_tail (11,000 by default). Damaged bounds of 2^60 made a recovering jh-async walk
 * them in its first truncation (a hang found by fuzz_recovery). The record log (store/rlog.c),
 * which holds the KV's log today, has no such limit. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/node.h"
#include "store/rlog.h"

#define STORAGE_NAME_MAX 32
#define STORAGE_CHUNK (64u * 1024)
#define STORAGE_KEY 96
#define KEYS_SPAN_MAX (1u << 20)

static bool name_ok(const char *name)
{
	size_t len = name ? strlen(name) : 0;
	if (len == 0 || len > STORAGE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void entry_key(char *k, const char *log, uint64_t index)
{
	snprintf(k, STORAGE_KEY, "L/%s/e/%016llx", log, (unsigned long long)index);
}

static int read_bounds(struct strata_node *n, const char *log, uint64_t *first, uint64_t *last)
{
	char k[STORAGE_KEY];
	snprintf(k, sizeof(k), "L/%s/b", log);
	struct strata_msg *m = NULL;
	int rc = strata_retrieve(n, k, &m);
	if (rc == STRATA_ENOENT) {
		*first = 1;
		*last = 0;
		return 0;
	}
	if (rc)
		return rc;
	if (m->len != 16) {
		strata_msg_unref(m);
		return STRATA_EIO; /* not what we wrote: the storage is damaged */
	}
	*first = get64(m->data);
	*last = get64(m->data + 8);
	strata_msg_unref(m);
	/* What put and the truncations write: 1 <= first, last < UINT64_MAX, last + 1 >= first
	 * (equal when empty). Anything else is damage, and a reader looping from first to last
	 * over it would never end (last = UINT64_MAX) or walk 2^64 indices; nor does a put make
	 * the log span more than KEYS_SPAN_MAX. */
	if (*first == 0 || *last == UINT64_MAX || *last + 1 < *first ||
	    *last + 1 - *first > KEYS_SPAN_MAX) {
		*first = 1;
		*last = 0;
		return STRATA_EIO;
	}
	return 0;
}

static int write_bounds(struct strata_node *n, const char *log, uint64_t first, uint64_t last)
{
	char k[STORAGE_KEY];
	snprintf(k, sizeof(k), "L/%s/b", log);
	uint8_t b[16];
	put64(b, first);
	put64(b + 8, last);
	return strata_store(n, k, b, sizeof(b));
}

static int keys_log_put(struct strata_node *n, const char *log, uint64_t index, const void *v,
		   size_t len)
{
	if (!name_ok(log) || index == 0 || index == UINT64_MAX)
		return STRATA_EINVAL;
	uint64_t first, last;
	int rc = read_bounds(n, log, &first, &last);
	if (rc)
		return rc;
	/* (holds for an empty log too, where last = first - 1) */
	uint64_t nf = index < first ? index : first;
	uint64_t nl = index > last ? index : last;
	if (nl + 1 - nf > KEYS_SPAN_MAX)
		return STRATA_EINVAL;
	char k[STORAGE_KEY];
	entry_key(k, log, index);
	rc = strata_store(n, k, v, len);
	if (rc)
		return rc;
	if (nf == first && nl == last)
		return 0;
	return write_bounds(n, log, nf, nl);
}

static int keys_log_get(struct strata_node *n, const char *log, uint64_t index, struct strata_msg **out)
{
	*out = NULL;
	if (!name_ok(log) || index == 0)
		return STRATA_EINVAL;
	uint64_t first, last;
	int rc = read_bounds(n, log, &first, &last);
	if (rc)
		return rc;
	if (index < first || index > last)
		return STRATA_ENOENT;
	char k[STORAGE_KEY];
	entry_key(k, log, index);
	return strata_retrieve(n, k, out);
}

static int keys_log_bounds(struct strata_node *n, const char *log, uint64_t *first, uint64_t *last)
{
	*first = 1;
	*last = 0;
	if (!name_ok(log))
		return STRATA_EINVAL;
	return read_bounds(n, log, first, last);
}

static int remove_range(struct strata_node *n, const char *log, uint64_t from, uint64_t to)
{
	char k[STORAGE_KEY];
	for (uint64_t i = from; i <= to; i++) { /* to < UINT64_MAX: put refuses that index */
		entry_key(k, log, i);
		int rc = strata_remove(n, k);
		if (rc)
			return rc;
	}
	return 0;
}

static int keys_log_truncate_prefix(struct strata_node *n, const char *log, uint64_t keep_from)
{
	if (!name_ok(log) || keep_from == 0 || keep_from == UINT64_MAX)
		return STRATA_EINVAL;
	uint64_t first, last;
	int rc = read_bounds(n, log, &first, &last);
	if (rc)
		return rc;
	if (keep_from <= first)
		return 0;
	if (last >= first) {
		rc = remove_range(n, log, first, last < keep_from - 1 ? last : keep_from - 1);
		if (rc)
			return rc;
	}
	uint64_t nl = last < keep_from - 1 ? keep_from - 1 : last;
	return write_bounds(n, log, keep_from, nl);
}

static int keys_log_truncate_suffix(struct strata_node *n, const char *log, uint64_t drop_from)
{
	if (!name_ok(log) || drop_from == 0)
		return STRATA_EINVAL;
	uint64_t first, last;
	int rc = read_bounds(n, log, &first, &last);
	if (rc)
		return rc;
	if (drop_from > last)
		return 0;
	uint64_t lo = drop_from > first ? drop_from : first;
	if (last >= first && lo <= last) {
		rc = remove_range(n, log, lo, last);
		if (rc)
			return rc;
	}
	uint64_t nl = drop_from - 1;
	uint64_t nf = first;
	if (nl < nf - 1) /* dropped below first: the log is empty from drop_from on */
		nf = drop_from;
	return write_bounds(n, log, nf, nl);
}

/* ---- the public log operations: the runtime's record log when it has one, else keys ---- */

static struct strata_rlog *wal_of(struct strata_node *n, const char *log)
{
	const struct strata_env *e = strata_node_env(n);
	return e->wal ? e->wal(e->ctx, log) : NULL;
}

/* A record log's errors are counted like the stores' (the turn's sync then fails). */
static int counted(struct strata_node *n, int rc)
{
	if (rc && rc != STRATA_ENOENT)
		strata_node_counters(n)->store_errors++;
	else if (rc == 0)
		strata_node_counters(n)->stores++;
	return rc;
}

int strata_log_in_wal(struct strata_node *n, const char *log)
{
	return name_ok(log) && wal_of(n, log) != NULL;
}

int strata_log_put(struct strata_node *n, const char *log, uint64_t index, const void *v,
		   size_t len)
{
	if (!name_ok(log) || index == 0 || index == UINT64_MAX)
		return STRATA_EINVAL;
	struct strata_rlog *w = wal_of(n, log);
	return w ? counted(n, strata_rlog_put(w, index, v, len)) : keys_log_put(n, log, index, v, len);
}

int strata_log_get(struct strata_node *n, const char *log, uint64_t index, struct strata_msg **out)
{
	*out = NULL;
	if (!name_ok(log) || index == 0)
		return STRATA_EINVAL;
	struct strata_rlog *w = wal_of(n, log);
	return w ? strata_rlog_get(w, index, out) : keys_log_get(n, log, index, out);
}

int strata_log_bounds(struct strata_node *n, const char *log, uint64_t *first, uint64_t *last)
{
	*first = 1;
	*last = 0;
	if (!name_ok(log))
		return STRATA_EINVAL;
	struct strata_rlog *w = wal_of(n, log);
	if (!w)
		return keys_log_bounds(n, log, first, last);
	strata_rlog_bounds(w, first, last);
	return 0;
}

int strata_log_truncate_prefix(struct strata_node *n, const char *log, uint64_t keep_from)
{
	if (!name_ok(log) || keep_from == 0 || keep_from == UINT64_MAX)
		return STRATA_EINVAL;
	struct strata_rlog *w = wal_of(n, log);
	return w ? counted(n, strata_rlog_truncate_prefix(w, keep_from))
		 : keys_log_truncate_prefix(n, log, keep_from);
}

int strata_log_truncate_suffix(struct strata_node *n, const char *log, uint64_t drop_from)
{
	if (!name_ok(log) || drop_from == 0)
		return STRATA_EINVAL;
	struct strata_rlog *w = wal_of(n, log);
	return w ? counted(n, strata_rlog_truncate_suffix(w, drop_from))
		 : keys_log_truncate_suffix(n, log, drop_from);
}

static void meta_key(char *k, const char *log)
{
	snprintf(k, STORAGE_KEY, "L/%s/m", log);
}

int strata_log_meta_put(struct strata_node *n, const char *log, const void *v, size_t len)
{
	if (!name_ok(log))
		return STRATA_EINVAL;
	struct strata_rlog *w = wal_of(n, log);
	if (w)
		return counted(n, strata_rlog_meta_put(w, v, len));
	char k[STORAGE_KEY];
	meta_key(k, log);
	return strata_store(n, k, v, len);
}

int strata_log_meta_get(struct strata_node *n, const char *log, struct strata_msg **out)
{
	*out = NULL;
	if (!name_ok(log))
		return STRATA_EINVAL;
	struct strata_rlog *w = wal_of(n, log);
	if (w)
		return strata_rlog_meta_get(w, out);
	char k[STORAGE_KEY];
	meta_key(k, log);
	return strata_retrieve(n, k, out);
}

int strata_log_import_keys(struct strata_node *n, const char *log, uint64_t *copied)
{
	*copied = 0;
	if (!name_ok(log))
		return STRATA_EINVAL;
	struct strata_rlog *w = wal_of(n, log);
	if (!w)
		return 0;
	uint64_t wf, wl, first, last;
	strata_rlog_bounds(w, &wf, &wl);
	if (wl >= wf)
		return STRATA_ESTATE; /* the record log is not empty */
	int rc = keys_log_bounds(n, log, &first, &last);
	if (rc)
		return rc;
	if (first > 1 && (rc = strata_rlog_truncate_prefix(w, first)) != 0)
		return counted(n, rc);
	for (uint64_t i = first; i <= last && last >= first; i++) {
		struct strata_msg *m = NULL;
		rc = keys_log_get(n, log, i, &m);
		if (rc == STRATA_ENOENT)
			continue; /* a hole stays a hole */
		if (rc)
			return rc;
		rc = counted(n, strata_rlog_put(w, i, m->data, m->len));
		strata_msg_unref(m);
		if (rc)
			return rc;
		(*copied)++;
	}
	return 0;
}

/* ---- snapshots ---- */

static int read_snap_meta(struct strata_node *n, const char *name, uint64_t *index,
			  uint64_t *total, uint64_t *chunks)
{
	char k[STORAGE_KEY];
	snprintf(k, sizeof(k), "S/%s/m", name);
	struct strata_msg *m = NULL;
	int rc = strata_retrieve(n, k, &m);
	if (rc)
		return rc;
	if (m->len != 24) {
		strata_msg_unref(m);
		return STRATA_EIO;
	}
	*index = get64(m->data);
	*total = get64(m->data + 8);
	*chunks = get64(m->data + 16);
	strata_msg_unref(m);
	return 0;
}

int strata_snapshot_put(struct strata_node *n, const char *name, uint64_t index, const void *v,
			size_t len)
{
	if (!name_ok(name))
		return STRATA_EINVAL;
	uint64_t oi, ot, oc = 0;
	int rc = read_snap_meta(n, name, &oi, &ot, &oc);
	if (rc && rc != STRATA_ENOENT)
		return rc;
	if (rc == STRATA_ENOENT)
		oc = 0;
	uint64_t chunks = (len + STORAGE_CHUNK - 1) / STORAGE_CHUNK;
	char k[STORAGE_KEY];
	const uint8_t *p = v;
	for (uint64_t c = 0; c < chunks; c++) {
		size_t off = (size_t)c * STORAGE_CHUNK;
		size_t cl = len - off < STORAGE_CHUNK ? len - off : STORAGE_CHUNK;
		snprintf(k, sizeof(k), "S/%s/c/%08llx", name, (unsigned long long)c);
		rc = strata_store(n, k, p + off, cl);
		if (rc)
			return rc;
	}
	for (uint64_t c = chunks; c < oc; c++) { /* the old snapshot's extra chunks */
		snprintf(k, sizeof(k), "S/%s/c/%08llx", name, (unsigned long long)c);
		rc = strata_remove(n, k);
		if (rc)
			return rc;
	}
	uint8_t meta[24];
	put64(meta, index);
	put64(meta + 8, (uint64_t)len);
	put64(meta + 16, chunks);
	snprintf(k, sizeof(k), "S/%s/m", name);
	return strata_store(n, k, meta, sizeof(meta));
}

int strata_snapshot_get(struct strata_node *n, const char *name, uint64_t *index,
			uint64_t *total_len)
{
	*index = 0;
	*total_len = 0;
	if (!name_ok(name))
		return STRATA_EINVAL;
	uint64_t chunks;
	return read_snap_meta(n, name, index, total_len, &chunks);
}

int strata_snapshot_read(struct strata_node *n, const char *name, uint64_t offset, size_t max,
			 struct strata_msg **out)
{
	*out = NULL;
	if (!name_ok(name))
		return STRATA_EINVAL;
	uint64_t index, total, chunks;
	int rc = read_snap_meta(n, name, &index, &total, &chunks);
	if (rc)
		return rc;
	if (offset > total)
		return STRATA_EINVAL;
	size_t want = total - offset < max ? (size_t)(total - offset) : max;
	struct strata_msg *m = strata_msg_alloc(want);
	if (!m)
		return STRATA_ENOMEM;
	size_t got = 0;
	char k[STORAGE_KEY];
	while (got < want) {
		uint64_t pos = offset + got;
		uint64_t c = pos / STORAGE_CHUNK;
		size_t in = (size_t)(pos % STORAGE_CHUNK);
		snprintf(k, sizeof(k), "S/%s/c/%08llx", name, (unsigned long long)c);
		struct strata_msg *cm = NULL;
		rc = strata_retrieve(n, k, &cm);
		if (rc || cm->len <= in) {
			strata_msg_unref(cm);
			strata_msg_unref(m);
			return rc && rc != STRATA_ENOENT ? rc : STRATA_EIO; /* a chunk is missing */
		}
		size_t take = cm->len - in < want - got ? cm->len - in : want - got;
		memcpy(m->data + got, cm->data + in, take);
		got += take;
		strata_msg_unref(cm);
	}
	*out = m;
	return 0;
}
