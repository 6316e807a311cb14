/* Consensus benchmark: decisions per second, latency and messages per decision of every
 * consensus algorithm a local cluster runs, for N = 3, 5, 7, next to the book's message count.
 *
 *   bench_cons [--nodes LIST] [--duration MS] [--clients LIST] [--algos LIST] [--json FILE]
 *
 * For each N it starts a fail-stop cluster (flood, hier, uflood, uhier and ldc all run there: P
 * gives what ldc's Omega needs), a fail-recovery one (lldc) and a randomized one (rbc, rcons, on
 * the threshold coin scripts/cluster deals), with scripts/cluster (fsync on, as always). For each algorithm and client count C (1 and 16 by default) it runs C closed-loop
 * proposers for MS ms: each has its own connection to node (c mod N) + 1, proposes a fresh
 * instance (ids handed out in order, so the instance windows advance) and sends the next proposal
 * as soon as its node has decided. Reported: decisions per second, median and p99 latency from
 * the proposal to the proposing node's decision, and messages per decision (frames the nodes sent,
 * from `status` before and after, minus the idle cluster's background rate, divided by the
 * decisions; self-addressed messages never reach the network and are not counted, the book's
 * count includes them).
 *
 * Before the live runs it prints the communication steps each algorithm needs to decide,
 * measured in the simulator (see "communication steps" below; --steps-only prints just those,
 * in a few seconds, --no-steps skips them); --json writes them too (rows with "kind":"steps"). */
#include "bench_client.h"
#include "cons/tcoin.h"
#include "core/node.h"
#include "fd/fd.h"
#include "rt/sim/sim.h"

#define MAX_CLIENTS 64
#define OP_TIMEOUT_NS 10000000000ull

struct row {
	char algo[16];
	uint32_t n, clients;
	double dps, p50_ms, p99_ms, msgs, book;
	uint64_t decisions, errors;
};

static bool in_list(const char *list, const char *name)
{
	if (!list)
		return true;
	size_t l = strlen(name);
	for (const char *p = list; (p = strstr(p, name)) != NULL; p += l)
		if ((p == list || p[-1] == ',') && (p[l] == 0 || p[l] == ','))
			return true;
	return false;
}

static size_t parse_sizes(const char *s, uint32_t *out, size_t max)
{
	char buf[128];
	size_t n = 0;
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < max;
	     t = strtok_r(NULL, ",", &save))
		out[n++] = (uint32_t)atoi(t);
	return n;
}

struct proposer {
	struct bench_conn k;
	uint64_t sent_ns, req;
	bool busy;
};

static void propose(struct proposer *p, const char *algo, uint64_t inst, uint64_t req)
{
	char key[24], val[48];
	snprintf(key, sizeof key, "%llu", (unsigned long long)inst);
	if (strcmp(algo, "rbc") == 0) /* binary consensus: 0 or 1 */
		snprintf(val, sizeof val, "%u", (unsigned)((inst + req) & 1u));
	else
		snprintf(val, sizeof val, "value-%llu-%llu", (unsigned long long)inst,
			 (unsigned long long)req);
	Strata__Client__Request r = STRATA__CLIENT__REQUEST__INIT;
	Strata__Client__OpRequest o = STRATA__CLIENT__OP_REQUEST__INIT;
	o.module = (char *)(uintptr_t)algo;
	o.op = 6; /* propose */
	o.key.data = (uint8_t *)key;
	o.key.len = strlen(key);
	o.value.data = (uint8_t *)val;
	o.value.len = strlen(val);
	r.id = req;
	r.body_case = STRATA__CLIENT__REQUEST__BODY_OP;
	r.op = &o;
	p->req = req;
	p->sent_ns = bench_now_ns();
	p->busy = bench_send(&p->k, &r) == 0;
}

