/* Unit tests for key files (src/rt/uv/keyfile.h): the secret file is written with mode 0600 and
 * never overwritten, reading refuses group/other access and malformed or corrupt content, and a
 * written pair reads back. main() makes one mkdtemp directory under /tmp and removes it with
 * everything inside at the end, even when a test failed half-way; each test works in its own
 * subdirectory of it. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "crypto/crypto.h"
#include "rt/uv/keyfile.h"

static char base[64];
static char dir[128];
static char key_path[256];
static char pub_path[256];
static uint8_t pk[STRATA_PK_LEN], sk[STRATA_SK_LEN];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "%s/tXXXXXX", base);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(key_path, sizeof(key_path), "%s/node.key", dir);
	snprintf(pub_path, sizeof(pub_path), "%s/node.key.pub", dir);
	uint8_t seed[32];
	memset(seed, 0x42, sizeof(seed));
	ck_assert_int_eq(strata_keypair_seed(pk, sk, seed), 0);
	umask(022);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, mode);
	ck_assert_int_ge(fd, 0);
	size_t len = strlen(text);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static void read_text(const char *path, char *buf, size_t cap)
{
	FILE *fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	size_t n = fread(buf, 1, cap - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static const char *secret_line(void)
{
	static char line[200];
	char hex[2 * STRATA_SK_LEN + 1];
	strata_hex_encode(hex, sk, STRATA_SK_LEN);
	snprintf(line, sizeof(line), "ed25519-secret %s\n", hex);
	return line;
}

START_TEST(test_write_modes_and_content)
{
	char err[1024] = "";
	ck_assert_msg(strata_keyfile_write(key_path, pk, sk, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(mode_of(key_path), 0600);
	ck_assert_uint_eq(mode_of(pub_path), 0644);

	char buf[512];
	read_text(key_path, buf, sizeof(buf));
	ck_assert_str_eq(buf, secret_line());

	char hex[2 * STRATA_PK_LEN + 1], expect[128];
	strata_hex_encode(hex, pk, STRATA_PK_LEN);
	snprintf(expect, sizeof(expect), "ed25519-public %s\n", hex);
	read_text(pub_path, buf, sizeof(buf));
	ck_assert_str_eq(buf, expect);
}
END_TEST

START_TEST(test_write_permissive_umask)
{
	/* Even with umask 0 the secret stays private. */
	umask(0);
	ck_assert_int_eq(strata_keyfile_write(key_path, pk, sk, NULL, 0), 0);
	ck_assert_uint_eq(mode_of(key_path), 0600);
}
END_TEST

