/* Model monitor; see model.h. */
#include "model.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rt/sim/harness.h"

void sim_model_init(struct sim_model *m, enum strata_model model)
{
	memset(m, 0, sizeof(*m));
	m->model = model;
}

void sim_model_leave(struct sim_model *m, const char *fmt, ...)
{
	if (m->departures++ > 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->why, sizeof(m->why), fmt, ap);
	va_end(ap);
}

bool sim_model_left(const struct sim_model *m)
{
	return m->departures > 0;
}

void sim_model_output(struct sim_model *m, struct sim *s, uint32_t node,
		      const struct strata_output *o)
{
	if (m->model != STRATA_MODEL_FAIL_STOP || o->kind != STRATA_OUT_FD ||
	    o->a != STRATA_PEER_CRASHED)
		return;
	uint32_t p = o->peer;
	if (p < 1 || p > sim_n(s) || !sim_is_up(s, p))
		return;
	/* b names the detected incarnation (0: the observer never heard from p, i.e. its first). */
	uint64_t live = strata_node_incarnation(sim_node(s, p));
	uint64_t named = o->b ? o->b : 1;
	if (named == live)
		sim_model_leave(m,
				"P is not accurate: node %u detected node %u (incarnation %llu) at "
				"t=%.3fms while it runs (loss or a partition outlasted P's timeout)",
				node, p, (unsigned long long)live, (double)sim_now(s) / 1000.0);
}

int sim_model_verdict(const struct sim_model *m, int rc, char *why, size_t whylen)
{
	if (!sim_model_left(m))
		return rc;
	char checks[512];
	snprintf(checks, sizeof(checks), "%s", rc ? why : "");
	return sim_outside(why, whylen, "%s%s%s%s", m->why, m->departures > 1 ? " (and more)" : "",
			   rc ? "; the checks then said: " : "; the checks held", checks);
}
