/* Unit tests for the record log (src/store/rlog.c) over an in-memory disk: the log operations
 * survive a reopen (entries, bounds, meta, truncations, several segments and the removal of old
 * ones), and a torn tail is cut at recovery: a record whose length and type are intact but whose
 * payload was only partly written (the checksum catches it), a segment whose header never made
 * it, and stray bytes after the last record. The last write of a group is torn by hand here;
 * the simulator's disk (sim_kv slow-disk-torn) tears them at random crashes. The sparse entry
 * index: an entry far above the last and a BOUNDS of a vast range cost nothing per hole, and a
 * model-based random test (in and out of order, near and far, truncations, reopens) compares
 * bounds, entries and holes with a model after each operation. The durable write
 * (write_staged_dsync) and the first sync after a recovery against a model of the page cache
 * and the disk (power failures keep only what was synced), with the broken variants
 * (STRATA_RLOG_BROKEN_*) showing that model catch each lost rule. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "store/rlog.h"

#define SEG 4096u
#define DISK_FILES 256

struct mfile {
	uint64_t seq;
	uint8_t *b;
	uint64_t size;
	bool exists;
	/* The durability model (used by the durable-write tests): dur is what a power failure
	 * keeps (b is what the page cache shows), dentry whether the file's creation is durable. */
	uint8_t *dur;
	bool dentry;
};

struct mdisk {
	struct mfile f[DISK_FILES]; /* a removed file's slot is used again */
	size_t n;                   /* slots used so far */
	uint64_t last_seq, last_off, last_len; /* the last write */
	bool refuse_dsync; /* write_dsync writes plainly and returns 1 (a refused RWF_DSYNC) */
	uint64_t dsync_calls;
	unsigned broken; /* STRATA_RLOG_BROKEN_* of every log opened on this disk */
};

static struct mfile *mfind(struct mdisk *d, uint64_t seq)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->f[i].seq == seq && d->f[i].exists)
			return &d->f[i];
	return NULL;
}

static int m_list(void *ctx, uint64_t *seqs, size_t max, size_t *n)
{
	struct mdisk *d = ctx;
	size_t k = 0;
	for (size_t i = 0; i < d->n; i++)
		if (d->f[i].exists) {
			if (k < max)
				seqs[k] = d->f[i].seq;
			k++;
		}
	*n = k;
	return 0;
}

static int m_create(void *ctx, uint64_t seq, uint64_t size)
{
	struct mdisk *d = ctx;
	ck_assert_ptr_null(mfind(d, seq));
	size_t i = 0;
	while (i < d->n && d->f[i].exists)
		i++;
	ck_assert_uint_lt(i, DISK_FILES);
	if (i == d->n)
		d->n++;
	d->f[i] = (struct mfile){ .seq = seq, .b = calloc(1, size), .size = size, .exists = true,
				  .dur = calloc(1, size) };
	return 0;
}

static int m_remove(void *ctx, uint64_t seq)
{
	struct mfile *f = mfind(ctx, seq);
	if (!f)
		return STRATA_ENOENT;
	free(f->b);
	free(f->dur);
	f->b = NULL;
	f->dur = NULL;
	f->exists = false;
	return 0;
}

static int m_size(void *ctx, uint64_t seq, uint64_t *size)
{
	struct mfile *f = mfind(ctx, seq);
	if (!f)
		return STRATA_ENOENT;
	*size = f->size;
	return 0;
}

static int m_read(void *ctx, uint64_t seq, uint64_t off, void *buf, size_t len)
{
	struct mfile *f = mfind(ctx, seq);
	if (!f || off + len > f->size)
		return STRATA_EIO;
	memcpy(buf, f->b + off, len);
	return 0;
}

static int m_write(void *ctx, uint64_t seq, uint64_t off, const void *buf, size_t len)
{
	struct mdisk *d = ctx;
	struct mfile *f = mfind(d, seq);
	if (!f || off + len > f->size)
		return STRATA_EIO;
	memcpy(f->b + off, buf, len);
	d->last_seq = seq;
	d->last_off = off;
	d->last_len = len;
	return 0;
}

/* Like Linux's pwritev2 with RWF_DSYNC: written, and durable for that range only. */
static int m_write_dsync(void *ctx, uint64_t seq, uint64_t off, const void *buf, size_t len)
{
	struct mdisk *d = ctx;
	d->dsync_calls++;
	int rc = m_write(ctx, seq, off, buf, len);
	if (rc || d->refuse_dsync)
		return rc ? rc : 1;
	struct mfile *f = mfind(d, seq);
	memcpy(f->dur + off, buf, len);
	return 0;
}

static struct strata_rlog *open_log(struct mdisk *d)
{
	struct strata_rlog_io io = { .ctx = d, .list = m_list, .create = m_create,
				     .remove = m_remove, .size = m_size, .read = m_read,
				     .write = m_write, .write_dsync = m_write_dsync,
				     .broken = d->broken };
	struct strata_rlog *r = NULL;
	char err[256];
	int rc = strata_rlog_open(&io, SEG, &r, err, sizeof(err));
	ck_assert_msg(rc == 0, "open: %s", err);
	return r;
}

static struct strata_rlog *reopen(struct strata_rlog *r, struct mdisk *d)
{
	strata_rlog_close(r);
	return open_log(d);
}

static void free_disk(struct mdisk *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->f[i].b);
		free(d->f[i].dur);
	}
}

