/* The threshold common coin's cryptography; see tcoin.h. */
#include "cons/tcoin.h"

#include <sodium.h>
#include <string.h>

#include "core/error.h"

/* H(tag || parts...) as 64 bytes (SHA-512), for hashing to the group and to scalars. */
static void h64(uint8_t out[64], const char *tag, const uint8_t *const *parts,
		const size_t *lens, size_t count)
{
	crypto_hash_sha512_state st;
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, (const uint8_t *)tag, strlen(tag) + 1);
	for (size_t k = 0; k < count; k++) {
		uint8_t len[8];
		for (int b = 0; b < 8; b++)
			len[b] = (uint8_t)((uint64_t)lens[k] >> (8 * b));
		crypto_hash_sha512_update(&st, len, sizeof(len));
		crypto_hash_sha512_update(&st, parts[k], lens[k]);
	}
	crypto_hash_sha512_final(&st, out);
}

static void to_scalar(uint8_t s[32], const char *tag, const uint8_t *const *parts,
		      const size_t *lens, size_t count)
{
	uint8_t h[64];
	h64(h, tag, parts, lens, count);
	crypto_core_ristretto255_scalar_reduce(s, h);
	sodium_memzero(h, sizeof(h));
}

static void scalar_u32(uint8_t s[32], uint32_t v)
{
	memset(s, 0, 32);
	for (int b = 0; b < 4; b++)
		s[b] = (uint8_t)(v >> (8 * b));
}

static bool is_zero(const uint8_t *p, size_t len)
{
	return sodium_is_zero(p, len) != 0;
}

/* g' = hash_to_group(name) */
static void base_of(uint8_t gp[32], const uint8_t *name, size_t name_len)
{
	uint8_t h[64];
	const uint8_t *parts[] = { name };
	size_t lens[] = { name_len };
	h64(h, "strata-tcoin-base", parts, lens, 1);
	crypto_core_ristretto255_from_hash(gp, h);
}

bool tcoin_point_ok(const uint8_t p[TCOIN_POINT_LEN])
{
	return crypto_core_ristretto255_is_valid_point(p) == 1 && !is_zero(p, TCOIN_POINT_LEN);
}

bool tcoin_scalar_ok(const uint8_t x[TCOIN_SCALAR_LEN])
{
	if (is_zero(x, TCOIN_SCALAR_LEN))
		return false;
	/* canonical: reducing (x || 0^32) gives x back */
	uint8_t wide[64] = { 0 }, r[32];
	memcpy(wide, x, 32);
	crypto_core_ristretto255_scalar_reduce(r, wide);
	bool ok = memcmp(r, x, 32) == 0;
	sodium_memzero(wide, sizeof(wide));
	sodium_memzero(r, sizeof(r));
	return ok;
}

int tcoin_public(uint8_t vk[TCOIN_POINT_LEN], const uint8_t x[TCOIN_SCALAR_LEN])
{
	if (!tcoin_scalar_ok(x))
		return STRATA_EINVAL;
	return crypto_scalarmult_ristretto255_base(vk, x) == 0 ? 0 : STRATA_EINVAL;
}

