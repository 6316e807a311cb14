/* Algorithm tables and stack wiring; see stack.h. */
#include "core/stack.h"

#include <stdio.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "fd/fd.h"

typedef const struct strata_algo *(*family_fn)(void);

static const struct {
	const char *family;
	family_fn table;
} families[] = {
	{ "fd", strata_fd_algos },
	{ "bcast", strata_bcast_algos },
	{ "reg", strata_reg_algos },
	{ "bcast", strata_bcast_byz_algos },
	{ "reg", strata_reg_byz_algos },
	{ "lkv", strata_lkv_algos },
	{ "cons", strata_cons_algos },
	{ "smr", strata_smr_algos },
};

void strata_algo_foreach(const char *family, void (*fn)(const struct strata_algo *a, void *arg),
			 void *arg)
{
	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
		for (const struct strata_algo *a = families[f].table(); a->name; a++)
			if (!family || strcmp(family, a->family) == 0)
				fn(a, arg);
	}
}

/* Friendly names for the algorithm users reach for first. */
static const struct {
	const char *alias, *name;
} aliases[] = {
	{ "best-effort", "beb" }, { "reliable", "erb" }, { "uniform", "urb" },
	{ "causal", "wcb" },      { "bracha", "brb" },   { "atomic", "nnar" },
	{ "regular", "mv" },      { "flooding", "flood" }, { "hierarchical", "hier" },
};

const struct strata_algo *strata_algo_find(const char *name)
{
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(name, aliases[i].alias) == 0)
			name = aliases[i].name;
	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++)
		for (const struct strata_algo *a = families[f].table(); a->name; a++)
			if (strcmp(a->name, name) == 0)
				return a;
	return NULL;
}

int strata_algo_check(const struct strata_algo *a, const struct strata_config *cfg, char *err,
		      size_t errlen)
{
	if (!strata_model_supports(cfg->model, a->model)) {
		snprintf(err, errlen, "algorithm '%s' (%s) needs the %s model; the cluster runs %s",
			 a->name, a->book, strata_model_name(a->model), strata_model_name(cfg->model));
		return STRATA_EMODEL;
	}
	if (a->resilience_k &&
	    strata_config_check_resilience(cfg, a->name, a->resilience_k, err, errlen) != 0)
		return STRATA_EMODEL;
	return 0;
}

static int check_named(const struct strata_config *cfg, const char *key, const char *name,
		       const char *family, char *err, size_t errlen)
{
	if (!name[0])
		return 0;
	const struct strata_algo *a = strata_algo_find(name);
	if (!a || strcmp(a->family, family) != 0) {
		snprintf(err, errlen, "[cluster] %s: unknown %s algorithm '%s' (see `strata %s algos`)",
			 key, family, name, family);
		return STRATA_ECONFIG;
	}
	char why[256];
	if (strata_algo_check(a, cfg, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "[cluster] %s: %s", key, why);
		return STRATA_EMODEL;
	}
	return 0;
}

int strata_stack_check_config(const struct strata_config *cfg, char *err, size_t errlen)
{
	int rc = check_named(cfg, "reg_algo", cfg->reg_algo, "reg", err, errlen);
	if (rc == 0)
		rc = check_named(cfg, "bcast_algo", cfg->bcast_algo, "bcast", err, errlen);
	return rc;
}

struct build_ctx {
	struct strata_node *n;
	char *err;
	size_t errlen;
	int rc;
};

static void build_one(const struct strata_algo *a, void *arg)
{
	struct build_ctx *b = arg;
	char why[256];
	if (b->rc || strata_algo_check(a, strata_node_config(b->n), why, sizeof(why)) != 0)
		return; /* not runnable on this cluster: requests for it get a clear error */
	if (strata_node_module_by_name(b->n, a->name))
		return; /* created already, as the lower layer of a module built before it */
	if (!a->create(b->n, b->err, b->errlen))
		b->rc = STRATA_ECONFIG;
}

int strata_stack_build(struct strata_node *n, char *err, size_t errlen)
{
	int rc = strata_stack_check_config(strata_node_config(n), err, errlen);
	if (rc)
		return rc;
	/* The failure-detection family picks the one detector and the one leader module the model
	 * calls for (fd/fd.h): instantiating every fd entry the model supports would give a
	 * fail-stop node both P and <>P. */
	rc = strata_fd_build(n, err, errlen);
	if (rc)
		return rc;
	struct build_ctx b = { .n = n, .err = err, .errlen = errlen };
	strata_algo_foreach("bcast", build_one, &b);
	strata_algo_foreach("reg", build_one, &b);
	strata_algo_foreach("lkv", build_one, &b);
	strata_algo_foreach("cons", build_one, &b);
	strata_algo_foreach("smr", build_one, &b);
	return b.rc;
}
