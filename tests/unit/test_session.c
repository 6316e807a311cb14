/* Unit tests for client sessions (src/crypto/session.h): the handshake succeeds with one key on
 * both sides and both directions then carry frames; another key fails at both proofs; a
 * captured handshake replayed to a new server session fails; a frame altered, replayed,
 * reordered or moved to another session does not open; the RESP password is derived, stable
 * and not the key. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "crypto/crypto.h"
#include "crypto/session.h"

static void key_fill(uint8_t k[STRATA_CLIENT_KEY_LEN], uint8_t b)
{
	memset(k, b, STRATA_CLIENT_KEY_LEN);
}

/* A full handshake between c (client key ck) and s (server key sk). Returns the client's and
 * the server's last results through rc_c and rc_s. */
static void handshake(struct strata_session *c, const uint8_t *ck, struct strata_session *s,
		      const uint8_t *sk, int *rc_c, int *rc_s, uint8_t m1[STRATA_SESSION_HELLO_LEN],
		      uint8_t m3[STRATA_SESSION_FINISH_LEN])
{
	uint8_t m2[STRATA_SESSION_ACCEPT_LEN];
	ck_assert_int_eq(strata_session_client_hello(c, ck, m1), 0);
	ck_assert(strata_session_is_hello(m1, STRATA_SESSION_HELLO_LEN));
	ck_assert_int_eq(strata_session_server_accept(s, sk, m1, STRATA_SESSION_HELLO_LEN, m2), 0);
	*rc_c = strata_session_client_finish(c, m2, sizeof m2, m3);
	*rc_s = strata_session_server_finish(s, m3, STRATA_SESSION_FINISH_LEN);
}

START_TEST(test_roundtrip)
{
	uint8_t k[32];
	key_fill(k, 7);
	struct strata_session c, s;
	uint8_t m1[STRATA_SESSION_HELLO_LEN], m3[STRATA_SESSION_FINISH_LEN];
	int rc_c, rc_s;
	handshake(&c, k, &s, k, &rc_c, &rc_s, m1, m3);
	ck_assert_int_eq(rc_c, 0);
	ck_assert_int_eq(rc_s, 0);
	for (int i = 0; i < 5; i++) {
		char msg[32], back[32];
		int len = snprintf(msg, sizeof msg, "request %d", i);
		uint8_t sealed[64];
		strata_session_seal(&c, sealed, (const uint8_t *)msg, (size_t)len);
		ck_assert(memmem(sealed, (size_t)len + STRATA_SESSION_ABYTES, "request", 7) == NULL);
		ck_assert_int_eq(strata_session_open(&s, (uint8_t *)back, sealed,
						     (size_t)len + STRATA_SESSION_ABYTES),
				 0);
		ck_assert(memcmp(back, msg, (size_t)len) == 0);
		strata_session_seal(&s, sealed, (const uint8_t *)msg, (size_t)len);
		ck_assert_int_eq(strata_session_open(&c, (uint8_t *)back, sealed,
						     (size_t)len + STRATA_SESSION_ABYTES),
				 0);
	}
}
END_TEST

START_TEST(test_wrong_key)
{
	uint8_t a[32], b[32];
	key_fill(a, 1);
	key_fill(b, 2);
	struct strata_session c, s;
	uint8_t m1[STRATA_SESSION_HELLO_LEN], m3[STRATA_SESSION_FINISH_LEN];
	int rc_c, rc_s;
	handshake(&c, a, &s, b, &rc_c, &rc_s, m1, m3);
	ck_assert_int_eq(rc_c, STRATA_EAUTH);
	ck_assert_int_eq(rc_s, STRATA_EAUTH);
	ck_assert(!c.open && !s.open);
}
END_TEST

