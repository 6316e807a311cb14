/* Node build steps shared by the simulation suites; see build.h. */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/stack.h"
#include "fd/fd.h"

void simb_fd(struct strata_node *n)
{
	char err[256];
	if (strata_fd_build(n, err, sizeof(err)) != 0) {
		fprintf(stderr, "build: %s\n", err);
		abort();
	}
}

struct strata_module *simb_algo(struct strata_node *n, const char *algo)
{
	char err[256];
	const struct strata_algo *a = strata_algo_find(algo);
	struct strata_module *m = a ? strata_algo_create(a, n, err, sizeof(err)) : NULL;
	if (!m) {
		fprintf(stderr, "build: %s\n", a ? err : "no such algorithm in the catalog");
		abort();
	}
	return m;
}
