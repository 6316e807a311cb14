/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104); see sha256.h.
 *
 * The hash is the standard's: 64-byte blocks, a 64-bit message length in the padding, eight
 * 32-bit words of state. Only the compression function (the state through n whole blocks) has two
 * versions, behind one function pointer:
 *   - compress_portable: the standard's message schedule and 64 rounds in C;
 *   - compress_sha_ni (x86-64, GCC or clang only): SHA256MSG1/SHA256MSG2 compute the message
 *     schedule four words at a time and SHA256RNDS2 does two rounds per instruction. Compiled with
 *     a target attribute on that function alone, so the rest of the build needs no -msha and runs
 *     on any x86-64.
 * Dispatch rule: the pointer starts at compress_resolve, which on the first call (or
 * strata_sha256_setup, from strata_crypto_init) picks the SHA-extension version when CPUID says
 * the CPU has SHA (leaf 7, EBX bit 29), SSSE3 and SSE4.1 (leaf 1, ECX bits 9 and 19) and
 * STRATA_SHA256 is not "portable"; the portable one otherwise. The pointer is an atomic read and
 * written with relaxed order: every value it ever holds is a complete, correct function, so two
 * threads resolving at once store the same thing and a reader can take either.
 *
 * Bounds: a message is at most 2^61 - 1 bytes (the length is kept in bytes in 64 bits; the
 * padding holds it in bits). No allocation; the state is 104 bytes, HMAC's 208. Key material
 * (HMAC pads, the hashed long key, the inner digest, finished states) is wiped with
 * sodium_memzero; the portable schedule array is wiped after each call. */
#include "crypto/sha256.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* STRATA_SHA256_NO_X86 builds the x86-64 code out, as on other CPUs (to check that build). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) &&                            \
	!defined(STRATA_SHA256_NO_X86)
#define SHA256_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

/* The fuzz trees compile libstrata with coverage instrumentation; hashing is not what they
 * test, and its loop counts (which follow message lengths) would only add features of its own,
 * as libsodium's uninstrumented SHA-256 did not (docs/fuzzing.md). Other builds: no effect. */
#if defined(__clang__)
#define SHA256_UNTRACED __attribute__((no_sanitize("coverage")))
#else
#define SHA256_UNTRACED
#endif

/* Round constants: the first 32 bits of the fractional parts of the cube roots of the first 64
 * primes (FIPS 180-4, 4.2.2). */
/* clang-format off */
static _Alignas(16) const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5,
	0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
	0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
	0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};
/* clang-format on */

/* Initial hash value: the first 32 bits of the fractional parts of the square roots of the first
 * 8 primes (FIPS 180-4, 5.3.3). */
static const uint32_t H0[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* BROKEN VARIANTS ONLY (tests/unit/sha256-broken builds the unit test with one of these defined
 * to show that the checks fail; no other build defines STRATA_SHA256_BROKEN):
 *   1  portable: round constant K[63] off by one
 *   2  portable: the message schedule's sigma0 rotates by 8 instead of 7
 *   3  sha-ni:   round constants K[60..63] off by one in their last word
 *   4  sha-ni:   the last schedule step takes W[i-7] one word too far (alignr by 8, not 4) */
#ifndef STRATA_SHA256_BROKEN
#define STRATA_SHA256_BROKEN 0
#endif

static inline SHA256_UNTRACED uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline SHA256_UNTRACED void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline SHA256_UNTRACED uint32_t rotr(uint32_t x, unsigned n)
{
	return x >> n | x << (32 - n);
}

/* ---- portable compression (FIPS 180-4, 6.2.2) ---- */

/* The message schedule kept as a ring of 16 words: W[i] for i >= 16 replaces W[i - 16] in
 * w[i & 15] just before round i uses it (FIPS 180-4, 6.2.2 step 1, computed as the rounds go). */
#define SIGMA0(x) (rotr(x, STRATA_SHA256_BROKEN == 2 ? 8 : 7) ^ rotr(x, 18) ^ ((x) >> 3))
#define SIGMA1(x) (rotr(x, 17) ^ rotr(x, 19) ^ ((x) >> 10))
#define W_LOADED(i) w[i]
#define W_NEXT(i)                                                                                  \
	(w[(i)&15] += SIGMA1(w[((i)-2) & 15]) + w[((i)-7) & 15] + SIGMA0(w[((i)-15) & 15]))

/* One round, written so that the eight working variables never move: the caller rotates their
 * names instead (round i + 1 gets h, a, b, c, d, e, f, g as a..h), so only d and h change.
 * Ch(e, f, g) = (e & f) ^ (~e & g) = g ^ (e & (f ^ g)); Maj(a, b, c) = (a & b) ^ (a & c) ^
 * (b & c) = (a & b) | (c & (a | b)). */
#define PORTABLE_ROUND(a, b, c, d, e, f, g, h, i, wi)                                              \
	do {                                                                                       \
		uint32_t t1_ = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) +                      \
			       (g ^ (e & (f ^ g))) + k[i] + (wi);                                  \
		uint32_t t2_ =                                                                     \
			(rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) | (c & (a | b)));      \
		d += t1_;                                                                          \
		h = t1_ + t2_;                                                                     \
	} while (0)