/* Entry i with tag: "e<i>:<tag>" padded with the tag to 100 + i % 50 bytes (the length). */
static size_t entry_value(char v[256], uint64_t i, char tag)
{
	memset(v, tag, 256);
	int n = snprintf(v, 256, "e%llu:%c", (unsigned long long)i, tag);
	v[n] = tag;
	return 100 + i % 50;
}

static void put(struct strata_rlog *r, uint64_t i, char tag)
{
	char v[256];
	size_t len = entry_value(v, i, tag);
	ck_assert_int_eq(strata_rlog_put(r, i, v, len), 0);
}

static void put_range(struct strata_rlog *r, uint64_t from, uint64_t to, char tag)
{
	for (uint64_t i = from; i <= to; i++)
		put(r, i, tag);
}

static void expect(struct strata_rlog *r, uint64_t i, char tag)
{
	struct strata_msg *m = NULL;
	ck_assert_msg(strata_rlog_get(r, i, &m) == 0, "entry %llu missing", (unsigned long long)i);
	char v[256];
	size_t len = entry_value(v, i, tag);
	ck_assert_uint_eq(m->len, len);
	ck_assert_msg(memcmp(m->data, v, m->len) == 0, "entry %llu differs", (unsigned long long)i);
	strata_msg_unref(m);
}

static void expect_range(struct strata_rlog *r, uint64_t from, uint64_t to, char tag)
{
	for (uint64_t i = from; i <= to; i++)
		expect(r, i, tag);
}

static void expect_hole(struct strata_rlog *r, uint64_t i)
{
	struct strata_msg *m = NULL;
	ck_assert_msg(strata_rlog_get(r, i, &m) == STRATA_ENOENT, "entry %llu present",
		      (unsigned long long)i);
	ck_assert_ptr_null(m);
}

static void expect_bounds(struct strata_rlog *r, uint64_t first, uint64_t last)
{
	uint64_t f, l;
	strata_rlog_bounds(r, &f, &l);
	ck_assert_uint_eq(f, first);
	ck_assert_uint_eq(l, last);
}

static void expect_torn(struct strata_rlog *r, uint64_t cuts)
{
	ck_assert_uint_eq(strata_rlog_stats(r)->torn_cuts, cuts);
}

static void sync_all(struct strata_rlog *r)
{
	ck_assert_int_ge(strata_rlog_write_staged(r), 0);
	uint64_t seqs[16];
	bool dir;
	while (strata_rlog_dirty(r, seqs, 16, &dir) == 16)
		;
	strata_rlog_synced(r);
}

/* Closes r and frees its disk (the end of a test). */
static void close_all(struct strata_rlog *r, struct mdisk *d)
{
	strata_rlog_close(r);
	free_disk(d);
}

/* Syncs what r staged, closes it and opens the log on d again. */
static struct strata_rlog *sync_reopen(struct strata_rlog *r, struct mdisk *d)
{
	sync_all(r);
	return reopen(r, d);
}

/* Opens the log on d, writes entries from..to with tag, syncs and closes it. */
static void write_synced(struct mdisk *d, uint64_t from, uint64_t to, char tag)
{
	struct strata_rlog *r = open_log(d);
	put_range(r, from, to, tag);
	sync_all(r);
	strata_rlog_close(r);
}

START_TEST(test_reopen_segments_truncations)
{
	struct mdisk d = { 0 };
	struct strata_rlog *r = open_log(&d);
	ck_assert_uint_eq(d.n, 0); /* no file before the first record */
	for (uint64_t i = 1; i <= 120; i++) {
		put(r, i, 'a');
		if (i % 7 == 0) {
			ck_assert_int_eq(strata_rlog_meta_put(r, &i, sizeof(i)), 0);
			sync_all(r);
		}
	}
	expect(r, 5, 'a'); /* staged and written entries read alike */
	ck_assert_int_eq(strata_rlog_truncate_suffix(r, 100), 0);
	put_range(r, 100, 110, 'b');
	sync_all(r);
	ck_assert_int_eq(strata_rlog_truncate_prefix(r, 60), 0);
	uint64_t m = 4242;
	ck_assert_int_eq(strata_rlog_meta_put(r, &m, sizeof(m)), 0);
	sync_all(r);
	sync_all(r); /* the removal happens after the sync that covered the compaction */
	ck_assert_uint_gt(strata_rlog_stats(r)->segments_created, 3);
	ck_assert_uint_gt(strata_rlog_stats(r)->segments_removed, 0);

	r = reopen(r, &d);
	expect_bounds(r, 60, 110);
	expect_range(r, 60, 99, 'a');
	expect_range(r, 100, 110, 'b');
	expect_hole(r, 59);
	struct strata_msg *mm = NULL;
	ck_assert_int_eq(strata_rlog_meta_get(r, &mm), 0);
	ck_assert_uint_eq(mm->len, sizeof(m));
	ck_assert(memcmp(mm->data, &m, sizeof(m)) == 0);
	strata_msg_unref(mm);
	expect_torn(r, 0);
	/* compaction of everything: empty, and the next index is first */
	ck_assert_int_eq(strata_rlog_truncate_prefix(r, 200), 0);
	expect_bounds(r, 200, 199);
	ck_assert_int_eq(strata_rlog_put(r, 150, "x", 1), STRATA_EINVAL);
	put(r, 200, 'c');
	r = sync_reopen(r, &d);
	expect_bounds(r, 200, 200);
	expect(r, 200, 'c');
	close_all(r, &d);
}
END_TEST

