/* Wire ids of the catalog (src/core/stack.h): a frame names its module by wire id, so
 *   1. no two algorithms claim the same id (an algorithm claims wire_id .. wire_id + span - 1;
 *      its wire_also ids name shared lower modules and must not be another algorithm's own id);
 *   2. ids are stable across builds: every algorithm pinned below keeps the id it had when it was
 *      pinned (a node of one build must understand a node of the next). A new algorithm is not
 *      pinned yet and only has to avoid the ids in use; pin it here when it lands.
 * Each check also runs on a deliberately broken table and must reject it. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stack.h"

struct row {
	const char *name;
	uint16_t id;
	uint8_t span;
	uint16_t also[2];
};

/* Pinned 2026-12-06 from the catalog of main. */
static const struct row pinned[] = {
	{ "p", 1, 0, { 0, 0 } },	      { "le", 2, 0, { 0, 0 } },
	{ "evp", 3, 0, { 0, 0 } },	      { "omega", 4, 0, { 0, 0 } },
	{ "ele", 5, 0, { 0, 0 } },	      { "bld", 6, 0, { 0, 0 } },
	{ "beb", 32, 0, { 0, 0 } },	      { "lrb", 33, 0, { 0, 0 } },
	{ "erb", 34, 0, { 0, 0 } },	      { "urb_allack", 35, 0, { 0, 0 } },
	{ "urb", 36, 0, { 0, 0 } },	      { "sbeb", 37, 0, { 0, 0 } },
	{ "lbeb", 38, 0, { 0, 0 } },	      { "lurb", 39, 0, { 0, 0 } },
	{ "epb", 40, 0, { 0, 0 } },	      { "lpb", 41, 0, { 0, 0 } },
	{ "fifo", 42, 0, { 0, 0 } },	      { "ncb", 43, 0, { 0, 0 } },
	{ "wcb", 44, 0, { 0, 0 } },	      { "rowa", 96, 0, { 0, 0 } },
	{ "mv", 97, 0, { 0, 0 } },	      { "lmv", 98, 0, { 0, 0 } },
	{ "riwa", 99, 0, { 0, 0 } },	      { "riwm", 100, 0, { 0, 0 } },
	{ "riwca", 101, 0, { 0, 0 } },	      { "nnar", 102, 0, { 0, 0 } },
	{ "reg2atomic11", 104, 2, { 0, 0 } }, { "atomic11to1n", 106, 3, { 0, 0 } },
	{ "atomic1nton", 110, 2, { 0, 0 } },  { "aeb", 80, 0, { 0, 0 } },
	{ "seb", 81, 0, { 0, 0 } },	      { "brb", 82, 0, { 0, 0 } },
	{ "bcc", 83, 0, { 0, 0 } },	      { "bcc-seb", 84, 0, { 0, 0 } },
	{ "brc", 85, 0, { 0, 0 } },	      { "bmq", 144, 0, { 0, 0 } },
	{ "adbq", 145, 0, { 0, 0 } },	      { "dwbq", 146, 0, { 0, 0 } },
	{ "bql", 147, 0, { 0, 0 } },	      { "lkv", 160, 0, { 0, 0 } },
	{ "lkv-vc", 161, 0, { 0, 0 } },	      { "flood", 176, 0, { 0, 0 } },
	{ "hier", 177, 0, { 0, 0 } },	      { "uflood", 178, 0, { 0, 0 } },
	{ "uhier", 179, 0, { 0, 0 } },	      { "ldc", 181, 0, { 180, 0 } },
	{ "lldc", 183, 0, { 182, 0 } },	      { "rbc", 190, 0, { 0, 0 } },
	{ "rcons", 191, 0, { 0, 0 } },	      { "brcons", 207, 0, { 0, 0 } },
	{ "tob", 184, 0, { 0, 0 } },	      { "ltob", 215, 0, { 0, 0 } },
	{ "btob", 197, 0, { 0, 0 } },	      { "tob-consensus", 206, 0, { 0, 0 } },
	{ "kv", 208, 0, { 0, 0 } },	      { "nbac", 200, 0, { 0, 0 } },
	{ "trb", 201, 0, { 0, 0 } },	      { "gm", 202, 0, { 0, 0 } },
	{ "vs", 199, 0, { 0, 0 } },	      { "uvs", 205, 0, { 0, 0 } },
	{ "fast-uhier", 203, 0, { 0, 0 } },   { "fast-uflood", 204, 0, { 0, 0 } },
	/* local algorithms (job handlers) send nothing: wire id 0 */
	{ "jh-sync", 0, 0, { 0, 0 } },	      { "jh-async", 0, 0, { 0, 0 } },
	{ "jt", 0, 0, { 0, 0 } },
};

#define MAX_ROWS 512

struct table {
	struct row r[MAX_ROWS];
	size_t n;
};

static void collect(const struct strata_algo *a, void *arg)
{
	struct table *t = arg;
	ck_assert_uint_lt(t->n, MAX_ROWS);
	t->r[t->n++] = (struct row){ a->name, a->wire_id, a->wire_span,
				     { a->wire_also[0], a->wire_also[1] } };
}

/* Check 1 on t: 0 if no two rows claim an id and no wire_also is another row's own id; else 1
 * with the reason in why. */
