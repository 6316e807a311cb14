/* libsodium wrappers; see crypto.h. SHA-256 and HMAC-SHA256 are crypto/sha256.c's (the CPU's SHA
 * instructions when present). */
#include "crypto/crypto.h"

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "crypto/sha256.h"

int strata_crypto_init(void)
{
	if (sodium_init() < 0)
		return STRATA_EIO;
	return strata_sha256_setup();
}

#ifndef STRATA_FUZZ_PLAIN_SECRETS
void *strata_secure_alloc(size_t len)
{
	return sodium_malloc(len);
}

void strata_secure_free(void *p)
{
	if (p)
		sodium_free(p);
}
#else
/* Fuzz builds only (the Makefile's fuzz trees define STRATA_FUZZ_PLAIN_SECRETS; no other build
 * does, and the daemon, the CLI, the simulator and the tests keep guarded memory): secrets live
 * on the ordinary heap, still wiped when freed. sodium_malloc maps four pages, changes their
 * protection three times and unmaps them on free; a fuzz target that builds and frees a node per
 * input (fuzz_recovery) spent most of its time in those system calls and the TLB flushes they
 * cause. The length is kept in front of the block so that the free can wipe it. */
struct plain_secret {
	size_t len;
	_Alignas(max_align_t) unsigned char bytes[];
};

void *strata_secure_alloc(size_t len)
{
	if (len > SIZE_MAX - sizeof(struct plain_secret))
		return NULL;
	struct plain_secret *s = malloc(sizeof(*s) + len);
	if (!s)
		return NULL;
	s->len = len;
	memset(s->bytes, 0xdb, len); /* as sodium_malloc: never zeroed, so nothing relies on it */
	return s->bytes;
}

void strata_secure_free(void *p)
{
	if (!p)
		return;
	struct plain_secret *s =
		(struct plain_secret *)(void *)((unsigned char *)p - offsetof(struct plain_secret, bytes));
	sodium_memzero(s->bytes, s->len);
	free(s);
}
#endif

int strata_keypair(uint8_t pk[STRATA_PK_LEN], uint8_t sk[STRATA_SK_LEN])
{
	return crypto_sign_keypair(pk, sk) == 0 ? 0 : STRATA_EIO;
}

int strata_keypair_seed(uint8_t pk[STRATA_PK_LEN], uint8_t sk[STRATA_SK_LEN],
			const uint8_t seed[32])
{
	return crypto_sign_seed_keypair(pk, sk, seed) == 0 ? 0 : STRATA_EIO;
}

int strata_link_key(uint8_t key[STRATA_LINK_KEY_LEN], const uint8_t my_pk[STRATA_PK_LEN],
		    const uint8_t my_sk[STRATA_SK_LEN], const uint8_t peer_pk[STRATA_PK_LEN])
{
	uint8_t my_x_sk[crypto_scalarmult_SCALARBYTES];
	uint8_t peer_x_pk[crypto_scalarmult_BYTES];
	uint8_t shared[crypto_scalarmult_BYTES];
	int rc = STRATA_EAUTH;

	if (crypto_sign_ed25519_pk_to_curve25519(peer_x_pk, peer_pk) != 0)
		goto out;
	if (crypto_sign_ed25519_sk_to_curve25519(my_x_sk, my_sk) != 0)
		goto out;
	if (crypto_scalarmult(shared, my_x_sk, peer_x_pk) != 0)
		goto out;
	/* Canonical order of the two public keys so both ends hash the same input. */
	const uint8_t *lo = my_pk, *hi = peer_pk;
	if (memcmp(lo, hi, STRATA_PK_LEN) > 0) {
		lo = peer_pk;
		hi = my_pk;
	}
	struct strata_sha256 st;
	static const char label[] = "strata-link-key-v1";
	strata_sha256_init(&st);
	strata_sha256_update(&st, (const uint8_t *)label, sizeof(label) - 1);
	strata_sha256_update(&st, shared, sizeof(shared));
	strata_sha256_update(&st, lo, STRATA_PK_LEN);
	strata_sha256_update(&st, hi, STRATA_PK_LEN);
	strata_sha256_final(&st, key); /* wipes st */
	rc = 0;
out:
	sodium_memzero(my_x_sk, sizeof(my_x_sk));
	sodium_memzero(shared, sizeof(shared));
	return rc;
}

#ifndef STRATA_FUZZ_FAST_MAC
_Static_assert(STRATA_MAC_LEN == STRATA_SHA256_LEN && STRATA_HASH_LEN == STRATA_SHA256_LEN,
	       "MACs and hashes are SHA-256 digests");

void strata_mac(uint8_t out[STRATA_MAC_LEN], const uint8_t key[STRATA_LINK_KEY_LEN],
		const uint8_t *data, size_t len)
{
	strata_hmac_sha256(out, key, STRATA_LINK_KEY_LEN, data, len);
}

_Static_assert(sizeof(struct strata_hmac_sha256) <= STRATA_MAC_KEY_STATE_LEN,
	       "struct strata_mac_key is too small for the HMAC-SHA256 state");
_Static_assert(_Alignof(struct strata_hmac_sha256) <= 16,
	       "struct strata_mac_key is not aligned enough for the HMAC-SHA256 state");

void strata_mac_key_init(struct strata_mac_key *k, const uint8_t key[STRATA_LINK_KEY_LEN])
{
	sodium_memzero(k, sizeof(*k));
	strata_hmac_sha256_init((struct strata_hmac_sha256 *)(void *)k->state, key,
				STRATA_LINK_KEY_LEN);
}

