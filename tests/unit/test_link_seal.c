/* Unit tests for sealed peer datagrams ([cluster] encrypt, src/links/datagram.c link_encode): a
 * datagram carrying a known payload holds it in clear when MACed (the broken variant for this
 * check: the check can fail) and nowhere when sealed; sealing the same datagram for the two
 * directions of a pair gives different bytes; the prefix says which format it is. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "crypto/crypto.h"
#include "links/internal.h"

static const char probe[] = "plaintext-probe-7731";

static size_t encode(bool encrypt, uint32_t from, uint32_t to, uint8_t *out)
{
	struct strata_config cfg;
	strata_config_defaults(&cfg);
	cfg.encrypt = encrypt;
	cfg.cluster_hash = 0x1234;
	uint8_t key[STRATA_LINK_KEY_LEN];
	memset(key, 9, sizeof key);
	Strata__Wire__Frame f = STRATA__WIRE__FRAME__INIT;
	Strata__Wire__Frame *fp = &f;
	f.link = 2;
	f.module = 7;
	f.seq = 1;
	f.payload.data = (uint8_t *)(uintptr_t)probe;
	f.payload.len = sizeof probe - 1;
	Strata__Wire__Datagram d = STRATA__WIRE__DATAGRAM__INIT;
	d.incarnation = 5;
	d.receiver_incarnation = 6;
	d.counter = 42;
	d.n_frames = 1;
	d.frames = &fp;
	uint8_t scratch[512];
	size_t len = link_encode(&cfg, key, NULL, from, to, &d, out, scratch);
	ck_assert_uint_eq(len, LINK_PREFIX_LEN + strata__wire__datagram__get_packed_size(&d) +
				       STRATA_MAC_LEN);
	return len;
}

START_TEST(test_mac_in_clear)
{
	uint8_t out[512];
	size_t len = encode(false, 1, 2, out);
	ck_assert_uint_eq(out[1], 0);
	ck_assert(memmem(out, len, probe, sizeof probe - 1) != NULL);
}
END_TEST

START_TEST(test_sealed)
{
	uint8_t a[512], b[512];
	size_t la = encode(true, 1, 2, a);
	size_t lb = encode(true, 2, 1, b);
	ck_assert_uint_eq(a[1], LINK_SEALED);
	ck_assert(memmem(a, la, probe, sizeof probe - 1) == NULL);
	ck_assert(memmem(a, la, "probe", 5) == NULL);
	/* The same datagram the other way round: another direction key, other bytes. */
	ck_assert_uint_eq(la, lb);
	ck_assert(memcmp(a + LINK_PREFIX_LEN + LINK_NONCE_LEN, b + LINK_PREFIX_LEN + LINK_NONCE_LEN,
			 la - LINK_PREFIX_LEN - LINK_NONCE_LEN) != 0);
}
END_TEST

int main(void)
{
	if (strata_crypto_init() != 0)
		return 1;
	Suite *s = suite_create("link_seal");
	TCase *tc = tcase_create("link_seal");
	/* A hang guard, not a speed bound: Check's 4 s default tripped under a heavily loaded
	 * machine (test_kv_sm, once). */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_mac_in_clear);
	tcase_add_test(tc, test_sealed);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
