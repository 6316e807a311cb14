/* The threshold common coin's cryptography (Diffie-Hellman threshold coin over ristretto255).
 *
 * The common coin of randomized consensus (the book's CommonCoin abstraction, used by Alg.
 * 5.12-5.13): every process releases a share of coin instance `name`; any t shares give the same
 * coin, and fewer than t reveal nothing about it. Construction (Cachin, Kursawe and Shoup's
 * Diffie-Hellman coin):
 *   - a dealer (at key generation) picks a random polynomial P of degree t - 1 over the scalars
 *     of ristretto255, x = P(0); process i gets the secret share x_i = P(i) and everybody the
 *     verification keys V_i = g^x_i;
 *   - coin instance `name`: g' = hash_to_group(name); process i's share is S_i = g'^x_i with a
 *     Chaum-Pedersen proof that log_g V_i = log_g' S_i (so a wrong share is rejected);
 *   - any t valid shares combine by Lagrange interpolation in the exponent into g'^x, and the
 *     coin is the low bit of H(name || g'^x).
 * With t = f + 1 no f processes can compute the coin before a correct process released its
 * share. Pure functions: no I/O, no global state; the proof's nonce is derived from the secret
 * share and g' (deterministic, as in EdDSA), so a process never needs a random source for it. */
#ifndef STRATA_CONS_TCOIN_H
#define STRATA_CONS_TCOIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCOIN_SCALAR_LEN 32
#define TCOIN_POINT_LEN 32
/* A share on the wire: S_i, then the proof (challenge c, response s). */
#define TCOIN_SHARE_LEN (TCOIN_POINT_LEN + 2 * TCOIN_SCALAR_LEN)
#define TCOIN_MAX_NODES 64

/* Deals a coin for n processes with threshold t (1 <= t <= n <= TCOIN_MAX_NODES) from a 32-byte
 * seed (random at key generation; fixed in the simulator): x[i-1] = x_i and vk[i-1] = V_i for
 * i = 1..n. 0, or STRATA_EINVAL. */
int tcoin_deal(uint32_t n, uint32_t t, const uint8_t seed[32], uint8_t (*x)[TCOIN_SCALAR_LEN],
	       uint8_t (*vk)[TCOIN_POINT_LEN]);

/* The verification key of a secret share (g^x); 0, or STRATA_EINVAL for a zero share. */
int tcoin_public(uint8_t vk[TCOIN_POINT_LEN], const uint8_t x[TCOIN_SCALAR_LEN]);

/* Whether 32 bytes are a valid, non-identity ristretto255 point (config and share checks). */
bool tcoin_point_ok(const uint8_t p[TCOIN_POINT_LEN]);
/* Whether 32 bytes are a canonical non-zero scalar (share files). */
bool tcoin_scalar_ok(const uint8_t x[TCOIN_SCALAR_LEN]);

/* Process i's share of coin instance `name` (x = x_i, vk = V_i). 0, or STRATA_EINVAL. */
int tcoin_share(uint8_t share[TCOIN_SHARE_LEN], const uint8_t x[TCOIN_SCALAR_LEN],
		const uint8_t vk[TCOIN_POINT_LEN], const uint8_t *name, size_t name_len);

/* Whether share is a valid share of coin instance `name` by the holder of vk. */
bool tcoin_verify(const uint8_t share[TCOIN_SHARE_LEN], const uint8_t vk[TCOIN_POINT_LEN],
		  const uint8_t *name, size_t name_len);

/* Lagrange interpolation in the exponent at 0 of the points S_ids[k] (ids distinct, 1..64):
 * out = prod S_k^lambda_k. With fewer than t shares the result is not g'^x (it is the
 * interpolation of a different polynomial). 0, or STRATA_EINVAL (duplicate/zero ids). */
int tcoin_interpolate(uint8_t out[TCOIN_POINT_LEN], const uint32_t *ids,
		      const uint8_t (*points)[TCOIN_POINT_LEN], size_t count);

/* The coin from t verified shares (only the first t of count are used): *bit = the coin.
 * STRATA_EINVAL if count < t (a coin is never produced from fewer shares). */
int tcoin_combine(uint8_t *bit, uint32_t t, const uint32_t *ids,
		  const uint8_t (*points)[TCOIN_POINT_LEN], size_t count, const uint8_t *name,
		  size_t name_len);

/* The coin bit of a combined point g'^x. */
uint8_t tcoin_bit(const uint8_t point[TCOIN_POINT_LEN], const uint8_t *name, size_t name_len);

#endif
