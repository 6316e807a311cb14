/* The codec's unsigned varint (core/codec.c: strata_wr_u64, strata_rd_u64) for the fuzz
 * harnesses' own reading and writing of module payloads (fuzz_module.c signs the signature
 * fields of the formats it repairs).
 *
 * Why a copy rather than the codec: in the fuzz trees libstrata is built with coverage
 * instrumentation, so every varint the harness read or wrote through the codec would add
 * coverage counts (features) of the harness's own work to what libFuzzer sees of the node;
 * these functions carry no instrumentation. They must stay the codec's format exactly (the
 * harness signs what the node will parse): tests/unit/test_codec.c encodes and decodes with both
 * (every length, the 64-bit bound, truncated and random input) and fails on any difference. */
#ifndef STRATA_FUZZ_VARINT_H
#define STRATA_FUZZ_VARINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __clang__
#define FUZZ_VARINT_NO_COV __attribute__((no_sanitize("coverage")))
#else
#define FUZZ_VARINT_NO_COV
#endif

/* Reads a varint at p[*off], p[len) being the input, as strata_rd_u64: false when the input ends
 * first or the value would not fit 64 bits (*v untouched then, *off past what was read). */
FUZZ_VARINT_NO_COV static inline bool fuzz_rd_varint(const uint8_t *p, size_t len, size_t *off,
						     uint64_t *v)
{
	uint64_t x = 0;
	for (unsigned sh = 0; sh < 64 && *off < len; sh += 7) {
		uint8_t b = p[(*off)++];
		if (sh == 63 && (b & 0x7e))
			return false;
		x |= (uint64_t)(b & 0x7f) << sh;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

/* Writes v at out (at most 10 bytes), as strata_wr_u64; returns the bytes written. */
FUZZ_VARINT_NO_COV static inline size_t fuzz_wr_varint(uint8_t *out, uint64_t v)
{
	size_t n = 0;
	do {
		uint8_t b = (uint8_t)(v & 0x7f);
		v >>= 7;
		out[n++] = (uint8_t)(b | (v ? 0x80 : 0));
	} while (v);
	return n;
}

#endif
