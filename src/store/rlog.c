/* The record log (see rlog.h): an append-only log of checksummed records in preallocated
 * segment files, holding one replicated log's entries and its owner's hard state.
 *
 * Specification: core/storage.c's log (put / get / bounds / truncate_prefix / truncate_suffix,
 * properties SP1-SP3) plus a meta record (the hard state) stored in the same stream, so an
 * entry and the hard state naming it are durable together (SP1 across both). Added here:
 *   RL1 (torn tail) a crash that keeps a prefix of the unsynced writes and tears the next one
 *       (its bytes partly written) recovers to the state after some prefix of the operations:
 *       every record is checked (length, type, CRC-32C over its segment, offset, type and
 *       payload) and the first bad one ends the log: it and everything after it in its
 *       segment is zeroed, the later segments are removed;
 *   RL2 (one sync per group) a group of operations reaches the files as one write per segment
 *       and needs one fdatasync per segment written (one, unless the group filled a segment),
 *       plus one of the directory when it created or removed a segment; or none, when the group
 *       is one write while nothing else of the log is unsynced and the I/O layer makes that
 *       write durable by itself (write_staged_dsync: RWF_DSYNC on a real node, wal_file.c).
 * Model: crash-recovery stable storage with the simulator's disk faults (lost unsynced writes,
 * a torn last write, a failed sync). Bounded: memory is the staged group, the meta record and
 * the entry index: 24 bytes per entry present (the owner's compaction bounds that) plus a run
 * header per run of consecutive indexes, nothing per hole; disk is the segments from the one
 * holding the first live entry on.
 *
 * Holes. The specification allows them (put may write any index), so the index is sparse
 * (runs of present entries, below) rather than dense from first to last: a dense index made an
 * ENTRY far above the last one (a put, or a CRC-valid record at recovery) cost 24 bytes and a
 * zeroing per index of the gap, and a BOUNDS of a vast range (the state of a long log when its
 * segment was started) an allocation of that range: gigabytes, or a failed open. A bound on the
 * gap was the other way out; the KV (the one owner today) appends contiguously, also after a
 * snapshot (compaction first, then appends from the new first), so it would not have hit such
 * a bound, but a BOUNDS range is not a gap of the writer's (every index in it was present when
 * the segment started, in segments since removed), so a gap bound would still have had to
 * refuse or cut a log that a long-running owner writes honestly. With runs, recovery costs
 * time and memory in the records it reads, whatever indexes they name; the cost that remains
 * is O(runs) to start a run below the last one, paid only by out-of-order writers.
 *
 * Format. Segment files of a fixed size (seg_size, or larger for one big record), preallocated
 * when created and reading as zeros, so an append's fdatasync has no file size to journal. A record: u32 payload length, u32 CRC, u8 type, 7 zero bytes, then the
 * payload, zero-padded to 8 bytes. An all-zero record header ends a segment. Types:
 *   HDR    (first in every segment) magic, segment number, size
 *   ENTRY  u64 index, then the entry        META   the meta record
 *   PREFIX u64 keep_from                     SUFFIX u64 drop_from
 *   BOUNDS u64 first, u64 last (after HDR and META in every new segment: the state when the
 *          segment was started)
 * Recovery replays the segments in order. A new segment repeats META and BOUNDS, so a segment
 * older than the one holding the first live entry holds nothing needed and is removed (after
 * the sync that made the newer records durable). Should a removed segment reappear (its
 * removal was not durable), BOUNDS and the later PREFIX records drop what it brings back. A
 * BOUNDS naming a last index beyond what the replay reached means records before it were lost
 * (a segment written out of order): the log is cut there too. */
#include "store/rlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define REC_HDR 16u
#define SEG_MAGIC "STRATAWAL1\0\0\0\0\0\0"
#define ZERO_CHUNK (64u * 1024)

enum rec_type { R_HDR = 1, R_ENTRY, R_META, R_PREFIX, R_SUFFIX, R_BOUNDS, R_MAX_ };

static const uint32_t crc_table[256] = {
	0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
	0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
	0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
	0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
	0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
	0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
	0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
	0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
	0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
	0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
	0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
	0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
	0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
	0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
	0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
	0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
	0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
	0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
	0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
	0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
	0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
	0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
	0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
	0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
	0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
	0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
	0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
	0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
	0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
	0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
	0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
	0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
	0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
	0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
	0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
	0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
	0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
	0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
	0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
	0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
	0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
	0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
	0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351
};

