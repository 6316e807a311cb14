/* Unit tests for SHA-256 and HMAC-SHA256 (src/crypto/sha256.h), on both compression functions:
 * every check runs once with the portable C code and once with the x86-64 SHA extensions (that
 * half prints a note and passes when the CPU or the build lacks them).
 *   - the FIPS 180-2 / NIST vectors: "abc", the empty message, the 448-bit and 896-bit messages,
 *     one million 'a' (fed in uneven pieces);
 *   - the RFC 4231 HMAC-SHA256 vectors, test cases 1 to 7 (5 truncated to 128 bits, 6 and 7
 *     with a 131-byte key, longer than a block);
 *   - against libsodium (crypto_hash_sha256, crypto_auth_hmacsha256_*) for every length from 0
 *     to 2,100 bytes, each fed to update() in pieces split at random points, HMAC with random key
 *     lengths from 0 to 150; and crypto.c's strata_hash / strata_mac / strata_mac_keyed /
 *     strata_mac_verify / strata_mac_keyed_verify against libsodium;
 *   - the selection: STRATA_SHA256 values, strata_sha256_use, strata_sha256_active.
 * `make check-sha256-broken` builds this suite against broken compression functions (sha256.c,
 * STRATA_SHA256_BROKEN) and requires it to fail, naming the broken backend. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "crypto/crypto.h"
#include "crypto/sha256.h"

#define MAX_LEN 2100

static const enum strata_sha256_impl backends[2] = {STRATA_SHA256_PORTABLE, STRATA_SHA256_SHA_NI};

/* Selects backend i of a loop test; false (with a note) when this CPU lacks it. Check runs every
 * test in a child process, so the selection ends with the test. */
static bool use_backend(int i, const char **name)
{
	*name = strata_sha256_name(backends[i]);
	if (backends[i] == STRATA_SHA256_SHA_NI && !strata_sha256_have_sha_ni()) {
		printf("note: no SHA extensions on this CPU (or build): the sha-ni half of this "
		       "test is skipped\n");
		return false;
	}
	ck_assert_int_eq(strata_sha256_use(backends[i]), 0);
	ck_assert_int_eq(strata_sha256_active(), backends[i]);
	return true;
}

static void hex(char *out, const uint8_t *in, size_t len)
{
	strata_hex_encode(out, in, len);
}

/* Deterministic test data (xorshift64*), so a failure is reproducible. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}
static void fill(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(rnd() >> 56);
}

/* ---- FIPS 180-2 / NIST vectors ---- */

