/* Simulation suite of the KV over total-order broadcast, `[smr] log = tob` (src/smr/tob_log.c
 * over src/cons/tob.c), with the linearizability checker of sim_kv.
 *
 * Every run: n = 5 nodes, crash-stop (tob 6.1 is a crash-stop algorithm), six logical clients
 * with their own sessions issue gets, puts and cas on three keys, one operation at a time each,
 * each to a random live node, recording a Jepsen-shaped history in virtual time (as sim_kv
 * does: a put writes a unique value, a cas expects the last value its client saw; a failed
 * compare and a busy refusal are definite failures; a timeout or a request lost in a crash is
 * an unknown outcome). Faults at random times in a 1 s operation phase: loss, duplication,
 * delay and reordering; one partition (a node isolated, a 2|3 split or a one-way cut) healed
 * after 0.2-0.6 s; a node paused for 0.1-0.7 s; up to f = 2 nodes crashed for good (crash-stop:
 * they do not come back); clients' writes duplicated (the same session and sequence number sent
 * again to another node up to 50 ms later, as a retry would).
 *
 * Then the network heals: every operation must be answered within 5 s (liveness), every client
 * reads every key once more, the replicas that applied the same number of commands must hold
 * the same state (digest), and each key's history must be linearizable (src/check).
 *
 * Cases: tob-kv-ldc (the default consensus, on the real <>P and Omega, fail-noisy) and
 * tob-kv-uhier (Hierarchical Uniform Consensus under tob on a fail-stop cluster whose P is an
 * oracle told of every crash by the driver, as in sim_cons and sim_tob).
 * Broken variants (expect_violation):
 *   broken-read-local  linearizable gets answered from the replica's state at once instead of
 *                      at the read marker's place in the total order: a replica cut off from
 *                      the others returns stale values.
 *   broken-dup-apply   no session deduplication: a duplicated write is applied twice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/check.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"
#include "fd/fd.h"
#include "lib/oracle.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"
#include "smr/smr.h"

#define NCL 6
#define NKEYS 3
#define MAXDUP 64
#define MS 1000ull
#define DUP_BIT (1ull << 62)
#define ORACLE_BIT (1ull << 61)

enum { OP_GET, OP_PUT, OP_CAS };
enum { F_NET = 1, F_PART = 2, F_PAUSE = 4, F_CRASH = 8, F_DUPREQ = 16, F_ISOLATE = 32 };

struct client {
	uint32_t node;
	int64_t proc;
	bool busy;
	uint64_t req_id, seq, next_at;
	uint64_t session, wseq;
	int kind;
	const char *key;
	char val[24], old[24];
};

struct dup {
	bool used;
	uint64_t at;
	uint32_t node;
	struct client c;
};

struct run {
	struct sim *s;
	struct strata_config cfg;
	bool oracle;
	struct client cl[NCL];
	struct dup dups[MAXDUP];
	unsigned broken;
	FILE *hist;
	char *hbuf;
	size_t hlen;
	int error;
	char errtxt[256];
	unsigned ops_ok, reads_ok, writes_ok, info, dups_sent, ncrash;
	uint64_t oracle_reqs;
	char seen[NKEYS][24];
};

static const char *keys[NKEYS] = { "a", "b", "c" };

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct run *r = arg;
	(void)s;
	char err[256];
	if (r->oracle) {
		sim_oracle_add(n);
	} else if (strata_fd_build(n, err, sizeof(err)) != 0) {
		fprintf(stderr, "build: %s\n", err);
		abort();
	}
	const struct strata_algo *a = strata_algo_find("kv");
	struct strata_module *m = a ? strata_algo_create(a, n, err, sizeof(err)) : NULL;
	if (!m) {
		fprintf(stderr, "build: %s\n", err);
		abort();
	}
	smr_tobkv_set_broken(m, r->broken);
}

static struct strata_module *mod(struct run *r, uint32_t id)
{
	struct strata_node *n = sim_node(r->s, id);
	return n ? strata_node_module_by_name(n, "kv") : NULL;
}

static void record(struct run *r, struct client *c, enum strata_hist_type t, const char *value,
		   const char *value2)
{
	strata_history_append(r->hist, c->proc, t,
			      c->kind == OP_GET ? STRATA_HIST_READ
			      : c->kind == OP_PUT ? STRATA_HIST_WRITE : STRATA_HIST_CAS,
			      c->key, value, value2, sim_now(r->s) * 1000);
}

static void record_end(struct run *r, struct client *c, enum strata_hist_type t)
{
	if (c->kind == OP_GET)
		record(r, c, t, NULL, NULL);
	else if (c->kind == OP_PUT)
		record(r, c, t, c->val, NULL);
	else
		record(r, c, t, c->old, c->val);
}

static unsigned key_index(const char *key)
{
	for (unsigned i = 0; i < NKEYS; i++)
		if (keys[i] == key)
			return i;
	return 0;
}

static void remember(struct run *r, const char *key, const char *v)
{
	char *dst = r->seen[key_index(key)];
	size_t len = strlen(v);
	if (len >= sizeof(r->seen[0]))
		len = sizeof(r->seen[0]) - 1;
	memmove(dst, v, len);
	dst[len] = 0;
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	if (o->kind != STRATA_OUT_REPLY || (o->a & (DUP_BIT | ORACLE_BIT)))
		return;
	for (unsigned k = 0; k < NCL; k++) {
		struct client *c = &r->cl[k];
		if (!c->busy || c->req_id != o->a || c->node != node)
			continue;
		c->busy = false;
		c->next_at = sim_now(s) + sim_random_below(s, 5 * MS);
		if (o->status == STRATA_ETIMEDOUT) {
			r->info++;
			record_end(r, c, STRATA_HIST_INFO);
			return;
		}
		if (o->status == STRATA_EFULL || (o->status == STRATA_ESTATE && c->kind == OP_CAS)) {
			record_end(r, c, STRATA_HIST_FAIL);
			return;
		}
		if (o->status != 0) {
			if (!r->error) {
				r->error = 1;
				snprintf(r->errtxt, sizeof(r->errtxt), "node %u: error reply %d (%s)",
					 node, o->status, o->text ? o->text : "");
			}
			record_end(r, c, STRATA_HIST_FAIL);
			return;
		}
		r->ops_ok++;
		if (c->kind == OP_GET) {
			r->reads_ok++;
			if (o->b & STRATA_REPLY_FOUND) {
				char v[64];
				size_t len = o->len < sizeof(v) - 1 ? o->len : sizeof(v) - 1;
				if (len)
					memcpy(v, o->data, len);
				v[len] = 0;
				record(r, c, STRATA_HIST_OK, v, NULL);
				remember(r, c->key, v);
			} else {
				record(r, c, STRATA_HIST_OK, NULL, NULL);
			}
		} else {
			r->writes_ok++;
			record_end(r, c, STRATA_HIST_OK);
			remember(r, c->key, c->val);
		}
		return;
	}
}

static void send_req(struct run *r, uint32_t node, const struct client *c, uint64_t id)
{
	struct strata_request q = {
		.id = id,
		.op = c->kind == OP_GET ? STRATA_OP_READ
		      : c->kind == OP_PUT ? STRATA_OP_WRITE : STRATA_OP_CAS,
		.key = (const uint8_t *)c->key,
		.key_len = strlen(c->key),
		.session = c->kind == OP_GET ? 0 : c->session,
		.seq = c->kind == OP_GET ? 0 : c->wseq,
	};
	if (c->kind == OP_PUT) {
		q.value = (const uint8_t *)c->val;
		q.value_len = strlen(c->val);
	} else if (c->kind == OP_CAS) {
		q.value = (const uint8_t *)c->old;
		q.value_len = strlen(c->old);
		q.value2 = (const uint8_t *)c->val;
		q.value2_len = strlen(c->val);
	}
	sim_request(r->s, node, "kv", &q);
}

static uint32_t random_up(struct run *r)
{
	for (int tries = 0; tries < 64; tries++) {
		uint32_t id = 1 + (uint32_t)sim_random_below(r->s, r->cfg.n);
		if (sim_is_up(r->s, id) && !sim_is_paused(r->s, id))
			return id;
	}
	return 0;
}

static void issue(struct run *r, struct client *c, int kind, const char *key, uint32_t node,
		  unsigned faults)
{
	c->kind = kind;
	c->key = key;
	c->seq++;
	c->node = node;
	if (kind != OP_GET) {
		c->wseq++;
		snprintf(c->val, sizeof(c->val), "%u.%llu", (unsigned)c->proc,
			 (unsigned long long)c->seq);
	}
	if (kind == OP_CAS) {
		const char *seen = r->seen[key_index(key)];
		snprintf(c->old, sizeof(c->old), "%s", seen[0] ? seen : "none");
	}
	c->req_id = ((uint64_t)(c - r->cl + 1) << 32) | c->seq;
	c->busy = true;
	if (kind == OP_GET)
		record(r, c, STRATA_HIST_INVOKE, NULL, NULL);
	else
		record_end(r, c, STRATA_HIST_INVOKE);
	send_req(r, node, c, c->req_id);
	if ((faults & F_DUPREQ) && kind != OP_GET && sim_random_below(r->s, 100) < 25) {
		for (unsigned i = 0; i < MAXDUP; i++) {
			struct dup *d = &r->dups[i];
			if (d->used)
				continue;
			d->used = true;
			d->at = sim_now(r->s) + sim_random_below(r->s, 50 * MS);
			d->node = 1 + (uint32_t)sim_random_below(r->s, r->cfg.n);
			d->c = *c;
			break;
		}
	}
}

static void send_dups(struct run *r)
{
	for (unsigned i = 0; i < MAXDUP; i++) {
		struct dup *d = &r->dups[i];
		if (!d->used || d->at > sim_now(r->s))
			continue;
		d->used = false;
		if (!sim_is_up(r->s, d->node) || sim_is_paused(r->s, d->node))
			continue;
		r->dups_sent++;
		send_req(r, d->node, &d->c, DUP_BIT | d->c.req_id);
	}
}

/* Crash-stop: the node never returns; its clients' requests have unknown outcomes. With the
 * oracle, every live node's P learns of the crash (accurate and complete). */