int tcoin_deal(uint32_t n, uint32_t t, const uint8_t seed[32], uint8_t (*x)[TCOIN_SCALAR_LEN],
	       uint8_t (*vk)[TCOIN_POINT_LEN])
{
	if (n == 0 || n > TCOIN_MAX_NODES || t == 0 || t > n)
		return STRATA_EINVAL;
	uint8_t a[TCOIN_MAX_NODES][32]; /* coefficients a_0 .. a_{t-1} */
	for (uint32_t k = 0; k < t; k++) {
		uint8_t idx[4];
		for (int b = 0; b < 4; b++)
			idx[b] = (uint8_t)(k >> (8 * b));
		const uint8_t *parts[] = { seed, idx };
		size_t lens[] = { 32, sizeof(idx) };
		to_scalar(a[k], "strata-tcoin-deal", parts, lens, 2);
	}
	int rc = 0;
	for (uint32_t i = 1; i <= n && rc == 0; i++) {
		/* Horner: P(i) = (...(a_{t-1} i + a_{t-2}) i + ...) i + a_0 */
		uint8_t xi[32], si[32], tmp[32];
		scalar_u32(si, i);
		memcpy(xi, a[t - 1], 32);
		for (uint32_t k = t - 1; k-- > 0;) {
			crypto_core_ristretto255_scalar_mul(tmp, xi, si);
			crypto_core_ristretto255_scalar_add(xi, tmp, a[k]);
		}
		if (!tcoin_scalar_ok(xi) || crypto_scalarmult_ristretto255_base(vk[i - 1], xi) != 0)
			rc = STRATA_EINVAL; /* P(i) = 0: probability 2^-252 */
		memcpy(x[i - 1], xi, 32);
		sodium_memzero(xi, sizeof(xi));
		sodium_memzero(tmp, sizeof(tmp));
	}
	sodium_memzero(a, sizeof(a));
	return rc;
}

/* c = H(g, V, g', S, A, B) */
static void challenge(uint8_t c[32], const uint8_t vk[32], const uint8_t gp[32],
		      const uint8_t s[32], const uint8_t a[32], const uint8_t b[32])
{
	uint8_t g[32], one[32];
	scalar_u32(one, 1);
	crypto_scalarmult_ristretto255_base(g, one);
	const uint8_t *parts[] = { g, vk, gp, s, a, b };
	size_t lens[] = { 32, 32, 32, 32, 32, 32 };
	to_scalar(c, "strata-tcoin-dleq", parts, lens, 6);
}

int tcoin_share(uint8_t share[TCOIN_SHARE_LEN], const uint8_t x[TCOIN_SCALAR_LEN],
		const uint8_t vk[TCOIN_POINT_LEN], const uint8_t *name, size_t name_len)
{
	if (!tcoin_scalar_ok(x))
		return STRATA_EINVAL;
	uint8_t gp[32], s_pt[32], w[32], a[32], b[32], c[32], cx[32], resp[32];
	base_of(gp, name, name_len);
	if (crypto_scalarmult_ristretto255(s_pt, x, gp) != 0)
		return STRATA_EINVAL;
	/* deterministic nonce w = H(x, g') */
	const uint8_t *parts[] = { x, gp };
	size_t lens[] = { 32, 32 };
	to_scalar(w, "strata-tcoin-nonce", parts, lens, 2);
	int rc = 0;
	if (crypto_scalarmult_ristretto255_base(a, w) != 0 ||
	    crypto_scalarmult_ristretto255(b, w, gp) != 0) {
		rc = STRATA_EINVAL;
	} else {
		challenge(c, vk, gp, s_pt, a, b);
		/* s = w - c x */
		crypto_core_ristretto255_scalar_mul(cx, c, x);
		crypto_core_ristretto255_scalar_sub(resp, w, cx);
		memcpy(share, s_pt, 32);
		memcpy(share + 32, c, 32);
		memcpy(share + 64, resp, 32);
	}
	sodium_memzero(w, sizeof(w));
	sodium_memzero(cx, sizeof(cx));
	return rc;
}