/* Eight rounds from i, the message words from W(i) (W_LOADED or W_NEXT). */
#define PORTABLE_ROUNDS8(i, W)                                                                     \
	do {                                                                                       \
		PORTABLE_ROUND(a, b, c, d, e, f, g, hh, i, W(i));                                  \
		PORTABLE_ROUND(hh, a, b, c, d, e, f, g, i + 1, W(i + 1));                          \
		PORTABLE_ROUND(g, hh, a, b, c, d, e, f, i + 2, W(i + 2));                          \
		PORTABLE_ROUND(f, g, hh, a, b, c, d, e, i + 3, W(i + 3));                          \
		PORTABLE_ROUND(e, f, g, hh, a, b, c, d, i + 4, W(i + 4));                          \
		PORTABLE_ROUND(d, e, f, g, hh, a, b, c, i + 5, W(i + 5));                          \
		PORTABLE_ROUND(c, d, e, f, g, hh, a, b, i + 6, W(i + 6));                          \
		PORTABLE_ROUND(b, c, d, e, f, g, hh, a, i + 7, W(i + 7));                          \
	} while (0)

static SHA256_UNTRACED void compress_portable(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	uint32_t w[16];
#if STRATA_SHA256_BROKEN == 1
	uint32_t k[64];
	memcpy(k, K, sizeof(k));
	k[63]++;
#else
	const uint32_t *k = K;
#endif
	for (; nblocks > 0; nblocks--, p += STRATA_SHA256_BLOCK) {
		for (int i = 0; i < 16; i++)
			w[i] = load_be32(p + 4 * i);
		uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
		uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];
		/* Unrolled in full: the ring's indices and the constants become immediates. */
		PORTABLE_ROUNDS8(0, W_LOADED);
		PORTABLE_ROUNDS8(8, W_LOADED);
		PORTABLE_ROUNDS8(16, W_NEXT);
		PORTABLE_ROUNDS8(24, W_NEXT);
		PORTABLE_ROUNDS8(32, W_NEXT);
		PORTABLE_ROUNDS8(40, W_NEXT);
		PORTABLE_ROUNDS8(48, W_NEXT);
		PORTABLE_ROUNDS8(56, W_NEXT);
		h[0] += a;
		h[1] += b;
		h[2] += c;
		h[3] += d;
		h[4] += e;
		h[5] += f;
		h[6] += g;
		h[7] += hh;
	}
	sodium_memzero(w, sizeof(w));
}

/* ---- x86-64 SHA extensions ---- */
#ifdef SHA256_X86

static int cpu_has_sha_ni(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	if (!(c & (1u << 9)) || !(c & (1u << 19))) /* SSSE3, SSE4.1 */
		return 0;
	if (__get_cpuid_max(0, NULL) < 7)
		return 0;
	__cpuid_count(7, 0, a, b, c, d);
	return (b & (1u << 29)) != 0; /* SHA */
}

#if STRATA_SHA256_BROKEN == 3
static _Alignas(16) uint32_t K_NI[64];
#define KTAB K_NI
#else
#define KTAB K
#endif

/* The instructions keep the eight state words in two registers, not in the standard's order:
 * SHA256RNDS2's second source holds A, B, E, F (A in the top 32 bits, F in the bottom ones) and its
 * first source C, D, G, H (likewise); it returns the new A, B, E, F after two rounds, and the new
 * C, D, G, H are the old A, B, E, F. Its implicit third operand (xmm0) holds W[i] + K[i] and
 * W[i+1] + K[i+1] in its low 64 bits. */

/* Four rounds from i with the message words W[i..i+3] in m (W[i] in the low 32 bits). */
#define NI_ROUNDS4(m, i)                                                                           \
	do {                                                                                       \
		__m128i wk_ = _mm_add_epi32(                                                       \
			(m), _mm_load_si128((const __m128i *)(const void *)&KTAB[i]));             \
		cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk_);                                     \
		abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk_, 0x0e));            \
	} while (0)