START_TEST(test_round_trip)
{
	char err[1024] = "";
	ck_assert_int_eq(strata_keyfile_write(key_path, pk, sk, err, sizeof(err)), 0);
	uint8_t *sk2 = strata_secure_alloc(STRATA_SK_LEN);
	ck_assert_ptr_nonnull(sk2);
	uint8_t pk2[STRATA_PK_LEN];
	ck_assert_msg(strata_keyfile_read(key_path, pk2, sk2, err, sizeof(err)) == 0, "%s", err);
	ck_assert(memcmp(pk2, pk, STRATA_PK_LEN) == 0);
	ck_assert(memcmp(sk2, sk, STRATA_SK_LEN) == 0);
	strata_secure_free(sk2);

	uint8_t pk3[STRATA_PK_LEN];
	ck_assert_msg(strata_pubkey_read(pub_path, pk3, err, sizeof(err)) == 0, "%s", err);
	ck_assert(memcmp(pk3, pk, STRATA_PK_LEN) == 0);

	/* A stricter mode than 0600 is fine too. */
	ck_assert_int_eq(chmod(key_path, 0400), 0);
	uint8_t sk4[STRATA_SK_LEN];
	ck_assert_int_eq(strata_keyfile_read(key_path, pk2, sk4, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_refuse_overwrite)
{
	char err[1024] = "";
	ck_assert_int_eq(strata_keyfile_write(key_path, pk, sk, err, sizeof(err)), 0);

	uint8_t pk2[STRATA_PK_LEN], sk2[STRATA_SK_LEN];
	ck_assert_int_eq(strata_keypair(pk2, sk2), 0);
	ck_assert_int_eq(strata_keyfile_write(key_path, pk2, sk2, err, sizeof(err)), STRATA_EIO);
	char expect[1024];
	snprintf(expect, sizeof(expect), "key file %s already exists; refusing to overwrite it",
		 key_path);
	ck_assert_str_eq(err, expect);
	char buf[512];
	read_text(key_path, buf, sizeof(buf));
	ck_assert_str_eq(buf, secret_line()); /* the first key is untouched */
}
END_TEST

START_TEST(test_pub_exists_leaves_no_secret)
{
	char err[1024] = "";
	write_text(pub_path, "someone else's\n", 0644);
	ck_assert_int_eq(strata_keyfile_write(key_path, pk, sk, err, sizeof(err)), STRATA_EIO);
	ck_assert_ptr_nonnull(strstr(err, "already exists"));
	ck_assert_int_ne(access(key_path, F_OK), 0);
}
END_TEST

START_TEST(test_write_mismatched_pair)
{
	char err[1024] = "";
	uint8_t other[STRATA_PK_LEN];
	memcpy(other, pk, sizeof(other));
	other[0] ^= 1;
	ck_assert_int_eq(strata_keyfile_write(key_path, other, sk, err, sizeof(err)),
			 STRATA_EINVAL);
	ck_assert_int_ne(access(key_path, F_OK), 0);
	ck_assert_int_ne(access(pub_path, F_OK), 0);
}
END_TEST

static const mode_t bad_modes[] = {0644, 0640, 0604, 0660, 0606, 0610, 0601, 0700 | 0004};

START_TEST(test_refuse_open_modes)
{
	char err[1024] = "";
	ck_assert_int_eq(strata_keyfile_write(key_path, pk, sk, err, sizeof(err)), 0);
	mode_t m = bad_modes[_i];
	ck_assert_int_eq(chmod(key_path, m), 0);
	uint8_t pk2[STRATA_PK_LEN], sk2[STRATA_SK_LEN];
	memset(sk2, 0x77, sizeof(sk2));
	ck_assert_int_eq(strata_keyfile_read(key_path, pk2, sk2, err, sizeof(err)), STRATA_ECONFIG);
	char expect[1024];
	snprintf(expect, sizeof(expect), "key file %s has mode %04o; it must be 0600 (chmod 600 %s)",
		 key_path, (unsigned)m, key_path);
	ck_assert_str_eq(err, expect);
	for (size_t i = 0; i < sizeof(sk2); i++)
		ck_assert_uint_eq(sk2[i], 0); /* nothing secret is left in the caller's buffer */
}
END_TEST

static const char *const malformed[] = {
	"",
	"\n",
	"ed25519-secret\n",
	"ed25519-secret \n",
	"ed25519-public 00\n",
	/* 126 hex characters: one byte short */
	"ed25519-secret "
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e\n",
	/* 130: one byte long */
	"ed25519-secret "
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20\n",
	/* not hex */
	"ed25519-secret "
	"zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
	/* a second line */
	"ed25519-secret "
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\nmore\n",
	/* two spaces */
	"ed25519-secret  "
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
};

START_TEST(test_refuse_malformed)
{
	char err[1024] = "";
	write_text(key_path, malformed[_i], 0600);
	uint8_t pk2[STRATA_PK_LEN], sk2[STRATA_SK_LEN];
	ck_assert_int_eq(strata_keyfile_read(key_path, pk2, sk2, err, sizeof(err)), STRATA_ECONFIG);
	char expect[1024];
	snprintf(expect, sizeof(expect),
		 "key file %s is malformed: expected one line 'ed25519-secret' followed by 128 hex "
		 "characters",
		 key_path);
	ck_assert_str_eq(err, expect);
}
END_TEST

START_TEST(test_refuse_corrupt_and_large)
{
	char err[1024] = "";
	uint8_t pk2[STRATA_PK_LEN], sk2[STRATA_SK_LEN];

	/* Well-formed, but the public half belongs to another seed. */
	uint8_t bad[STRATA_SK_LEN];
	memcpy(bad, sk, sizeof(bad));
	bad[STRATA_SK_LEN - 1] ^= 1;
	char hex[2 * STRATA_SK_LEN + 1], text[256];
	strata_hex_encode(hex, bad, sizeof(bad));
	snprintf(text, sizeof(text), "ed25519-secret %s\n", hex);
	write_text(key_path, text, 0600);
	ck_assert_int_eq(strata_keyfile_read(key_path, pk2, sk2, err, sizeof(err)), STRATA_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "is corrupt"));

	/* Windows line ending and no line ending are fine. */
	strata_hex_encode(hex, sk, sizeof(sk));
	snprintf(text, sizeof(text), "ed25519-secret %s\r\n", hex);
	write_text(key_path, text, 0600);
	ck_assert_int_eq(strata_keyfile_read(key_path, pk2, sk2, err, sizeof(err)), 0);
	snprintf(text, sizeof(text), "ed25519-secret %s", hex);
	write_text(key_path, text, 0600);
	ck_assert_int_eq(strata_keyfile_read(key_path, pk2, sk2, err, sizeof(err)), 0);
	ck_assert(memcmp(pk2, pk, sizeof(pk)) == 0);

	char big[4096];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_text(key_path, big, 0600);
	ck_assert_int_eq(strata_keyfile_read(key_path, pk2, sk2, err, sizeof(err)), STRATA_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "too large"));
}
END_TEST

