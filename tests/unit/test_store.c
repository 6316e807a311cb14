/* Unit tests for the LMDB stable storage (src/store/store.h): writes are durable only after
 * sync, reads see staged writes, many stores are one commit (group commit), a turn whose store
 * failed is lost as a whole, and errors are returned rather than aborting. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "store/store.h"

static char dir[64];

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "/tmp/strata-store-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void rm_tmp(void)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

static struct strata_store *open_store(size_t map)
{
	struct strata_store *s = NULL;
	char err[256];
	int rc = strata_store_open(dir, map, &s, err, sizeof(err));
	ck_assert_msg(rc == 0, "open: %s", err);
	return s;
}

/* Asserts that key holds exactly val. */
static void expect(struct strata_store *s, const char *key, const char *val)
{
	struct strata_msg *m = NULL;
	ck_assert_int_eq(strata_store_get(s, key, &m), 0);
	ck_assert_uint_eq(m->len, strlen(val));
	ck_assert(memcmp(m->data, val, m->len) == 0);
	strata_msg_unref(m);
}

static void expect_absent(struct strata_store *s, const char *key)
{
	struct strata_msg *m = (struct strata_msg *)1;
	ck_assert_int_eq(strata_store_get(s, key, &m), STRATA_ENOENT);
	ck_assert_ptr_null(m);
}

START_TEST(test_roundtrip_durable)
{
	mkdir_tmp();
	struct strata_store *s = open_store(0);
	expect_absent(s, "a");
	ck_assert_int_eq(strata_store_put(s, "a", "one", 3), 0);
	expect(s, "a", "one"); /* staged writes are visible before sync */
	ck_assert_int_eq(strata_store_put(s, "a", "two", 3), 0);
	ck_assert_int_eq(strata_store_put(s, "empty", NULL, 0), 0);
	ck_assert_int_eq(strata_store_sync(s), 0);
	expect(s, "a", "two");
	strata_store_close(s);

	s = open_store(0);
	expect(s, "a", "two");
	expect(s, "empty", "");
	strata_store_close(s);
	rm_tmp();
}
END_TEST

START_TEST(test_unsynced_lost)
{
	mkdir_tmp();
	struct strata_store *s = open_store(0);
	ck_assert_int_eq(strata_store_put(s, "kept", "1", 1), 0);
	ck_assert_int_eq(strata_store_sync(s), 0);
	ck_assert_int_eq(strata_store_put(s, "lost", "2", 1), 0);
	ck_assert_int_eq(strata_store_put(s, "kept", "3", 1), 0);
	strata_store_close(s); /* a crash before sync */
	s = open_store(0);
	expect(s, "kept", "1");
	expect_absent(s, "lost");
	strata_store_close(s);
	rm_tmp();
}
END_TEST

START_TEST(test_group_commit)
{
	mkdir_tmp();
	struct strata_store *s = open_store(0);
	ck_assert_int_eq(strata_store_sync(s), 0); /* nothing staged: no transaction */
	ck_assert_uint_eq(strata_store_commits(s), 0);
	char key[32];
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(strata_store_put(s, key, key, strlen(key)), 0);
	}
	ck_assert_int_eq(strata_store_sync(s), 0);
	ck_assert_uint_eq(strata_store_commits(s), 1);
	ck_assert_int_eq(strata_store_sync(s), 0);
	ck_assert_uint_eq(strata_store_commits(s), 1);
	expect(s, "k57", "k57");
	strata_store_close(s);
	rm_tmp();
}
END_TEST

START_TEST(test_bad_keys)
{
	mkdir_tmp();
	struct strata_store *s = open_store(0);
	char big[STRATA_STORE_KEY_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	ck_assert_int_eq(strata_store_put(s, "", "v", 1), STRATA_EINVAL);
	ck_assert_int_eq(strata_store_put(s, big, "v", 1), STRATA_EINVAL);
	ck_assert(strlen(strata_store_error(s)) > 0);
	struct strata_msg *m = NULL;
	ck_assert_int_eq(strata_store_get(s, big, &m), STRATA_EINVAL);
	big[STRATA_STORE_KEY_MAX] = 0; /* the longest legal key */
	ck_assert_int_eq(strata_store_put(s, big, "v", 1), 0);
	ck_assert_int_eq(strata_store_sync(s), 0);
	expect(s, big, "v");
	strata_store_close(s);
	rm_tmp();
}
END_TEST

START_TEST(test_map_full_loses_turn)
{
	mkdir_tmp();
	struct strata_store *s = open_store(256 * 1024);
	ck_assert_int_eq(strata_store_put(s, "before", "ok", 2), 0);
	ck_assert_int_eq(strata_store_sync(s), 0);
	static char blob[64 * 1024];
	memset(blob, 7, sizeof(blob));
	char key[32];
	int rc = 0, i;
	ck_assert_int_eq(strata_store_put(s, "same-turn", "x", 1), 0);
	for (i = 0; i < 64 && rc == 0; i++) {
		snprintf(key, sizeof(key), "blob%d", i);
		rc = strata_store_put(s, key, blob, sizeof(blob));
	}
	ck_assert_int_eq(rc, STRATA_EIO);
	ck_assert_ptr_nonnull(strstr(strata_store_error(s), "MAP_FULL"));
	/* The turn is lost as a whole, and the sync says so. */
	ck_assert_int_eq(strata_store_put(s, "after-failure", "x", 1), STRATA_EIO);
	ck_assert_int_eq(strata_store_sync(s), STRATA_EIO);
	expect_absent(s, "same-turn");
	expect_absent(s, "blob0");
	expect(s, "before", "ok");
	/* The next turn starts clean. */
	ck_assert_int_eq(strata_store_put(s, "next", "y", 1), 0);
	ck_assert_int_eq(strata_store_sync(s), 0);
	expect(s, "next", "y");
	strata_store_close(s);
	rm_tmp();
}
END_TEST

START_TEST(test_open_missing_dir)
{
	struct strata_store *s = (struct strata_store *)1;
	char err[256] = "";
	ck_assert_int_eq(strata_store_open("/nonexistent/strata/dir", 0, &s, err, sizeof(err)),
			 STRATA_EIO);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/strata/dir"));
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("lmdb");
	tcase_add_test(tc, test_roundtrip_durable);
	tcase_add_test(tc, test_unsynced_lost);
	tcase_add_test(tc, test_group_commit);
	tcase_add_test(tc, test_bad_keys);
	tcase_add_test(tc, test_map_full_loses_turn);
	tcase_add_test(tc, test_open_missing_dir);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(store_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