uint32_t strata_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	crc = ~crc;
	for (size_t i = 0; i < len; i++)
		crc = crc_table[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
	return ~crc;
}

struct seg {
	uint64_t seq, size, end; /* end: the append offset (written or staged) */
	bool dirty;              /* written since the last strata_rlog_dirty */
};

struct chunk { /* staged bytes of one segment, at [off, off + len) */
	uint64_t seq, off;
	uint8_t *buf;
	size_t len, cap;
};

struct loc { /* where an entry's record is */
	uint64_t seq, off;
	uint64_t len; /* payload length (index included) */
};

/* A run of consecutive indexes that are all present: entries start .. start + n - 1 at
 * e[0 .. n - 1]. The index is the runs, sorted by start and disjoint (two may be adjacent); an
 * index in [first, last] that no run holds is a hole. */
struct run {
	uint64_t start;
	struct loc *e;
	size_t n, cap;
};

struct strata_rlog {
	struct strata_rlog_io io;
	uint64_t seg_size;
	struct seg *segs;
	size_t nsegs, capsegs;
	struct chunk *ch;
	size_t nch, capch;
	struct run *runs; /* the entry index (above) */
	size_t nruns, capruns;
	uint64_t first, last;
	uint8_t *meta;
	size_t meta_len;
	bool has_meta, failed, dir_dirty;
	/* Something of the log may not be durable: a write or a directory change since the last
	 * strata_rlog_synced, or what recovery read (it may be in the page cache only). Only a
	 * group written while this is false may be made durable by its own range-limited write
	 * (write_staged_dsync). */
	bool unsynced;
	bool rm_check; /* a roll or truncation since rm_below was computed */
	bool replaying; /* recovery: the oldest segment's BOUNDS was seen */
	bool seg_bounds; /* recovery: the segment being scanned has its BOUNDS */
	bool need_seg;  /* the next record starts a new segment (none yet, or after a cut) */
	uint64_t next_seq; /* the number of the next segment */
	uint64_t rm_below; /* segments below this may go once what was written is synced */
	struct strata_rlog_stats st;
};

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static uint64_t pad8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

static uint32_t rec_crc(uint64_t seq, uint64_t off, uint8_t type, const uint8_t *pay, size_t len)
{
	uint8_t h[21];
	put64(h, seq);
	put64(h + 8, off);
	h[16] = type;
	put32(h + 17, (uint32_t)len);
	return strata_crc32c(strata_crc32c(0, h, sizeof(h)), pay, len);
}

/* ---- the entry index ----
 * Runs of present entries, so that memory and time follow the entries present, never the
 * holes: an append extends the last run (amortized O(1), as the dense array of before), a
 * lookup checks the last run and then searches the runs (O(log runs)); an entry that extends no
 * run starts one (O(runs) to insert it: only a writer that puts out of order pays that, and the
 * KV never does). */

#define RUN_CAP0 4