static void crash(struct run *r, uint32_t id)
{
	sim_crash(r->s, id);
	r->ncrash++;
	for (unsigned k = 0; k < NCL; k++) {
		struct client *c = &r->cl[k];
		if (c->busy && c->node == id) {
			r->info++;
			record_end(r, c, STRATA_HIST_INFO);
			c->busy = false;
			c->next_at = sim_now(r->s) + sim_random_below(r->s, 5 * MS);
		}
	}
	if (!r->oracle)
		return;
	for (uint32_t p = 1; p <= r->cfg.n; p++) {
		if (!sim_is_up(r->s, p))
			continue;
		sim_oracle_tell(r->s, p, ORACLE_BIT | ++r->oracle_reqs, id);
	}
}

static int all_idle(struct sim *s, void *arg)
{
	struct run *r = arg;
	(void)s;
	for (unsigned k = 0; k < NCL; k++)
		if (r->cl[k].busy)
			return 0;
	return 1;
}

/* SM1 on the state: replicas that applied the same number of commands hold the same state. */
static int check_agreement(struct run *r, char *why, size_t wl, bool *violation)
{
	sim_run_until(r->s, sim_now(r->s) + 300 * MS, NULL, NULL);
	uint64_t applied[STRATA_MAX_NODES + 1] = { 0 }, digest[STRATA_MAX_NODES + 1] = { 0 };
	for (uint32_t id = 1; id <= r->cfg.n; id++) {
		struct strata_module *m = sim_is_up(r->s, id) ? mod(r, id) : NULL;
		if (!m)
			continue;
		struct smr_status st;
		smr_tobkv_status(m, &st);
		applied[id] = st.applied_index;
		digest[id] = smr_kv_digest(smr_tobkv_state(m));
	}
	for (uint32_t a = 1; a <= r->cfg.n; a++)
		for (uint32_t b = a + 1; b <= r->cfg.n; b++) {
			if (!applied[a] || applied[a] != applied[b] || digest[a] == digest[b])
				continue;
			*violation = true;
			return sim_fail(why, wl, "agreement: nodes %u and %u both applied %llu "
					"commands but hold different states", a, b,
					(unsigned long long)applied[a]);
		}
	return 0;
}