START_TEST(test_missing_and_not_regular)
{
	char err[1024] = "";
	uint8_t pk2[STRATA_PK_LEN], sk2[STRATA_SK_LEN];
	ck_assert_int_eq(strata_keyfile_read(key_path, pk2, sk2, err, sizeof(err)), STRATA_EIO);
	ck_assert_ptr_nonnull(strstr(err, "cannot open key file"));
	ck_assert_ptr_nonnull(strstr(err, "No such file"));

	ck_assert_int_eq(mkdir(key_path, 0700), 0);
	ck_assert_int_ne(strata_keyfile_read(key_path, pk2, sk2, err, sizeof(err)), 0);
	rmdir(key_path);
}
END_TEST

START_TEST(test_pubkey)
{
	char hex[2 * STRATA_PK_LEN + 1];
	uint8_t out[STRATA_PK_LEN];
	strata_hex_encode(hex, pk, STRATA_PK_LEN);
	ck_assert_int_eq(strata_pubkey_parse_hex(out, hex), 0);
	ck_assert(memcmp(out, pk, STRATA_PK_LEN) == 0);
	ck_assert_int_eq(strata_pubkey_parse_hex(out, "00"), STRATA_EINVAL);
	/* 64 valid hex characters that are not a curve point. */
	ck_assert_int_eq(strata_pubkey_parse_hex(out, "0000000000000000000000000000000000000000000"
						      "000000000000000000000"),
			 STRATA_EINVAL);

	char err[1024] = "";
	write_text(pub_path, "ed25519-public 1234\n", 0644);
	ck_assert_int_eq(strata_pubkey_read(pub_path, out, err, sizeof(err)), STRATA_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "is malformed"));
}
END_TEST

static Suite *keyfile_suite(void)
{
	Suite *s = suite_create("keyfile");
	TCase *tc = tcase_create("keyfile");
	/* A hang guard, not a speed bound: Check's 4 s default tripped under a heavily loaded
	 * machine (test_kv_sm, once). */
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_write_modes_and_content);
	tcase_add_test(tc, test_write_permissive_umask);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_refuse_overwrite);
	tcase_add_test(tc, test_pub_exists_leaves_no_secret);
	tcase_add_test(tc, test_write_mismatched_pair);
	tcase_add_loop_test(tc, test_refuse_open_modes, 0,
			    (int)(sizeof(bad_modes) / sizeof(bad_modes[0])));
	tcase_add_loop_test(tc, test_refuse_malformed, 0,
			    (int)(sizeof(malformed) / sizeof(malformed[0])));
	tcase_add_test(tc, test_refuse_corrupt_and_large);
	tcase_add_test(tc, test_missing_and_not_regular);
	tcase_add_test(tc, test_pubkey);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (strata_crypto_init() != 0)
		return 1;
	snprintf(base, sizeof(base), "/tmp/strata-keyfile-XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	SRunner *sr = srunner_create(keyfile_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		perror(base);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
