/* Unit tests for the payload codec (src/core/codec.h): round trips, the exact varint and zig-zag
 * encodings, truncated and over-long input, length caps, the reader's latched error and the
 * writer's hard cap. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "core/error.h"
#include "core/msg.h"

#include "../fuzz/fuzz_varint.h"

/* Encodes one u64 and returns its bytes in out (at most 16), the length in *len. */
static void enc_u64(uint64_t v, uint8_t *out, size_t *len)
{
	struct strata_wr w;
	int err = -1;
	strata_wr_init(&w, 64);
	strata_wr_u64(&w, v);
	struct strata_msg *m = strata_wr_take_msg(&w, &err);
	ck_assert_int_eq(err, 0);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_le(m->len, 16);
	memcpy(out, m->data, m->len);
	*len = m->len;
	strata_msg_unref(m);
}

static const uint64_t u64_cases[] = {0,
				     1,
				     127,
				     128,
				     255,
				     300,
				     16383,
				     16384,
				     (1ull << 21) - 1,
				     1ull << 21,
				     UINT32_MAX,
				     1ull << 32,
				     (1ull << 56) - 1,
				     1ull << 63,
				     UINT64_MAX - 1,
				     UINT64_MAX};

START_TEST(test_u64_round_trip)
{
	uint64_t v = u64_cases[_i];
	uint8_t buf[16];
	size_t len = 0;
	enc_u64(v, buf, &len);

	/* Canonical length: one byte per 7 bits, at least one. */
	size_t expect = 1;
	for (uint64_t x = v >> 7; x; x >>= 7)
		expect++;
	ck_assert_uint_eq(len, expect);

	/* strata_varint_put writes the same bytes into a fixed buffer. */
	uint8_t put[STRATA_VARINT_MAX];
	ck_assert_uint_eq(strata_varint_put(put, v), len);
	ck_assert_mem_eq(put, buf, len);

	struct strata_rd r;
	strata_rd_init(&r, buf, len);
	ck_assert_uint_eq(strata_rd_u64(&r), v);
	ck_assert_int_eq(strata_rd_done(&r), 0);

	/* Every proper prefix is truncated input. */
	for (size_t cut = 0; cut < len; cut++) {
		strata_rd_init(&r, buf, cut);
		ck_assert_uint_eq(strata_rd_u64(&r), 0);
		ck_assert(!strata_rd_ok(&r));
		ck_assert_int_eq(strata_rd_done(&r), STRATA_EPROTO);
	}
}
END_TEST

START_TEST(test_varint_bytes)
{
	uint8_t buf[16];
	size_t len;
	enc_u64(0, buf, &len);
	ck_assert_uint_eq(len, 1);
	ck_assert_uint_eq(buf[0], 0x00);
	enc_u64(127, buf, &len);
	ck_assert_uint_eq(len, 1);
	ck_assert_uint_eq(buf[0], 0x7f);
	enc_u64(128, buf, &len);
	ck_assert_uint_eq(len, 2);
	ck_assert_uint_eq(buf[0], 0x80);
	ck_assert_uint_eq(buf[1], 0x01);
	enc_u64(300, buf, &len);
	ck_assert_uint_eq(len, 2);
	ck_assert_uint_eq(buf[0], 0xac);
	ck_assert_uint_eq(buf[1], 0x02);
	enc_u64(UINT64_MAX, buf, &len);
	ck_assert_uint_eq(len, 10);
	for (int i = 0; i < 9; i++)
		ck_assert_uint_eq(buf[i], 0xff);
	ck_assert_uint_eq(buf[9], 0x01);
}
END_TEST

