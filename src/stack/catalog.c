/* The catalog: every family's metadata table, aliases, lookup and the model checks (see
 * core/stack.h). Data only: linking it links no protocol code. */
#include "core/stack.h"

#include <stdio.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"

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
	{ "jh", strata_jh_algos },
	{ "variants", strata_variants_algos },
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

uint16_t strata_wire_id(const char *name)
{
	const struct strata_algo *a = strata_algo_find(name);
	STRATA_ASSERT(a && a->wire_id != 0);
	return a->wire_id;
}

uint16_t strata_wire_also(const char *name, unsigned k)
{
	const struct strata_algo *a = strata_algo_find(name);
	STRATA_ASSERT(a && k < sizeof(a->wire_also) / sizeof(a->wire_also[0]) && a->wire_also[k]);
	return a->wire_also[k];
}

int strata_algo_check(const struct strata_algo *a, const struct strata_config *cfg, char *err,
		      size_t errlen)
{
	/* The KV over Byzantine total order ([smr] log = btob, src/smr/tob_log.c) is the
	 * fail-arbitrary cluster's KV: it takes btob's model and resilience (N > 3f). */
	if (strcmp(a->name, "kv") == 0 && strcmp(cfg->smr_log, "btob") == 0 &&
	    cfg->model == STRATA_MODEL_FAIL_ARBITRARY)
		return strata_config_check_resilience(cfg, a->name, 3, err, errlen) != 0
			       ? STRATA_EMODEL
			       : 0;
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

/* [tob] consensus: a consensus of the family that total-order broadcast can stand on (a
 * multi-valued one; not tob-consensus, which stands on tob, nor fast consensus, which serves
 * clients only) and that the cluster runs. */
static int check_tob_consensus(const struct strata_config *cfg, char *err, size_t errlen)
{
	const char *name = cfg->tob_consensus;
	if (!name[0])
		return 0;
	const struct strata_algo *a = strata_algo_find(name);
	if (!a || strcmp(a->family, "cons") != 0 || strcmp(name, "rbc") == 0 ||
	    strcmp(name, "tob-consensus") == 0 || strncmp(a->name, "fast-", 5) == 0) {
		snprintf(err, errlen,
			 "[tob] consensus: '%s' is not a consensus total-order broadcast can use "
			 "(flood, hier, uflood, uhier, ldc; see `strata consensus algos`)", name);
		return STRATA_ECONFIG;
	}
	char why[256];
	if (strata_algo_check(a, cfg, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "[tob] consensus: %s", why);
		return STRATA_EMODEL;
	}
	return 0;
}

int strata_stack_check_config(const struct strata_config *cfg, char *err, size_t errlen)
{
	int rc = check_named(cfg, "reg_algo", cfg->reg_algo, "reg", err, errlen);
	if (rc == 0)
		rc = check_named(cfg, "bcast_algo", cfg->bcast_algo, "bcast", err, errlen);
	if (rc == 0)
		rc = check_tob_consensus(cfg, err, errlen);
	if (rc == 0 && cfg->smr_log[0] && strcmp(cfg->smr_log, "paxos") != 0 &&
	    strcmp(cfg->smr_log, "tob") != 0 && strcmp(cfg->smr_log, "bft-tob") != 0 &&
	    strcmp(cfg->smr_log, "btob") != 0) {
		snprintf(err, errlen,
			 "[smr] log: unknown log '%s' (expected paxos, tob, bft-tob or btob)",
			 cfg->smr_log);
		rc = STRATA_ECONFIG;
	}
	if (rc == 0 && strcmp(cfg->smr_log, "btob") == 0 &&
	    cfg->model != STRATA_MODEL_FAIL_ARBITRARY) {
		snprintf(err, errlen,
			 "[smr] log = btob needs [cluster] model = fail-arbitrary (btob stands on "
			 "Byzantine consensus, bldc), not %s; a crash-model cluster takes log = tob or "
			 "bft-tob", strata_model_name(cfg->model));
		rc = STRATA_ECONFIG;
	}
	/* The KV over tob answers reads through the order: that needs a uniform consensus. */
	if (rc == 0 && (strcmp(cfg->smr_log, "tob") == 0 || strcmp(cfg->smr_log, "bft-tob") == 0) &&
	    (strcmp(cfg->tob_consensus, "flood") == 0 || strcmp(cfg->tob_consensus, "hier") == 0)) {
		snprintf(err, errlen,
			 "[smr] log = tob needs a uniform consensus under tob ([tob] consensus = ldc, "
			 "uflood or uhier), not %s", cfg->tob_consensus);
		rc = STRATA_ECONFIG;
	}
	return rc;
}
