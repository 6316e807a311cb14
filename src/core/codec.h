/* A small bounds-checked codec for module payloads.
 *
 * Peer datagrams and client frames are protobuf (proto/); inside a frame each module encodes its
 * own payload with these helpers: unsigned varints, zig-zag signed varints, fixed bytes and
 * length-prefixed byte strings. The writer grows a heap buffer up to a hard cap; the reader never
 * reads past its end and latches the first error, so a decoder checks once at the end:
 *
 *     struct strata_rd r; strata_rd_init(&r, buf, len);
 *     uint64_t ts = strata_rd_u64(&r); ...
 *     if (strata_rd_done(&r) != 0) -> malformed, count and drop
 *
 * Ownership: strata_wr owns its buffer until strata_wr_take_msg() or strata_wr_free(). */
#ifndef STRATA_CORE_CODEC_H
#define STRATA_CORE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/msg.h"

struct strata_wr {
	uint8_t *buf;
	size_t len, cap, max;
	int err; /* first error, 0 if none */
};

#define STRATA_VARINT_MAX 10 /* bytes of the longest unsigned varint (a 64-bit value) */

/* Writes v as strata_wr_u64 encodes it into out, which has room for STRATA_VARINT_MAX bytes;
 * returns the bytes written. For encodings built in a fixed buffer (reg_subkey's keys). */
size_t strata_varint_put(uint8_t *out, uint64_t v);

/* A big-endian u32 at p[0..4): the length header of a client frame ([u32 length][body],
 * rt/uv/client_frame.h), written and read by the node, the CLI and the tests with these two. */
static inline void strata_be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t strata_be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* *buf grown (realloc; the capacity doubles from 4096) to hold at least need bytes, its contents
 * kept: the byte buffers of the client port and of the client's connections. 0, or -1 when
 * memory or size_t runs out (then *buf and *cap are unchanged). */
int strata_bytes_reserve(uint8_t **buf, size_t *cap, size_t need);

/* max: hard cap on the encoded size (STRATA_ETOOBIG beyond it). */
void strata_wr_init(struct strata_wr *w, size_t max);
void strata_wr_u64(struct strata_wr *w, uint64_t v);
void strata_wr_i64(struct strata_wr *w, int64_t v);
void strata_wr_u8(struct strata_wr *w, uint8_t v);
void strata_wr_raw(struct strata_wr *w, const void *p, size_t n);
void strata_wr_bytes(struct strata_wr *w, const void *p, size_t n); /* varint length + bytes */
/* Returns a new strata_msg holding the encoding (caller owns one ref), or NULL with *err set.
 * The writer's buffer becomes the message (it was allocated with room for the header): no copy.
 * Hence w->buf is the writer's alone: read it, never free or realloc it outside this file. */
struct strata_msg *strata_wr_take_msg(struct strata_wr *w, int *err);
void strata_wr_free(struct strata_wr *w);

struct strata_rd {
	const uint8_t *p;
	size_t len, off;
	int err;
};

void strata_rd_init(struct strata_rd *r, const void *p, size_t len);
uint64_t strata_rd_u64(struct strata_rd *r);
int64_t strata_rd_i64(struct strata_rd *r);
uint8_t strata_rd_u8(struct strata_rd *r);
/* Copies n bytes into out; zero-fills out on error. */
void strata_rd_raw(struct strata_rd *r, void *out, size_t n);
/* Points *out into the input (no copy) and returns the length; at most max bytes accepted. */
size_t strata_rd_bytes(struct strata_rd *r, const uint8_t **out, size_t max);
/* A u64 that must be <= max, else STRATA_EPROTO. */
uint64_t strata_rd_u64_max(struct strata_rd *r, uint64_t max);
/* 0 when every read succeeded and the input was consumed exactly; else STRATA_EPROTO. */
int strata_rd_done(const struct strata_rd *r);
bool strata_rd_ok(const struct strata_rd *r);

#endif