/* How many runs start at or below idx (the one holding idx, if any, is the last of them). */
static size_t run_find(const struct strata_rlog *r, uint64_t idx)
{
	size_t lo = 0, hi = r->nruns;
	if (hi && r->runs[hi - 1].start <= idx)
		return hi; /* the last run: appends and recent reads */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->runs[mid].start <= idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Where entry idx is, or NULL for a hole (or an index outside every run). */
static const struct loc *idx_get(const struct strata_rlog *r, uint64_t idx)
{
	size_t k = run_find(r, idx);
	if (k == 0)
		return NULL;
	const struct run *u = &r->runs[k - 1];
	return idx - u->start < u->n ? &u->e[idx - u->start] : NULL;
}

static void runs_remove(struct strata_rlog *r, size_t from, size_t to) /* runs [from, to) */
{
	if (from == to)
		return;
	for (size_t i = from; i < to; i++)
		free(r->runs[i].e);
	memmove(r->runs + from, r->runs + to, (r->nruns - to) * sizeof(*r->runs));
	r->nruns -= to - from;
}

static int idx_put(struct strata_rlog *r, uint64_t idx, struct loc l)
{
	if (idx < r->first || idx == UINT64_MAX)
		return STRATA_EINVAL;
	size_t k = run_find(r, idx);
	struct run *u = k ? &r->runs[k - 1] : NULL;
	if (u && idx - u->start < u->n) {
		u->e[idx - u->start] = l; /* an overwrite */
		return 0;
	}
	if (!u || idx - u->start != u->n) { /* extends no run: a new one at position k */
		if (r->nruns == r->capruns) {
			if (r->capruns > SIZE_MAX / 2 / sizeof(*r->runs))
				return STRATA_ENOMEM;
			size_t c = r->capruns ? r->capruns * 2 : 4;
			struct run *a = realloc(r->runs, c * sizeof(*a));
			if (!a)
				return STRATA_ENOMEM;
			r->runs = a;
			r->capruns = c;
		}
		struct loc *e = malloc(RUN_CAP0 * sizeof(*e));
		if (!e)
			return STRATA_ENOMEM;
		memmove(r->runs + k + 1, r->runs + k, (r->nruns - k) * sizeof(*r->runs));
		r->nruns++;
		u = &r->runs[k];
		*u = (struct run){ .start = idx, .e = e, .cap = RUN_CAP0 };
	} else if (u->n == u->cap) {
		if (u->cap > SIZE_MAX / 2 / sizeof(*u->e))
			return STRATA_ENOMEM;
		struct loc *e = realloc(u->e, u->cap * 2 * sizeof(*e));
		if (!e)
			return STRATA_ENOMEM;
		u->e = e;
		u->cap *= 2;
	}
	u->e[u->n++] = l;
	if (idx > r->last)
		r->last = idx;
	return 0;
}

/* Drops the entries below k from the index (the bounds are the caller's). */
static void drop_below(struct strata_rlog *r, uint64_t k)
{
	size_t gone = 0;
	while (gone < r->nruns && r->runs[gone].start + r->runs[gone].n <= k)
		gone++;
	runs_remove(r, 0, gone);
	if (r->nruns && r->runs[0].start < k) {
		struct run *u = &r->runs[0];
		size_t drop = (size_t)(k - u->start);
		memmove(u->e, u->e + drop, (u->n - drop) * sizeof(*u->e));
		u->n -= drop;
		u->start = k;
	}
}

/* Drops the entries at d and above from the index. */
static void drop_from(struct strata_rlog *r, uint64_t d)
{
	size_t keep = run_find(r, d);
	if (keep && r->runs[keep - 1].start == d)
		keep--;
	runs_remove(r, keep, r->nruns);
	if (keep) {
		struct run *u = &r->runs[keep - 1];
		if (d - u->start < u->n)
			u->n = (size_t)(d - u->start);
	}
}

static void idx_prefix(struct strata_rlog *r, uint64_t k)
{
	if (k <= r->first)
		return;
	drop_below(r, k);
	if (r->last < k - 1)
		r->last = k - 1;
	r->first = k;
}

static void idx_suffix(struct strata_rlog *r, uint64_t d)
{
	if (d > r->last)
		return;
	drop_from(r, d);
	if (d < r->first)
		r->first = d;
	r->last = d - 1;
}

/* ---- staging ---- */

static int fail(struct strata_rlog *r, int rc)
{
	r->failed = true;
	return rc;
}

static uint8_t *stage_space(struct strata_rlog *r, uint64_t seq, uint64_t off, size_t n)
{
	struct chunk *c = r->nch ? &r->ch[r->nch - 1] : NULL;
	if (!c || c->seq != seq || c->off + c->len != off) {
		if (r->nch == r->capch) {
			size_t nc = r->capch ? r->capch * 2 : 4;
			struct chunk *a = realloc(r->ch, nc * sizeof(*a));
			if (!a)
				return NULL;
			memset(a + r->capch, 0, (nc - r->capch) * sizeof(*a));
			r->ch = a;
			r->capch = nc;
		}
		c = &r->ch[r->nch++];
		uint8_t *keep = c->buf; /* chunks past nch keep their buffer for reuse */
		size_t kcap = c->cap;
		*c = (struct chunk){ .seq = seq, .off = off, .buf = keep, .cap = kcap };
	}
	if (c->len + n > c->cap) {
		size_t nc = c->cap ? c->cap : 4096;
		while (nc < c->len + n)
			nc *= 2;
		uint8_t *b = realloc(c->buf, nc);
		if (!b)
			return NULL;
		c->buf = b;
		c->cap = nc;
	}
	uint8_t *p = c->buf + c->len;
	c->len += n;
	return p;
}

static uint64_t rec_size(size_t payload)
{
	return REC_HDR + pad8(payload);
}

static struct seg *cur(struct strata_rlog *r)
{
	return &r->segs[r->nsegs - 1];
}

/* Stages one record (payload = a then b) at the end of the current segment. */
static int stage_rec(struct strata_rlog *r, uint8_t type, const void *a, size_t alen,
		     const void *b, size_t blen, struct loc *where);

static int seg_push(struct strata_rlog *r, uint64_t seq, uint64_t size, uint64_t end)
{
	if (r->nsegs == r->capsegs) {
		size_t nc = r->capsegs ? r->capsegs * 2 : 8;
		struct seg *s = realloc(r->segs, nc * sizeof(*s));
		if (!s)
			return STRATA_ENOMEM;
		r->segs = s;
		r->capsegs = nc;
	}
	r->segs[r->nsegs++] = (struct seg){ .seq = seq, .size = size, .end = end };
	return 0;
}

/* Starts segment seq: created (preallocated), then HDR, META and BOUNDS staged in it. */
static int seg_start(struct strata_rlog *r, uint64_t seq, uint64_t need)
{
	uint64_t size = r->seg_size;
	uint64_t hdrs = rec_size(32) + rec_size(r->meta_len) + rec_size(16);
	if (need + hdrs > size)
		size = (need + hdrs + 4095) & ~(uint64_t)4095;
	if (size > STRATA_RLOG_SEGMENT_MAX)
		return STRATA_ETOOBIG;
	int rc = r->io.create(r->io.ctx, seq, size);
	if (rc)
		return fail(r, rc);
	rc = seg_push(r, seq, size, 0);
	if (rc)
		return fail(r, rc);
	r->next_seq = seq + 1;
	r->dir_dirty = true;
	r->unsynced = true;
	r->rm_check = true;
	r->st.segments_created++;
	uint8_t h[32];
	memcpy(h, SEG_MAGIC, 16);
	put64(h + 16, seq);
	put64(h + 24, size);
	rc = stage_rec(r, R_HDR, h, sizeof(h), NULL, 0, NULL);
	if (!rc && r->has_meta)
		rc = stage_rec(r, R_META, r->meta, r->meta_len, NULL, 0, NULL);
	uint8_t bnd[16];
	put64(bnd, r->first);
	put64(bnd + 8, r->last);
	if (!rc)
		rc = stage_rec(r, R_BOUNDS, bnd, sizeof(bnd), NULL, 0, NULL);
	return rc ? fail(r, rc) : 0;
}

static int stage_rec(struct strata_rlog *r, uint8_t type, const void *a, size_t alen,
		     const void *b, size_t blen, struct loc *where)
{
	size_t len = alen + blen;
	if (len > UINT32_MAX - 64)
		return STRATA_ETOOBIG;
	uint64_t total = rec_size(len);
	if (type != R_HDR && (r->need_seg || cur(r)->end + total > cur(r)->size)) {
		r->need_seg = false;
		int rc = seg_start(r, r->next_seq, total);
		if (rc)
			return rc;
	}
	struct seg *s = cur(r);
	uint8_t *p = stage_space(r, s->seq, s->end, (size_t)total);
	if (!p)
		return fail(r, STRATA_ENOMEM);
	uint8_t *pay = p + REC_HDR;
	if (alen)
		memcpy(pay, a, alen);
	if (blen)
		memcpy(pay + alen, b, blen);
	memset(pay + len, 0, (size_t)(total - REC_HDR - len));
	put32(p, (uint32_t)len);
	put32(p + 4, rec_crc(s->seq, s->end, type, pay, len));
	memset(p + 8, 0, 8);
	p[8] = type;
	if (where)
		*where = (struct loc){ .seq = s->seq, .off = s->end, .len = len };
	s->end += total;
	r->st.records_written++;
	r->st.bytes_written += total;
	return 0;
}

/* ---- the operations ---- */

int strata_rlog_put(struct strata_rlog *r, uint64_t idx, const void *v, size_t len)
{
	if (r->failed)
		return STRATA_EIO;
	if (idx < r->first || idx == 0 || idx == UINT64_MAX)
		return STRATA_EINVAL;
	uint8_t ib[8];
	put64(ib, idx);
	struct loc l;
	int rc = stage_rec(r, R_ENTRY, ib, 8, v, len, &l);
	if (rc)
		return fail(r, rc);
	rc = idx_put(r, idx, l);
	return rc ? fail(r, rc) : 0;
}

static int read_at(struct strata_rlog *r, uint64_t seq, uint64_t off, void *buf, size_t len)
{
	for (size_t i = 0; i < r->nch; i++) {
		const struct chunk *c = &r->ch[i];
		if (c->seq == seq && off >= c->off && off + len <= c->off + c->len) {
			memcpy(buf, c->buf + (off - c->off), len);
			return 0;
		}
	}
	return r->io.read(r->io.ctx, seq, off, buf, len);
}

int strata_rlog_get(struct strata_rlog *r, uint64_t idx, struct strata_msg **out)
{
	*out = NULL;
	if (r->failed)
		return STRATA_EIO;
	const struct loc *at = idx >= r->first && idx <= r->last ? idx_get(r, idx) : NULL;
	if (!at)
		return STRATA_ENOENT;
	struct loc l = *at;
	struct strata_msg *m = strata_msg_alloc((size_t)(l.len - 8));
	if (!m)
		return STRATA_ENOMEM;
	int rc = m->len ? read_at(r, l.seq, l.off + REC_HDR + 8, m->data, m->len) : 0;
	if (rc) {
		strata_msg_unref(m);
		return STRATA_EIO;
	}
	*out = m;
	return 0;
}

void strata_rlog_bounds(const struct strata_rlog *r, uint64_t *first, uint64_t *last)
{
	*first = r->first;
	*last = r->last;
}

static int stage_u64(struct strata_rlog *r, uint8_t type, uint64_t v)
{
	uint8_t b[8];
	put64(b, v);
	int rc = stage_rec(r, type, b, 8, NULL, 0, NULL);
	return rc ? fail(r, rc) : 0;
}

int strata_rlog_truncate_prefix(struct strata_rlog *r, uint64_t keep_from)
{
	if (r->failed)
		return STRATA_EIO;
	if (keep_from == 0 || keep_from == UINT64_MAX)
		return STRATA_EINVAL;
	if (keep_from <= r->first)
		return 0;
	int rc = stage_u64(r, R_PREFIX, keep_from);
	if (!rc) {
		idx_prefix(r, keep_from);
		r->rm_check = true;
	}
	return rc;
}

int strata_rlog_truncate_suffix(struct strata_rlog *r, uint64_t drop_from)
{
	if (r->failed)
		return STRATA_EIO;
	if (drop_from == 0)
		return STRATA_EINVAL;
	if (drop_from > r->last)
		return 0;
	int rc = stage_u64(r, R_SUFFIX, drop_from);
	if (!rc) {
		idx_suffix(r, drop_from);
		r->rm_check = true;
	}
	return rc;
}

static int meta_set(struct strata_rlog *r, const void *v, size_t len)
{
	uint8_t *m = malloc(len ? len : 1);
	if (!m)
		return STRATA_ENOMEM;
	if (len)
		memcpy(m, v, len);
	free(r->meta);
	r->meta = m;
	r->meta_len = len;
	r->has_meta = true;
	return 0;
}

int strata_rlog_meta_put(struct strata_rlog *r, const void *v, size_t len)
{
	if (r->failed)
		return STRATA_EIO;
	int rc = stage_rec(r, R_META, v, len, NULL, 0, NULL);
	if (!rc)
		rc = meta_set(r, v, len);
	return rc ? fail(r, rc) : 0;
}

int strata_rlog_meta_get(struct strata_rlog *r, struct strata_msg **out)
{
	*out = NULL;
	if (r->failed)
		return STRATA_EIO;
	if (!r->has_meta)
		return STRATA_ENOENT;
	*out = strata_msg_new(r->meta, r->meta_len);
	return *out ? 0 : STRATA_ENOMEM;
}

/* ---- sync protocol ---- */

static struct seg *seg_find(struct strata_rlog *r, uint64_t seq)
{
	for (size_t i = r->nsegs; i-- > 0;)
		if (r->segs[i].seq == seq)
			return &r->segs[i];
	return NULL;
}

/* The oldest segment still needed: the one holding the first live entry, else the current. */
static uint64_t oldest_needed(const struct strata_rlog *r)
{
	uint64_t m = r->nsegs ? r->segs[r->nsegs - 1].seq : 0;
	for (size_t k = 0; k < r->nruns; k++)
		for (size_t i = 0; i < r->runs[k].n; i++)
			if (r->runs[k].e[i].seq < m)
				m = r->runs[k].e[i].seq;
	return m;
}

/* After the group's bytes went out: the buffers stay for the next group (no allocation per
 * group), unless large; old segments are looked at again after a roll or a truncation. */
static void group_written(struct strata_rlog *r)
{
	for (size_t i = 0; i < r->nch; i++)
		if (r->ch[i].cap > ((size_t)1 << 20)) {
			free(r->ch[i].buf);
			r->ch[i].buf = NULL;
			r->ch[i].cap = 0;
		}
	r->nch = 0;
	if (r->rm_check && r->nsegs > 1) {
		r->rm_below = oldest_needed(r);
		r->rm_check = false;
	}
}

int strata_rlog_write_staged(struct strata_rlog *r)
{
	if (r->failed)
		return STRATA_EIO;
	if (r->nch == 0)
		return 0;
	for (size_t i = 0; i < r->nch; i++) {
		struct chunk *c = &r->ch[i];
		r->unsynced = true; /* before the write: a failed write may have written part */
		int rc = r->io.write(r->io.ctx, c->seq, c->off, c->buf, c->len);
		if (rc)
			return fail(r, STRATA_EIO);
		struct seg *s = seg_find(r, c->seq);
		if (s)
			s->dirty = true;
	}
	group_written(r);
	return 1;
}

int strata_rlog_write_staged_dsync(struct strata_rlog *r)
{
	if (r->failed)
		return STRATA_EIO;
	struct seg *s = r->nch == 1 ? seg_find(r, r->ch[0].seq) : NULL;
	/* The range-limited sync is the whole sync only if nothing else is unsynced: no earlier
	 * write or directory change waits for a sync (unsynced, dir_dirty, the segment's dirty
	 * mark), and the group is one write (one chunk) into a segment that already exists. */
	bool unsynced = r->unsynced && !(r->io.broken & STRATA_RLOG_BROKEN_DSYNC_UNSYNCED);
	if (!s || s->dirty || unsynced || r->dir_dirty || !r->io.write_dsync)
		return strata_rlog_write_staged(r);
	struct chunk *c = &r->ch[0];
	r->unsynced = true; /* until the write says it is durable */
	int rc = r->io.write_dsync(r->io.ctx, c->seq, c->off, c->buf, c->len);
	if (rc < 0)
		return fail(r, STRATA_EIO);
	if (rc > 0) {
		s->dirty = true; /* written plainly: the caller syncs it */
		r->st.dsync_refused++;
	} else {
		r->unsynced = false;
		r->st.dsync_writes++;
	}
	group_written(r);
	return rc > 0 ? 1 : 2;
}

uint64_t strata_rlog_staged_bytes(const struct strata_rlog *r)
{
	uint64_t n = 0;
	for (size_t i = 0; i < r->nch; i++)
		n += r->ch[i].len;
	return n;
}

size_t strata_rlog_dirty(struct strata_rlog *r, uint64_t *seqs, size_t max, bool *dir)
{
	size_t n = 0;
	for (size_t i = 0; i < r->nsegs && n < max; i++)
		if (r->segs[i].dirty) {
			seqs[n++] = r->segs[i].seq;
			r->segs[i].dirty = false;
		}
	*dir = r->dir_dirty;
	r->dir_dirty = false;
	return n;
}

void strata_rlog_synced(struct strata_rlog *r)
{
	r->unsynced = false; /* a removal below sets it again: the directory's sync is next */
	size_t k = 0;
	while (k + 1 < r->nsegs && r->segs[k].seq < r->rm_below) {
		if (r->io.remove(r->io.ctx, r->segs[k].seq) != 0)
			break; /* tried again after the next sync */
		r->st.segments_removed++;
		r->dir_dirty = true;
		r->unsynced = true;
		k++;
	}
	if (k) {
		memmove(r->segs, r->segs + k, (r->nsegs - k) * sizeof(*r->segs));
		r->nsegs -= k;
	}
}

bool strata_rlog_staged(const struct strata_rlog *r)
{
	return r->nch > 0;
}

const struct strata_rlog_stats *strata_rlog_stats(const struct strata_rlog *r)
{
	return &r->st;
}

/* ---- recovery ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int zero_range(struct strata_rlog *r, uint64_t seq, uint64_t from, uint64_t to)
{
	static const uint8_t z[ZERO_CHUNK]; /* read-only zeros */
	while (from < to) {
		size_t n = to - from < ZERO_CHUNK ? (size_t)(to - from) : ZERO_CHUNK;
		int rc = r->io.write(r->io.ctx, seq, from, z, n);
		if (rc)
			return rc;
		from += n;
	}
	return 0;
}