START_TEST(test_overlong_varint)
{
	struct strata_rd r;
	/* 2^63: ten bytes, the last carrying the single remaining bit. */
	static const uint8_t top[10] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
	strata_rd_init(&r, top, sizeof(top));
	ck_assert_uint_eq(strata_rd_u64(&r), 1ull << 63);
	ck_assert_int_eq(strata_rd_done(&r), 0);

	/* The tenth byte may carry only bit 63: anything more overflows 64 bits. */
	uint8_t over[10];
	memcpy(over, top, sizeof(over));
	over[9] = 0x02;
	strata_rd_init(&r, over, sizeof(over));
	ck_assert_uint_eq(strata_rd_u64(&r), 0);
	ck_assert_int_eq(strata_rd_done(&r), STRATA_EPROTO);
	over[9] = 0x7f;
	strata_rd_init(&r, over, sizeof(over));
	strata_rd_u64(&r);
	ck_assert(!strata_rd_ok(&r));

	/* Eleven and more bytes with continuation bits never end. */
	uint8_t endless[32];
	memset(endless, 0x80, sizeof(endless));
	endless[sizeof(endless) - 1] = 0x00;
	strata_rd_init(&r, endless, sizeof(endless));
	ck_assert_uint_eq(strata_rd_u64(&r), 0);
	ck_assert(!strata_rd_ok(&r));
	ck_assert_uint_le(r.off, 10); /* it gave up within one varint's worth of bytes */

	uint8_t ones[11];
	memset(ones, 0xff, sizeof(ones));
	ones[10] = 0x01;
	strata_rd_init(&r, ones, sizeof(ones));
	strata_rd_u64(&r);
	ck_assert(!strata_rd_ok(&r));
}
END_TEST

START_TEST(test_i64_round_trip)
{
	static const int64_t cases[] = {0,        1,         -1,        2,         -2,
					63,       -64,       64,        -65,       INT32_MAX,
					INT32_MIN, INT64_MAX, INT64_MIN, INT64_MIN + 1};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strata_wr w;
		strata_wr_init(&w, 64);
		strata_wr_i64(&w, cases[i]);
		int err = -1;
		struct strata_msg *m = strata_wr_take_msg(&w, &err);
		ck_assert_ptr_nonnull(m);
		struct strata_rd r;
		strata_rd_init(&r, m->data, m->len);
		ck_assert_int_eq(strata_rd_i64(&r), cases[i]);
		ck_assert_int_eq(strata_rd_done(&r), 0);
		/* Zig-zag keeps small magnitudes small, whatever the sign. */
		if (cases[i] >= -64 && cases[i] <= 63)
			ck_assert_uint_eq(m->len, 1);
		strata_msg_unref(m);
	}

	/* The zig-zag mapping itself: 0,-1,1,-2 -> 0,1,2,3; INT64_MIN -> UINT64_MAX. */
	uint8_t buf[16];
	size_t len;
	struct strata_wr w;
	strata_wr_init(&w, 64);
	strata_wr_i64(&w, 0);
	strata_wr_i64(&w, -1);
	strata_wr_i64(&w, 1);
	strata_wr_i64(&w, -2);
	strata_wr_i64(&w, INT64_MIN);
	int err;
	struct strata_msg *m = strata_wr_take_msg(&w, &err);
	ck_assert_ptr_nonnull(m);
	struct strata_rd r;
	strata_rd_init(&r, m->data, m->len);
	for (uint64_t k = 0; k < 4; k++)
		ck_assert_uint_eq(strata_rd_u64(&r), k);
	ck_assert_uint_eq(strata_rd_u64(&r), UINT64_MAX);
	ck_assert_int_eq(strata_rd_done(&r), 0);
	strata_msg_unref(m);
	enc_u64(0, buf, &len); /* keep the helper honest about independent encodings */
	ck_assert_uint_eq(len, 1);
}
END_TEST

/* strata_wr_take_msg hands the writer's block over as the message: the bytes written, one
 * reference, a message that can be shared and freed like strata_msg_new's; nothing written is a
 * message of length 0; an error latched gives no message; the writer is empty afterwards. */
