/* libFuzzer target for the record log's recovery (store/rlog.c): segment files as a node finds
 * them after a crash, read back by strata_rlog_open (segments in order, record headers, lengths,
 * types, CRC-32C, the segment header, META / ENTRY / PREFIX / SUFFIX / BOUNDS replay, the torn
 * tail cut and zeroed, later segments removed).
 *
 * Input: one flags byte, then up to MAX_SEGS segments, each
 *   [u8 seq][u16 LE bytes given][u16 LE zero bytes after them][the bytes given]
 * held by an in-memory rlog_io (the segment's size is given + zeros, at most SEG_CAP). A seq of 0
 * or one already present skips the segment. Flags: bit 0 "repair": before the open, the harness
 * makes every record it can walk well-formed (the segment header at offset 0 with the magic, its
 * seq and size; the other records a valid type, zero padding, a length that fits) and gives each
 * a correct CRC, so the fuzzer reaches the replay of what records say instead of spending its
 * time on CRCs; bits 1-2 the segment size of new segments (4 KiB << n).
 *
 * Beyond "no crash, no sanitizer report", on storage that never fails:
 *   R1 the open succeeds (recovery over readable segments never fails; a damaged tail is cut);
 *   R2 recovery is idempotent: closing and opening again finds no torn tail and the same bounds,
 *      meta record and entries (every index, up to CHECK_MAX of them);
 *   R3 the recovered log takes appends: an entry after the last and a new meta record, written
 *      and synced as the runtime does, are read back by a third open, with no torn tail and the
 *      entries recovered before unchanged.
 * Every index is in reach: records may name any index and BOUNDS any range (the log's index is
 * sparse, so a far index or a vast range costs nothing per hole; the input that timed out on
 * the dense index of before is the seed regression-far-entry-index, and regression-vast-bounds
 * holds a BOUNDS of range 2^62).
 * Seeds: segments of a real node's record log (tests/fuzz/seeds-from-wal, from a live cluster
 * running KV puts): the bytes as written, resized to fit SEG_CAP with the header's size and the
 * CRCs made to match, and the same with the repair flag. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "core/msg.h"
#include "store/rlog.h"

#define MAX_SEGS 8
#define SEG_CAP (16u * 1024)   /* largest segment an input describes */
#define IO_CAP (4u << 20)      /* largest segment the log may create (a big record's own) */
#define CHECK_MAX 512          /* entries compared per open */
#define REC_HDR 16u
#define R_HDR 1
#define R_TYPES 6 /* HDR, ENTRY, META, PREFIX, SUFFIX, BOUNDS */
#define SEG_MAGIC "STRATAWAL1\0\0\0\0\0\0"

struct mseg {
	uint64_t seq, size;
	uint8_t *buf;
};

struct mio {
	struct mseg segs[64];
	size_t n;
};

static struct mseg *find(struct mio *m, uint64_t seq)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->segs[i].seq == seq)
			return &m->segs[i];
	return NULL;
}

static int io_list(void *ctx, uint64_t *seqs, size_t max, size_t *n)
{
	struct mio *m = ctx;
	for (size_t i = 0; i < m->n && i < max; i++)
		seqs[i] = m->segs[i].seq;
	*n = m->n;
	return 0;
}

static int io_create(void *ctx, uint64_t seq, uint64_t size)
{
	struct mio *m = ctx;
	if (find(m, seq) || m->n == sizeof(m->segs) / sizeof(m->segs[0]))
		return STRATA_EIO;
	STRATA_ASSERT(size <= IO_CAP); /* the log never asks for more for records this small */
	uint8_t *b = calloc(1, size ? (size_t)size : 1);
	STRATA_ASSERT(b);
	m->segs[m->n++] = (struct mseg){ .seq = seq, .size = size, .buf = b };
	return 0;
}

static int io_remove(void *ctx, uint64_t seq)
{
	struct mio *m = ctx;
	struct mseg *s = find(m, seq);
	if (!s)
		return STRATA_EIO;
	free(s->buf);
	*s = m->segs[--m->n];
	return 0;
}

static int io_size(void *ctx, uint64_t seq, uint64_t *size)
{
	struct mseg *s = find(ctx, seq);
	if (!s)
		return STRATA_EIO;
	*size = s->size;
	return 0;
}

static int io_read(void *ctx, uint64_t seq, uint64_t off, void *buf, size_t len)
{
	struct mseg *s = find(ctx, seq);
	if (!s || off > s->size || len > s->size - off)
		return STRATA_EIO;
	memcpy(buf, s->buf + off, len);
	return 0;
}

