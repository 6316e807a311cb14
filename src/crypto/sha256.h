/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), on the CPU's SHA instructions when present.
 *
 * Every SHA-256 and HMAC-SHA256 of strata goes through here (crypto.c: strata_hash, strata_mac*,
 * the link key derivation): the links MAC every datagram, and the BFT log hashes requests,
 * batches and Merkle trees, so SHA-256 was a quarter of a BFT replica's CPU with libsodium's
 * portable code (docs/benchmarks.md, "SHA-256 on the SHA extensions").
 *
 * Two compression functions, the same results (tests/unit/test_sha256.c checks both against the
 * FIPS/NIST and RFC 4231 vectors and against libsodium for every length up to 2,100 bytes):
 *   - "sha-ni": the x86-64 SHA extensions (SHA256RNDS2, SHA256MSG1, SHA256MSG2) with SSSE3 and
 *     SSE4.1, compiled only on x86-64 with GCC or clang, used when CPUID reports all three;
 *   - "portable": plain C, on every other CPU and build.
 * The choice is made once, on the first use or at strata_crypto_init(), whichever comes first.
 * The environment variable STRATA_SHA256 overrides it: "portable" forces the C code, "sha-ni"
 * requires the extensions (strata_crypto_init() fails when the CPU lacks them), "auto" or unset
 * picks the extensions when present. Tests and benchmarks switch with strata_sha256_use(). */
#ifndef STRATA_CRYPTO_SHA256_H
#define STRATA_CRYPTO_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define STRATA_SHA256_LEN 32
#define STRATA_SHA256_BLOCK 64

/* An incremental hash. Lengths are counted in bytes in 64 bits (messages up to 2^61 - 1 bytes,
 * the standard's bound of 2^64 - 1 bits rounded to whole bytes). */
struct strata_sha256 {
	uint32_t h[8];
	uint64_t len;			  /* bytes hashed so far */
	uint8_t buf[STRATA_SHA256_BLOCK]; /* the partial block: len % 64 bytes */
};

void strata_sha256_init(struct strata_sha256 *s);
void strata_sha256_update(struct strata_sha256 *s, const uint8_t *data, size_t len);
/* Writes the digest and wipes the state (init again to reuse it). */
void strata_sha256_final(struct strata_sha256 *s, uint8_t out[STRATA_SHA256_LEN]);
void strata_sha256(uint8_t out[STRATA_SHA256_LEN], const uint8_t *data, size_t len);

/* HMAC-SHA256 with a key of any length (a key longer than a block is hashed first). init leaves
 * the states after the key's inner and outer pad blocks; a copy of an initialised state MACs a
 * message with two blocks fewer than starting from the key (crypto.c's struct strata_mac_key). */
struct strata_hmac_sha256 {
	struct strata_sha256 inner, outer;
};

void strata_hmac_sha256_init(struct strata_hmac_sha256 *st, const uint8_t *key, size_t keylen);
void strata_hmac_sha256_update(struct strata_hmac_sha256 *st, const uint8_t *data, size_t len);
/* Writes the MAC and wipes the state. */
void strata_hmac_sha256_final(struct strata_hmac_sha256 *st, uint8_t out[STRATA_SHA256_LEN]);
void strata_hmac_sha256(uint8_t out[STRATA_SHA256_LEN], const uint8_t *key, size_t keylen,
			const uint8_t *data, size_t len);

enum strata_sha256_impl {
	STRATA_SHA256_AUTO = 0,	    /* the extensions when the CPU has them, else portable */
	STRATA_SHA256_PORTABLE = 1, /* the C compression function */
	STRATA_SHA256_SHA_NI = 2,   /* the x86-64 SHA extensions */
};

/* Reads STRATA_SHA256 and selects the implementation (strata_crypto_init calls it). Returns 0, or
 * STRATA_ECONFIG with a message on stderr when the value is not one of auto, portable, sha-ni, or
 * is sha-ni on a CPU (or build) without the extensions. */
int strata_sha256_setup(void);
/* Selects an implementation (AUTO: detect); 0, or STRATA_ENOENT when it is SHA_NI and the CPU or
 * the build lacks it (nothing changes then). For tests and benchmarks: switch while no other
 * thread hashes (a hash in progress would finish with the other function, which is harmless since
 * both compute the same thing, but tests should know which one they measured). */
int strata_sha256_use(enum strata_sha256_impl impl);
/* True when this build and CPU can run the SHA-extension compression. */
int strata_sha256_have_sha_ni(void);
/* The implementation in use (PORTABLE or SHA_NI) and its name ("portable", "sha-ni"). */
enum strata_sha256_impl strata_sha256_active(void);
const char *strata_sha256_name(enum strata_sha256_impl impl);

#endif