START_TEST(test_take_msg_hands_over)
{
	int err = -1;
	struct strata_wr w;
	strata_wr_init(&w, 1 << 20);
	struct strata_msg *m = strata_wr_take_msg(&w, &err);
	ck_assert_int_eq(err, 0);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->len, 0);
	ck_assert_uint_eq(m->refs, 1);
	strata_msg_unref(m);
	ck_assert_ptr_null(w.buf);

	/* Sizes around the first capacity (256), several doublings, and one mostly slack (shrunk). */
	static const size_t sizes[] = { 1, 255, 256, 257, 1000, 4096, 9000, 2049 };
	static uint8_t want[9000];
	for (size_t c = 0; c < sizeof(sizes) / sizeof(sizes[0]); c++) {
		strata_wr_init(&w, 1 << 20);
		for (size_t i = 0; i < sizes[c]; i++)
			strata_wr_u8(&w, (uint8_t)(i * 7 + c));
		if (sizes[c] == 2049) { /* grown to 4096, then cut back to 2049 below */
			strata_wr_raw(&w, (uint8_t[2048]){ 0 }, 2048);
			w.len = 2049;
		}
		m = strata_wr_take_msg(&w, &err);
		ck_assert_int_eq(err, 0);
		ck_assert_ptr_nonnull(m);
		ck_assert_uint_eq(m->len, sizes[c]);
		ck_assert_uint_eq(m->refs, 1);
		ck_assert_ptr_null(w.buf);
		ck_assert_uint_eq(w.len, 0);
		ck_assert_uint_eq(w.cap, 0);
		for (size_t i = 0; i < sizes[c]; i++)
			want[i] = (uint8_t)(i * 7 + c);
		ck_assert(memcmp(m->data, want, sizes[c]) == 0);
		struct strata_msg *r = strata_msg_ref(m);
		strata_msg_unref(m);
		ck_assert_uint_eq(r->refs, 1);
		strata_msg_unref(r);
	}

	strata_wr_init(&w, 4);
	strata_wr_raw(&w, "abcdef", 6); /* over the cap: latched */
	m = strata_wr_take_msg(&w, &err);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(err, STRATA_ETOOBIG);
	ck_assert_ptr_null(w.buf);

	/* strata_wr_free after writing frees the block (valgrind/ASan see a leak or a bad free). */
	strata_wr_init(&w, 1024);
	strata_wr_raw(&w, "xyz", 3);
	strata_wr_free(&w);
	ck_assert_ptr_null(w.buf);
}
END_TEST

START_TEST(test_mixed_round_trip)
{
	struct strata_wr w;
	strata_wr_init(&w, 1024);
	strata_wr_u8(&w, 0xab);
	strata_wr_u64(&w, 123456789);
	strata_wr_bytes(&w, "hello", 5);
	strata_wr_bytes(&w, NULL, 0);
	strata_wr_raw(&w, "\x01\x02\x03", 3);
	strata_wr_i64(&w, -42);
	int err = -1;
	struct strata_msg *m = strata_wr_take_msg(&w, &err);
	ck_assert_int_eq(err, 0);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_null(w.buf); /* the writer gave its buffer away */

	struct strata_rd r;
	strata_rd_init(&r, m->data, m->len);
	ck_assert_uint_eq(strata_rd_u8(&r), 0xab);
	ck_assert_uint_eq(strata_rd_u64(&r), 123456789);
	const uint8_t *p = NULL;
	ck_assert_uint_eq(strata_rd_bytes(&r, &p, 5), 5);
	ck_assert(memcmp(p, "hello", 5) == 0);
	ck_assert(p >= m->data && p < m->data + m->len); /* no copy: points into the input */
	ck_assert_uint_eq(strata_rd_bytes(&r, &p, 0), 0);
	uint8_t raw[3];
	strata_rd_raw(&r, raw, 3);
	ck_assert(memcmp(raw, "\x01\x02\x03", 3) == 0);
	ck_assert_int_eq(strata_rd_i64(&r), -42);
	ck_assert_int_eq(strata_rd_done(&r), 0);

	/* Trailing bytes are malformed too: a decoder must consume its input exactly. */
	strata_rd_init(&r, m->data, m->len);
	strata_rd_u8(&r);
	ck_assert(strata_rd_ok(&r));
	ck_assert_int_eq(strata_rd_done(&r), STRATA_EPROTO);
	strata_msg_unref(m);
}
END_TEST