/* Replays one record; false if it is not valid here (the log is cut before it). */
static bool replay(struct strata_rlog *r, uint64_t seq, uint64_t off, uint8_t type,
		   const uint8_t *p, size_t len)
{
	switch (type) {
	case R_ENTRY: {
		if (len < 8)
			return false;
		uint64_t idx = get64(p);
		if (idx == 0 || idx == UINT64_MAX)
			return false;
		if (idx < r->first)
			return true; /* from a segment whose removal was lost: compacted away */
		return idx_put(r, idx, (struct loc){ .seq = seq, .off = off, .len = len }) == 0;
	}
	case R_META:
		return meta_set(r, p, len) == 0;
	case R_PREFIX:
	case R_SUFFIX: {
		if (len != 8)
			return false;
		uint64_t v = get64(p);
		if (v == 0 || v == UINT64_MAX)
			return false;
		if (type == R_PREFIX)
			idx_prefix(r, v);
		else
			idx_suffix(r, v);
		return true;
	}
	case R_BOUNDS: {
		if (len != 16)
			return false;
		uint64_t f = get64(p), l = get64(p + 8);
		if (f == 0 || l == UINT64_MAX || l + 1 < f)
			return false;
		r->seg_bounds = true;
		if (!r->replaying) { /* the oldest segment: its start names the state */
			/* Entries already replayed (from segments before it that lack their
			 * BOUNDS, which logs written before appends stopped going into such
			 * segments can hold) keep their place within [f, l]; the rest of
			 * [f, l] are holes (which cost nothing: a vast range is no allocation).
			 * A BOUNDS below a first that a truncation replayed before it raised is
			 * not what a writer leaves (the BOUNDS of a segment started after that
			 * truncation names its first or above): taken as the start state, it
			 * would bring back entries the truncation made this recovery skip, and
			 * the next recovery, once the segment holding the truncation is removed,
			 * would read them (found by fuzz_rlog). The log ends before it. */
			if (f < r->first)
				return false;
			drop_below(r, f);
			drop_from(r, l + 1);
			r->replaying = true;
			r->first = f;
			r->last = l;
			return true;
		}
		if (l > r->last || f < r->first)
			return false; /* records before this one were lost */
		idx_suffix(r, l + 1);
		idx_prefix(r, f);
		return true;
	}
	default:
		return false;
	}
}

