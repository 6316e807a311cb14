/* Wire ids of the catalog (src/core/stack.h): a frame names its module by wire id, so
 *   1. no two algorithms claim the same id (an algorithm claims wire_id .. wire_id + span - 1;
 *      its wire_also ids name shared lower modules and must not be another algorithm's own id);
 *   2. ids are stable across builds: every algorithm pinned below keeps the id it had when it was
 *      pinned (a node of one build must understand a node of the next). A new algorithm is not
 *      pinned yet and only has to avoid the ids in use; pin it here when it lands.
 *   3. the catalog is where the ids come from: on nodes of every model (N = 6, f = 1, as
 *      fast-sbc needs N > 5f; the threshold coin dealt), every algorithm the cluster can run is
 *      created through the stack's factory, and every module the node then holds carries the
 *      id its catalog row gives: an algorithm's module its row's wire_id, a composition's
 *      private lower module ("owner.x") an id of the owner's span past its own, a shared lower
 *      module the id its row lists in wire_also (ec: ldc's, lec: lldc's, bec: bldc's; every
 *      wire_also must be named so). Every algorithm with a wire id must have been created on
 *      some model.
 * Each check also runs on a deliberately broken table or module and must reject it. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/tcoin.h"
#include "core/config.h"
#include "core/node.h"
#include "core/stack.h"
#include "rt/sim/sim.h"

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
	{ "tob", 184, 0, { 0, 0 } },	      { "ltob", 215, 0, { 0, 0 } }, /* pinned outside
								       * the old smr range */
	{ "btob", 197, 0, { 0, 0 } },	      { "tob-consensus", 206, 0, { 0, 0 } },
	{ "kv", 208, 0, { 0, 0 } },	      { "nbac", 200, 0, { 0, 0 } },
	{ "trb", 201, 0, { 0, 0 } },	      { "gm", 202, 0, { 0, 0 } },
	{ "vs", 199, 0, { 0, 0 } },	      { "uvs", 205, 0, { 0, 0 } },
	{ "fast-uhier", 203, 0, { 0, 0 } },   { "fast-uflood", 204, 0, { 0, 0 } },
	{ "bldc", 185, 0, { 186, 0 } },	      { "sbc", 187, 0, { 0, 0 } },
	{ "fast-sbc", 188, 0, { 0, 0 } },
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

/* The shared lower modules and where their ids come from: a module named `module` carries
 * wire_also[k] of the row `row` (the catalog lists the id, this table the module's name; the
 * catalog rows say so in a comment). test_shared_named checks that every wire_also of the
 * catalog is named here, so a new shared module cannot slip past check 3. */
static const struct {
	const char *module, *row;
	unsigned k;
} shared[] = {
	{ "ec", "ldc", 0 },
	{ "lec", "lldc", 0 },
	{ "bec", "bldc", 0 },
};

/* Check 3 on one module: 0 if a module named `name` carries the wire id `wire` its catalog row
 * gives it (see the top of the file); else 1 with the reason in why. */
static int check_module(const char *name, uint16_t wire, char *why, size_t len)
{
	const struct strata_algo *a = strata_algo_find(name);
	if (a && strcmp(a->name, name) == 0) {
		if (wire == a->wire_id)
			return 0;
		snprintf(why, len, "module %s has wire id %u; its catalog row gives %u", name, wire,
			 a->wire_id);
		return 1;
	}
	const char *dot = strchr(name, '.');
	if (dot) {
		char owner[64];
		snprintf(owner, sizeof(owner), "%.*s", (int)(dot - name), name);
		a = strata_algo_find(owner);
		unsigned span = a && a->wire_span ? a->wire_span : 1;
		if (a && wire > a->wire_id && wire < a->wire_id + span)
			return 0;
		snprintf(why, len,
			 "module %s has wire id %u, not in its owner %s's span past its own", name,
			 wire, owner);
		return 1;
	}
	if (wire == 0)
		return 0; /* not addressable (the client adapter, the link layer) */
	for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++) {
		if (strcmp(shared[i].module, name) != 0)
			continue;
		a = strata_algo_find(shared[i].row);
		uint16_t want = a ? a->wire_also[shared[i].k] : 0;
		if (want && wire == want)
			return 0;
		snprintf(why, len, "module %s has wire id %u; row %s lists %u for it", name, wire,
			 shared[i].row, want);
		return 1;
	}
	snprintf(why, len, "module %s has wire id %u, which no catalog row gives it", name, wire);
	return 1;
}

