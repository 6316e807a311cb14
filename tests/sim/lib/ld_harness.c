/* The run harness of the leader-driven consensus simulation suites; see ld_harness.h. */
#include "ld_harness.h"

#include <stdio.h>
#include <string.h>

#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "cons/tcoin.h"
#include "cons_check.h"
#include "faults.h"
#include "rt/sim/harness.h"

#define MS LDH_MS

void ldh_coin_deal(struct strata_config *cfg, uint8_t (*shares)[32])
{
	STRATA_ASSERT(cfg->n >= 1 && cfg->n <= TCOIN_MAX_NODES && cfg->f < cfg->n);
	/* a dealing per cluster name and size (key generation is not what runs explore) */
	uint8_t dseed[32] = { 0 };
	dseed[0] = (uint8_t)cfg->n;
	char name[sizeof(cfg->cluster_id) + 8];
	snprintf(name, sizeof(name), "%s-coin", cfg->cluster_id);
	size_t len = strlen(name);
	memcpy(dseed + 1, name, len < sizeof(dseed) - 1 ? len : sizeof(dseed) - 1);
	uint8_t vk[TCOIN_MAX_NODES][TCOIN_POINT_LEN];
	cfg->coin_threshold = cfg->f + 1;
	STRATA_ASSERT(tcoin_deal(cfg->n, cfg->coin_threshold, dseed, shares, vk) == 0);
	for (uint32_t i = 1; i <= cfg->n; i++) {
		memcpy(cfg->nodes[i].coin_key, vk[i - 1], sizeof(cfg->nodes[i].coin_key));
		cfg->nodes[i].has_coin_key = true;
	}
}

struct sim_net ldh_net_storm(struct sim *s, double drop, double tail, uint64_t tail_us)
{
	/* one draw at a time, in this order: a seed's network stays what it was */
	double loss = drop > 0 ? drop : 0.05 + sim_random_unit(s) * 0.2;
	double dup = sim_random_unit(s) * 0.1;
	uint64_t delay_max = 200 + sim_random_below(s, 5 * MS);
	return (struct sim_net){ .drop = loss, .dup = dup, .delay_min_us = 200,
				 .delay_max_us = delay_max, .tail = tail, .tail_us = tail_us };
}

void ldh_setup(struct ldh *h, const struct ldh_opts *o, uint64_t seed, bool trace)
{
	uint32_t n = o->n;
	STRATA_ASSERT(n >= 1 && n <= LDH_MAXN && o->f < n);
	memset(h, 0, sizeof(*h));
	h->algo = o->algo;
	h->arg = o->arg;
	h->crashed = o->crashed;
	h->proposal = o->proposal;
	h->n = n;
	struct strata_config *cfg = &h->cfg;
	strata_config_defaults(cfg);
	snprintf(cfg->cluster_id, sizeof(cfg->cluster_id), "%s", o->cluster_id);
	cfg->n = n;
	cfg->f = o->f;
	cfg->model = o->model;
	if (o->fd_timers) {
		cfg->heartbeat_ms = 20;
		cfg->timeout_ms = 100;
	}
	cfg->retransmit_min_ms = 10;
	cfg->retransmit_max_ms = 100;
	if (o->backlog_bytes)
		cfg->backlog_bytes = o->backlog_bytes;
	sim_config_loopback(cfg, n, (uint16_t)o->port_base);
	if (o->coin)
		ldh_coin_deal(cfg, h->coin_shares);
	h->ck = cck_new(n, !o->regular);
	struct sim_opts so = {
		.seed = seed, .cfg = cfg, .build = o->build, .output = o->output, .arg = o->arg,
		.trace = trace, .coin_shares = o->coin ? (const uint8_t(*)[32])h->coin_shares : NULL,
	};
	h->s = sim_new(&so);
	if (o->fixed_net) {
		sim_set_net(h->s, o->fixed_net);
	} else {
		struct sim_net net = ldh_net_storm(h->s, o->drop, o->tail, o->tail_us);
		sim_set_net(h->s, &net);
	}
	sim_start(h->s);
	sim_run_for(h->s, 1 * MS, NULL, NULL); /* real clocks never read 0 */
}

/* The reply to a client's proposal carries (instance, the node's decision). */
static void ldh_reply(struct ldh *h, uint32_t node, const struct strata_output *o)
{
	if (o->a == 0 || o->a >= LDH_MAXREQ || h->req_node[o->a] != node || h->bad_reply)
		return;
	uint64_t inst = h->req_inst[o->a];
	if (o->status != 0) {
		h->bad_reply = true;
		snprintf(h->reply_why, sizeof(h->reply_why),
			 "node %u refused a proposal on instance %llu: %s", node,
			 (unsigned long long)inst, strata_strerror(o->status));
		return;
	}
	struct strata_rd rd;
	strata_rd_init(&rd, o->data, o->len);
	uint64_t got = strata_rd_u64(&rd);
	size_t vlen = o->len - rd.off;
	if (!strata_rd_ok(&rd) || got != inst || inst > LDH_MAXI || !h->dec[node][inst].decided ||
	    vlen != h->dec[node][inst].len || memcmp(o->data + rd.off, h->dec[node][inst].v, vlen)) {
		h->bad_reply = true;
		snprintf(h->reply_why, sizeof(h->reply_why),
			 "node %u answered its client on instance %llu with something other than its "
			 "decision",
			 node, (unsigned long long)inst);
	}
}