START_TEST(test_torn_payload_cut)
{
	struct mdisk d = { 0 };
	write_synced(&d, 1, 10, 'a');
	write_synced(&d, 11, 11, 'a');
	/* The crash kept the record's header and the first 40 bytes of its payload. */
	struct mfile *f = mfind(&d, d.last_seq);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_gt(d.last_len, 16 + 40);
	memset(f->b + d.last_off + 16 + 40, 0, d.last_len - 16 - 40);

	struct strata_rlog *r = open_log(&d);
	expect_torn(r, 1);
	expect_bounds(r, 1, 10);
	expect_range(r, 1, 10, 'a');
	put(r, 11, 'b'); /* the log goes on after the cut */
	r = sync_reopen(r, &d);
	expect_torn(r, 0);
	expect(r, 11, 'b');
	close_all(r, &d);
}
END_TEST

START_TEST(test_torn_segment_header_and_stray_bytes)
{
	struct mdisk d = { 0 };
	write_synced(&d, 1, 5, 'a');
	/* Stray bytes after the last record (a write whose start did not reach the disk). */
	struct mfile *f = mfind(&d, 1);
	f->b[d.last_off + d.last_len + 100] = 0x5a;
	struct strata_rlog *r = open_log(&d);
	expect_torn(r, 1);
	expect_range(r, 1, 5, 'a');
	strata_rlog_close(r);
	/* A segment created by a crash that tore its header: removed, the log ends before it. */
	ck_assert_int_eq(m_create(&d, 7, SEG), 0);
	mfind(&d, 7)->b[3] = 1;
	r = open_log(&d);
	ck_assert_ptr_null(mfind(&d, 7));
	expect_bounds(r, 1, 5);
	put(r, 6, 'a');
	r = sync_reopen(r, &d);
	expect(r, 6, 'a');
	expect_bounds(r, 1, 6);
	close_all(r, &d);
}
END_TEST

/* A crash right after a segment was created (preallocated, reading as zeros) and before its
 * header was durable leaves an all-zero segment: recovery removes it like a torn header, so the
 * next append starts a segment with a header and survives the next recovery. Kept (as before),
 * the append went to offset 0 of the headerless segment and the following recovery cut it: a
 * synced entry lost. Found by fuzz_rlog. */
START_TEST(test_empty_segment_after_crash)
{
	struct mdisk d = { 0 };
	write_synced(&d, 1, 5, 'a');
	ck_assert_int_eq(m_create(&d, 2, SEG), 0);
	write_synced(&d, 6, 6, 'b');
	struct strata_rlog *r = open_log(&d);
	expect_torn(r, 0);
	expect_bounds(r, 1, 6);
	expect_range(r, 1, 5, 'a');
	expect(r, 6, 'b');
	strata_rlog_close(r);
	/* The same when the log's only segment is the empty one. */
	struct mdisk e = { 0 };
	ck_assert_int_eq(m_create(&e, 1, SEG), 0);
	write_synced(&e, 1, 1, 'c');
	r = open_log(&e);
	expect_torn(r, 0);
	expect(r, 1, 'c');
	close_all(r, &d);
	free_disk(&e);
}
END_TEST

/* A crash that kept a new segment's header record and lost the rest of its first write on a
 * record boundary leaves a segment with a header and no BOUNDS, which recovery does not cut.
 * Appends must not go into it: entries there would come before the log's first BOUNDS, and the
 * next recovery takes that BOUNDS (of the segment started when this one filled) for the start
 * state and drops them. Here the log's first segment is cut back to its header, then 60
 * entries (two segments' worth) are written, synced and read back after a reopen. Found by
 * fuzz_rlog. */
START_TEST(test_segment_without_bounds)
{
	struct mdisk d = { 0 };
	write_synced(&d, 1, 1, 'a');
	struct mfile *f = mfind(&d, 1);
	memset(f->b + 48, 0, (size_t)(f->size - 48)); /* the header record is 16 + 32 bytes */
	struct strata_rlog *r = open_log(&d);
	expect_torn(r, 0);
	put_range(r, 1, 60, 'b');
	r = sync_reopen(r, &d);
	expect_bounds(r, 1, 60);
	expect_range(r, 1, 60, 'b');
	close_all(r, &d);
}
END_TEST

/* Writes one record of rlog.c's format at *off of f (segment seq) and advances *off. Types: 1
 * header, 2 entry, 4 prefix, 6 bounds. */
static void raw_rec(struct mfile *f, uint64_t *off, uint8_t type, const void *pay, uint32_t len)
{
	uint8_t h[21];
	for (int i = 0; i < 8; i++) {
		h[i] = (uint8_t)(f->seq >> (8 * i));
		h[8 + i] = (uint8_t)(*off >> (8 * i));
	}
	h[16] = type;
	for (int i = 0; i < 4; i++)
		h[17 + i] = (uint8_t)(len >> (8 * i));
	uint32_t crc = strata_crc32c(strata_crc32c(0, h, sizeof(h)), pay, len);
	uint8_t *p = f->b + *off;
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)(len >> (8 * i));
		p[4 + i] = (uint8_t)(crc >> (8 * i));
	}
	p[8] = type;
	memcpy(p + 16, pay, len);
	*off += 16 + ((len + 7) & ~7u);
}

static void raw_u64s(uint8_t *b, uint64_t x, uint64_t y)
{
	for (int i = 0; i < 8; i++) {
		b[i] = (uint8_t)(x >> (8 * i));
		b[8 + i] = (uint8_t)(y >> (8 * i));
	}
}