/* W[i..i+3] from a = W[i-16..i-13], b = W[i-12..i-9], c = W[i-8..i-5], d = W[i-4..i-1]:
 * SHA256MSG1(a, b) = W[i-16+j] + sigma0(W[i-15+j]) for j = 0..3; adding W[i-7..i-4] (the top
 * three words of c and the bottom one of d) and then SHA256MSG2 with d (whose top two words are
 * W[i-2], W[i-1]) adds sigma1(W[i-2+j]), taking W[i] and W[i+1] for j = 2, 3. */
#define NI_SCHEDULE(a, b, c, d, shift)                                                             \
	_mm_sha256msg2_epu32(                                                                      \
		_mm_add_epi32(_mm_sha256msg1_epu32((a), (b)), _mm_alignr_epi8((d), (c), (shift))), \
		(d))

/* Schedule four new words into a (from a, b, c, d as above), then four rounds with them. */
#define NI_STEP(a, b, c, d, i, shift)                                                              \
	do {                                                                                       \
		a = NI_SCHEDULE(a, b, c, d, shift);                                                \
		NI_ROUNDS4(a, i);                                                                  \
	} while (0)

#if STRATA_SHA256_BROKEN == 4
#define NI_LAST_SHIFT 8
#else
#define NI_LAST_SHIFT 4
#endif

__attribute__((target("sha,sse4.1,ssse3"))) static SHA256_UNTRACED void
compress_sha_ni(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	/* Big-endian words: reverse the bytes of each 32-bit lane. */
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
	__m128i abcd = _mm_loadu_si128((const __m128i *)(const void *)&h[0]);
	__m128i efgh = _mm_loadu_si128((const __m128i *)(const void *)&h[4]);
	/* Lanes low to high: abcd = a b c d, efgh = e f g h -> b a d c and h g f e ->
	 * abef = f e b a (A on top), cdgh = h g d c. */
	abcd = _mm_shuffle_epi32(abcd, 0xb1);
	efgh = _mm_shuffle_epi32(efgh, 0x1b);
	__m128i abef = _mm_alignr_epi8(abcd, efgh, 8);
	__m128i cdgh = _mm_blend_epi16(efgh, abcd, 0xf0);

	for (; nblocks > 0; nblocks--, p += STRATA_SHA256_BLOCK) {
		const __m128i abef0 = abef, cdgh0 = cdgh;
		__m128i m0 =
			_mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), bswap);
		__m128i m1 = _mm_shuffle_epi8(
			_mm_loadu_si128((const __m128i *)(const void *)(p + 16)), bswap);
		__m128i m2 = _mm_shuffle_epi8(
			_mm_loadu_si128((const __m128i *)(const void *)(p + 32)), bswap);
		__m128i m3 = _mm_shuffle_epi8(
			_mm_loadu_si128((const __m128i *)(const void *)(p + 48)), bswap);
		NI_ROUNDS4(m0, 0);
		NI_ROUNDS4(m1, 4);
		NI_ROUNDS4(m2, 8);
		NI_ROUNDS4(m3, 12);
		/* W[16..63]: m0..m3 rotate, each replaced by the words four groups later. */
		NI_STEP(m0, m1, m2, m3, 16, 4);
		NI_STEP(m1, m2, m3, m0, 20, 4);
		NI_STEP(m2, m3, m0, m1, 24, 4);
		NI_STEP(m3, m0, m1, m2, 28, 4);
		NI_STEP(m0, m1, m2, m3, 32, 4);
		NI_STEP(m1, m2, m3, m0, 36, 4);
		NI_STEP(m2, m3, m0, m1, 40, 4);
		NI_STEP(m3, m0, m1, m2, 44, 4);
		NI_STEP(m0, m1, m2, m3, 48, 4);
		NI_STEP(m1, m2, m3, m0, 52, 4);
		NI_STEP(m2, m3, m0, m1, 56, 4);
		NI_STEP(m3, m0, m1, m2, 60, NI_LAST_SHIFT);
		abef = _mm_add_epi32(abef, abef0);
		cdgh = _mm_add_epi32(cdgh, cdgh0);
	}

	/* Back: abef = f e b a -> a b e f, cdgh = h g d c -> g h c d; then a b c d and e f g h. */
	abef = _mm_shuffle_epi32(abef, 0x1b);
	cdgh = _mm_shuffle_epi32(cdgh, 0xb1);
	abcd = _mm_blend_epi16(abef, cdgh, 0xf0);
	efgh = _mm_alignr_epi8(cdgh, abef, 8);
	_mm_storeu_si128((__m128i *)(void *)&h[0], abcd);
	_mm_storeu_si128((__m128i *)(void *)&h[4], efgh);
}
#endif /* SHA256_X86 */