void strata_mac_keyed(uint8_t out[STRATA_MAC_LEN], const struct strata_mac_key *k,
		      const uint8_t *data, size_t len)
{
	struct strata_hmac_sha256 st;
	memcpy(&st, k->state, sizeof(st));
	strata_hmac_sha256_update(&st, data, len);
	strata_hmac_sha256_final(&st, out); /* wipes st */
}

bool strata_mac_keyed_verify(const uint8_t mac[STRATA_MAC_LEN], const struct strata_mac_key *k,
			     const uint8_t *data, size_t len)
{
	uint8_t want[STRATA_MAC_LEN];
	strata_mac_keyed(want, k, data, len);
	bool ok = crypto_verify_32(want, mac) == 0;
	sodium_memzero(want, sizeof(want));
	return ok;
}

bool strata_mac_verify(const uint8_t mac[STRATA_MAC_LEN], const uint8_t key[STRATA_LINK_KEY_LEN],
		       const uint8_t *data, size_t len)
{
	uint8_t want[STRATA_MAC_LEN];
	strata_mac(want, key, data, len);
	bool ok = crypto_verify_32(want, mac) == 0;
	sodium_memzero(want, sizeof(want));
	return ok;
}
#else
/* Fuzz builds only (the Makefile's fuzz trees define STRATA_FUZZ_FAST_MAC; no other build does:
 * the daemon, the CLI, the simulator, the tests and the benchmarks keep HMAC-SHA256). The MAC is
 * two SipHash-2-4 128-bit tags of the data, one under each half of the 32-byte link key: still
 * keyed, 32 bytes, computed and compared (constant time) at the same places, so the link layer's
 * code under test is the same, and a datagram without the key is still rejected; only
 * libsodium's primitive differs, which the fuzz targets do not test (tests/unit/test_crypto.c
 * does). HMAC-SHA256 (about four SHA-256 blocks per datagram) was 40 % of fuzz_datagram's time
 * (docs/fuzzing.md). Built without coverage instrumentation: a fuzz harness that frames its
 * datagrams with these functions adds no coverage counts of its own to the node's. */
_Static_assert(2 * crypto_shorthash_siphashx24_KEYBYTES == STRATA_LINK_KEY_LEN &&
		       2 * crypto_shorthash_siphashx24_BYTES == STRATA_MAC_LEN,
	       "fuzz MAC: two SipHash-128 tags under the two key halves");

__attribute__((no_sanitize("coverage"))) static void fast_mac(uint8_t out[STRATA_MAC_LEN],
							     const uint8_t key[STRATA_LINK_KEY_LEN],
							     const uint8_t *data, size_t len)
{
	crypto_shorthash_siphashx24(out, data, len, key);
	crypto_shorthash_siphashx24(out + crypto_shorthash_siphashx24_BYTES, data, len,
				    key + crypto_shorthash_siphashx24_KEYBYTES);
}

__attribute__((no_sanitize("coverage"))) void strata_mac(uint8_t out[STRATA_MAC_LEN],
							 const uint8_t key[STRATA_LINK_KEY_LEN],
							 const uint8_t *data, size_t len)
{
	fast_mac(out, key, data, len);
}

__attribute__((no_sanitize("coverage"))) void
strata_mac_key_init(struct strata_mac_key *k, const uint8_t key[STRATA_LINK_KEY_LEN])
{
	sodium_memzero(k, sizeof(*k));
	memcpy(k->state, key, STRATA_LINK_KEY_LEN);
}

__attribute__((no_sanitize("coverage"))) void strata_mac_keyed(uint8_t out[STRATA_MAC_LEN],
							       const struct strata_mac_key *k,
							       const uint8_t *data, size_t len)
{
	fast_mac(out, k->state, data, len);
}

__attribute__((no_sanitize("coverage"))) bool
strata_mac_keyed_verify(const uint8_t mac[STRATA_MAC_LEN], const struct strata_mac_key *k,
			const uint8_t *data, size_t len)
{
	uint8_t want[STRATA_MAC_LEN];
	fast_mac(want, k->state, data, len);
	bool ok = crypto_verify_32(want, mac) == 0;
	sodium_memzero(want, sizeof(want));
	return ok;
}

__attribute__((no_sanitize("coverage"))) bool
strata_mac_verify(const uint8_t mac[STRATA_MAC_LEN], const uint8_t key[STRATA_LINK_KEY_LEN],
		  const uint8_t *data, size_t len)
{
	uint8_t want[STRATA_MAC_LEN];
	fast_mac(want, key, data, len);
	bool ok = crypto_verify_32(want, mac) == 0;
	sodium_memzero(want, sizeof(want));
	return ok;
}
#endif

void strata_sign(uint8_t sig[STRATA_SIG_LEN], const uint8_t sk[STRATA_SK_LEN], const uint8_t *data,
		 size_t len)
{
	crypto_sign_detached(sig, NULL, data, len, sk);
}

bool strata_verify(const uint8_t sig[STRATA_SIG_LEN], const uint8_t pk[STRATA_PK_LEN],
		   const uint8_t *data, size_t len)
{
	return crypto_sign_verify_detached(sig, data, len, pk) == 0;
}

void strata_hash(uint8_t out[STRATA_HASH_LEN], const uint8_t *data, size_t len)
{
	strata_sha256(out, data, len);
}

void strata_hex_encode(char *out, const uint8_t *in, size_t len)
{
	sodium_bin2hex(out, 2 * len + 1, in, len);
}

int strata_hex_decode(uint8_t *out, size_t len, const char *hex)
{
	size_t got = 0;
	const char *end = NULL;
	if (strlen(hex) != 2 * len)
		return STRATA_EINVAL;
	if (sodium_hex2bin(out, len, hex, 2 * len, NULL, &got, &end) != 0 || got != len)
		return STRATA_EINVAL;
	return 0;
}