/* Creates segment seq of SEG bytes holding its header record; *off = the offset after it. */
static struct mfile *raw_segment(struct mdisk *d, uint64_t seq, uint64_t *off)
{
	ck_assert_int_eq(m_create(d, seq, SEG), 0);
	struct mfile *f = mfind(d, seq);
	uint8_t hdr[32];
	memcpy(hdr, "STRATAWAL1\0\0\0\0\0\0", 16);
	raw_u64s(hdr + 16, seq, SEG);
	*off = 0;
	raw_rec(f, off, 1, hdr, sizeof(hdr));
	return f;
}

/* An ENTRY record for index i whose entry is the 8 bytes of u64 x. */
static void raw_entry(struct mfile *f, uint64_t *off, uint64_t i, uint64_t x)
{
	uint8_t e[16];
	raw_u64s(e, i, x);
	raw_rec(f, off, 2, e, sizeof(e));
}

static void raw_bounds(struct mfile *f, uint64_t *off, uint64_t first, uint64_t last)
{
	uint8_t bnd[16];
	raw_u64s(bnd, first, last);
	raw_rec(f, off, 6, bnd, sizeof(bnd));
}

/* Entry i was written by raw_entry with x: 8 bytes, the first (x's low byte) given. */
static void expect_raw(struct strata_rlog *r, uint64_t i, uint8_t low)
{
	struct strata_msg *m = NULL;
	ck_assert_msg(strata_rlog_get(r, i, &m) == 0, "entry %llu lost", (unsigned long long)i);
	ck_assert_uint_eq(m->len, 8);
	ck_assert_uint_eq(m->data[0], low);
	strata_msg_unref(m);
}

/* Entries in a segment without BOUNDS before the log's first BOUNDS (what the writer above did
 * before the fix of test_segment_without_bounds): recovery keeps them in place when that BOUNDS
 * covers them, instead of resetting the index to holes. Written record by record here. Found
 * by fuzz_rlog. */
START_TEST(test_entries_before_first_bounds)
{
	struct mdisk d = { 0 };
	for (uint64_t seq = 1; seq <= 2; seq++) {
		uint64_t off;
		struct mfile *f = raw_segment(&d, seq, &off);
		if (seq == 2)
			raw_bounds(f, &off, 1, 2);
		for (uint64_t i = seq == 1 ? 1 : 3; i <= (seq == 1 ? 2u : 3u); i++)
			raw_entry(f, &off, i, 0x7878787878787878ull + i);
	}
	struct strata_rlog *r = open_log(&d);
	expect_torn(r, 0);
	expect_bounds(r, 1, 3);
	for (uint64_t i = 1; i <= 3; i++)
		expect_raw(r, i, (uint8_t)(0x78 + i));
	close_all(r, &d);
}
END_TEST

/* A PREFIX in a segment without BOUNDS, then a segment whose entries (below the PREFIX) come
 * before its BOUNDS, whose first is below the PREFIX. Taken as the start state, that BOUNDS
 * made the entries skipped before it holes of [1, 4000]; once an append made the first segment
 * removable, the next recovery read them as entries: two recoveries disagreed. Now the log ends
 * before that BOUNDS, and an append and a reopen keep the same log. Found by fuzz_rlog (with
 * the PREFIX at 2^53). */
START_TEST(test_bounds_below_replayed_prefix)
{
	struct mdisk d = { 0 };
	uint64_t off;
	struct mfile *f = raw_segment(&d, 1, &off);
	uint8_t k[16];
	raw_u64s(k, 100, 0);
	raw_rec(f, &off, 4, k, 8); /* PREFIX 100 */
	f = raw_segment(&d, 120, &off);
	raw_entry(f, &off, 14, 0x51);
	raw_entry(f, &off, 2, 0x52);
	raw_bounds(f, &off, 1, 4000);
	raw_entry(f, &off, 1, 0x53);
	struct strata_rlog *r = open_log(&d);
	expect_bounds(r, 100, 99);
	put(r, 100, 'p');
	r = sync_reopen(r, &d);
	expect_torn(r, 0);
	expect_bounds(r, 100, 100);
	expect(r, 100, 'p');
	expect_hole(r, 14);
	expect_hole(r, 2);
	close_all(r, &d);
}
END_TEST

#define FAR (1ull << 40)

/* An entry far above the last one (the specification allows holes): put, read, and recovered
 * in time and memory for the entries present, not for the gap. The segments started after it
 * repeat the bounds [1, FAR + k] in their BOUNDS; once the log is compacted to FAR + 50 and the
 * older segments are removed, recovery starts from such a BOUNDS, a range of 2^40 indexes
 * nearly all holes. With the dense index of before, the put failed (an index of 24 bytes per
 * index up to 2^40: 26 TB) and so did that recovery. */
START_TEST(test_far_entry_index)
{
	struct mdisk d = { 0 };
	struct strata_rlog *r = open_log(&d);
	put_range(r, 1, 3, 'a');
	put(r, FAR, 'f');
	sync_all(r);
	expect_bounds(r, 1, FAR);
	expect(r, FAR, 'f');
	expect_hole(r, 4);
	expect_hole(r, FAR - 1);
	expect_hole(r, FAR / 2);
	put_range(r, FAR + 1, FAR + 80, 'g'); /* three more segments */
	r = sync_reopen(r, &d);
	expect_torn(r, 0);
	expect_bounds(r, 1, FAR + 80);
	expect_range(r, 1, 3, 'a');
	expect(r, FAR, 'f');
	expect_range(r, FAR + 1, FAR + 80, 'g');
	expect_hole(r, 4);
	expect_hole(r, FAR - 1);
	ck_assert_int_eq(strata_rlog_truncate_prefix(r, FAR + 50), 0);
	sync_all(r);
	sync_all(r); /* removes the segments before the one holding FAR + 50 */
	ck_assert_uint_gt(strata_rlog_stats(r)->segments_removed, 0);
	ck_assert_ptr_null(mfind(&d, 1));
	r = reopen(r, &d);
	expect_torn(r, 0);
	expect_bounds(r, FAR + 50, FAR + 80);
	expect_range(r, FAR + 50, FAR + 80, 'g');
	expect_hole(r, FAR + 49);
	close_all(r, &d);
}
END_TEST