/* ---- dispatch ---- */

typedef void (*compress_fn)(uint32_t h[8], const uint8_t *p, size_t nblocks);

static void compress_resolve(uint32_t h[8], const uint8_t *p, size_t nblocks);
static _Atomic(compress_fn) compress = compress_resolve;

int strata_sha256_have_sha_ni(void)
{
#ifdef SHA256_X86
	return cpu_has_sha_ni();
#else
	return 0;
#endif
}

/* The function for impl, or NULL when it is SHA_NI and this CPU or build lacks it. */
static compress_fn pick(enum strata_sha256_impl impl)
{
#if STRATA_SHA256_BROKEN == 3 && defined(SHA256_X86)
	for (int i = 0; i < 64; i++)
		K_NI[i] = K[i] + (uint32_t)(i >= 60);
#endif
	switch (impl) {
	case STRATA_SHA256_PORTABLE:
		return compress_portable;
	case STRATA_SHA256_SHA_NI:
#ifdef SHA256_X86
		return cpu_has_sha_ni() ? compress_sha_ni : NULL;
#else
		return NULL;
#endif
	case STRATA_SHA256_AUTO:
	default:
#ifdef SHA256_X86
		if (cpu_has_sha_ni())
			return compress_sha_ni;
#endif
		return compress_portable;
	}
}

/* STRATA_SHA256: unset or "auto" -> AUTO, "portable", "sha-ni"; -1 for anything else. */
static int env_impl(enum strata_sha256_impl *impl)
{
	const char *v = getenv("STRATA_SHA256");
	if (!v || !*v || strcmp(v, "auto") == 0)
		*impl = STRATA_SHA256_AUTO;
	else if (strcmp(v, "portable") == 0)
		*impl = STRATA_SHA256_PORTABLE;
	else if (strcmp(v, "sha-ni") == 0)
		*impl = STRATA_SHA256_SHA_NI;
	else
		return -1;
	return 0;
}

/* The choice on first use before strata_sha256_setup: the same as setup's (an invalid
 * STRATA_SHA256 falls back to auto here; strata_crypto_init reports it). */
static compress_fn resolve(void)
{
	enum strata_sha256_impl impl;
	if (env_impl(&impl) != 0)
		impl = STRATA_SHA256_AUTO;
	compress_fn f = pick(impl);
	if (!f)
		f = pick(STRATA_SHA256_AUTO);
	atomic_store_explicit(&compress, f, memory_order_relaxed);
	return f;
}

static SHA256_UNTRACED void compress_resolve(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	resolve()(h, p, nblocks);
}

int strata_sha256_setup(void)
{
	enum strata_sha256_impl impl;
	if (env_impl(&impl) != 0) {
		fprintf(stderr, "strata: STRATA_SHA256=%s: expected auto, portable or sha-ni\n",
			getenv("STRATA_SHA256"));
		return STRATA_ECONFIG;
	}
	if (strata_sha256_use(impl) != 0) {
		fprintf(stderr, "strata: STRATA_SHA256=sha-ni: this CPU or build has no SHA "
				"extensions (CPUID SHA, SSSE3, SSE4.1)\n");
		return STRATA_ECONFIG;
	}
	return 0;
}

int strata_sha256_use(enum strata_sha256_impl impl)
{
	compress_fn f = pick(impl);
	if (!f)
		return STRATA_ENOENT;
	atomic_store_explicit(&compress, f, memory_order_relaxed);
	return 0;
}

enum strata_sha256_impl strata_sha256_active(void)
{
	compress_fn f = atomic_load_explicit(&compress, memory_order_relaxed);
	if (f == compress_resolve)
		f = resolve();
	return f == compress_portable ? STRATA_SHA256_PORTABLE : STRATA_SHA256_SHA_NI;
}

const char *strata_sha256_name(enum strata_sha256_impl impl)
{
	switch (impl) {
	case STRATA_SHA256_PORTABLE:
		return "portable";
	case STRATA_SHA256_SHA_NI:
		return "sha-ni";
	case STRATA_SHA256_AUTO:
	default:
		return "auto";
	}
}

static inline SHA256_UNTRACED void compress_blocks(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	atomic_load_explicit(&compress, memory_order_relaxed)(h, p, nblocks);
}

/* ---- the hash (FIPS 180-4, 5.1.1 padding, 6.2 computation) ---- */

SHA256_UNTRACED void strata_sha256_init(struct strata_sha256 *s)
{
	memcpy(s->h, H0, sizeof(s->h));
	s->len = 0;
}