/* One measurement: C proposers for ms milliseconds on a fresh range of instances. */
static int run_one(const struct bench_cluster *c, const char *algo, uint32_t clients,
		   unsigned ms, uint64_t *next_inst, double idle_fps, struct row *out)
{
	struct proposer p[MAX_CLIENTS];
	memset(p, 0, sizeof(p));
	for (uint32_t i = 0; i < clients; i++)
		if (bench_connect(&p[i].k, c->cfg.nodes[i % c->n + 1].client_port) != 0) {
			for (uint32_t j = 0; j < i; j++)
				bench_close(&p[j].k);
			return -1;
		}
	double *lat = malloc(sizeof(double) * 1000000);
	STRATA_ASSERT(lat);
	size_t nlat = 0;
	uint64_t errors = 0, req = 1;
	struct bench_ctr a, b;
	uint64_t ta, tb;
	if (bench_cluster_ctr(c, &a, &ta) != 0) {
		free(lat);
		return -1;
	}
	uint64_t t0 = bench_now_ns(), end = t0 + (uint64_t)ms * 1000000ull;
	for (uint32_t i = 0; i < clients; i++)
		propose(&p[i], algo, (*next_inst)++, req++);
	struct pollfd pf[MAX_CLIENTS];
	for (;;) {
		uint64_t now = bench_now_ns();
		bool any = false;
		for (uint32_t i = 0; i < clients; i++) {
			pf[i] = (struct pollfd){ .fd = p[i].k.fd, .events = POLLIN };
			any |= p[i].busy;
			if (p[i].busy && now - p[i].sent_ns > OP_TIMEOUT_NS) {
				errors++;
				p[i].busy = false;
			}
		}
		if (!any)
			break;
		if (poll(pf, clients, 50) < 0 && errno != EINTR)
			break;
		for (uint32_t i = 0; i < clients; i++) {
			if (!(pf[i].revents & POLLIN) || bench_fill(&p[i].k) != 0)
				continue;
			Strata__Client__Response *r = NULL;
			while (bench_take(&p[i].k, &r) == 1) {
				if (r->id == p[i].req && p[i].busy) {
					uint64_t t = bench_now_ns();
					if (r->status == 0 && nlat < 1000000)
						lat[nlat++] = (double)(t - p[i].sent_ns) / 1e6;
					else if (r->status != 0)
						errors++;
					p[i].busy = false;
					if (t < end)
						propose(&p[i], algo, (*next_inst)++, req++);
				}
				strata__client__response__free_unpacked(r, NULL);
			}
		}
	}
	uint64_t t1 = bench_now_ns();
	bench_cluster_ctr(c, &b, &tb);
	for (uint32_t i = 0; i < clients; i++)
		bench_close(&p[i].k);
	const struct strata_algo *al = strata_algo_find(algo);
	snprintf(out->algo, sizeof(out->algo), "%s", algo);
	out->n = c->n;
	out->clients = clients;
	out->decisions = nlat;
	out->errors = errors;
	out->dps = (double)nlat * 1e9 / (double)(t1 - t0);
	out->p50_ms = bench_quantile(lat, nlat, 0.5);
	out->p99_ms = bench_quantile(lat, nlat, 0.99);
	double frames = (double)(b.frames_out - a.frames_out) - idle_fps * (double)(tb - ta) / 1e9;
	out->msgs = nlat ? frames / (double)nlat : NAN;
	out->book = al ? bench_book_count(al->messages, NULL, c->n) : NAN;
	free(lat);
	return 0;
}

/* ---- communication steps, measured in the simulator ----
 *
 * A communication step is one message delay (the book's measure). Live latencies mix message
 * delays with processing, fsync and scheduling, so the steps are measured where a message delay
 * is exact: the deterministic simulator (src/rt/sim) runs the node's own stack (the detector and
 * leader module of the model, the algorithm from the catalog, the perfect links under it) with
 * every datagram taking exactly STEP_US of virtual time, no loss and no crash, instantaneous
 * fsync, and processing taking no virtual time. The steps on the critical path of a decision are
 * then (decision time - proposal time) / STEP_US. Two scenarios per algorithm and N, each over
 * STEP_SEEDS seeds (the seeds only change tie-breaks between simultaneous datagrams and, for
 * rbc and rcons, the coin): every process proposes at once (the book's setting), and only
 * process N proposes (the others join when they hear of it; for ldc/lldc a non-leader, so the
 * VALUE hop to the leader is on the path). Reported: steps until the first process decides and
 * until the last one does (mean over the seeds, and the maximum). */
#define STEP_US 10000ull
#define STEP_SEEDS 10u
#define STEP_MAXN 8u

struct steps_run {
	const struct strata_algo *a;
	uint32_t n;
	uint64_t t0;
	uint64_t first, last; /* decision times, 0 = none yet */
	uint32_t decided;
	uint16_t wire;
};