/* Replays segment s (read whole into buf). Returns the offset where the log ends in it and
 * sets *cut when that end is a bad record or non-zero bytes (a torn tail). */
static uint64_t scan(struct strata_rlog *r, uint64_t seq, const uint8_t *buf, uint64_t size,
		     bool *cut)
{
	uint64_t off = 0;
	*cut = false;
	r->seg_bounds = false;
	while (off + REC_HDR <= size) {
		const uint8_t *h = buf + off;
		if (all_zero(h, REC_HDR))
			break;
		uint32_t len = get32(h);
		uint8_t type = h[8];
		if (type == 0 || type >= R_MAX_ || !all_zero(h + 9, 7) ||
		    (uint64_t)len > size - off - REC_HDR ||
		    rec_size(len) > size - off ||
		    get32(h + 4) != rec_crc(seq, off, type, h + REC_HDR, len) ||
		    (off == 0) != (type == R_HDR)) {
			*cut = true;
			return off;
		}
		if (type == R_HDR) {
			if (len != 32 || memcmp(h + REC_HDR, SEG_MAGIC, 16) != 0 ||
			    get64(h + REC_HDR + 16) != seq || get64(h + REC_HDR + 24) != size) {
				*cut = true;
				return off;
			}
		} else if (!replay(r, seq, off, type, h + REC_HDR, len)) {
			*cut = true;
			return off;
		}
		r->st.recovered_records++;
		off += rec_size(len);
	}
	if (off < size && !all_zero(buf + off, (size_t)(size - off)))
		*cut = true; /* bytes after the last record: a torn write */
	return off;
}