/* Every wire_also of the catalog names a shared module of the table above; 0, else 1 with the
 * first unnamed one in why. */
struct also_named {
	char why[256];
};

static void also_named_fn(const struct strata_algo *a, void *arg)
{
	struct also_named *o = arg;
	for (unsigned k = 0; k < sizeof(a->wire_also) / sizeof(a->wire_also[0]); k++) {
		if (!a->wire_also[k] || o->why[0])
			continue;
		bool named = false;
		for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]) && !named; i++)
			named = strcmp(shared[i].row, a->name) == 0 && shared[i].k == k;
		if (!named)
			snprintf(o->why, sizeof(o->why),
				 "%s's wire_also[%u] = %u names no shared module in test_catalog's "
				 "table", a->name, k, a->wire_also[k]);
	}
}

struct created {
	const char *name[MAX_ROWS];
	size_t n;
};

static void created_add(struct created *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->name[i], name) == 0)
			return;
	ck_assert_uint_lt(c->n, MAX_ROWS);
	c->name[c->n++] = name;
}

static void build_node(struct sim *s, struct strata_node *n, void *arg)
{
	(void)s;
	(void)arg;
	char err[256];
	ck_assert_msg(strata_stack_build(n, err, sizeof(err)) == 0, "stack build: %s", err);
}

struct on_node {
	struct strata_node *n;
	struct created *made;
	char err[4096];
};

static void create_fn(const struct strata_algo *a, void *arg)
{
	struct on_node *o = arg;
	char why[256];
	if (a->wire_id == 0 || strcmp(a->family, "fd") == 0 ||
	    strata_algo_check(a, strata_node_config(o->n), why, sizeof(why)) != 0)
		return;
	if (strata_node_module_get(o->n, a->name))
		created_add(o->made, a->name);
	else
		snprintf(o->err + strlen(o->err), sizeof(o->err) - strlen(o->err), " %s(%s)",
			 a->name, strata_model_name(strata_node_config(o->n)->model));
}

/* Builds node 1 of an N = 6, f = 1 cluster of model m, creates every algorithm it can run and
 * checks every module it holds (check 3). The fd modules are the ones the model calls for. */