static void steps_build(struct sim *s, struct strata_node *n, void *arg)
{
	const struct strata_algo *a = ((struct steps_run *)arg)->a;
	char err[256];
	(void)s;
	if (strata_fd_build(n, err, sizeof(err)) != 0 || !strata_algo_create(a, n, err, sizeof(err))) {
		fprintf(stderr, "bench_cons: steps: %s: %s\n", a->name, err);
		abort();
	}
}

static void steps_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	(void)node;
	struct steps_run *r = arg;
	if (!r->t0 || o->kind != STRATA_OUT_DELIVER || o->module != r->wire || o->a != 1)
		return;
	uint64_t t = sim_now(s);
	if (!r->first)
		r->first = t;
	r->last = t;
	r->decided++;
}

static enum strata_model steps_model(const char *algo)
{
	if (!strcmp(algo, "ldc"))
		return STRATA_MODEL_FAIL_NOISY;
	if (!strcmp(algo, "lldc"))
		return STRATA_MODEL_FAIL_RECOVERY;
	if (!strcmp(algo, "rbc") || !strcmp(algo, "rcons"))
		return STRATA_MODEL_RANDOMIZED;
	return STRATA_MODEL_FAIL_STOP;
}

/* One seed: 0 and the two step counts, or -1 (no decision everywhere within 200 steps). */
static int steps_one(const struct strata_algo *a, uint32_t n, bool all, uint64_t seed,
		     double *first, double *last)
{
	struct strata_config cfg;
	uint8_t shares[STEP_MAXN][32], vk[STEP_MAXN][32];
	strata_config_defaults(&cfg);
	snprintf(cfg.cluster_id, sizeof(cfg.cluster_id), "bench-cons-steps");
	cfg.n = n;
	cfg.f = (n - 1) / 2;
	cfg.model = steps_model(a->name);
	if (cfg.model == STRATA_MODEL_RANDOMIZED) {
		uint8_t dseed[32] = { (uint8_t)n, 's', 't', 'e', 'p', 's' };
		cfg.coin_threshold = cfg.f + 1;
		STRATA_ASSERT(tcoin_deal(n, cfg.coin_threshold, dseed, shares, vk) == 0);
	}
	for (uint32_t i = 1; i <= n; i++) {
		cfg.nodes[i].id = i;
		snprintf(cfg.nodes[i].host, sizeof(cfg.nodes[i].host), "127.0.0.1");
		cfg.nodes[i].port = (uint16_t)(7400 + i);
		if (cfg.model == STRATA_MODEL_RANDOMIZED) {
			memcpy(cfg.nodes[i].coin_key, vk[i - 1], 32);
			cfg.nodes[i].has_coin_key = true;
		}
	}
	struct steps_run r = { .a = a, .n = n, .wire = a->wire_id };
	struct sim_opts so = {
		.seed = seed, .cfg = &cfg, .build = steps_build, .output = steps_output,
		.arg = &r,
		.coin_shares = cfg.model == STRATA_MODEL_RANDOMIZED ?
				       (const uint8_t(*)[32])shares : NULL,
	};
	struct sim *s = sim_new(&so);
	struct sim_net net = { .delay_min_us = STEP_US, .delay_max_us = STEP_US };
	sim_set_net(s, &net);
	sim_start(s);
	sim_run_for(s, 2000000ull, NULL, NULL); /* detectors settle, Omega elects, epoch 1 starts */
	r.t0 = sim_now(s);
	for (uint32_t q = all ? 1 : n; q <= n; q++) {
		char val[32];
		int vlen = !strcmp(a->name, "rbc") ? snprintf(val, sizeof val, "%u", q % 2) :
						     snprintf(val, sizeof val, "v%u", q);
		struct strata_request req = {
			.id = q, .op = STRATA_OP_PROPOSE, .key = (const uint8_t *)"1", .key_len = 1,
			.value = (const uint8_t *)val, .value_len = (size_t)vlen,
		};
		sim_request(s, q, a->name, &req);
	}
	while (r.decided < n && sim_now(s) < r.t0 + 200 * STEP_US && sim_step(s))
		;
	sim_free(s);
	if (r.decided < n)
		return -1;
	*first = (double)(r.first - r.t0) / (double)STEP_US;
	*last = (double)(r.last - r.t0) / (double)STEP_US;
	return 0;
}

