/* Building stacks: constructors by algorithm name and the start-up wiring (see core/stack.h).
 * This is the one place that knows every family's constructors; the daemon and the simulator
 * link it, the client does not. */
#include <stdio.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"
#include "fd/fd.h"

typedef const struct strata_ctor *(*ctor_fn)(void);

static const ctor_fn ctor_tables[] = {
	strata_fd_ctors, strata_bcast_ctors, strata_reg_ctors, strata_lkv_ctors, strata_cons_ctors,
	strata_smr_ctors,
};

struct strata_module *strata_algo_create(const struct strata_algo *a, struct strata_node *n,
					 char *err, size_t errlen)
{
	STRATA_ASSERT(a && a->name);
	for (size_t t = 0; t < sizeof(ctor_tables) / sizeof(ctor_tables[0]); t++)
		for (const struct strata_ctor *c = ctor_tables[t](); c->name; c++)
			if (strcmp(c->name, a->name) == 0)
				return c->create(n, err, errlen);
	snprintf(err, errlen, "algorithm '%s' has no constructor in this program", a->name);
	return NULL;
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
	if (!strata_algo_create(a, b->n, b->err, b->errlen))
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