static void check_model(enum strata_model m, struct created *made)
{
	struct strata_config cfg;
	strata_config_defaults(&cfg);
	snprintf(cfg.cluster_id, sizeof(cfg.cluster_id), "catalog-%d", (int)m);
	cfg.n = 6;
	cfg.f = 1;
	cfg.model = m;
	sim_config_loopback(&cfg, cfg.n, 7700);
	uint8_t shares[6][TCOIN_SCALAR_LEN], vk[6][TCOIN_POINT_LEN], seed[32] = { 7 };
	cfg.coin_threshold = cfg.f + 1;
	ck_assert_int_eq(tcoin_deal(cfg.n, cfg.coin_threshold, seed, shares, vk), 0);
	for (uint32_t i = 1; i <= cfg.n; i++) {
		memcpy(cfg.nodes[i].coin_key, vk[i - 1], 32);
		cfg.nodes[i].has_coin_key = true;
	}
	struct sim_opts so = { .seed = 1, .cfg = &cfg, .build = build_node,
			       .coin_shares = (const uint8_t(*)[32])shares };
	struct sim *s = sim_new(&so);
	ck_assert_ptr_nonnull(s);
	sim_start(s);
	struct on_node *o = calloc(1, sizeof(*o));
	ck_assert_ptr_nonnull(o);
	o->n = sim_node(s, 1);
	o->made = made;
	strata_algo_foreach(NULL, create_fn, o);
	ck_assert_msg(o->err[0] == 0, "not created on first use:%s", o->err);
	size_t mods = strata_node_module_count(o->n);
	for (size_t i = 0; i < mods; i++) {
		struct strata_module *mod = strata_node_module_at(o->n, i);
		char why[256] = "";
		ck_assert_msg(check_module(mod->ops->name, mod->wire_id, why, sizeof(why)) == 0,
			      "%s model: %s", strata_model_name(m), why);
	}
	fprintf(stderr, "test_catalog: %s model: %zu modules carry their catalog ids\n",
		strata_model_name(m), mods);
	free(o);
	sim_free(s);
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

START_TEST(test_modules_take_catalog_ids)
{
	load();
	struct created *made = calloc(1, sizeof(*made));
	ck_assert_ptr_nonnull(made);
	for (int m = 0; m < STRATA_MODEL_COUNT; m++)
		check_model((enum strata_model)m, made);
	/* not vacuous: every algorithm with a wire id was built on some model */
	for (size_t i = 0; i < cat.n; i++) {
		if (cat.r[i].id == 0 || strcmp(strata_algo_find(cat.r[i].name)->family, "fd") == 0)
			continue;
		bool found = false;
		for (size_t k = 0; k < made->n && !found; k++)
			found = strcmp(made->name[k], cat.r[i].name) == 0;
		ck_assert_msg(found, "%s (wire id %u) was built on no model", cat.r[i].name,
			      cat.r[i].id);
	}
	free(made);
}
END_TEST

/* Broken variants of check 3: modules that carry an id their row does not give. */
START_TEST(test_module_broken_variants)
{
	char why[256] = "";
	ck_assert_int_eq(check_module("urb", 36, why, sizeof(why)), 0);
	ck_assert_int_eq(check_module("urb", 37, why, sizeof(why)), 1); /* a hard-kept, wrong id */
	ck_assert_ptr_nonnull(strstr(why, "urb"));
	ck_assert_int_eq(check_module("atomic1nton.riwm", 111, why, sizeof(why)), 0);
	/* past the owner's span, and the owner's own id */
	ck_assert_int_eq(check_module("atomic1nton.riwm", 112, why, sizeof(why)), 1);
	ck_assert_int_eq(check_module("atomic1nton.riwm", 110, why, sizeof(why)), 1);
	ck_assert_int_eq(check_module("ec", 180, why, sizeof(why)), 0);
	ck_assert_int_eq(check_module("ec", 99, why, sizeof(why)), 1); /* no row lists it */
	/* another shared module's id: some row lists it, but not for ec */
	ck_assert_int_eq(check_module("ec", 182, why, sizeof(why)), 1);
	ck_assert_ptr_nonnull(strstr(why, "row ldc lists 180"));
	ck_assert_int_eq(check_module("lec", 182, why, sizeof(why)), 0);
	ck_assert_int_eq(check_module("bec", 180, why, sizeof(why)), 1);
	ck_assert_int_eq(check_module("bec", 186, why, sizeof(why)), 0);
	/* a module neither in the catalog nor a shared one, with a listed shared id */
	ck_assert_int_eq(check_module("xec", 186, why, sizeof(why)), 1);
}
END_TEST

START_TEST(test_shared_named)
{
	struct also_named o = { .why = "" };
	strata_algo_foreach(NULL, also_named_fn, &o);
	ck_assert_msg(o.why[0] == 0, "%s", o.why);
	for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++) {
		const struct strata_algo *a = strata_algo_find(shared[i].row);
		ck_assert_msg(a && a->wire_also[shared[i].k], "%s: row %s lists no wire_also[%u]",
			      shared[i].module, shared[i].row, shared[i].k);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("catalog");
	TCase *tc = tcase_create("wire ids");
	/* A hang guard, not a speed bound: Check's 4 s default tripped under a heavily loaded
	 * machine (test_kv_sm, once). */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_unique);
	tcase_add_test(tc, test_stable);
	tcase_add_test(tc, test_broken_variants);
	tcase_add_test(tc, test_modules_take_catalog_ids);
	tcase_add_test(tc, test_module_broken_variants);
	tcase_add_test(tc, test_shared_named);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