static int recover(struct strata_rlog *r, char *err, size_t errlen)
{
	size_t n = 0;
	int rc = r->io.list(r->io.ctx, NULL, 0, &n);
	if (rc) {
		snprintf(err, errlen, "wal: cannot list the segments");
		return rc;
	}
	uint64_t *seqs = calloc(n ? n : 1, sizeof(*seqs));
	if (!seqs)
		return STRATA_ENOMEM;
	size_t got = n;
	rc = r->io.list(r->io.ctx, seqs, n, &got);
	if (rc || got != n) {
		free(seqs);
		snprintf(err, errlen, "wal: the segments changed while listing them");
		return rc ? rc : STRATA_EIO;
	}
	qsort(seqs, n, sizeof(*seqs), cmp_u64);
	uint64_t max_seq = n ? seqs[n - 1] : 0;
	bool cut = false;
	size_t i = 0;
	for (; i < n && !cut; i++) {
		uint64_t size;
		rc = r->io.size(r->io.ctx, seqs[i], &size);
		if (rc || size < REC_HDR || size > STRATA_RLOG_SEGMENT_MAX) {
			cut = true; /* a segment we did not finish creating */
			r->st.torn_cuts++;
			break;
		}
		uint8_t *buf = malloc((size_t)size);
		if (!buf) {
			free(seqs);
			return STRATA_ENOMEM;
		}
		rc = r->io.read(r->io.ctx, seqs[i], 0, buf, (size_t)size);
		if (rc) {
			free(buf);
			snprintf(err, errlen, "wal: cannot read segment %llu",
				 (unsigned long long)seqs[i]);
			free(seqs);
			return STRATA_EIO;
		}
		uint64_t end = scan(r, seqs[i], buf, size, &cut);
		free(buf);
		if (end == 0) {
			/* Not even its header: a bad one, or none at all (all zeros: created, then a
			 * crash before its first write was durable). The segment goes; kept, the
			 * next append would land at its offset 0 without a header and be cut, synced
			 * or not, by the following recovery. */
			cut = true;
			r->st.torn_cuts++;
			break;
		}
		rc = seg_push(r, seqs[i], size, end);
		if (rc) {
			free(seqs);
			return rc;
		}
		if (cut) {
			r->st.torn_cuts++;
			rc = zero_range(r, seqs[i], end, size);
			if (rc) {
				snprintf(err, errlen, "wal: cannot cut the torn tail of segment %llu",
					 (unsigned long long)seqs[i]);
				free(seqs);
				return STRATA_EIO;
			}
			cur(r)->dirty = true;
			i++;
			break;
		}
	}
	for (; i < n; i++) { /* everything after a cut */
		if (r->io.remove(r->io.ctx, seqs[i]) != 0) {
			snprintf(err, errlen, "wal: cannot remove segment %llu after a torn tail",
				 (unsigned long long)seqs[i]);
			free(seqs);
			return STRATA_EIO;
		}
		r->dir_dirty = true;
		r->unsynced = true;
	}
	free(seqs);
	r->rm_check = true;
	/* The first record creates the first segment; after a cut, appends go to a new segment
	 * (the cut one may lack its BOUNDS), and so they do when the last segment lacks its BOUNDS
	 * without a cut (a crash that kept its header and lost the rest of its first write, on a
	 * record boundary): entries appended to it would come before the first BOUNDS of the log,
	 * which a later recovery takes for the oldest segment's start state and resets the index
	 * to, losing them. A segment without BOUNDS therefore holds its header and at most META. */
	r->next_seq = max_seq + 1;
	r->need_seg = r->nsegs == 0 || r->st.torn_cuts || !r->seg_bounds;
	/* What was read may be in the page cache only (a process crash between a write and its
	 * sync, in any segment): the first group after a recovery is synced whole, never by its
	 * range alone, with every segment kept and the directory (a crash after a segment was
	 * created and before the directory's fsync leaves a segment recovery reads but a power
	 * failure may still take away). */
	if (n) {
		r->unsynced = true;
		if (!(r->io.broken & STRATA_RLOG_BROKEN_RECOVERY_DIR))
			r->dir_dirty = true;
		if (!(r->io.broken & STRATA_RLOG_BROKEN_RECOVERY_SEGS))
			for (size_t k = 0; k < r->nsegs; k++)
				r->segs[k].dirty = true; /* every segment kept: fdatasynced once */
	}
	return 0;
}

int strata_rlog_open(const struct strata_rlog_io *io, uint64_t seg_size, struct strata_rlog **out,
		     char *err, size_t errlen)
{
	*out = NULL;
	if (seg_size < STRATA_RLOG_SEGMENT_MIN || seg_size > STRATA_RLOG_SEGMENT_MAX) {
		snprintf(err, errlen, "wal: segment size must be %u..%llu bytes",
			 STRATA_RLOG_SEGMENT_MIN, (unsigned long long)STRATA_RLOG_SEGMENT_MAX);
		return STRATA_EINVAL;
	}
	struct strata_rlog *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "wal: out of memory");
		return STRATA_ENOMEM;
	}
	r->io = *io;
	r->seg_size = seg_size;
	r->first = 1;
	r->last = 0;
	err[0] = '\0';
	int rc = recover(r, err, errlen);
	if (rc) {
		if (!err[0])
			snprintf(err, errlen, "wal: recovery failed: %s", strata_strerror(rc));
		strata_rlog_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

void strata_rlog_close(struct strata_rlog *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->capch; i++)
		free(r->ch[i].buf);
	free(r->ch);
	free(r->segs);
	runs_remove(r, 0, r->nruns);
	free(r->runs);
	free(r->meta);
	free(r);
}