static int io_write(void *ctx, uint64_t seq, uint64_t off, const void *buf, size_t len)
{
	struct mseg *s = find(ctx, seq);
	/* Preallocated segments: the log writes inside them only. */
	STRATA_ASSERT(s && off <= s->size && len <= s->size - off);
	memcpy(s->buf + off, buf, len);
	return 0;
}

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
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The record CRC of rlog.c's format: over seq, offset, type and length, then the payload. */
static uint32_t rec_crc(uint64_t seq, uint64_t off, uint8_t type, const uint8_t *pay, uint32_t len)
{
	uint8_t h[21];
	put64(h, seq);
	put64(h + 8, off);
	h[16] = type;
	put32(h + 17, len);
	return strata_crc32c(strata_crc32c(0, h, sizeof(h)), pay, len);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* The repair flag: every record the walk reaches made well-formed and its CRC correct. */
static void repair(struct mseg *s)
{
	uint64_t off = 0;
	while (off + REC_HDR <= s->size) {
		uint8_t *h = s->buf + off;
		if (off > 0 && all_zero(h, REC_HDR))
			break;
		uint64_t room = s->size - off - REC_HDR;
		uint32_t len = get32(h);
		uint8_t type;
		if (off == 0) {
			if (room < 32)
				break;
			type = R_HDR;
			len = 32;
			memcpy(h + REC_HDR, SEG_MAGIC, 16);
			put64(h + REC_HDR + 16, s->seq);
			put64(h + REC_HDR + 24, s->size);
		} else {
			type = h[8] >= 2 && h[8] <= R_TYPES ? h[8] /* never HDR after offset 0 */
							   : (uint8_t)(2 + h[8] % (R_TYPES - 1));
			if (len > room)
				len = (uint32_t)(room & ~(uint64_t)7);
		}
		uint32_t padded = (len + 7) & ~7u;
		if (padded > room)
			break;
		memset(h + REC_HDR + len, 0, padded - len);
		put32(h, len);
		memset(h + 8, 0, 8);
		h[8] = type;
		put32(h + 4, rec_crc(s->seq, off, type, h + REC_HDR, len));
		off += REC_HDR + padded;
	}
}

/* What an open recovered: bounds, meta, and up to CHECK_MAX entries (the first half from the
 * first index, the rest up to the last). */
struct view {
	uint64_t first, last;
	int meta_rc;
	struct strata_msg *meta;
	size_t n;
	uint64_t idx[CHECK_MAX];
	int rc[CHECK_MAX];
	struct strata_msg *val[CHECK_MAX];
};

static void view_take(struct strata_rlog *r, struct view *v)
{
	memset(v, 0, sizeof(*v));
	strata_rlog_bounds(r, &v->first, &v->last);
	STRATA_ASSERT(v->first >= 1 && v->last + 1 >= v->first);
	v->meta_rc = strata_rlog_meta_get(r, &v->meta);
	STRATA_ASSERT(v->meta_rc == 0 || v->meta_rc == STRATA_ENOENT);
	uint64_t count = v->last + 1 - v->first;
	for (uint64_t k = 0; k < count && v->n < CHECK_MAX; k++) {
		/* All of them, or the first CHECK_MAX / 2 and the last CHECK_MAX / 2. */
		uint64_t i = count <= CHECK_MAX || k < CHECK_MAX / 2
				     ? v->first + k
				     : v->last - (uint64_t)(CHECK_MAX - 1 - v->n);
		v->idx[v->n] = i;
		v->rc[v->n] = strata_rlog_get(r, i, &v->val[v->n]);
		STRATA_ASSERT(v->rc[v->n] == 0 || v->rc[v->n] == STRATA_ENOENT);
		v->n++;
	}
}

static void view_free(struct view *v)
{
	strata_msg_unref(v->meta);
	for (size_t i = 0; i < v->n; i++)
		strata_msg_unref(v->val[i]);
}

static bool msg_eq(const struct strata_msg *a, const struct strata_msg *b)
{
	if (!a || !b)
		return a == b;
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Entry i reads the same in both views, where both looked at it. */
static void same_entries(const struct view *a, const struct view *b)
{
	for (size_t i = 0, j = 0; i < a->n && j < b->n;) {
		if (a->idx[i] < b->idx[j]) {
			i++;
		} else if (a->idx[i] > b->idx[j]) {
			j++;
		} else {
			STRATA_ASSERT(a->rc[i] == b->rc[j] && msg_eq(a->val[i], b->val[j]));
			i++;
			j++;
		}
	}
}

static struct strata_rlog *open_log(struct mio *m, uint64_t seg_size)
{
	const struct strata_rlog_io io = {
		.ctx = m, .list = io_list, .create = io_create, .remove = io_remove,
		.size = io_size, .read = io_read, .write = io_write,
	};
	struct strata_rlog *r = NULL;
	char err[256];
	int rc = strata_rlog_open(&io, seg_size, &r, err, sizeof(err));
	STRATA_ASSERT(rc == 0 && r); /* R1 */
	return r;
}

/* The runtime's sync: staged bytes written, segments synced (nothing to do in memory), then
 * the log told. */
static void sync_log(struct strata_rlog *r)
{
	STRATA_ASSERT(strata_rlog_write_staged(r) >= 0);
	uint64_t seqs[16];
	bool dir;
	while (strata_rlog_dirty(r, seqs, 16, &dir) == 16)
		;
	strata_rlog_synced(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	uint64_t seg_size = (uint64_t)STRATA_RLOG_SEGMENT_MIN << ((flags >> 1) & 3);
	data++;
	size--;
	static struct mio m;
	memset(&m, 0, sizeof(m));
	for (int k = 0; k < MAX_SEGS && size >= 5; k++) {
		uint64_t seq = data[0];
		size_t given = (size_t)data[1] | (size_t)data[2] << 8;
		size_t zeros = (size_t)data[3] | (size_t)data[4] << 8;
		data += 5;
		size -= 5;
		if (given > size)
			given = size;
		if (given > SEG_CAP)
			given = SEG_CAP;
		if (zeros > SEG_CAP - given)
			zeros = SEG_CAP - given;
		if (seq != 0 && !find(&m, seq)) {
			uint8_t *b = calloc(1, given + zeros ? given + zeros : 1);
			STRATA_ASSERT(b);
			memcpy(b, data, given);
			m.segs[m.n++] = (struct mseg){ .seq = seq, .size = given + zeros, .buf = b };
			if (flags & 1)
				repair(&m.segs[m.n - 1]);
		}
		data += given;
		size -= given;
	}

	struct strata_rlog *r = open_log(&m, seg_size);
	struct view v1, v2, v3;
	view_take(r, &v1);
	strata_rlog_close(r);

	/* R2: a second open finds what the first left, and nothing torn. */
	r = open_log(&m, seg_size);
	STRATA_ASSERT(strata_rlog_stats(r)->torn_cuts == 0);
	view_take(r, &v2);
	STRATA_ASSERT(v2.first == v1.first && v2.last == v1.last);
	STRATA_ASSERT(v2.meta_rc == v1.meta_rc && msg_eq(v2.meta, v1.meta));
	same_entries(&v1, &v2);

	/* R3: an append after the last entry and a new meta record survive a reopen. */
	static const uint8_t val[] = "appended", meta[] = "meta";
	uint64_t next = v1.last + 1;
	bool put = next != UINT64_MAX;
	if (put)
		STRATA_ASSERT(strata_rlog_put(r, next, val, sizeof(val)) == 0);
	STRATA_ASSERT(strata_rlog_meta_put(r, meta, sizeof(meta)) == 0);
	sync_log(r);
	strata_rlog_close(r);
	r = open_log(&m, seg_size);
	STRATA_ASSERT(strata_rlog_stats(r)->torn_cuts == 0);
	view_take(r, &v3);
	STRATA_ASSERT(v3.meta_rc == 0 && v3.meta->len == sizeof(meta) &&
		      memcmp(v3.meta->data, meta, sizeof(meta)) == 0);
	STRATA_ASSERT(v3.first == v1.first);
	if (put) {
		STRATA_ASSERT(v3.last == next);
		struct strata_msg *got = NULL;
		STRATA_ASSERT(strata_rlog_get(r, next, &got) == 0 && got->len == sizeof(val) &&
			      memcmp(got->data, val, sizeof(val)) == 0);
		strata_msg_unref(got);
	}
	same_entries(&v1, &v3);
	strata_rlog_close(r);

	view_free(&v1);
	view_free(&v2);
	view_free(&v3);
	for (size_t i = 0; i < m.n; i++)
		free(m.segs[i].buf);
	return 0;
}