static int check_history(struct run *r, char *why, size_t wl, bool *violation)
{
	fflush(r->hist);
	struct strata_history *h = NULL;
	char err[256];
	int rc = strata_history_parse(r->hbuf, r->hlen, "sim", NULL, &h, err, sizeof(err));
	if (rc)
		return sim_fail(why, wl, "history does not parse: %s", err);
	struct strata_check_result res;
	memset(&res, 0, sizeof(res));
	rc = strata_check_history(h, STRATA_CHECK_ATOMIC, 20000, &res);
	int out = 0;
	if (rc) {
		out = sim_fail(why, wl, "checker error %d", rc);
	} else if (res.verdict != STRATA_CHECK_OK) {
		*violation = res.verdict == STRATA_CHECK_VIOLATION;
		out = sim_fail(why, wl, "atomic checker: %s (%zu ops): %s",
			       strata_check_verdict_name(res.verdict), strata_history_n_ops(h),
			       res.has_violation ? res.violation.message : "");
	}
	strata_check_result_free(&res);
	strata_history_free(h);
	return out;
}

static void partition(struct run *r, unsigned faults)
{
	struct sim *s = r->s;
	uint32_t l = 1 + (uint32_t)sim_random_below(s, r->cfg.n);
	uint64_t all = (1ull << (r->cfg.n + 1)) - 2, lb = 1ull << l;
	unsigned kind = (faults & F_ISOLATE) ? 0 : (unsigned)sim_random_below(s, 4);
	if (kind == 0) {
		sim_partition(s, lb, all & ~lb);
	} else if (kind == 1) {
		uint64_t side = lb | 1ull << (1 + sim_random_below(s, r->cfg.n));
		sim_partition(s, side, all & ~side);
	} else {
		for (uint32_t p = 1; p <= r->cfg.n; p++)
			if (p != l)
				sim_link(s, kind == 2 ? l : p, kind == 2 ? p : l, false);
	}
}