static const struct {
	const char *msg;
	const char *digest;
} fips[] = {
	{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	{"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopq"
	 "rlmnopqrsmnopqrstnopqrstu",
	 "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
};

START_TEST(test_fips_vectors)
{
	const char *name;
	if (!use_backend(_i, &name))
		return;
	char got[2 * STRATA_SHA256_LEN + 1];
	uint8_t d[STRATA_SHA256_LEN];
	for (size_t v = 0; v < sizeof(fips) / sizeof(fips[0]); v++) {
		const uint8_t *m = (const uint8_t *)fips[v].msg;
		size_t len = strlen(fips[v].msg);
		strata_sha256(d, len ? m : NULL, len);
		hex(got, d, sizeof(d));
		ck_assert_msg(strcmp(got, fips[v].digest) == 0, "%s: vector %zu one-shot: %s", name,
			      v, got);
		/* Byte by byte through the incremental interface. */
		struct strata_sha256 s;
		strata_sha256_init(&s);
		for (size_t i = 0; i < len; i++)
			strata_sha256_update(&s, m + i, 1);
		strata_sha256_final(&s, d);
		hex(got, d, sizeof(d));
		ck_assert_msg(strcmp(got, fips[v].digest) == 0, "%s: vector %zu bytewise: %s", name,
			      v, got);
		/* strata_hash is the same function. */
		strata_hash(d, m, len);
		hex(got, d, sizeof(d));
		ck_assert_msg(strcmp(got, fips[v].digest) == 0, "%s: vector %zu strata_hash: %s",
			      name, v, got);
	}

	/* One million 'a', in pieces of 1, 63, 64, 65, ... bytes (and one-shot). */
	static uint8_t a[1000000];
	memset(a, 'a', sizeof(a));
	static const char million[] =
		"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
	strata_sha256(d, a, sizeof(a));
	hex(got, d, sizeof(d));
	ck_assert_msg(strcmp(got, million) == 0, "%s: million a one-shot: %s", name, got);
	static const size_t pieces[] = {1, 63, 64, 65, 1000, 4096, 127, 3};
	struct strata_sha256 s;
	strata_sha256_init(&s);
	size_t off = 0;
	for (size_t k = 0; off < sizeof(a); k++) {
		size_t n = pieces[k % (sizeof(pieces) / sizeof(pieces[0]))];
		if (n > sizeof(a) - off)
			n = sizeof(a) - off;
		strata_sha256_update(&s, a + off, n);
		off += n;
	}
	strata_sha256_final(&s, d);
	hex(got, d, sizeof(d));
	ck_assert_msg(strcmp(got, million) == 0, "%s: million a in pieces: %s", name, got);
}
END_TEST

/* ---- RFC 4231 ---- */

static void unhex(uint8_t *out, size_t len, const char *h)
{
	ck_assert_int_eq(strata_hex_decode(out, len, h), 0);
}

START_TEST(test_rfc4231)
{
	const char *name;
	if (!use_backend(_i, &name))
		return;
	struct {
		uint8_t key[131];
		size_t keylen;
		uint8_t data[152];
		size_t datalen;
		const char *mac;
		size_t maclen; /* test case 5 compares the first 128 bits only */
	} tc[7];
	memset(tc, 0, sizeof(tc));
	memset(tc[0].key, 0x0b, tc[0].keylen = 20);
	memcpy(tc[0].data, "Hi There", tc[0].datalen = 8);
	tc[0].mac = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
	memcpy(tc[1].key, "Jefe", tc[1].keylen = 4);
	memcpy(tc[1].data, "what do ya want for nothing?", tc[1].datalen = 28);
	tc[1].mac = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
	memset(tc[2].key, 0xaa, tc[2].keylen = 20);
	memset(tc[2].data, 0xdd, tc[2].datalen = 50);
	tc[2].mac = "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe";
	unhex(tc[3].key, tc[3].keylen = 25, "0102030405060708090a0b0c0d0e0f10111213141516171819");
	memset(tc[3].data, 0xcd, tc[3].datalen = 50);
	tc[3].mac = "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b";
	memset(tc[4].key, 0x0c, tc[4].keylen = 20);
	memcpy(tc[4].data, "Test With Truncation", tc[4].datalen = 20);
	tc[4].mac = "a3b6167473100ee06e0c796c2955552b";
	memset(tc[5].key, 0xaa, tc[5].keylen = 131);
	memcpy(tc[5].data, "Test Using Larger Than Block-Size Key - Hash Key First",
	       tc[5].datalen = 54);
	tc[5].mac = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
	memset(tc[6].key, 0xaa, tc[6].keylen = 131);
	memcpy(tc[6].data,
	       "This is a test using a larger than block-size key and a larger than block-size "
	       "data. The key needs to be hashed before being used by the HMAC algorithm.",
	       tc[6].datalen = 152);
	tc[6].mac = "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2";

	for (size_t t = 0; t < 7; t++) {
		uint8_t mac[STRATA_SHA256_LEN];
		char got[2 * STRATA_SHA256_LEN + 1];
		size_t want_len = strlen(tc[t].mac) / 2;
		strata_hmac_sha256(mac, tc[t].key, tc[t].keylen, tc[t].data, tc[t].datalen);
		hex(got, mac, want_len);
		ck_assert_msg(strcmp(got, tc[t].mac) == 0, "%s: RFC 4231 test case %zu: %s", name,
			      t + 1, got);
		/* Incrementally, in two pieces. */
		struct strata_hmac_sha256 st;
		strata_hmac_sha256_init(&st, tc[t].key, tc[t].keylen);
		strata_hmac_sha256_update(&st, tc[t].data, tc[t].datalen / 3);
		strata_hmac_sha256_update(&st, tc[t].data + tc[t].datalen / 3,
					  tc[t].datalen - tc[t].datalen / 3);
		strata_hmac_sha256_final(&st, mac);
		hex(got, mac, want_len);
		ck_assert_msg(strcmp(got, tc[t].mac) == 0,
			      "%s: RFC 4231 test case %zu in pieces: %s", name, t + 1, got);
	}
}
END_TEST

/* ---- against libsodium ---- */

/* Feeds data to update() in up to four pieces split at random points (empty pieces included). */
static void sha256_split(uint8_t out[STRATA_SHA256_LEN], const uint8_t *data, size_t len)
{
	struct strata_sha256 s;
	strata_sha256_init(&s);
	size_t off = 0;
	for (int k = 0; k < 3; k++) {
		size_t n = (size_t)(rnd() % (len - off + 1));
		strata_sha256_update(&s, data + off, n);
		off += n;
	}
	strata_sha256_update(&s, data + off, len - off);
	strata_sha256_final(&s, out);
}

START_TEST(test_against_libsodium)
{
	const char *name;
	if (!use_backend(_i, &name))
		return;
	static uint8_t data[MAX_LEN];
	uint8_t key[150];
	fill(data, sizeof(data));
	for (size_t len = 0; len <= MAX_LEN; len++) {
		uint8_t want[STRATA_SHA256_LEN], got[STRATA_SHA256_LEN];
		crypto_hash_sha256(want, data, len);
		strata_sha256(got, data, len);
		ck_assert_msg(memcmp(got, want, sizeof(want)) == 0, "%s: SHA-256, %zu bytes", name,
			      len);
		sha256_split(got, data, len);
		ck_assert_msg(memcmp(got, want, sizeof(want)) == 0,
			      "%s: SHA-256 in pieces, %zu bytes", name, len);

		size_t keylen = (size_t)(rnd() % (sizeof(key) + 1));
		fill(key, keylen);
		crypto_auth_hmacsha256_state ls;
		crypto_auth_hmacsha256_init(&ls, key, keylen);
		crypto_auth_hmacsha256_update(&ls, data, len);
		crypto_auth_hmacsha256_final(&ls, want);
		struct strata_hmac_sha256 st;
		strata_hmac_sha256_init(&st, key, keylen);
		size_t cut = (size_t)(rnd() % (len + 1));
		strata_hmac_sha256_update(&st, data, cut);
		strata_hmac_sha256_update(&st, data + cut, len - cut);
		strata_hmac_sha256_final(&st, got);
		ck_assert_msg(memcmp(got, want, sizeof(want)) == 0,
			      "%s: HMAC-SHA256, %zu-byte key, %zu bytes", name, keylen, len);
		/* Change one byte: everything differs (catches a digest that ignores the data). */
		if (len > 0) {
			size_t at = (size_t)(rnd() % len);
			data[at] ^= 0x01;
			strata_sha256(got, data, len);
			ck_assert_msg(memcmp(got, want, sizeof(want)) != 0, "%s: changed byte",
				      name);
			data[at] ^= 0x01;
		}
	}
}
END_TEST

/* crypto.c's functions (32-byte link keys, the prepared-key MAC) against libsodium. */
START_TEST(test_crypto_routes)
{
	const char *name;
	if (!use_backend(_i, &name))
		return;
	static uint8_t data[MAX_LEN];
	uint8_t key[STRATA_LINK_KEY_LEN];
	fill(data, sizeof(data));
	fill(key, sizeof(key));
	struct strata_mac_key *mk = strata_secure_alloc(sizeof(*mk));
	ck_assert_ptr_nonnull(mk);
	strata_mac_key_init(mk, key);
	for (size_t len = 0; len <= MAX_LEN; len += 1 + (size_t)(rnd() % 23)) {
		uint8_t want[STRATA_MAC_LEN], got[STRATA_MAC_LEN];
		crypto_hash_sha256(want, data, len);
		strata_hash(got, data, len);
		ck_assert_msg(memcmp(got, want, sizeof(want)) == 0, "%s: strata_hash, %zu bytes",
			      name, len);
		crypto_auth_hmacsha256(want, data, len, key);
		strata_mac(got, key, data, len);
		ck_assert_msg(memcmp(got, want, sizeof(want)) == 0, "%s: strata_mac, %zu bytes",
			      name, len);
		strata_mac_keyed(got, mk, data, len);
		ck_assert_msg(memcmp(got, want, sizeof(want)) == 0,
			      "%s: strata_mac_keyed, %zu bytes", name, len);
		ck_assert(strata_mac_verify(want, key, data, len));
		ck_assert(strata_mac_keyed_verify(want, mk, data, len));
		want[len % STRATA_MAC_LEN] ^= 0x20;
		ck_assert(!strata_mac_verify(want, key, data, len));
		ck_assert(!strata_mac_keyed_verify(want, mk, data, len));
	}
	strata_secure_free(mk);
}
END_TEST

/* ---- selection ---- */

START_TEST(test_select)
{
	bool ni = strata_sha256_have_sha_ni();
	ck_assert_int_eq(strata_sha256_use(STRATA_SHA256_PORTABLE), 0);
	ck_assert_int_eq(strata_sha256_active(), STRATA_SHA256_PORTABLE);
	ck_assert_int_eq(strata_sha256_use(STRATA_SHA256_SHA_NI), ni ? 0 : STRATA_ENOENT);
	ck_assert_int_eq(strata_sha256_active(),
			 ni ? STRATA_SHA256_SHA_NI : STRATA_SHA256_PORTABLE);
	ck_assert_int_eq(strata_sha256_use(STRATA_SHA256_AUTO), 0);
	ck_assert_int_eq(strata_sha256_active(),
			 ni ? STRATA_SHA256_SHA_NI : STRATA_SHA256_PORTABLE);

	ck_assert_int_eq(setenv("STRATA_SHA256", "portable", 1), 0);
	ck_assert_int_eq(strata_sha256_setup(), 0);
	ck_assert_int_eq(strata_sha256_active(), STRATA_SHA256_PORTABLE);
	ck_assert_int_eq(setenv("STRATA_SHA256", "auto", 1), 0);
	ck_assert_int_eq(strata_sha256_setup(), 0);
	ck_assert_int_eq(strata_sha256_active(),
			 ni ? STRATA_SHA256_SHA_NI : STRATA_SHA256_PORTABLE);
	ck_assert_int_eq(setenv("STRATA_SHA256", "sha-ni", 1), 0);
	ck_assert_int_eq(strata_sha256_setup(), ni ? 0 : STRATA_ECONFIG);
	ck_assert_int_eq(strata_sha256_active(),
			 ni ? STRATA_SHA256_SHA_NI : STRATA_SHA256_PORTABLE);
	/* An unknown value is an error and changes nothing. */
	ck_assert_int_eq(strata_sha256_use(STRATA_SHA256_PORTABLE), 0);
	ck_assert_int_eq(setenv("STRATA_SHA256", "fast", 1), 0);
	ck_assert_int_eq(strata_sha256_setup(), STRATA_ECONFIG);
	ck_assert_int_eq(strata_crypto_init(), STRATA_ECONFIG);
	ck_assert_int_eq(strata_sha256_active(), STRATA_SHA256_PORTABLE);
	ck_assert_int_eq(unsetenv("STRATA_SHA256"), 0);
	ck_assert_int_eq(strata_crypto_init(), 0);
	ck_assert_int_eq(strata_sha256_active(),
			 ni ? STRATA_SHA256_SHA_NI : STRATA_SHA256_PORTABLE);
	printf("sha256: %s (SHA extensions %s)\n", strata_sha256_name(strata_sha256_active()),
	       ni ? "present" : "absent");
}
END_TEST

static Suite *sha256_suite(void)
{
	Suite *s = suite_create("sha256");
	TCase *tc = tcase_create("sha256");
	/* A hang guard, not a speed bound (each test takes milliseconds). */
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_fips_vectors, 0, 2);
	tcase_add_loop_test(tc, test_rfc4231, 0, 2);
	tcase_add_loop_test(tc, test_against_libsodium, 0, 2);
	tcase_add_loop_test(tc, test_crypto_routes, 0, 2);
	tcase_add_test(tc, test_select);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* The tests pick the backend themselves: the environment must not make init fail. */
	unsetenv("STRATA_SHA256");
	if (strata_crypto_init() != 0)
		return 1;
	SRunner *sr = srunner_create(sha256_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