bool tcoin_verify(const uint8_t share[TCOIN_SHARE_LEN], const uint8_t vk[TCOIN_POINT_LEN],
		  const uint8_t *name, size_t name_len)
{
	const uint8_t *s_pt = share, *c = share + 32, *resp = share + 64;
	if (!tcoin_point_ok(s_pt) || !tcoin_point_ok(vk))
		return false;
	uint8_t gp[32], t1[32], t2[32], a[32], b[32], c2[32];
	base_of(gp, name, name_len);
	/* A = g^s V^c, B = g'^s S^c; the proof holds iff c = H(g, V, g', S, A, B) */
	bool zero_s = is_zero(resp, 32), zero_c = is_zero(c, 32);
	if (zero_c)
		return false;
	if (crypto_scalarmult_ristretto255(t2, c, vk) != 0)
		return false;
	if (zero_s) {
		memcpy(a, t2, 32);
	} else {
		if (crypto_scalarmult_ristretto255_base(t1, resp) != 0)
			return false;
		crypto_core_ristretto255_add(a, t1, t2);
	}
	if (crypto_scalarmult_ristretto255(t2, c, s_pt) != 0)
		return false;
	if (zero_s) {
		memcpy(b, t2, 32);
	} else {
		if (crypto_scalarmult_ristretto255(t1, resp, gp) != 0)
			return false;
		crypto_core_ristretto255_add(b, t1, t2);
	}
	challenge(c2, vk, gp, s_pt, a, b);
	return sodium_memcmp(c, c2, 32) == 0;
}

int tcoin_interpolate(uint8_t out[TCOIN_POINT_LEN], const uint32_t *ids,
		      const uint8_t (*points)[TCOIN_POINT_LEN], size_t count)
{
	if (count == 0 || count > TCOIN_MAX_NODES)
		return STRATA_EINVAL;
	for (size_t j = 0; j < count; j++) {
		if (ids[j] == 0 || ids[j] > TCOIN_MAX_NODES)
			return STRATA_EINVAL;
		for (size_t m = 0; m < j; m++)
			if (ids[m] == ids[j])
				return STRATA_EINVAL;
	}
	bool have = false;
	uint8_t acc[32] = { 0 };
	for (size_t j = 0; j < count; j++) {
		/* lambda_j = prod_{m != j} id_m / (id_m - id_j) */
		uint8_t num[32], den[32], t[32], sm[32], sd[32], inv[32], lam[32], term[32];
		scalar_u32(num, 1);
		scalar_u32(den, 1);
		for (size_t m = 0; m < count; m++) {
			if (m == j)
				continue;
			scalar_u32(sm, ids[m]);
			crypto_core_ristretto255_scalar_mul(t, num, sm);
			memcpy(num, t, 32);
			if (ids[m] > ids[j]) {
				scalar_u32(sd, ids[m] - ids[j]);
			} else {
				scalar_u32(t, ids[j] - ids[m]);
				crypto_core_ristretto255_scalar_negate(sd, t);
			}
			crypto_core_ristretto255_scalar_mul(t, den, sd);
			memcpy(den, t, 32);
		}
		if (crypto_core_ristretto255_scalar_invert(inv, den) != 0)
			return STRATA_EINVAL;
		crypto_core_ristretto255_scalar_mul(lam, num, inv);
		if (crypto_scalarmult_ristretto255(term, lam, points[j]) != 0)
			continue; /* identity term: adds nothing */
		if (!have) {
			memcpy(acc, term, 32);
			have = true;
		} else {
			crypto_core_ristretto255_add(t, acc, term);
			memcpy(acc, t, 32);
		}
	}
	if (!have)
		return STRATA_EINVAL;
	memcpy(out, acc, 32);
	return 0;
}

uint8_t tcoin_bit(const uint8_t point[TCOIN_POINT_LEN], const uint8_t *name, size_t name_len)
{
	uint8_t h[64];
	const uint8_t *parts[] = { name, point };
	size_t lens[] = { name_len, 32 };
	h64(h, "strata-tcoin-value", parts, lens, 2);
	return h[0] & 1u;
}

int tcoin_combine(uint8_t *bit, uint32_t t, const uint32_t *ids,
		  const uint8_t (*points)[TCOIN_POINT_LEN], size_t count, const uint8_t *name,
		  size_t name_len)
{
	if (t == 0 || count < t)
		return STRATA_EINVAL;
	uint8_t c[32];
	int rc = tcoin_interpolate(c, ids, points, t);
	if (rc)
		return rc;
	*bit = tcoin_bit(c, name, name_len);
	return 0;
}
