/* The Byzantine run harness of the fail-arbitrary simulation suites; see byz_harness.h. */
#include "byz_harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/assert.h"
#include "core/stack.h"
#include "rt/sim/harness.h"

void byzh_config(struct byzh *h, const char *cluster_id, uint32_t n, uint32_t f,
		 uint16_t port_base)
{
	STRATA_ASSERT(n >= 1 && n <= BYZH_MAXN);
	h->n = n;
	h->f = f;
	struct strata_config *cfg = &h->cfg;
	strata_config_defaults(cfg);
	snprintf(cfg->cluster_id, sizeof(cfg->cluster_id), "%s", cluster_id);
	cfg->n = n;
	cfg->f = f;
	cfg->model = STRATA_MODEL_FAIL_ARBITRARY;
	sim_config_loopback(cfg, n, (uint16_t)port_base);
}

struct sim *byzh_sim_new(struct byzh *h, uint64_t seed, bool trace, sim_build_fn build,
			 sim_output_fn output, void *arg, const struct sim_net *net)
{
	struct sim_opts o = { .seed = seed, .cfg = &h->cfg, .build = build, .output = output,
			      .arg = arg, .trace = trace, .coin_shares = h->coin_shares };
	if (net)
		o.net = *net;
	h->s = sim_new(&o);
	STRATA_ASSERT(h->s);
	return h->s;
}

struct sim_net byzh_net_storm(struct sim *s)
{
	/* one draw at a time, in this order: a seed's network stays what it was */
	double drop = 0.05 + sim_random_unit(s) * 0.15;
	double dup = sim_random_unit(s) * 0.1;
	uint64_t delay_max = 100 + sim_random_below(s, 20 * BYZH_MS);
	return (struct sim_net){ .drop = drop, .dup = dup, .delay_min_us = 100,
				 .delay_max_us = delay_max, .tail = 0.05, .tail_us = 200 * BYZH_MS };
}

struct sim_net byzh_net_calm(void)
{
	return (struct sim_net){ .delay_min_us = 100, .delay_max_us = 5 * BYZH_MS };
}

uint32_t byzh_pick(struct byzh *h)
{
	uint32_t lo = h->pick_from ? h->pick_from : 1, p;
	STRATA_ASSERT(lo <= h->n);
	do
		p = lo + (uint32_t)sim_random_below(h->s, h->n - lo + 1);
	while (!byzh_correct(h, p));
	return p;
}

void byzh_make(struct byzh *h, uint32_t p, enum strata_byz b, bool twin)
{
	STRATA_ASSERT(p >= 1 && p <= h->n && byzh_correct(h, p));
	h->beh[p] = twin ? STRATA_BYZ_NONE : b;
	h->role[p] = twin ? BYZH_TWIN : BYZH_BYZ;
	if (twin)
		h->twins[h->ntwins++] = p;
	else if (b != STRATA_BYZ_NONE)
		sim_set_byz(h->s, p, b);
}

void byzh_draw(struct byzh *h, uint32_t count, uint32_t first, const enum strata_byz *table,
	       size_t len, enum strata_byz force)
{
	for (uint32_t k = 0; k < count; k++) {
		uint32_t p = k == 0 && first ? first : byzh_pick(h);
		enum strata_byz b = force != STRATA_BYZ_NONE ? force
							     : table[sim_random_below(h->s, len)];
		byzh_make(h, p, b, b == BYZH_TWINS);
	}
}

void byzh_start(struct byzh *h)
{
	sim_start(h->s);
	for (uint32_t k = 0; k < h->ntwins; k++)
		sim_twin(h->s, h->twins[k]);
}

void byzh_who(const struct byzh *h, char *buf, size_t len)
{
	if (!len)
		return;
	buf[0] = '\0';
	for (uint32_t p = 1; p <= h->n; p++) {
		size_t at = strlen(buf);
		if (!byzh_correct(h, p) && at < len)
			snprintf(buf + at, len - at, " %u:%s", p,
				 h->role[p] == BYZH_TWIN ? "twins" : strata_byz_name(h->beh[p]));
	}
}

bool byzh_on_trust(struct byzh *h, uint32_t node, const struct strata_output *o)
{
	if (o->kind != STRATA_OUT_EVENT || o->module != strata_wire_id("bld"))
		return false;
	if (node >= 1 && node <= h->n)
		h->trusted[node] = o->peer;
	return true;
}