SHA256_UNTRACED void strata_sha256_update(struct strata_sha256 *s, const uint8_t *data, size_t len)
{
	if (len == 0)
		return;
	size_t used = (size_t)(s->len % STRATA_SHA256_BLOCK);
	s->len += len;
	if (used > 0) {
		size_t take = STRATA_SHA256_BLOCK - used;
		if (take > len)
			take = len;
		memcpy(s->buf + used, data, take);
		data += take;
		len -= take;
		if (used + take < STRATA_SHA256_BLOCK)
			return;
		compress_blocks(s->h, s->buf, 1);
	}
	size_t whole = len / STRATA_SHA256_BLOCK;
	if (whole > 0) {
		compress_blocks(s->h, data, whole);
		data += whole * STRATA_SHA256_BLOCK;
		len -= whole * STRATA_SHA256_BLOCK;
	}
	if (len > 0)
		memcpy(s->buf, data, len);
}

SHA256_UNTRACED void strata_sha256_final(struct strata_sha256 *s, uint8_t out[STRATA_SHA256_LEN])
{
	size_t used = (size_t)(s->len % STRATA_SHA256_BLOCK);
	uint64_t bits = s->len << 3;
	/* A 1 bit, zeros up to 56 bytes mod 64 (another block when fewer than 9 bytes are left),
	 * then the length in bits, big-endian. */
	s->buf[used++] = 0x80;
	if (used > STRATA_SHA256_BLOCK - 8) {
		memset(s->buf + used, 0, STRATA_SHA256_BLOCK - used);
		compress_blocks(s->h, s->buf, 1);
		used = 0;
	}
	memset(s->buf + used, 0, STRATA_SHA256_BLOCK - 8 - used);
	store_be32(s->buf + 56, (uint32_t)(bits >> 32));
	store_be32(s->buf + 60, (uint32_t)bits);
	compress_blocks(s->h, s->buf, 1);
	for (int i = 0; i < 8; i++)
		store_be32(out + 4 * i, s->h[i]);
	sodium_memzero(s, sizeof(*s));
}

SHA256_UNTRACED void strata_sha256(uint8_t out[STRATA_SHA256_LEN], const uint8_t *data, size_t len)
{
	struct strata_sha256 s;
	strata_sha256_init(&s);
	strata_sha256_update(&s, data, len);
	strata_sha256_final(&s, out);
}

/* ---- HMAC (RFC 2104): H(K ^ opad || H(K ^ ipad || m)) ---- */

SHA256_UNTRACED void strata_hmac_sha256_init(struct strata_hmac_sha256 *st, const uint8_t *key,
					     size_t keylen)
{
	uint8_t khash[STRATA_SHA256_LEN];
	uint8_t pad[STRATA_SHA256_BLOCK];
	if (keylen > STRATA_SHA256_BLOCK) {
		strata_sha256(khash, key, keylen);
		key = khash;
		keylen = sizeof(khash);
	}
	memset(pad, 0x36, sizeof(pad));
	for (size_t i = 0; i < keylen; i++)
		pad[i] ^= key[i];
	strata_sha256_init(&st->inner);
	strata_sha256_update(&st->inner, pad, sizeof(pad));
	memset(pad, 0x5c, sizeof(pad));
	for (size_t i = 0; i < keylen; i++)
		pad[i] ^= key[i];
	strata_sha256_init(&st->outer);
	strata_sha256_update(&st->outer, pad, sizeof(pad));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(khash, sizeof(khash));
}

SHA256_UNTRACED void strata_hmac_sha256_update(struct strata_hmac_sha256 *st, const uint8_t *data,
					       size_t len)
{
	strata_sha256_update(&st->inner, data, len);
}

SHA256_UNTRACED void strata_hmac_sha256_final(struct strata_hmac_sha256 *st,
					      uint8_t out[STRATA_SHA256_LEN])
{
	uint8_t ih[STRATA_SHA256_LEN];
	strata_sha256_final(&st->inner, ih);
	strata_sha256_update(&st->outer, ih, sizeof(ih));
	strata_sha256_final(&st->outer, out);
	sodium_memzero(ih, sizeof(ih));
}

SHA256_UNTRACED void strata_hmac_sha256(uint8_t out[STRATA_SHA256_LEN], const uint8_t *key,
					size_t keylen, const uint8_t *data, size_t len)
{
	struct strata_hmac_sha256 st;
	strata_hmac_sha256_init(&st, key, keylen);
	strata_hmac_sha256_update(&st, data, len);
	strata_hmac_sha256_final(&st, out);
}