START_TEST(test_truncated)
{
	struct strata_wr w;
	strata_wr_init(&w, 1024);
	strata_wr_u64(&w, 1000);
	strata_wr_bytes(&w, "abcdefgh", 8);
	strata_wr_u8(&w, 7);
	int err;
	struct strata_msg *m = strata_wr_take_msg(&w, &err);
	ck_assert_ptr_nonnull(m);
	for (size_t cut = 0; cut < m->len; cut++) {
		struct strata_rd r;
		strata_rd_init(&r, m->data, cut);
		strata_rd_u64(&r);
		const uint8_t *p;
		strata_rd_bytes(&r, &p, 64);
		strata_rd_u8(&r);
		ck_assert_msg(strata_rd_done(&r) == STRATA_EPROTO, "prefix %zu accepted", cut);
	}
	strata_msg_unref(m);

	/* An empty input is fine to create, and malformed to read from. */
	struct strata_rd r;
	strata_rd_init(&r, NULL, 0);
	ck_assert_int_eq(strata_rd_done(&r), 0);
	ck_assert_uint_eq(strata_rd_u8(&r), 0);
	ck_assert_int_eq(strata_rd_done(&r), STRATA_EPROTO);
	strata_rd_init(&r, NULL, 5);
	ck_assert(!strata_rd_ok(&r));
}
END_TEST

START_TEST(test_latched_error)
{
	static const uint8_t buf[] = {0x05, 0x01, 0x02};
	struct strata_rd r;
	strata_rd_init(&r, buf, sizeof(buf));
	const uint8_t *p = (const uint8_t *)"x";
	ck_assert_uint_eq(strata_rd_bytes(&r, &p, 16), 0); /* says 5, has 2 */
	ck_assert_ptr_null(p);
	ck_assert(!strata_rd_ok(&r));
	/* Later reads fail too, even ones the remaining bytes could satisfy. */
	ck_assert_uint_eq(strata_rd_u8(&r), 0);
	uint8_t out[2] = {0xee, 0xee};
	strata_rd_raw(&r, out, 2);
	ck_assert_uint_eq(out[0], 0);
	ck_assert_uint_eq(out[1], 0);
	ck_assert_int_eq(strata_rd_done(&r), STRATA_EPROTO);
}
END_TEST

START_TEST(test_length_caps)
{
	struct strata_wr w;
	strata_wr_init(&w, 1024);
	strata_wr_bytes(&w, "0123456789", 10);
	int err;
	struct strata_msg *m = strata_wr_take_msg(&w, &err);
	ck_assert_ptr_nonnull(m);
	struct strata_rd r;
	const uint8_t *p;
	strata_rd_init(&r, m->data, m->len);
	ck_assert_uint_eq(strata_rd_bytes(&r, &p, 10), 10);
	ck_assert_int_eq(strata_rd_done(&r), 0);
	strata_rd_init(&r, m->data, m->len);
	ck_assert_uint_eq(strata_rd_bytes(&r, &p, 9), 0);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(strata_rd_done(&r), STRATA_EPROTO);
	strata_msg_unref(m);

	/* A huge declared length must not wrap any offset arithmetic. */
	uint8_t huge[12];
	memset(huge, 0xff, 9);
	huge[9] = 0x01;
	huge[10] = 'a';
	huge[11] = 'b';
	strata_rd_init(&r, huge, sizeof(huge));
	ck_assert_uint_eq(strata_rd_bytes(&r, &p, SIZE_MAX), 0);
	ck_assert(!strata_rd_ok(&r));

	/* u64 with a maximum. */
	uint8_t buf[16];
	size_t len;
	enc_u64(100, buf, &len);
	strata_rd_init(&r, buf, len);
	ck_assert_uint_eq(strata_rd_u64_max(&r, 100), 100);
	ck_assert_int_eq(strata_rd_done(&r), 0);
	strata_rd_init(&r, buf, len);
	ck_assert_uint_eq(strata_rd_u64_max(&r, 99), 0);
	ck_assert_int_eq(strata_rd_done(&r), STRATA_EPROTO);
}
END_TEST