/* A BOUNDS of a vast range in the log's oldest segment (first 7, last 2^62, as a log holding
 * entries up to 2^62 writes when compacted behind 7 and starting a segment), then two of its
 * entries: recovered with every other index of the range a hole, and appends go on after it. */
START_TEST(test_vast_bounds)
{
	const uint64_t top = 1ull << 62;
	struct mdisk d = { 0 };
	uint64_t off;
	struct mfile *f = raw_segment(&d, 1, &off);
	raw_bounds(f, &off, 7, top);
	raw_entry(f, &off, top, 0x41);
	raw_entry(f, &off, 8, 0x42);
	struct strata_rlog *r = open_log(&d);
	expect_torn(r, 0);
	expect_bounds(r, 7, top);
	expect_raw(r, top, 0x41);
	expect_raw(r, 8, 0x42);
	expect_hole(r, 7);
	expect_hole(r, 9);
	expect_hole(r, top - 1);
	expect_hole(r, top / 2);
	put(r, top + 1, 'h');
	r = sync_reopen(r, &d);
	expect_torn(r, 0);
	expect_bounds(r, 7, top + 1);
	expect_raw(r, top, 0x41);
	expect_raw(r, 8, 0x42);
	expect(r, top + 1, 'h');
	expect_hole(r, top / 2);
	close_all(r, &d);
}
END_TEST

/* ---- the log against a model, under random operations at near and far indexes ---- */

#define MODEL_MAX 2048

struct model {
	uint64_t first, last;
	size_t n;
	uint64_t idx[MODEL_MAX]; /* the entries present, any order */
	char tag[MODEL_MAX];
};

static void model_drop_if(struct model *m, uint64_t lo, uint64_t hi) /* drops lo <= i < hi */
{
	for (size_t i = 0; i < m->n;)
		if (m->idx[i] >= lo && m->idx[i] < hi) {
			m->n--;
			m->idx[i] = m->idx[m->n];
			m->tag[i] = m->tag[m->n];
		} else {
			i++;
		}
}

static void model_put(struct model *m, uint64_t i, char tag)
{
	size_t k = 0;
	while (k < m->n && m->idx[k] != i)
		k++;
	if (k == m->n) {
		ck_assert_uint_lt(m->n, MODEL_MAX);
		m->idx[m->n++] = i;
	}
	m->tag[k] = tag;
	if (i > m->last)
		m->last = i;
}

/* The same as rlog.c's (and core/storage.c's SP3). */
static void model_prefix(struct model *m, uint64_t k)
{
	if (k <= m->first)
		return;
	model_drop_if(m, 0, k);
	if (m->last < k - 1)
		m->last = k - 1;
	m->first = k;
}

static void model_suffix(struct model *m, uint64_t d)
{
	if (d > m->last)
		return;
	model_drop_if(m, d, UINT64_MAX);
	if (d < m->first)
		m->first = d;
	m->last = d - 1;
}

static uint64_t rnd(uint64_t *s) /* xorshift64 */
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* An index near first..last + 2, or far above (2^21, 2^40, 2^62 or near UINT64_MAX, plus a
 * little), never UINT64_MAX. */
static uint64_t pick(uint64_t *s, const struct model *m)
{
	static const uint64_t far[] = { 1ull << 21, 1ull << 40, 1ull << 62, UINT64_MAX - 64 };
	uint64_t i;
	if (rnd(s) % 16 == 0) {
		i = far[rnd(s) % 4] + rnd(s) % 32;
	} else {
		uint64_t span = m->last - m->first + 3; /* 0: all of 2^64 */
		i = m->first + (span ? rnd(s) % span : rnd(s));
		if (i < m->first)
			i = UINT64_MAX - 1; /* wrapped */
	}
	return i == UINT64_MAX ? UINT64_MAX - 1 : i;
}

/* The bounds, and when full, every entry present and some holes. */
static void model_check(struct strata_rlog *r, const struct model *m, uint64_t *s, bool full)
{
	expect_bounds(r, m->first, m->last);
	if (!full)
		return;
	for (size_t k = 0; k < m->n; k++)
		expect(r, m->idx[k], m->tag[k]);
	for (int k = 0; k < 16 && m->last >= m->first; k++) {
		uint64_t i = m->first + rnd(s) % (m->last - m->first + 1);
		bool present = false;
		for (size_t j = 0; j < m->n && !present; j++)
			present = m->idx[j] == i;
		if (!present)
			expect_hole(r, i);
	}
}

/* Puts in order, out of order and far away, truncations of either end, syncs and reopens, for
 * several seeds; after every operation the bounds match the model's, and the entries too after
 * every reopen (where nothing may have been cut) and every 16th operation. */
