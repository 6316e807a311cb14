/* Unit test of the catalog's wire ids (src/core/stack.h): no two algorithms claim the same wire
 * id (their own, their span, or a shared lower module's id in wire_also, which two algorithms
 * may list for the same shared module). A peer's frame for a wire id creates the algorithm that
 * owns it on first use; two owners would make that depend on the catalog's order. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stack.h"

struct owners {
	const struct strata_algo *own[65536];   /* wire id -> the algorithm whose own id/span it is */
	const struct strata_algo *shared[65536]; /* wire id -> an algorithm listing it in wire_also */
	char why[512];
};

static void collect(const struct strata_algo *a, void *arg)
{
	struct owners *o = arg;
	unsigned span = a->wire_span ? a->wire_span : 1;
	if (a->wire_id == 0) /* local algorithms (jh): no frames */
		return;
	for (unsigned k = 0; k < span; k++) {
		unsigned w = a->wire_id + k;
		if (o->own[w] && !o->why[0])
			snprintf(o->why, sizeof(o->why), "wire id %u: both %s and %s", w, o->own[w]->name,
				 a->name);
		o->own[w] = a;
	}
	for (size_t k = 0; k < sizeof(a->wire_also) / sizeof(a->wire_also[0]); k++)
		if (a->wire_also[k])
			o->shared[a->wire_also[k]] = a;
}

START_TEST(test_wire_ids_unique)
{
	struct owners *o = calloc(1, sizeof(*o));
	ck_assert_ptr_nonnull(o);
	strata_algo_foreach(NULL, collect, o);
	for (unsigned w = 1; w < 65536 && !o->why[0]; w++)
		if (o->own[w] && o->shared[w])
			snprintf(o->why, sizeof(o->why), "wire id %u: %s's own, and %s's shared module", w,
				 o->own[w]->name, o->shared[w]->name);
	ck_assert_msg(o->why[0] == 0, "%s", o->why);
	free(o);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("catalog_wire");
	TCase *tc = tcase_create("catalog_wire");
	/* A hang guard, not a speed bound: Check's 4 s default tripped under a heavily loaded
	 * machine (test_kv_sm, once). */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_wire_ids_unique);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