START_TEST(test_writer_cap)
{
	struct strata_wr w;
	int err = 0;
	/* Exactly at the cap is fine: a 1-byte length prefix and 3 bytes. */
	strata_wr_init(&w, 4);
	strata_wr_bytes(&w, "abc", 3);
	struct strata_msg *m = strata_wr_take_msg(&w, &err);
	ck_assert_int_eq(err, 0);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->len, 4);
	strata_msg_unref(m);

	/* One byte over: the error latches, later writes are ignored, nothing is returned. */
	strata_wr_init(&w, 4);
	strata_wr_bytes(&w, "abcd", 4);
	ck_assert_int_eq(w.err, STRATA_ETOOBIG);
	strata_wr_u8(&w, 1);
	strata_wr_u64(&w, 0);
	ck_assert_int_eq(w.err, STRATA_ETOOBIG);
	ck_assert_uint_le(w.len, 4);
	m = strata_wr_take_msg(&w, &err);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(err, STRATA_ETOOBIG);

	/* A size near SIZE_MAX must not overflow the cap check. */
	strata_wr_init(&w, 1024);
	strata_wr_u8(&w, 1);
	strata_wr_raw(&w, "x", SIZE_MAX);
	ck_assert_int_eq(w.err, STRATA_ETOOBIG);
	strata_wr_free(&w);

	/* Growth well beyond the first allocation keeps every byte. */
	enum { BIG = 100000 };
	uint8_t *data = malloc(BIG);
	ck_assert_ptr_nonnull(data);
	for (size_t i = 0; i < BIG; i++)
		data[i] = (uint8_t)(i * 31 + 7);
	strata_wr_init(&w, BIG + 8);
	strata_wr_bytes(&w, data, BIG);
	m = strata_wr_take_msg(&w, &err);
	ck_assert_ptr_nonnull(m);
	struct strata_rd r;
	const uint8_t *p;
	strata_rd_init(&r, m->data, m->len);
	ck_assert_uint_eq(strata_rd_bytes(&r, &p, BIG), BIG);
	ck_assert(memcmp(p, data, BIG) == 0);
	ck_assert_int_eq(strata_rd_done(&r), 0);
	strata_msg_unref(m);
	free(data);

	/* An empty encoding is a valid empty message. */
	strata_wr_init(&w, 0);
	m = strata_wr_take_msg(&w, &err);
	ck_assert_int_eq(err, 0);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->len, 0);
	strata_msg_unref(m);
}
END_TEST

/* The fuzz harness's uninstrumented varint (tests/fuzz/fuzz_varint.h) is the codec's: the same
 * bytes for every value, and the same verdict, value and length on every input, so what the
 * harness signs is what the node parses. Values: each length's bounds, then pseudo-random ones
 * of every length; inputs: every encoding and its prefixes, then short random byte strings
 * (heavy in continuation bits, so the ten-byte bound is reached). */
static void check_fuzz_varint_value(uint64_t v)
{
	/* Plain comparisons and ck_abort_msg on a difference: a passing ck_assert costs a
	 * checkpoint each, and this runs for tens of thousands of values. */
	uint8_t ours[STRATA_VARINT_MAX], theirs[16];
	size_t len = strata_varint_put(ours, v);
	size_t n = fuzz_wr_varint(theirs, v);
	if (n != len || memcmp(theirs, ours, len) != 0)
		ck_abort_msg("fuzz_wr_varint(%llu): %zu bytes, not the codec's %zu", (unsigned long long)v,
			     n, len);
	for (size_t cut = 0; cut <= len; cut++) {
		size_t off = 0;
		uint64_t got = 0;
		bool ok = fuzz_rd_varint(ours, cut, &off, &got);
		if (ok != (cut == len) || (ok && (got != v || off != len)))
			ck_abort_msg("fuzz_rd_varint of %llu cut to %zu of %zu bytes: %s, %llu, %zu",
				     (unsigned long long)v, cut, len, ok ? "ok" : "refused",
				     (unsigned long long)got, off);
	}
}