START_TEST(test_model_random)
{
	for (uint64_t seed = 1; seed <= 8; seed++) {
		uint64_t s = 0x9e3779b97f4a7c15ull * seed;
		struct mdisk d = { 0 };
		struct model m = { .first = 1, .last = 0 };
		struct strata_rlog *r = open_log(&d);
		for (int op = 0; op < 600; op++) {
			uint64_t x = rnd(&s) % 100;
			if (x < 55) {
				/* mostly appends, as the KV writes */
				uint64_t i = x < 35 && m.last + 1 < UINT64_MAX ? m.last + 1 : pick(&s, &m);
				if (m.n >= MODEL_MAX - 1)
					continue;
				char tag = (char)('a' + rnd(&s) % 26);
				if (i < m.first) {
					ck_assert_int_eq(strata_rlog_put(r, i, "x", 1), STRATA_EINVAL);
					continue;
				}
				put(r, i, tag);
				model_put(&m, i, tag);
			} else if (x < 65) {
				uint64_t k = pick(&s, &m);
				ck_assert_int_eq(strata_rlog_truncate_prefix(r, k), 0);
				model_prefix(&m, k);
			} else if (x < 72) {
				uint64_t k = pick(&s, &m);
				ck_assert_int_eq(strata_rlog_truncate_suffix(r, k), 0);
				model_suffix(&m, k);
			} else if (x < 90) {
				sync_all(r);
			} else {
				r = sync_reopen(r, &d);
				expect_torn(r, 0);
			}
			model_check(r, &m, &s, x >= 90 || op % 16 == 0);
		}
		close_all(r, &d);
	}
}
END_TEST

/* ---- the durable write (write_staged_dsync: RWF_DSYNC on a real node) ---- */

/* The runtime's sync after a plain write: the segments strata_rlog_dirty names become durable
 * whole (fdatasync), the directory's entries too when it says so (fsync of the directory). */
static void sync_durable(struct strata_rlog *r, struct mdisk *d)
{
	uint64_t seqs[16];
	bool dir = false, any_dir = false;
	size_t n;
	do {
		n = strata_rlog_dirty(r, seqs, 16, &dir);
		any_dir |= dir;
		for (size_t i = 0; i < n; i++) {
			struct mfile *f = mfind(d, seqs[i]);
			ck_assert_ptr_nonnull(f);
			memcpy(f->dur, f->b, f->size);
		}
	} while (n == 16);
	if (any_dir)
		for (size_t i = 0; i < d->n; i++)
			if (d->f[i].exists)
				d->f[i].dentry = true;
	strata_rlog_synced(r);
}

/* Writes the staged group through write_staged_dsync and makes it durable as the store does:
 * nothing more when it says 2, the runtime's sync when it says 1. Returns what it said. */
static int group_durable(struct strata_rlog *r, struct mdisk *d)
{
	int rc = strata_rlog_write_staged_dsync(r);
	ck_assert_int_ge(rc, 0);
	if (rc == 2)
		strata_rlog_synced(r); /* the store does so before the next group */
	else
		sync_durable(r, d);
	return rc;
}

/* A power failure: every file shows what was durable; files whose creation was not made
 * durable are gone. */
static void power_fail(struct mdisk *d)
{
	for (size_t i = 0; i < d->n; i++) {
		struct mfile *f = &d->f[i];
		if (!f->exists)
			continue;
		if (!f->dentry) {
			free(f->b);
			free(f->dur);
			f->b = f->dur = NULL;
			f->exists = false;
			continue;
		}
		memcpy(f->b, f->dur, f->size);
	}
}

/* A power failure, then the log reopened: entries 1..last (tag 'a'), every one acknowledged,
 * are all back. */
static struct strata_rlog *power_fail_reopen(struct strata_rlog *r, struct mdisk *d,
					     uint64_t last)
{
	power_fail(d);
	r = reopen(r, d);
	expect_bounds(r, 1, last);
	expect_range(r, 1, last, 'a');
	return r;
}

/* One entry per group, the KV follower's case: the first group of a fresh log creates a segment
 * (synced whole, with the directory), the next ones are one write each into that segment and
 * durable by it alone; a power failure keeps all of them. A group is never made durable by its
 * own range while an earlier write is unsynced (here: one written with write_staged and not
 * synced), or after a reopen (what recovery read may be in the page cache only), or when it
 * starts a segment: those are synced whole, and again the power failure keeps everything
 * acknowledged. */
