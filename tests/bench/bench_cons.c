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
 * count includes them). */
#include "bench_client.h"

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

int main(int argc, char **argv)
{
	const char *nodes_s = "3,5,7", *clients_s = "1,16", *algos = NULL, *json = NULL;
	unsigned ms = 1000;
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
		else {
			fprintf(stderr, "usage: bench_cons [--nodes 3,5,7] [--duration MS] "
					"[--clients 1,16] [--algos LIST] [--json FILE]\n");
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
	char log[256];
	snprintf(log, sizeof log, "/tmp/bench_cons.%d.log", (int)getpid());
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