static int check_unique(const struct table *t, char *why, size_t len)
{
	const char *owner[65536] = { 0 };
	for (size_t i = 0; i < t->n; i++) {
		const struct row *r = &t->r[i];
		if (r->id == 0)
			continue; /* local: sends nothing */
		unsigned span = r->span ? r->span : 1;
		for (unsigned k = 0; k < span; k++) {
			unsigned id = r->id + k;
			if (id > 255) {
				snprintf(why, len, "%s: wire id %u beyond 255 (a frame carries 1-255)",
					 r->name, id);
				return 1;
			}
			if (owner[id]) {
				snprintf(why, len, "wire id %u claimed by both %s and %s", id,
					 owner[id], r->name);
				return 1;
			}
			owner[id] = r->name;
		}
	}
	for (size_t i = 0; i < t->n; i++)
		for (size_t k = 0; k < 2; k++) {
			uint16_t id = t->r[i].also[k];
			if (id && owner[id] && strcmp(owner[id], t->r[i].name) != 0) {
				snprintf(why, len, "%s's lower module wire id %u is %s's own id",
					 t->r[i].name, id, owner[id]);
				return 1;
			}
		}
	return 0;
}

/* Check 2 on t: 0 if every pinned algorithm present in t has its pinned ids; else 1. */
static int check_stable(const struct table *t, char *why, size_t len)
{
	for (size_t p = 0; p < sizeof(pinned) / sizeof(pinned[0]); p++) {
		const struct row *want = &pinned[p];
		for (size_t i = 0; i < t->n; i++) {
			const struct row *got = &t->r[i];
			if (strcmp(got->name, want->name) != 0)
				continue;
			unsigned ws = want->span ? want->span : 1, gs = got->span ? got->span : 1;
			if (got->id != want->id || gs != ws || got->also[0] != want->also[0] ||
			    got->also[1] != want->also[1]) {
				snprintf(why, len,
					 "%s: wire id %u span %u also %u,%u, pinned %u span %u also "
					 "%u,%u: ids are on the wire and must not change",
					 got->name, got->id, gs, got->also[0], got->also[1], want->id,
					 ws, want->also[0], want->also[1]);
				return 1;
			}
		}
	}
	return 0;
}

static struct table cat;

static void load(void)
{
	memset(&cat, 0, sizeof(cat));
	strata_algo_foreach(NULL, collect, &cat);
}

START_TEST(test_unique)
{
	load();
	char why[256] = "";
	int rc = check_unique(&cat, why, sizeof(why));
	ck_assert_msg(rc == 0, "%s", why);
	/* every pinned algorithm is still in the catalog under its name */
	for (size_t p = 0; p < sizeof(pinned) / sizeof(pinned[0]); p++)
		ck_assert_msg(strata_algo_find(pinned[p].name) != NULL, "%s left the catalog",
			      pinned[p].name);
}
END_TEST

START_TEST(test_stable)
{
	load();
	char why[256] = "";
	int rc = check_stable(&cat, why, sizeof(why));
	ck_assert_msg(rc == 0, "%s", why);
	size_t unpinned = 0;
	for (size_t i = 0; i < cat.n; i++) {
		bool found = false;
		for (size_t p = 0; p < sizeof(pinned) / sizeof(pinned[0]) && !found; p++)
			found = strcmp(pinned[p].name, cat.r[i].name) == 0;
		if (!found) {
			unpinned++;
			fprintf(stderr, "test_catalog: %s (wire id %u) is not pinned yet\n",
				cat.r[i].name, cat.r[i].id);
		}
	}
	(void)unpinned;
}
END_TEST

/* Broken variants: each check must reject a table that breaks its rule. */
START_TEST(test_broken_variants)
{
	load();
	char why[256] = "";
	struct table *t = malloc(sizeof(*t));
	ck_assert_ptr_nonnull(t);

	/* a new algorithm takes urb's id */
	*t = cat;
	t->r[t->n++] = (struct row){ "broken-dup", 36, 0, { 0, 0 } };
	ck_assert_int_eq(check_unique(t, why, sizeof(why)), 1);
	ck_assert_ptr_nonnull(strstr(why, "wire id 36"));

	/* a span runs into the next algorithm's id (reg2atomic11 104-105 widened over 106) */
	*t = cat;
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->r[i].name, "reg2atomic11") == 0)
			t->r[i].span = 3;
	ck_assert_int_eq(check_unique(t, why, sizeof(why)), 1);

	/* a lower module id that is another algorithm's own id */
	*t = cat;
	t->r[t->n++] = (struct row){ "broken-also", 250, 0, { 34, 0 } };
	ck_assert_int_eq(check_unique(t, why, sizeof(why)), 1);

	/* an id renumbered (beb 32 -> 45): unique still, but not stable */
	*t = cat;
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->r[i].name, "beb") == 0)
			t->r[i].id = 45;
	ck_assert_int_eq(check_unique(t, why, sizeof(why)), 0);
	ck_assert_int_eq(check_stable(t, why, sizeof(why)), 1);
	ck_assert_ptr_nonnull(strstr(why, "beb"));
	free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("catalog");
	TCase *tc = tcase_create("wire ids");
	tcase_add_test(tc, test_unique);
	tcase_add_test(tc, test_stable);
	tcase_add_test(tc, test_broken_variants);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
