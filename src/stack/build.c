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
	strata_smr_ctors, strata_jh_ctors, strata_variants_ctors,
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

/* Which algorithms a node creates at start; the others are created on first use (a client
 * request for one, or a peer's frame for one) by stack_factory:
 *   - the failure detector and leader module the model calls for (strata_fd_build);
 *   - the algorithms the config names ([cluster] reg_algo, bcast_algo);
 *   - every fail-recovery algorithm: they keep state on stable storage, and a restarted node
 *     must resume what it logged (a logged broadcast retransmits its pending messages) without
 *     waiting for a request;
 *   - the leaderless store lkv: the config's [lkv] section describes it, and the warnings its
 *     constructor gives about that section (replicas against f) belong in the start-up log;
 *     its anti-entropy runs from start;
 *   - the asynchronous job handler jh-async: a restarted node resumes the confirmed jobs its
 *     buffer log holds without waiting for the next job.
 * The replicated KV (smr) is created on first use like the rest: the first `kv` request at a
 * node creates it there, and its first message creates it on the others (a restarted node gets
 * it back from the leader's first heartbeat and recovers its log in INIT); its leader election
 * and timers start then, not at every node's start. Every created algorithm must be runnable on
 * the cluster (model and resilience). */
static bool eager(const struct strata_algo *a, const struct strata_config *cfg)
{
	return strcmp(a->name, cfg->reg_algo) == 0 || strcmp(a->name, cfg->bcast_algo) == 0 ||
	       a->model == STRATA_MODEL_FAIL_RECOVERY || strcmp(a->name, "lkv") == 0 ||
	       strcmp(a->name, "jh-async") == 0;
}

struct find_wire {
	uint16_t wire_id;
	const struct strata_algo *a;
};

static void find_wire_fn(const struct strata_algo *a, void *arg)
{
	struct find_wire *f = arg;
	unsigned span = a->wire_span ? a->wire_span : 1;
	if (f->a)
		return;
	if (f->wire_id >= a->wire_id && f->wire_id < a->wire_id + span)
		f->a = a;
	for (size_t i = 0; i < sizeof(a->wire_also) / sizeof(a->wire_also[0]); i++)
		if (a->wire_also[i] && a->wire_also[i] == f->wire_id)
			f->a = a;
}

static struct strata_module *stack_factory(struct strata_node *n, const char *name,
					   uint16_t wire_id, void *arg)
{
	(void)arg;
	const struct strata_algo *a = NULL;
	if (name) {
		a = strata_algo_find(name);
		if (a && strcmp(a->name, name) != 0)
			a = NULL; /* aliases are the client's business; modules have one name */
	} else {
		struct find_wire f = { .wire_id = wire_id };
		strata_algo_foreach(NULL, find_wire_fn, &f);
		a = f.a;
	}
	char err[256];
	if (!a || strcmp(a->family, "fd") == 0 ||
	    strata_algo_check(a, strata_node_config(n), err, sizeof(err)) != 0)
		return NULL;
	struct strata_module *m = strata_algo_create(a, n, err, sizeof(err));
	if (!m)
		strata_trace(n, "stack", "creating %s on first use failed (%s) -> refused", a->name,
			     err);
	else
		strata_trace(n, "stack", "first use of %s -> created", a->name);
	return m;
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
	if (strata_node_module_by_name(b->n, a->name) || !eager(a, strata_node_config(b->n)))
		return; /* created already (a lower layer of a module built before it), or later */
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
	strata_node_set_factory(n, stack_factory, NULL);
	struct build_ctx b = { .n = n, .err = err, .errlen = errlen };
	strata_algo_foreach("bcast", build_one, &b);
	strata_algo_foreach("reg", build_one, &b);
	strata_algo_foreach("lkv", build_one, &b);
	strata_algo_foreach("cons", build_one, &b);
	strata_algo_foreach("smr", build_one, &b);
	strata_algo_foreach("jh", build_one, &b);
	return b.rc;
}
