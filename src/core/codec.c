/* Bounds-checked varint codec; see codec.h. */
#include "core/codec.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"

void strata_wr_init(struct strata_wr *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max;
}

int strata_bytes_reserve(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 4096;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return -1;
		n *= 2;
	}
	uint8_t *b = realloc(*buf, n);
	if (!b)
		return -1;
	*buf = b;
	*cap = n;
	return 0;
}

/* The writer's buffer is the data of a strata_msg in the making: buf points WR_HDR bytes into a
 * block whose head is left for the strata_msg header, so strata_wr_take_msg hands the block over
 * as the message without a second allocation or a copy of the encoding. */
#define WR_HDR offsetof(struct strata_msg, data)

static uint8_t *wr_reserve(struct strata_wr *w, size_t n)
{
	if (w->err)
		return NULL;
	if (n > w->max || w->len > w->max - n) {
		w->err = STRATA_ETOOBIG;
		return NULL;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256; /* most payloads fit: one allocation */
		while (cap < w->len + n) {
			if (cap > (SIZE_MAX - WR_HDR) / 2) {
				w->err = STRATA_ENOMEM;
				return NULL;
			}
			cap *= 2;
		}
		uint8_t *nb = realloc(w->buf ? w->buf - WR_HDR : NULL, WR_HDR + cap);
		if (!nb) {
			w->err = STRATA_ENOMEM;
			return NULL;
		}
		w->buf = nb + WR_HDR;
		w->cap = cap;
	}
	uint8_t *p = w->buf + w->len;
	w->len += n;
	return p;
}

size_t strata_varint_put(uint8_t *out, uint64_t v)
{
	size_t n = 0;
	do {
		uint8_t b = (uint8_t)(v & 0x7f);
		v >>= 7;
		out[n++] = (uint8_t)(b | (v ? 0x80 : 0));
	} while (v);
	return n;
}

void strata_wr_u64(struct strata_wr *w, uint64_t v)
{
	uint8_t tmp[STRATA_VARINT_MAX];
	strata_wr_raw(w, tmp, strata_varint_put(tmp, v));
}

void strata_wr_i64(struct strata_wr *w, int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	strata_wr_u64(w, u);
}

void strata_wr_u8(struct strata_wr *w, uint8_t v)
{
	strata_wr_raw(w, &v, 1);
}

void strata_wr_raw(struct strata_wr *w, const void *p, size_t n)
{
	if (n == 0)
		return;
	uint8_t *d = wr_reserve(w, n);
	if (d)
		memcpy(d, p, n);
}

void strata_wr_bytes(struct strata_wr *w, const void *p, size_t n)
{
	strata_wr_u64(w, n);
	strata_wr_raw(w, p, n);
}

struct strata_msg *strata_wr_take_msg(struct strata_wr *w, int *err)
{
	struct strata_msg *m = NULL;
	int e = w->err;
	if (!e && w->buf) {
		/* The block becomes the message (no copy); one that is mostly slack is shrunk, as
		 * the message may be held for long. */
		uint8_t *blk = w->buf - WR_HDR;
		if (w->cap > 1024 && w->cap / 2 >= w->len) {
			uint8_t *nb = realloc(blk, WR_HDR + w->len);
			if (nb)
				blk = nb;
		}
		m = (struct strata_msg *)(void *)blk;
		m->refs = 1;
		m->len = w->len;
		w->buf = NULL;
	} else if (!e) {
		m = strata_msg_alloc(0); /* nothing was written */
		if (!m)
			e = STRATA_ENOMEM;
	}
	if (err)
		*err = e;
	strata_wr_free(w);
	return m;
}

void strata_wr_free(struct strata_wr *w)
{
	if (w->buf)
		free(w->buf - WR_HDR);
	w->buf = NULL;
	w->len = w->cap = 0;
}

void strata_rd_init(struct strata_rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->err = (p || len == 0) ? 0 : STRATA_EPROTO;
}

uint64_t strata_rd_u64(struct strata_rd *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (r->err || r->off >= r->len) {
			r->err = STRATA_EPROTO;
			return 0;
		}
		uint8_t b = r->p[r->off++];
		if (shift == 63 && (b & 0x7e)) { /* would overflow 64 bits */
			r->err = STRATA_EPROTO;
			return 0;
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	r->err = STRATA_EPROTO;
	return 0;
}

int64_t strata_rd_i64(struct strata_rd *r)
{
	uint64_t u = strata_rd_u64(r);
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

uint8_t strata_rd_u8(struct strata_rd *r)
{
	uint8_t v = 0;
	strata_rd_raw(r, &v, 1);
	return v;
}

void strata_rd_raw(struct strata_rd *r, void *out, size_t n)
{
	if (r->err || n > r->len - r->off) {
		r->err = STRATA_EPROTO;
		if (n)
			memset(out, 0, n);
		return;
	}
	if (n)
		memcpy(out, r->p + r->off, n);
	r->off += n;
}

size_t strata_rd_bytes(struct strata_rd *r, const uint8_t **out, size_t max)
{
	uint64_t n = strata_rd_u64(r);
	*out = NULL;
	if (r->err || n > max || n > r->len - r->off) {
		r->err = STRATA_EPROTO;
		return 0;
	}
	*out = r->p + r->off;
	r->off += (size_t)n;
	return (size_t)n;
}

uint64_t strata_rd_u64_max(struct strata_rd *r, uint64_t max)
{
	uint64_t v = strata_rd_u64(r);
	if (!r->err && v > max)
		r->err = STRATA_EPROTO;
	return r->err ? 0 : v;
}

int strata_rd_done(const struct strata_rd *r)
{
	return (r->err || r->off != r->len) ? STRATA_EPROTO : 0;
}

bool strata_rd_ok(const struct strata_rd *r)
{
	return r->err == 0;
}
