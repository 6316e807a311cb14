/* libsodium wrappers: identities, pairwise link keys, MACs, signatures, hashes. SHA-256 and
 * HMAC-SHA256 are crypto/sha256.c's own (on the CPU's SHA instructions when present), checked
 * against libsodium's in the unit tests.
 *
 * Identities are Ed25519 key pairs. Pairwise link keys are derived from the X25519 forms of the
 * two identities (crypto_sign_ed25519_*_to_curve25519 + crypto_scalarmult), hashed together with
 * both public keys in a canonical order, so both ends get the same key and the config holds only
 * public keys. Secret material lives in sodium_malloc memory and is wiped when freed. */
#ifndef STRATA_CRYPTO_CRYPTO_H
#define STRATA_CRYPTO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STRATA_PK_LEN 32
#define STRATA_SK_LEN 64
#define STRATA_SIG_LEN 64
#define STRATA_MAC_LEN 32
#define STRATA_HASH_LEN 32
#define STRATA_LINK_KEY_LEN 32
/* Room for struct strata_hmac_sha256 (crypto/sha256.h, 208 bytes; crypto.c checks it fits). */
#define STRATA_MAC_KEY_STATE_LEN 256

/* Must be called once per process before anything else here; returns 0, STRATA_EIO (libsodium
 * failed) or STRATA_ECONFIG (an invalid STRATA_SHA256, reported on stderr: crypto/sha256.h). */
int strata_crypto_init(void);

/* Secure memory (sodium_malloc / sodium_free, wiped on free; the fuzz builds alone use the plain
 * heap, still wiped: crypto.c, STRATA_FUZZ_PLAIN_SECRETS). */
void *strata_secure_alloc(size_t len);
void strata_secure_free(void *p);

/* New random identity. */
int strata_keypair(uint8_t pk[STRATA_PK_LEN], uint8_t sk[STRATA_SK_LEN]);
/* Deterministic identity from a 32-byte seed (simulator and tests). */
int strata_keypair_seed(uint8_t pk[STRATA_PK_LEN], uint8_t sk[STRATA_SK_LEN],
			const uint8_t seed[32]);

/* Shared link key between the identity (my_pk, my_sk) and peer_pk; STRATA_EAUTH if the peer key
 * is not a valid point. */
int strata_link_key(uint8_t key[STRATA_LINK_KEY_LEN], const uint8_t my_pk[STRATA_PK_LEN],
		    const uint8_t my_sk[STRATA_SK_LEN], const uint8_t peer_pk[STRATA_PK_LEN]);

void strata_mac(uint8_t out[STRATA_MAC_LEN], const uint8_t key[STRATA_LINK_KEY_LEN],
		const uint8_t *data, size_t len);

/* A link key prepared for HMAC-SHA256: the state after the key's inner and outer pad blocks,
 * computed once per key (strata_mac_key_init) and copied for every message, so a datagram's
 * MAC hashes only the datagram (two SHA-256 blocks fewer each). strata_mac_keyed and
 * strata_mac_keyed_verify give exactly what strata_mac and strata_mac_verify give with the
 * same key. Holds key material: keep it in secure memory. */
struct strata_mac_key {
	_Alignas(16) uint8_t state[STRATA_MAC_KEY_STATE_LEN];
};
void strata_mac_key_init(struct strata_mac_key *k, const uint8_t key[STRATA_LINK_KEY_LEN]);
void strata_mac_keyed(uint8_t out[STRATA_MAC_LEN], const struct strata_mac_key *k,
		      const uint8_t *data, size_t len);
/* Constant-time verification. */
bool strata_mac_keyed_verify(const uint8_t mac[STRATA_MAC_LEN], const struct strata_mac_key *k,
			     const uint8_t *data, size_t len);
/* Constant-time verification. */
bool strata_mac_verify(const uint8_t mac[STRATA_MAC_LEN], const uint8_t key[STRATA_LINK_KEY_LEN],
		       const uint8_t *data, size_t len);

void strata_sign(uint8_t sig[STRATA_SIG_LEN], const uint8_t sk[STRATA_SK_LEN], const uint8_t *data,
		 size_t len);
bool strata_verify(const uint8_t sig[STRATA_SIG_LEN], const uint8_t pk[STRATA_PK_LEN],
		   const uint8_t *data, size_t len);

void strata_hash(uint8_t out[STRATA_HASH_LEN], const uint8_t *data, size_t len);

/* Hex helpers for key files and configs: returns 0 or STRATA_EINVAL. out holds 2*len+1 chars. */
void strata_hex_encode(char *out, const uint8_t *in, size_t len);
int strata_hex_decode(uint8_t *out, size_t len, const char *hex);

#endif