/* The book's failure-free figure, as docs/consensus.md states it per algorithm. */
static const char *steps_book(const char *algo)
{
	static const struct {
		const char *algo, *book;
	} t[] = {
		{ "flood", "1 (one round)" },
		{ "hier", "N - 1 (process p after p - 1; p1 at once)" },
		{ "uflood", "N (N rounds)" },
		{ "uhier", "3: PROPOSAL, ACK, DECIDED (leader 2)" },
		{ "ldc", "5: READ..DECIDED (leader 4, +1 VALUE off-leader)" },
		{ "lldc", "as ldc" },
		{ "rbc", "2 per round + 1 for the coin" },
		{ "rcons", "2 + the binary rounds" },
	};
	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++)
		if (!strcmp(t[k].algo, algo))
			return t[k].book;
	return "";
}

/* A JSON number, or null for NaN. */
static const char *jnum(char buf[24], double v)
{
	if (v != v)
		snprintf(buf, 24, "null");
	else
		snprintf(buf, 24, "%.3f", v);
	return buf;
}

struct steps_row {
	char algo[16];
	uint32_t n;
	double all_first, all_last, all_max, one_first, one_last, one_max;
	unsigned failed;
};

static void steps_measure(const char *algo, uint32_t n, struct steps_row *row)
{
	const struct strata_algo *a = strata_algo_find(algo);
	memset(row, 0, sizeof(*row));
	snprintf(row->algo, sizeof(row->algo), "%s", algo);
	row->n = n;
	if (!a || n > STEP_MAXN - 1) {
		row->failed = STEP_SEEDS;
		return;
	}
	double sums[4] = { 0 };
	unsigned ok[2] = { 0 };
	for (unsigned sc = 0; sc < 2; sc++)
		for (unsigned k = 0; k < STEP_SEEDS; k++) {
			double f, l;
			if (steps_one(a, n, sc == 0, 1000 + k, &f, &l) != 0) {
				row->failed++;
				continue;
			}
			ok[sc]++;
			sums[2 * sc] += f;
			sums[2 * sc + 1] += l;
			double *mx = sc == 0 ? &row->all_max : &row->one_max;
			if (l > *mx)
				*mx = l;
		}
	row->all_first = ok[0] ? sums[0] / ok[0] : NAN;
	row->all_last = ok[0] ? sums[1] / ok[0] : NAN;
	row->one_first = ok[1] ? sums[2] / ok[1] : NAN;
	row->one_last = ok[1] ? sums[3] / ok[1] : NAN;
}