START_TEST(test_replayed_handshake)
{
	uint8_t k[32];
	key_fill(k, 3);
	struct strata_session c, s, s2;
	uint8_t m1[STRATA_SESSION_HELLO_LEN], m3[STRATA_SESSION_FINISH_LEN];
	int rc_c, rc_s;
	handshake(&c, k, &s, k, &rc_c, &rc_s, m1, m3);
	ck_assert_int_eq(rc_s, 0);
	/* The attacker replays messages 1 and 3 to a new connection: the server's ephemeral key is
	 * fresh, so the old proof does not verify. */
	uint8_t m2[STRATA_SESSION_ACCEPT_LEN];
	ck_assert_int_eq(strata_session_server_accept(&s2, k, m1, sizeof m1, m2), 0);
	ck_assert_int_eq(strata_session_server_finish(&s2, m3, sizeof m3), STRATA_EAUTH);
	/* Not a message 1 at all. */
	ck_assert_int_eq(strata_session_server_accept(&s2, k, m3, sizeof m3, m2), STRATA_EPROTO);
}
END_TEST

START_TEST(test_frames_refused)
{
	uint8_t k[32];
	key_fill(k, 4);
	struct strata_session c, s, c2, s2;
	uint8_t m1[STRATA_SESSION_HELLO_LEN], m3[STRATA_SESSION_FINISH_LEN];
	int rc_c, rc_s;
	handshake(&c, k, &s, k, &rc_c, &rc_s, m1, m3);
	handshake(&c2, k, &s2, k, &rc_c, &rc_s, m1, m3);
	uint8_t f1[32], f2[32], out[32];
	strata_session_seal(&c, f1, (const uint8_t *)"first", 5);
	strata_session_seal(&c, f2, (const uint8_t *)"second", 6);
	size_t l1 = 5 + STRATA_SESSION_ABYTES, l2 = 6 + STRATA_SESSION_ABYTES;
	/* From another session with the same client key: refused. */
	ck_assert_int_eq(strata_session_open(&s2, out, f1, l1), STRATA_EAUTH);
	/* Reordered: the second frame first. */
	struct strata_session s_copy = s;
	ck_assert_int_eq(strata_session_open(&s_copy, out, f2, l2), STRATA_EAUTH);
	/* Altered: one bit. */
	s_copy = s;
	f1[3] ^= 1;
	ck_assert_int_eq(strata_session_open(&s_copy, out, f1, l1), STRATA_EAUTH);
	f1[3] ^= 1;
	/* In order: fine; then the same frame again (a replay): refused. */
	ck_assert_int_eq(strata_session_open(&s, out, f1, l1), 0);
	s_copy = s;
	ck_assert_int_eq(strata_session_open(&s_copy, out, f1, l1), STRATA_EAUTH);
	ck_assert_int_eq(strata_session_open(&s, out, f2, l2), 0);
	ck_assert(memcmp(out, "second", 6) == 0);
	/* Too short to hold a tag. */
	ck_assert_int_eq(strata_session_open(&s, out, f1, 3), STRATA_EAUTH);
}
END_TEST

START_TEST(test_resp_password)
{
	uint8_t a[32], b[32];
	key_fill(a, 5);
	key_fill(b, 6);
	char pa[65], pa2[65], pb[65], hex[65];
	strata_session_resp_password(pa, a);
	strata_session_resp_password(pa2, a);
	strata_session_resp_password(pb, b);
	strata_hex_encode(hex, a, 32);
	ck_assert_uint_eq(strlen(pa), 64);
	ck_assert_str_eq(pa, pa2);
	ck_assert_str_ne(pa, pb);
	ck_assert_str_ne(pa, hex);
}
END_TEST

static Suite *session_suite(void)
{
	Suite *s = suite_create("session");
	TCase *tc = tcase_create("session");
	/* A hang guard, not a speed bound: Check's 4 s default tripped under a heavily loaded
	 * machine (test_kv_sm, once). */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_wrong_key);
	tcase_add_test(tc, test_replayed_handshake);
	tcase_add_test(tc, test_frames_refused);
	tcase_add_test(tc, test_resp_password);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (strata_crypto_init() != 0)
		return 1;
	SRunner *sr = srunner_create(session_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