START_TEST(test_fuzz_varint_is_the_codec)
{
	/* strata_varint_put is strata_wr_u64's encoding (test_u64_round_trip), checked here once
	 * more through the heap writer at each length's bounds. */
	for (unsigned bits = 0; bits <= 64; bits++) {
		uint64_t p = bits == 64 ? 0 : 1ull << bits; /* 2^bits (0 = 2^64 wrapped) */
		uint64_t vs[3] = {p - 1, p, p + 1};
		for (unsigned k = 0; k < (bits < 64 ? 3u : 1u); k++) {
			uint8_t buf[16];
			size_t len = 0;
			enc_u64(vs[k], buf, &len);
			uint8_t theirs[16];
			ck_assert_uint_eq(fuzz_wr_varint(theirs, vs[k]), len);
			ck_assert_mem_eq(theirs, buf, len);
			check_fuzz_varint_value(vs[k]);
		}
	}
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		check_fuzz_varint_value(x >> (i % 64));
	}
	unsigned agreed = 0;
	for (int i = 0; i < 200000; i++) {
		uint8_t in[12];
		size_t len = (size_t)(i % 13);
		for (size_t j = 0; j < len; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			in[j] = (uint8_t)(x & 7 ? x | 0x80 : x);
		}
		struct strata_rd r;
		strata_rd_init(&r, in, len);
		uint64_t want = strata_rd_u64(&r);
		size_t off = 0;
		uint64_t got = 0;
		bool ok = fuzz_rd_varint(in, len, &off, &got);
		if (ok != strata_rd_ok(&r) || (ok && (got != want || off != r.off)))
			ck_abort_msg("input %d (%zu bytes): fuzz_rd_varint %s %llu, the codec %s %llu", i,
				     len, ok ? "ok" : "refused", (unsigned long long)got,
				     strata_rd_ok(&r) ? "ok" : "refused", (unsigned long long)want);
		agreed += ok;
	}
	ck_assert_uint_gt(agreed, 0); /* not vacuous: some inputs decode */
}
END_TEST

START_TEST(test_be32)
{
	/* The client frame header: most significant byte first, exactly four bytes written. */
	static const struct {
		uint32_t v;
		uint8_t b[4];
	} cases[] = {
		{0, {0, 0, 0, 0}},
		{1, {0, 0, 0, 1}},
		{0x01020304u, {1, 2, 3, 4}},
		{0x00200000u, {0, 0x20, 0, 0}}, /* a frame of 2 MiB, the client protocol's limit */
		{0x80000001u, {0x80, 0, 0, 1}},
		{0xffffffffu, {0xff, 0xff, 0xff, 0xff}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[6] = {0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5};
		strata_be32_put(buf + 1, cases[i].v);
		ck_assert_uint_eq(buf[0], 0xa5);
		ck_assert_mem_eq(buf + 1, cases[i].b, 4);
		ck_assert_uint_eq(buf[5], 0xa5);
		ck_assert_uint_eq(strata_be32_get(cases[i].b), cases[i].v);
	}
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < 10000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint8_t b[4];
		strata_be32_put(b, (uint32_t)x);
		ck_assert_uint_eq(strata_be32_get(b), (uint32_t)x);
		ck_assert_uint_eq(b[0], (uint32_t)x >> 24);
	}
}
END_TEST

static Suite *codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc = tcase_create("codec");
	/* A hang guard, not a speed bound: Check's 4 s default tripped under a heavily loaded
	 * machine (test_kv_sm, once). */
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_u64_round_trip, 0,
			    (int)(sizeof(u64_cases) / sizeof(u64_cases[0])));
	tcase_add_test(tc, test_varint_bytes);
	tcase_add_test(tc, test_overlong_varint);
	tcase_add_test(tc, test_i64_round_trip);
	tcase_add_test(tc, test_mixed_round_trip);
	tcase_add_test(tc, test_take_msg_hands_over);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_latched_error);
	tcase_add_test(tc, test_length_caps);
	tcase_add_test(tc, test_writer_cap);
	tcase_add_test(tc, test_fuzz_varint_is_the_codec);
	tcase_add_test(tc, test_be32);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(codec_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