START_TEST(test_dsync_only_when_all_else_durable)
{
	struct mdisk d = { 0 };
	struct strata_rlog *r = open_log(&d);
	put(r, 1, 'a');
	ck_assert_int_eq(group_durable(r, &d), 1); /* a new segment: synced whole */
	put(r, 2, 'a');
	ck_assert_int_eq(group_durable(r, &d), 2);
	put(r, 3, 'a');
	ck_assert_int_eq(group_durable(r, &d), 2);
	ck_assert_uint_eq(strata_rlog_stats(r)->dsync_writes, 2);
	uint64_t seqs[4];
	bool dir = true;
	ck_assert_uint_eq(strata_rlog_dirty(r, seqs, 4, &dir), 0); /* nothing left to sync */
	ck_assert(!dir);
	/* An unsynced write before: the next group is synced whole. */
	put(r, 4, 'a');
	ck_assert_int_eq(strata_rlog_write_staged(r), 1);
	put(r, 5, 'a');
	ck_assert_int_eq(group_durable(r, &d), 1);
	put(r, 6, 'a');
	ck_assert_int_eq(group_durable(r, &d), 2);
	/* Written and collected for a sync that has not completed (or failed): strata_rlog_dirty
	 * no longer names the segment, the log still knows it is not durable, so the next group
	 * is synced whole. */
	put(r, 7, 'a');
	ck_assert_int_eq(strata_rlog_write_staged(r), 1);
	ck_assert_uint_eq(strata_rlog_dirty(r, seqs, 4, &dir), 1);
	put(r, 8, 'a');
	ck_assert_int_eq(group_durable(r, &d), 1);
	r = power_fail_reopen(r, &d, 8);
	/* Written, then a process crash (the page cache keeps it, the disk does not): recovery
	 * reads entry 9, so the first group after the reopen is synced whole. */
	put(r, 9, 'a');
	ck_assert_int_eq(strata_rlog_write_staged(r), 1);
	r = reopen(r, &d);
	expect_bounds(r, 1, 9);
	put(r, 10, 'a');
	ck_assert_int_eq(group_durable(r, &d), 1);
	put(r, 11, 'a');
	ck_assert_int_eq(group_durable(r, &d), 2);
	r = power_fail_reopen(r, &d, 11);
	/* Refused by the kernel: written plainly, synced by the caller, counted. */
	put(r, 12, 'a');
	ck_assert_int_eq(group_durable(r, &d), 1); /* after a reopen */
	d.refuse_dsync = true;
	uint64_t calls = d.dsync_calls;
	put(r, 13, 'a');
	ck_assert_int_eq(group_durable(r, &d), 1);
	ck_assert_uint_eq(d.dsync_calls, calls + 1);
	ck_assert_uint_eq(strata_rlog_stats(r)->dsync_refused, 1);
	d.refuse_dsync = false;
	r = power_fail_reopen(r, &d, 13);
	/* Unsynced writes across segment rolls, then a process crash: the first group after the
	 * reopen syncs every segment recovery kept, not only the one it writes into. */
	put(r, 14, 'a');
	ck_assert_int_eq(group_durable(r, &d), 1); /* the first after a reopen */
	put_range(r, 15, 60, 'a');
	ck_assert_int_eq(strata_rlog_write_staged(r), 1);
	ck_assert_uint_ge(strata_rlog_stats(r)->segments_created, 2);
	r = reopen(r, &d);
	expect_bounds(r, 1, 60);
	put(r, 61, 'a');
	ck_assert_int_eq(group_durable(r, &d), 1);
	r = power_fail_reopen(r, &d, 61);
	close_all(r, &d);
}
END_TEST

/* Whether entry i reads back as written with tag (no assertion: a broken variant's run counts
 * what it loses). */
static bool entry_is(struct strata_rlog *r, uint64_t i, char tag)
{
	struct strata_msg *m = NULL;
	if (strata_rlog_get(r, i, &m) != 0)
		return false;
	char v[256];
	size_t len = entry_value(v, i, tag);
	bool same = m->len == len && memcmp(m->data, v, len) == 0;
	strata_msg_unref(m);
	return same;
}

/* One run of the random test below (400 operations from seed) on logs opened with the broken
 * bits given: returns how many acknowledged entries were found missing after a crash (0 is
 * right: every one is back), adds the groups made durable by their own write to *dsyncs. A
 * loss is counted and the run goes on from what the log holds. */
static uint64_t dsync_random_run(uint64_t seed, unsigned broken, uint64_t *dsyncs)
{
	uint64_t s = 0x2545f4914f6cdd1dull * seed, lost = 0;
	struct mdisk d = { .broken = broken };
	struct strata_rlog *r = open_log(&d);
	uint64_t next = 1, acked = 0, first = 1;
	for (int op = 0; op < 400; op++) {
		uint64_t x = rnd(&s) % 100;
		if (x < 80) {
			uint64_t k = 1 + rnd(&s) % 3;
			for (uint64_t i = 0; i < k; i++)
				put(r, next++, 'g');
			if (x < 5 && next > first + 8) {
				first = next - 4;
				ck_assert_int_eq(strata_rlog_truncate_prefix(r, first), 0);
			}
			if (x < 70) {
				(void)group_durable(r, &d);
				acked = next - 1;
			} else {
				ck_assert_int_ge(strata_rlog_write_staged(r), 0); /* not acked */
			}
		} else if (x < 90) {
			r = reopen(r, &d); /* a process crash: staged bytes lost, written kept */
		} else {
			power_fail(&d);
			*dsyncs += strata_rlog_stats(r)->dsync_writes;
			r = reopen(r, &d);
		}
		uint64_t f, l;
		strata_rlog_bounds(r, &f, &l);
		if (l < acked) { /* the acknowledged tail is gone */
			lost += acked - l;
			acked = l;
		}
		next = l + 1;
		if (first > next)
			first = next;
		if (x >= 80) /* after a crash: every acknowledged entry is back */
			for (uint64_t i = f > first ? f : first; i <= acked; i++)
				lost += !entry_is(r, i, 'g');
	}
	*dsyncs += strata_rlog_stats(r)->dsync_writes;
	close_all(r, &d);
	return lost;
}

/* Random groups (1-3 appended entries each, sometimes a prefix truncation, which removes old
 * segments) made durable as the store does, with groups written and left unsynced, process
 * crashes (the page cache survives) and power failures (only durable bytes and file creations
 * survive) in between: after every power failure every acknowledged entry is back, and the
 * durable write was used (the check is not vacuous). */