int main(int argc, char **argv)
{
	const char *nodes_s = "3,5,7", *clients_s = "1,16", *algos = NULL, *json = NULL;
	unsigned ms = 1000;
	bool steps_only = false, no_steps = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--nodes") && i + 1 < argc)
			nodes_s = argv[++i];
		else if (!strcmp(argv[i], "--clients") && i + 1 < argc)
			clients_s = argv[++i];
		else if (!strcmp(argv[i], "--algos") && i + 1 < argc)
			algos = argv[++i];
		else if (!strcmp(argv[i], "--duration") && i + 1 < argc)
			ms = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			json = argv[++i];
		else if (!strcmp(argv[i], "--steps-only"))
			steps_only = true;
		else if (!strcmp(argv[i], "--no-steps"))
			no_steps = true;
		else {
			fprintf(stderr, "usage: bench_cons [--nodes 3,5,7] [--duration MS] "
					"[--clients 1,16] [--algos LIST] [--json FILE] "
					"[--steps-only | --no-steps]\n");
			return 2;
		}
	}
	uint32_t nodes[8], clients[8];
	size_t nn = parse_sizes(nodes_s, nodes, 8), nc = parse_sizes(clients_s, clients, 8);
	bench_install_handlers();
	struct row rows[256];
	size_t nrows = 0;
	static const struct {
		const char *model;
		const char *algos[6];
	} clusters[] = {
		{ "fail-stop", { "flood", "hier", "uflood", "uhier", "ldc", NULL } },
		{ "fail-recovery", { "lldc", NULL } },
		{ "randomized", { "rbc", "rcons", NULL } }, /* the threshold coin: scripts/cluster */
	};
	static const char *const step_algos[] = { "flood", "hier", "uflood", "uhier", "ldc",
						  "lldc", "rbc", "rcons" };
	struct steps_row steps[64];
	size_t nsteps = 0;
	if (!no_steps) {
		printf("communication steps to decide (simulated: every message takes exactly one "
		       "step, no faults; mean over %u seeds)\n", STEP_SEEDS);
		printf("%-7s %2s %23s %23s  %s\n", "", "", "all N propose", "only node N proposes",
		       "");
		printf("%-7s %2s %7s %7s %7s %7s %7s %7s  %s\n", "algo", "N", "first", "last",
		       "max", "first", "last", "max", "book (failure-free)");
		for (size_t ni = 0; ni < nn; ni++)
			for (size_t k = 0; k < sizeof(step_algos) / sizeof(step_algos[0]); k++) {
				if (!in_list(algos, step_algos[k]) || nsteps >= 64)
					continue;
				struct steps_row *s = &steps[nsteps++];
				steps_measure(step_algos[k], nodes[ni], s);
				printf("%-7s %2u %7.2f %7.2f %7.0f %7.2f %7.2f %7.0f  %s%s\n", s->algo,
				       s->n, s->all_first, s->all_last, s->all_max, s->one_first,
				       s->one_last, s->one_max, steps_book(s->algo),
				       s->failed ? " (some seeds did not decide)" : "");
				fflush(stdout);
			}
		printf("\n");
	}
	char log[256];
	snprintf(log, sizeof log, "/tmp/bench_cons.%d.log", (int)getpid());
	if (steps_only)
		nn = 0;
	else
		printf("%-7s %2s %3s %10s %9s %9s %10s %10s %s\n", "algo", "N", "C", "decided/s", "p50 ms",
	       "p99 ms", "msgs/dec", "book", "errors");
	for (size_t ni = 0; ni < nn; ni++) {
		for (size_t ci = 0; ci < sizeof(clusters) / sizeof(clusters[0]); ci++) {
			bool want = false;
			for (int k = 0; clusters[ci].algos[k]; k++)
				want |= in_list(algos, clusters[ci].algos[k]);
			if (!want)
				continue;
			struct bench_cluster c;
			if (bench_cluster_start(&c, nodes[ni], clusters[ci].model, log) != 0) {
				bench_cluster_stop(&c);
				continue;
			}
			bench_sleep_ms(1500); /* detectors settle, Omega elects */
			double idle = bench_idle_frames_per_s(&c, 500);
			for (int k = 0; clusters[ci].algos[k]; k++) {
				const char *algo = clusters[ci].algos[k];
				if (!in_list(algos, algo))
					continue;
				uint64_t next = 1;
				for (size_t x = 0; x < nc && nrows < 256; x++) {
					struct row *r = &rows[nrows];
					if (run_one(&c, algo, clients[x], ms, &next, idle, r) != 0)
						continue;
					nrows++;
					printf("%-7s %2u %3u %10.0f %9.2f %9.2f %10.1f %10.0f %llu\n", r->algo,
					       r->n, r->clients, r->dps, r->p50_ms, r->p99_ms, r->msgs,
					       r->book, (unsigned long long)r->errors);
					fflush(stdout);
				}
			}
			bench_cluster_stop(&c);
		}
	}
	if (json) {
		FILE *f = fopen(json, "w");
		if (f) {
			fprintf(f, "[\n");
			for (size_t i = 0; i < nsteps; i++) {
				const struct steps_row *s = &steps[i];
				char v[4][24];
				fprintf(f,
					"  {\"kind\":\"steps\",\"algo\":\"%s\",\"n\":%u,"
					"\"all_first\":%s,\"all_last\":%s,\"all_max\":%.0f,"
					"\"one_first\":%s,\"one_last\":%s,\"one_max\":%.0f,"
					"\"failed_seeds\":%u,\"book\":\"%s\"}%s\n",
					s->algo, s->n, jnum(v[0], s->all_first),
					jnum(v[1], s->all_last), s->all_max, jnum(v[2], s->one_first),
					jnum(v[3], s->one_last), s->one_max, s->failed,
					steps_book(s->algo), i + 1 < nsteps || nrows ? "," : "");
			}
			for (size_t i = 0; i < nrows; i++)
				fprintf(f,
					"  {\"algo\":\"%s\",\"n\":%u,\"clients\":%u,\"decisions_per_s\":%.1f,"
					"\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"msgs_per_decision\":%.2f,"
					"\"book_msgs\":%.0f,\"errors\":%llu}%s\n",
					rows[i].algo, rows[i].n, rows[i].clients, rows[i].dps,
					rows[i].p50_ms, rows[i].p99_ms, rows[i].msgs, rows[i].book,
					(unsigned long long)rows[i].errors, i + 1 < nrows ? "," : "");
			fprintf(f, "]\n");
			fclose(f);
		}
	}
	return 0;
}