static int run_case(uint64_t seed, bool trace, char *why, size_t wl, const char *cons,
		    unsigned faults, unsigned broken)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	strata_config_defaults(&r->cfg);
	snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "sim-tob-kv");
	r->cfg.n = 5;
	r->cfg.f = 2;
	r->oracle = cons[0] != 0;
	r->cfg.model = r->oracle ? STRATA_MODEL_FAIL_STOP : STRATA_MODEL_FAIL_NOISY;
	snprintf(r->cfg.smr_log, sizeof(r->cfg.smr_log), "tob");
	snprintf(r->cfg.tob_consensus, sizeof(r->cfg.tob_consensus), "%s", cons);
	r->cfg.heartbeat_ms = 20;
	r->cfg.timeout_ms = 100;
	r->cfg.retransmit_min_ms = 10;
	r->cfg.retransmit_max_ms = 100;
	r->cfg.smr_timeout_ms = 1500;
	for (uint32_t i = 1; i <= r->cfg.n; i++) {
		r->cfg.nodes[i].id = i;
		snprintf(r->cfg.nodes[i].host, sizeof(r->cfg.nodes[i].host), "127.0.0.1");
		r->cfg.nodes[i].port = (uint16_t)(7700 + i);
	}
	r->broken = broken;
	r->hist = open_memstream(&r->hbuf, &r->hlen);
	struct sim_opts so = { .seed = seed, .cfg = &r->cfg, .build = build, .output = on_output,
			       .arg = r, .trace = trace };
	r->s = sim_new(&so);
	struct sim *s = r->s;
	struct sim_net calm = { .delay_min_us = 100, .delay_max_us = 1000 };
	sim_set_net(s, &calm);
	sim_start(s);
	sim_run_for(s, 300 * MS, NULL, NULL); /* the detectors settle */
	for (unsigned k = 0; k < NCL; k++) {
		r->cl[k].proc = k + 1;
		r->cl[k].session = 1000 + k;
		r->cl[k].next_at = sim_now(s) + sim_random_below(s, 3 * MS);
	}
	if (faults & F_NET) {
		struct sim_net net = {
			.drop = sim_random_unit(s) * 0.10, .dup = sim_random_unit(s) * 0.05,
			.delay_min_us = 100, .delay_max_us = 100 + sim_random_below(s, 3000),
			.tail = 0.02 + sim_random_unit(s) * 0.1, .tail_us = 20 * MS,
		};
		sim_set_net(s, &net);
	}
	const uint64_t t0 = sim_now(s), t_ops = 1000 * MS;
	uint64_t part_at = t0 + sim_random_below(s, t_ops / 2);
	uint64_t part_len = 200 * MS + sim_random_below(s, 400 * MS);
	uint64_t pause_at = t0 + sim_random_below(s, t_ops / 2);
	uint64_t pause_len = 100 * MS + sim_random_below(s, 600 * MS);
	uint64_t crash_at[2] = { t0 + sim_random_below(s, t_ops / 2),
				 t0 + t_ops / 2 + sim_random_below(s, t_ops / 2) };
	bool parted = false, healed = false, paused = false, resumed = false;
	uint32_t pause_id = 0;
	unsigned crashes = (faults & F_CRASH) ? 1 + (unsigned)sim_random_below(s, 2) : 0;
	for (uint64_t t = t0; t < t0 + t_ops; t += MS) {
		sim_run_until(s, t, NULL, NULL);
		if ((faults & F_PART) && !parted && t >= part_at) {
			partition(r, faults);
			parted = true;
		}
		if (parted && !healed && t >= part_at + part_len) {
			sim_heal(s);
			healed = true;
		}
		if ((faults & F_PAUSE) && !paused && t >= pause_at) {
			pause_id = random_up(r);
			if (pause_id)
				sim_pause(s, pause_id);
			paused = true;
		}
		if (paused && !resumed && t >= pause_at + pause_len) {
			if (pause_id && sim_is_paused(s, pause_id))
				sim_resume(s, pause_id);
			resumed = true;
		}
		if (r->ncrash < crashes && t >= crash_at[r->ncrash]) {
			uint32_t id = random_up(r);
			if (id)
				crash(r, id);
			else
				crashes--;
		}
		send_dups(r);
		for (unsigned k = 0; k < NCL; k++) {
			struct client *c = &r->cl[k];
			if (c->busy || t < c->next_at)
				continue;
			uint32_t node = random_up(r);
			if (!node)
				continue;
			uint64_t x = sim_random_below(s, 100);
			int kind = x < 45 ? OP_GET : x < 85 ? OP_PUT : OP_CAS;
			issue(r, c, kind, keys[sim_random_below(s, NKEYS)], node, faults);
		}
	}
	sim_heal(s);
	for (uint32_t id = 1; id <= r->cfg.n; id++)
		if (sim_is_paused(s, id))
			sim_resume(s, id);
	sim_set_net(s, &calm);
	sim_run_until(s, sim_now(s) + 5000 * MS, all_idle, r);
	int rc = 0;
	for (unsigned k = 0; k < NCL && !rc; k++)
		if (r->cl[k].busy)
			rc = sim_fail(why, wl, "liveness: client %u on node %u got no reply within 5 s "
				      "after healing", k, r->cl[k].node);
	for (unsigned key = 0; key < NKEYS && !rc; key++)
		for (unsigned k = 0; k < NCL && !rc; k++) {
			issue(r, &r->cl[k], OP_GET, keys[key], random_up(r), 0);
			sim_run_until(s, sim_now(s) + 5000 * MS, all_idle, r);
			if (r->cl[k].busy)
				rc = sim_fail(why, wl, "liveness: final read of %s unanswered", keys[key]);
		}
	if (!rc && r->error)
		rc = sim_fail(why, wl, "%s", r->errtxt);
	if (!rc && (r->writes_ok < 5 || r->reads_ok < 5))
		rc = sim_fail(why, wl, "only %u writes and %u reads completed: vacuous run",
			      r->writes_ok, r->reads_ok);
	bool violation = false;
	if (!rc)
		rc = check_agreement(r, why, wl, &violation);
	if (!rc)
		rc = check_history(r, why, wl, &violation);
	if (rc && broken && !violation) {
		fprintf(stderr, "sim_tob_kv: broken variant seed %llu failed for another reason: %s\n",
			(unsigned long long)seed, why);
		exit(1);
	}
	if (trace || getenv("SIM_KV_VERBOSE"))
		fprintf(stderr, "seed %llu: %u ok (%u writes, %u reads), %u info, %u dups, %u "
			"crashes\n", (unsigned long long)seed, r->ops_ok, r->writes_ok, r->reads_ok,
			r->info, r->dups_sent, r->ncrash);
	sim_free(s);
	fclose(r->hist);
	free(r->hbuf);
	free(r);
	return rc;
}

static int run_ldc(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, "", F_NET | F_PART | F_PAUSE | F_CRASH | F_DUPREQ, 0);
}

static int run_uhier(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, "uhier", F_NET | F_PART | F_CRASH | F_DUPREQ, 0);
}

static int run_broken_read(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, "", F_PART | F_ISOLATE, SMR_BROKEN_READ_NO_ROUND);
}

static int run_broken_dup(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, "", F_NET | F_DUPREQ, SMR_BROKEN_DUP_APPLY);
}

static const struct sim_case cases[] = {
	{ "tob-kv-ldc", run_ldc, 30, false },
	{ "tob-kv-uhier", run_uhier, 30, false },
	{ "broken-read-local", run_broken_read, 20, true },
	{ "broken-dup-apply", run_broken_dup, 20, true },
};

int main(int argc, char **argv)
{
	return sim_main(argc, argv, "sim_tob_kv", cases, sizeof(cases) / sizeof(cases[0]));
}