START_TEST(test_dsync_random_crashes)
{
	uint64_t dsyncs = 0;
	for (uint64_t seed = 1; seed <= 4; seed++) {
		uint64_t lost = dsync_random_run(seed, 0, &dsyncs);
		ck_assert_msg(lost == 0, "seed %llu: %llu acknowledged entries lost",
			      (unsigned long long)seed, (unsigned long long)lost);
	}
	ck_assert_uint_gt(dsyncs, 100);
}
END_TEST

/* A power failure, then the log reopened: how many of the acknowledged entries (tag 'a') in
 * acked[0..n) are missing (0 is right). */
static uint64_t power_fail_lost(struct strata_rlog **r, struct mdisk *d, const uint64_t *acked,
				size_t n)
{
	power_fail(d);
	*r = reopen(*r, d);
	uint64_t lost = 0;
	for (size_t i = 0; i < n; i++)
		lost += !entry_is(*r, acked[i], 'a');
	return lost;
}

/* The three cases the durable write's rules are for, on logs opened with the broken bits given;
 * returns how many acknowledged entries power failures took (0 is right):
 *   1. an earlier write collected for a sync that did not complete (unsynced): the next group
 *      must not be made durable by its own range (STRATA_RLOG_BROKEN_DSYNC_UNSYNCED loses it:
 *      the earlier write's bytes are zeros on the disk, so recovery ends the log before it);
 *   2. writes across segment rolls, then a process crash: recovery reads them from the page
 *      cache, so the first sync after it must fdatasync every kept segment
 *      (STRATA_RLOG_BROKEN_RECOVERY_SEGS: a segment is zeros on the disk, the log ends there)
 *      and fsync the directory (STRATA_RLOG_BROKEN_RECOVERY_DIR: the segments the crash kept
 *      are gone after the power failure, and the acknowledged entry in the last with them). */
static uint64_t dsync_cases_lost(unsigned broken)
{
	struct mdisk d = { .broken = broken };
	struct strata_rlog *r = open_log(&d);
	uint64_t lost = 0;
	put(r, 1, 'a');
	(void)group_durable(r, &d);
	put(r, 2, 'a');
	(void)group_durable(r, &d);
	put(r, 3, 'a'); /* not acknowledged */
	ck_assert_int_eq(strata_rlog_write_staged(r), 1);
	uint64_t seqs[4];
	bool dir;
	ck_assert_uint_eq(strata_rlog_dirty(r, seqs, 4, &dir), 1); /* the sync never completes */
	put(r, 4, 'a');
	(void)group_durable(r, &d);
	lost += power_fail_lost(&r, &d, (const uint64_t[]){ 1, 2, 4 }, 3);
	close_all(r, &d);

	d = (struct mdisk){ .broken = broken };
	r = open_log(&d);
	put(r, 1, 'a');
	(void)group_durable(r, &d);
	put_range(r, 2, 60, 'a'); /* not acknowledged */
	ck_assert_int_eq(strata_rlog_write_staged(r), 1);
	ck_assert_uint_ge(strata_rlog_stats(r)->segments_created, 3);
	r = reopen(r, &d); /* a process crash */
	ck_assert(entry_is(r, 60, 'a'));
	put(r, 61, 'a');
	(void)group_durable(r, &d);
	lost += power_fail_lost(&r, &d, (const uint64_t[]){ 1, 61 }, 2);
	close_all(r, &d);
	return lost;
}

/* The checkers above fail on the broken variants (each takes back one rule: rlog.h
 * STRATA_RLOG_BROKEN_*): the cases lose acknowledged entries under every one and none on the
 * right code, and the random test loses some at a seed for each recovery rule. */
START_TEST(test_dsync_broken_variants_lose)
{
	ck_assert_uint_eq(dsync_cases_lost(0), 0);
	const unsigned variants[] = { STRATA_RLOG_BROKEN_DSYNC_UNSYNCED,
				      STRATA_RLOG_BROKEN_RECOVERY_SEGS,
				      STRATA_RLOG_BROKEN_RECOVERY_DIR };
	for (size_t i = 0; i < 3; i++)
		ck_assert_msg(dsync_cases_lost(variants[i]) > 0, "broken %u: nothing lost",
			      variants[i]);
	uint64_t dsyncs = 0;
	ck_assert_uint_gt(dsync_random_run(6, STRATA_RLOG_BROKEN_RECOVERY_SEGS, &dsyncs), 0);
	ck_assert_uint_gt(dsync_random_run(2, STRATA_RLOG_BROKEN_RECOVERY_DIR, &dsyncs), 0);
}
END_TEST

START_TEST(test_crc32c_vector)
{
	/* the standard check value of CRC-32C */
	ck_assert_uint_eq(strata_crc32c(0, "123456789", 9), 0xe3069283u);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rlog");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60); /* the model test under ASan on a loaded machine */
	tcase_add_test(tc, test_reopen_segments_truncations);
	tcase_add_test(tc, test_torn_payload_cut);
	tcase_add_test(tc, test_torn_segment_header_and_stray_bytes);
	tcase_add_test(tc, test_empty_segment_after_crash);
	tcase_add_test(tc, test_segment_without_bounds);
	tcase_add_test(tc, test_entries_before_first_bounds);
	tcase_add_test(tc, test_bounds_below_replayed_prefix);
	tcase_add_test(tc, test_far_entry_index);
	tcase_add_test(tc, test_vast_bounds);
	tcase_add_test(tc, test_model_random);
	tcase_add_test(tc, test_dsync_only_when_all_else_durable);
	tcase_add_test(tc, test_dsync_random_crashes);
	tcase_add_test(tc, test_dsync_broken_variants_lose);
	tcase_add_test(tc, test_crc32c_vector);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