void byzh_complain(struct byzh *h, uint32_t p)
{
	if (!h->trusted[p])
		return;
	struct strata_request req = { .id = ++h->reqid, .op = STRATA_OP_WRITE, .r = h->trusted[p] };
	sim_request(h->s, p, "bld", &req);
}

void byzh_fail(struct byzh *h, const char *fmt, ...)
{
	if (h->failed)
		return;
	h->failed = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(h->why, sizeof(h->why), fmt, ap);
	va_end(ap);
}

int byzh_check(struct sim *s, void *arg)
{
	(void)s;
	return ((const struct byzh *)arg)->failed ? 1 : 0;
}

void byzh_propose(struct byzh *h, uint32_t node, const char *algo, uint64_t inst, const char *v)
{
	char key[24];
	int klen = snprintf(key, sizeof(key), "%llu", (unsigned long long)inst);
	struct strata_request req = {
		.id = ++h->reqid, .op = STRATA_OP_PROPOSE, .key = (const uint8_t *)key,
		.key_len = (size_t)klen, .value = (const uint8_t *)v, .value_len = strlen(v),
	};
	sim_request(h->s, node, algo, &req);
}

void byzh_decs_record(struct byzh *h, struct byzh_decs *d, uint32_t node, uint64_t inst,
		      const uint8_t *v, size_t len, uint64_t b)
{
	STRATA_ASSERT(node >= 1 && node <= h->n && inst >= 1 && inst <= BYZH_MAXI &&
		      len <= BYZH_VMAX && !d->decided[node][inst]);
	d->decided[node][inst] = true;
	d->val[node][inst].len = len;
	memcpy(d->val[node][inst].v, v, len);
	d->b[node][inst] = b;
	d->at[node][inst] = sim_now(h->s);
}

uint32_t byzh_decs_other(const struct byzh *h, const struct byzh_decs *d, uint32_t node,
			 uint64_t inst, const uint8_t *v, size_t len)
{
	for (uint32_t q = 1; q <= h->n; q++)
		if (q != node && byzh_correct(h, q) && d->decided[q][inst] &&
		    (d->val[q][inst].len != len || memcmp(d->val[q][inst].v, v, len) != 0))
			return q;
	return 0;
}

static bool byzh_any_pending(const struct byzh *h, unsigned ninst,
			     bool (*pending)(void *, uint32_t, uint64_t), void *arg, uint32_t *pp,
			     uint64_t *pi)
{
	for (uint32_t p = 1; p <= h->n; p++)
		for (uint64_t i = 1; i <= ninst; i++)
			if (byzh_correct(h, p) && pending(arg, p, i)) {
				*pp = p;
				*pi = i;
				return true;
			}
	return false;
}

int byzh_settle(struct byzh *h, unsigned ninst, bool (*pending)(void *arg, uint32_t p, uint64_t i),
		void *arg, uint64_t limit_us)
{
	struct sim_net calm = byzh_net_calm();
	sim_set_net(h->s, &calm);
	uint64_t gst = sim_now(h->s);
	int rc = 0;
	uint32_t p;
	uint64_t i;
	bool done = false;
	for (uint64_t t = 0; t < limit_us && rc == 0 && !done; t += 100 * BYZH_MS) {
		rc = sim_run_for(h->s, 100 * BYZH_MS, byzh_check, h);
		done = !byzh_any_pending(h, ninst, pending, arg, &p, &i);
	}
	if (rc == 0)
		rc = sim_run_for(h->s, 200 * BYZH_MS, byzh_check, h);
	if (!h->failed && byzh_any_pending(h, ninst, pending, arg, &p, &i))
		byzh_fail(h,
			  "termination: %llu ms after stabilisation correct node %u has not decided "
			  "instance %llu (it trusts %u)",
			  (unsigned long long)((sim_now(h->s) - gst) / BYZH_MS), p,
			  (unsigned long long)i, h->trusted[p]);
	return rc;
}

int byzh_finish(struct byzh *h, char *why, size_t whylen)
{
	int verdict = h->failed ? sim_fail(why, whylen, "%s", h->why) : 0;
	sim_free(h->s);
	h->s = NULL;
	return verdict;
}