void ldh_output(struct ldh *h, uint32_t node, const struct strata_output *o)
{
	if (o->kind == STRATA_OUT_REPLY) {
		ldh_reply(h, node, o);
		return;
	}
	if (o->module != strata_wire_id(h->algo))
		return;
	if (o->kind == STRATA_OUT_BCAST) {
		cck_on_propose(h->ck, node, o->a, o->data, o->len);
	} else if (o->kind == STRATA_OUT_DELIVER) {
		cck_on_decide(h->ck, node, o->a, o->data, o->len);
		if (o->a <= LDH_MAXI && o->len <= sizeof(h->dec[0][0].v)) {
			h->dec[node][o->a].decided = true;
			h->dec[node][o->a].len = o->len;
			memcpy(h->dec[node][o->a].v, o->data, o->len);
		}
	}
}

int ldh_step_check(struct sim *s, void *arg)
{
	const struct ldh *h = arg;
	(void)s;
	return cck_violation(h->ck) || h->bad_reply ? 1 : 0;
}

void ldh_propose_value(struct ldh *h, uint32_t node, uint64_t inst, const char *v, size_t len)
{
	char key[24];
	int klen = snprintf(key, sizeof(key), "%llu", (unsigned long long)inst);
	if (h->reqid + 1 >= LDH_MAXREQ) {
		STRATA_ASSERT(h->cap_requests);
		return; /* enough client requests for one run */
	}
	uint64_t id = ++h->reqid;
	h->proposed_any[inst] = true;
	h->req_inst[id] = inst;
	h->req_node[id] = node;
	struct strata_request req = {
		.id = id, .op = STRATA_OP_PROPOSE, .key = (const uint8_t *)key,
		.key_len = (size_t)klen, .value = (const uint8_t *)v, .value_len = len,
	};
	sim_request(h->s, node, h->algo, &req);
}

void ldh_propose(struct ldh *h, uint32_t node, uint64_t inst, const char *prefix)
{
	char val[48];
	int vlen = snprintf(val, sizeof(val), "%s%u-%llu-%llu", prefix, node,
			    (unsigned long long)inst, (unsigned long long)sim_seed(h->s));
	ldh_propose_value(h, node, inst, val, (size_t)vlen);
}

uint32_t ldh_pick_up(struct ldh *h)
{
	return simf_pick_up(h->s, h->n, h->down);
}

void ldh_crash(struct ldh *h, uint32_t q)
{
	sim_crash(h->s, q);
	h->down[q] = true;
	h->ncrash++;
	if (h->crashed)
		h->crashed(h, q);
}

void ldh_restart(struct ldh *h, uint32_t q)
{
	sim_restart(h->s, q);
	cck_on_restart(h->ck, q);
	h->down[q] = false;
	h->ncrash--;
}

int ldh_phase_random(struct ldh *h, const struct ldh_phase *ph)
{
	struct sim *s = h->s;
	uint64_t ninst = 1 + sim_random_below(s, LDH_MAXI);
	bool todo[LDH_MAXN + 1][LDH_MAXI + 1] = { { false } };
	for (uint64_t i = 1; i <= ninst; i++) {
		uint64_t mask = 1 + sim_random_below(s, (1ull << h->n) - 1); /* non-empty */
		for (uint32_t q = 1; q <= h->n; q++)
			todo[q][i] = (mask >> (q - 1)) & 1u;
	}
	unsigned max_crash =
		ph->draw_crashes ? (unsigned)sim_random_below(s, h->cfg.f + 1) : h->cfg.f;
	bool parted = false;
	for (unsigned chunk = 0; chunk < ph->chunks; chunk++) {
		for (uint32_t q = 1; q <= h->n; q++)
			for (uint64_t i = 1; i <= ninst; i++)
				if (todo[q][i] && !h->down[q] && sim_random_unit(s) < ph->propose_p) {
					todo[q][i] = false;
					if (h->proposal)
						h->proposal(h, q, i);
					else
						ldh_propose(h, q, i, "v");
				}
		simf_partition_step(s, h->n, &parted, ph->part_p, true);
		if (h->ncrash < max_crash && ph->crash_p > 0 && sim_random_unit(s) < ph->crash_p) {
			uint32_t q = ldh_pick_up(h);
			if (q)
				ldh_crash(h, q);
		}
		for (uint32_t q = 1; q <= h->n && ph->recover; q++)
			if (h->down[q] && sim_random_unit(s) < 0.1)
				ldh_restart(h, q);
		int rc = sim_run_for(s, ph->chunk_us, ldh_step_check, h);
		if (rc)
			return rc;
	}
	return 0;
}

void ldh_heal(struct ldh *h)
{
	sim_heal(h->s);
	struct sim_net calm = { .drop = 0.02, .delay_min_us = 200, .delay_max_us = 3 * MS };
	sim_set_net(h->s, &calm);
}

int ldh_settle(struct ldh *h, uint64_t ms)
{
	ldh_heal(h);
	return sim_run_for(h->s, ms * MS, ldh_step_check, h);
}

int ldh_finish(struct ldh *h, int rc, char *why, size_t whylen)
{
	if (rc) {
		if (h->bad_reply)
			rc = sim_fail(why, whylen, "%s", h->reply_why);
		else
			rc = sim_fail(why, whylen, "t=%llums: %s",
				      (unsigned long long)(sim_now(h->s) / MS), cck_violation(h->ck));
	} else {
		bool correct[LDH_MAXN + 1] = { false };
		for (uint32_t q = 1; q <= h->n; q++)
			correct[q] = !h->down[q];
		rc = cck_final(h->ck, correct, why, whylen);
	}
	sim_free(h->s);
	cck_free(h->ck);
	h->s = NULL;
	h->ck = NULL;
	return rc;
}
