/* Register benchmark: latency, throughput and messages per operation of every register algorithm
 * a real local cluster runs, next to the book's message count and a raw UDP round trip measured
 * in the same run.
 *
 *   bench_reg [--nodes N] [--duration MS] [--runs R] [--clients LIST] [--algos LIST]
 *             [--models LIST] [--no-fail-stop] [--json FILE]
 *
 * --models runs clusters of exactly those models (e.g. fail-recovery for lmv) instead of the
 * default fail-noisy and fail-stop ones. Every row also reports the CPU time per operation of
 * all node processes together (/proc) and of this client process (getrusage), and, where the
 * nodes stored anything, stores/s, syncs/s and batches/s summed over the nodes (the status
 * counters of the turn-batches; a baseline build without them reports none).
 *
 * For each cluster (a fail-noisy one: every fail-silent/fail-noisy register plus the leaderless
 * store; then a fail-stop one: the registers only a perfect failure detector allows, rowa, riwa,
 * riwca) it starts N stratad processes with scripts/cluster, and for each algorithm runs
 * closed-loop clients over TCP: C clients (1 and 16 by default), each with its own connection
 * and its own key, one operation outstanding, the next sent as soon as the answer arrives. Writes
 * first (so the keys hold values), then reads, each for R runs of MS ms.
 *
 * Clients are spread round-robin over the nodes that accept the operation: single-writer
 * registers take writes only at the configured writer, (1,1) registers reads only at their
 * reader; both are found by asking every node once before measuring.
 *
 * Reported per algorithm, operation and client count: median and p99 latency over every
 * operation of the R runs, throughput (median over the runs), and messages per operation: the
 * frames the nodes sent (frames_out summed over nodes, read from `status` before and after each
 * run) minus the idle cluster's background rate (heartbeats) times the run's length, divided by
 * the operations completed. Self-addressed messages never reach the network and are not counted;
 * acknowledgements travel in datagram headers, not as frames, so they do not count either
 * (retransmitted frames do; they are also reported separately). The book's count (strata_algo
 * messages, which includes messages to self) is evaluated for N beside it.
 *
 * The raw UDP round trip is a ping-pong with a forked echo process (median of 2000); nnar's 1-client
 * medians are divided by 2 such round trips (its write and its read each take two: query, then
 * impose), target <= 3x. */
#include <sys/resource.h>

#include "bench_client.h"

#define MAX_CLIENTS 64
#define OP_TIMEOUT_NS 5000000000ull

struct sample_vec {
	double *v;
	size_t n, cap;
};

static void vec_push(struct sample_vec *s, double x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 4096;
		s->v = realloc(s->v, s->cap * sizeof(double));
		STRATA_ASSERT(s->v);
	}
	s->v[s->n++] = x;
}

struct result {
	char cluster[16];
	char algo[32];
	const char *op;
	unsigned clients;
	double p50_ms, p99_ms, ops_per_s, msgs_per_op, retx_per_op;
	double node_cpu_us_per_op, client_cpu_us_per_op; /* CPU per operation, all nodes / client */
	double stores_per_s, syncs_per_s, batches_per_s;
	double book;
	char book_spec[96];
	unsigned long errors;
	size_t samples;
	bool ok;
};

static struct result results[256];
static size_t nresults;

struct opts {
	uint32_t nodes;
	unsigned duration_ms, runs;
	unsigned clients[8];
	size_t nclients;
	const char *algos; /* comma list or NULL = all */
	bool fail_stop;
	const char *models; /* comma list of cluster models, or NULL = fail-noisy then fail-stop */
	const char *json;
	char log[1100];
};

/* CPU time (user + system, microseconds) this process used so far: the clients. */
static double self_cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* One closed-loop run: `nc` clients on the given nodes; latencies appended to lat (ms).
 * Returns completed operations; *errors counts error answers and timeouts. */
static uint64_t run_closed_loop(const struct bench_cluster *c, const char *algo, bool write,
				unsigned nc, const uint32_t *nodes, size_t nn, unsigned duration_ms,
				struct sample_vec *lat, unsigned long *errors, double *elapsed_s)
{
	struct bench_conn k[MAX_CLIENTS];
	uint64_t sent_at[MAX_CLIENTS], req_id[MAX_CLIENTS], seq = 0, done = 0;
	bool busy[MAX_CLIENTS];
	char key[MAX_CLIENTS][16];
	for (unsigned i = 0; i < nc; i++) {
		uint32_t node = nodes[i % nn];
		if (bench_connect(&k[i], c->cfg.nodes[node].client_port) != 0) {
			fprintf(stderr, "bench_reg: cannot connect to node %u\n", node);
			for (unsigned j = 0; j < i; j++)
				bench_close(&k[j]);
			return 0;
		}
		snprintf(key[i], sizeof(key[i]), "bk%u", i);
		busy[i] = false;
	}
	uint64_t t0 = bench_now_ns(), end = t0 + (uint64_t)duration_ms * 1000000ull;
	uint64_t last_done = t0;
	for (;;) {
		uint64_t now = bench_now_ns();
		bool any_busy = false;
		for (unsigned i = 0; i < nc; i++) {
			if (!busy[i] && now < end) {
				char val[32];
				snprintf(val, sizeof(val), "v%u-%llu", i, (unsigned long long)seq);
				Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
				Strata__Client__OpRequest o = STRATA__CLIENT__OP_REQUEST__INIT;
				o.module = (char *)(uintptr_t)algo;
				o.op = write ? STRATA_OP_WRITE : STRATA_OP_READ;
				o.key.data = (uint8_t *)key[i];
				o.key.len = strlen(key[i]);
				if (write) {
					o.value.data = (uint8_t *)val;
					o.value.len = strlen(val);
				}
				req.id = req_id[i] = ++seq;
				req.body_case = STRATA__CLIENT__REQUEST__BODY_OP;
				req.op = &o;
				sent_at[i] = bench_now_ns();
				if (bench_send(&k[i], &req) != 0) {
					fprintf(stderr, "bench_reg: send: %s\n", strerror(errno));
					(*errors)++;
					continue;
				}
				busy[i] = true;
			}
			if (busy[i] && now > sent_at[i] + OP_TIMEOUT_NS) {
				/* An answer this late is lost for the benchmark; the connection is
				 * still usable for the next request (ids tell answers apart). */
				fprintf(stderr, "bench_reg: %s %s on %s: no answer in %llu s\n", algo,
					write ? "write" : "read", key[i],
					(unsigned long long)(OP_TIMEOUT_NS / 1000000000ull));
				(*errors)++;
				busy[i] = false;
			}
			any_busy |= busy[i];
		}
		if (!any_busy && now >= end)
			break;
		struct pollfd p[MAX_CLIENTS];
		for (unsigned i = 0; i < nc; i++)
			p[i] = (struct pollfd){ .fd = k[i].fd, .events = POLLIN };
		if (poll(p, nc, 50) < 0 && errno != EINTR)
			break;
		for (unsigned i = 0; i < nc; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (bench_fill(&k[i]) != 0) {
				fprintf(stderr, "bench_reg: connection %u lost\n", i);
				(*errors)++;
				busy[i] = false;
				continue;
			}
			Strata__Client__Response *r;
			while (bench_take(&k[i], &r) == 1) {
				if (busy[i] && r->id == req_id[i]) {
					uint64_t t = bench_now_ns();
					busy[i] = false;
					if (r->status == 0) {
						vec_push(lat, (double)(t - sent_at[i]) / 1e6);
						done++;
						last_done = t;
					} else {
						if (*errors < 3)
							fprintf(stderr, "bench_reg: %s %s: %s\n", algo,
								write ? "write" : "read",
								r->error ? r->error : "?");
						(*errors)++;
					}
				}
				strata__client__response__free_unpacked(r, NULL);
			}
		}
	}
	for (unsigned i = 0; i < nc; i++)
		bench_close(&k[i]);
	*elapsed_s = (double)(last_done - t0) / 1e9;
	return done;
}

/* The nodes that accept `op` of `algo` (a single-writer register only at its writer, a (1,1)
 * register's reads only at its reader). */
static size_t probe_nodes(const struct bench_cluster *c, const char *algo, uint32_t op,
			  uint32_t *out)
{
	size_t nn = 0;
	for (uint32_t i = 1; i <= c->n; i++) {
		struct bench_conn k;
		if (bench_connect(&k, c->cfg.nodes[i].client_port) != 0)
			continue;
		int st = bench_op(&k, 1, algo, op, "probe", op == STRATA_OP_WRITE ? "p" : NULL, 3000);
		bench_close(&k);
		if (st == 0)
			out[nn++] = i;
	}
	return nn;
}

/* The part of the table's messages string about one operation: "4N" from "write 4N, read 4N". */
static void book_part(const char *spec, const char *op, char *out, size_t len)
{
	size_t ol = strlen(op);
	const char *p = spec;
	for (; (p = strstr(p, op)) != NULL; p += ol)
		if ((p == spec || p[-1] == ' ' || p[-1] == ',') && p[ol] == ' ')
			break;
	if (!p) {
		snprintf(out, len, "%s", spec);
		return;
	}
	p += ol + 1;
	size_t n = 0;
	int depth = 0;
	while (p[n] && (p[n] != ',' || depth > 0)) {
		depth += p[n] == '(' ? 1 : p[n] == ')' ? -1 : 0;
		n++;
	}
	snprintf(out, len, "%.*s", (int)n, p);
}

static bool algo_selected(const struct opts *o, const char *name)
{
	if (!o->algos)
		return true;
	size_t l = strlen(name);
	for (const char *p = o->algos; (p = strstr(p, name)) != NULL; p += l)
		if ((p == o->algos || p[-1] == ',') && (p[l] == 0 || p[l] == ','))
			return true;
	return false;
}

static void bench_algo(const struct bench_cluster *c, const struct opts *o, const char *model,
		       const struct strata_algo *a, double idle_fps)
{
	uint32_t wnodes[STRATA_MAX_NODES], rnodes[STRATA_MAX_NODES];
	size_t nw = probe_nodes(c, a->name, STRATA_OP_WRITE, wnodes);
	size_t nr = probe_nodes(c, a->name, STRATA_OP_READ, rnodes);
	fprintf(stderr, "bench_reg: %s: writes at %zu node(s), reads at %zu node(s)\n", a->name, nw,
		nr);
	for (int w = 1; w >= 0; w--) {
		const uint32_t *nodes = w ? wnodes : rnodes;
		size_t nn = w ? nw : nr;
		for (size_t ci = 0; ci < o->nclients; ci++) {
			STRATA_ASSERT(nresults < sizeof(results) / sizeof(results[0]));
			struct result *r = &results[nresults++];
			memset(r, 0, sizeof(*r));
			snprintf(r->cluster, sizeof(r->cluster), "%s", model);
			snprintf(r->algo, sizeof(r->algo), "%s", a->name);
			r->op = w ? "write" : "read";
			r->clients = o->clients[ci];
			const char *opname = w ? (strcmp(a->family, "lkv") ? "write" : "put")
					       : (strcmp(a->family, "lkv") ? "read" : "get");
			book_part(a->messages, opname, r->book_spec, sizeof(r->book_spec));
			r->book = bench_book_count(a->messages, opname, c->n);
			if (nn == 0) {
				fprintf(stderr, "bench_reg: %s %s: no node accepts it\n", a->name, r->op);
				continue;
			}
			struct sample_vec lat = { 0 };
			double tput[32], mpo[32], rpo[32], ncpu[32], ccpu[32], sto[32], syn[32],
				bat[32];
			unsigned good = 0;
			for (unsigned run = 0; run < o->runs && run < 32; run++) {
				struct bench_ctr before, after;
				uint64_t tb, ta;
				double el = 0;
				if (bench_cluster_ctr(c, &before, &tb) != 0)
					break;
				double cpu0 = bench_cluster_cpu_us(c), ccpu0 = self_cpu_us();
				uint64_t ops = run_closed_loop(c, a->name, w, o->clients[ci], nodes, nn,
							       o->duration_ms, &lat, &r->errors, &el);
				double cpu1 = bench_cluster_cpu_us(c), ccpu1 = self_cpu_us();
				bench_sleep_ms(50); /* let the tail of the last operation leave */
				if (bench_cluster_ctr(c, &after, &ta) != 0 || ops == 0 || el <= 0)
					continue;
				double secs = (double)(ta - tb) / 1e9;
				ncpu[good] = (cpu1 - cpu0) / (double)ops;
				ccpu[good] = (ccpu1 - ccpu0) / (double)ops;
				sto[good] = (double)(after.stores - before.stores) / secs;
				syn[good] = (double)(after.syncs - before.syncs) / secs;
				bat[good] = (double)(after.batches - before.batches) / secs;
				double bg = idle_fps * (double)(ta - tb) / 1e9;
				tput[good] = (double)ops / el;
				mpo[good] = ((double)(after.frames_out - before.frames_out) - bg) / (double)ops;
				rpo[good] = (double)(after.retransmits - before.retransmits) / (double)ops;
				good++;
			}
			if (good == 0 || lat.n == 0) {
				free(lat.v);
				continue;
			}
			r->samples = lat.n;
			r->p50_ms = bench_quantile(lat.v, lat.n, 0.5);
			r->p99_ms = bench_quantile(lat.v, lat.n, 0.99);
			r->ops_per_s = bench_quantile(tput, good, 0.5);
			r->msgs_per_op = bench_quantile(mpo, good, 0.5);
			if (fabs(r->msgs_per_op) < 0.05) /* heartbeat jitter around nothing */
				r->msgs_per_op = 0;
			r->retx_per_op = bench_quantile(rpo, good, 0.5);
			r->node_cpu_us_per_op = bench_quantile(ncpu, good, 0.5);
			r->client_cpu_us_per_op = bench_quantile(ccpu, good, 0.5);
			r->stores_per_s = bench_quantile(sto, good, 0.5);
			r->syncs_per_s = bench_quantile(syn, good, 0.5);
			r->batches_per_s = bench_quantile(bat, good, 0.5);
			r->ok = true;
			free(lat.v);
			char book[32] = "-";
			if (!isnan(r->book))
				snprintf(book, sizeof(book), "%.0f", r->book);
			char extra[64] = "";
			if (r->retx_per_op >= 0.01)
				snprintf(extra, sizeof(extra), ", %.2f retransmitted", r->retx_per_op);
			printf("%-10s %-12s %-5s c=%-2u  p50 %7.3f ms  p99 %7.3f ms  %6.0f ops/s  "
			       "%5.1f msgs/op%s (book %s = %s)%s\n",
			       model, a->name, r->op, r->clients, r->p50_ms, r->p99_ms, r->ops_per_s,
			       r->msgs_per_op, extra, r->book_spec, book,
			       r->errors ? "  [errors: see bench_reg.log]" : "");
			printf("%-10s %-12s %-5s c=%-2u  CPU %.1f us/op in the nodes (all), %.1f us/op in "
			       "the client",
			       "", "", "", r->clients, r->node_cpu_us_per_op, r->client_cpu_us_per_op);
			if (r->stores_per_s > 0)
				printf("; stores %.0f/s, syncs %.0f/s (%.1f ops/sync, %.1f stores/sync), "
				       "batches %.0f/s",
				       r->stores_per_s, r->syncs_per_s,
				       r->syncs_per_s > 0 ? r->ops_per_s * o->nodes / r->syncs_per_s : 0,
				       r->syncs_per_s > 0 ? r->stores_per_s / r->syncs_per_s : 0,
				       r->batches_per_s);
			printf("\n");
			fflush(stdout);
		}
	}
}

/* Median time (ms) of a request the daemon answers at once (an operation on a module that does
 * not exist): the client hop (TCP, the node's event loop, protobuf) every operation pays on top of
 * its round trips between nodes. */
static double client_hop_ms(const struct bench_cluster *c)
{
	struct bench_conn k;
	if (bench_connect(&k, c->cfg.nodes[1].client_port) != 0)
		return NAN;
	double v[1000];
	size_t n = 0;
	for (uint64_t i = 1; i <= 1000; i++) {
		uint64_t t0 = bench_now_ns();
		int st = bench_op(&k, i, "no-such-module", STRATA_OP_READ, "x", NULL, 3000);
		if (st != STRATA_ETIMEDOUT && st != STRATA_EIO)
			v[n++] = (double)(bench_now_ns() - t0) / 1e6;
	}
	bench_close(&k);
	return bench_quantile(v, n, 0.5);
}

static double hop_ms = NAN;

struct collect {
	const struct strata_algo *v[64];
	size_t n;
};

static void collect_fn(const struct strata_algo *a, void *arg)
{
	struct collect *c = arg;
	if (c->n < 64)
		c->v[c->n++] = a;
}

/* Runs every selected register the cluster of `model` runs; with only_model, only those whose
 * model is exactly that (the fail-stop cluster adds rowa, riwa, riwca to what fail-noisy ran). */
static int bench_cluster(const struct opts *o, const char *model, bool only_model)
{
	struct bench_cluster c;
	enum strata_model m = (enum strata_model)strata_model_parse(model);
	struct collect all = { .n = 0 };
	strata_algo_foreach("reg", collect_fn, &all);
	strata_algo_foreach("lkv", collect_fn, &all);
	bool any = false;
	for (size_t i = 0; i < all.n; i++)
		any |= strata_model_supports(m, all.v[i]->model) && algo_selected(o, all.v[i]->name) &&
		       (!only_model || all.v[i]->model == m);
	if (!any)
		return 0;
	if (bench_cluster_start(&c, o->nodes, model, o->log) != 0) {
		bench_cluster_stop(&c);
		return -1;
	}
	double idle = bench_idle_frames_per_s(&c, 2000);
	if (isnan(hop_ms)) {
		hop_ms = client_hop_ms(&c);
		printf("client hop (request answered by the node at once, median of 1000): %.1f us\n",
		       hop_ms * 1000);
	}
	fprintf(stderr, "bench_reg: %s cluster of %u: idle %.0f frames/s\n", model, c.n, idle);
	for (size_t i = 0; i < all.n; i++) {
		const struct strata_algo *a = all.v[i];
		char why[256];
		if (strata_algo_check(a, &c.cfg, why, sizeof(why)) != 0)
			continue;
		if (only_model && a->model != m)
			continue;
		if (!algo_selected(o, a->name))
			continue;
		bench_algo(&c, o, model, a, isnan(idle) ? 0 : idle);
	}
	bench_cluster_stop(&c);
	return 0;
}

static const struct result *find(const char *algo, const char *op, unsigned clients)
{
	for (size_t i = 0; i < nresults; i++)
		if (results[i].ok && !strcmp(results[i].algo, algo) && !strcmp(results[i].op, op) &&
		    results[i].clients == clients)
			return &results[i];
	return NULL;
}

static void json_num(FILE *f, const char *k, double v, bool comma)
{
	if (isnan(v) || isinf(v))
		fprintf(f, "\"%s\": null%s", k, comma ? ", " : "");
	else
		fprintf(f, "\"%s\": %.4g%s", k, v, comma ? ", " : "");
}

int main(int argc, char **argv)
{
	struct opts o = { .nodes = 5, .duration_ms = 1000, .runs = 3, .clients = { 1, 16 },
			  .nclients = 2, .fail_stop = true };
	char top[1024];
	bench_top(top, sizeof(top));
	char json_default[1100];
	snprintf(json_default, sizeof(json_default), "%s/build/bench/reg.json", top);
	o.json = json_default;
	snprintf(o.log, sizeof(o.log), "%s/build/bench/bench_reg.cluster.log", top);
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "--nodes") && v)
			o.nodes = (uint32_t)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--duration") && v)
			o.duration_ms = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--runs") && v)
			o.runs = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--algos") && v)
			o.algos = argv[++i];
		else if (!strcmp(argv[i], "--json") && v)
			o.json = argv[++i];
		else if (!strcmp(argv[i], "--models") && v)
			o.models = argv[++i];
		else if (!strcmp(argv[i], "--no-fail-stop"))
			o.fail_stop = false;
		else if (!strcmp(argv[i], "--clients") && v) {
			o.nclients = 0;
			char buf[128];
			snprintf(buf, sizeof(buf), "%s", argv[++i]);
			for (char *s = NULL, *t = strtok_r(buf, ",", &s); t && o.nclients < 8;
			     t = strtok_r(NULL, ",", &s))
				o.clients[o.nclients++] = (unsigned)atoi(t);
		} else {
			fprintf(stderr,
				"usage: %s [--nodes N] [--duration MS] [--runs R] [--clients LIST] "
				"[--algos LIST] [--models LIST] [--no-fail-stop] [--json FILE]\n",
				argv[0]);
			return 2;
		}
	}
	if (o.nodes < 3 || o.nodes > 16 || o.runs < 1 || o.runs > 32 || o.duration_ms < 100 ||
	    o.nclients == 0) {
		fprintf(stderr, "bench_reg: bad arguments\n");
		return 2;
	}
	for (size_t i = 0; i < o.nclients; i++)
		if (o.clients[i] < 1 || o.clients[i] > MAX_CLIENTS) {
			fprintf(stderr, "bench_reg: clients must be 1..%d\n", MAX_CLIENTS);
			return 2;
		}
	bench_install_handlers();

	double rtt = bench_udp_rtt_us(2000);
	printf("raw UDP round trip on loopback (64 bytes, median of 2000): %.1f us\n", rtt);
	printf("%u-node clusters, closed loop, %u x %u ms per row; msgs/op = frames sent by all "
	       "nodes per op (no self-messages, acks ride in headers), idle heartbeats "
	       "subtracted\n",
	       o.nodes, o.runs, o.duration_ms);
	fflush(stdout);
	int rc = 0;
	if (o.models) {
		char buf[128];
		snprintf(buf, sizeof(buf), "%s", o.models);
		for (char *sv = NULL, *t = strtok_r(buf, ",", &sv); t; t = strtok_r(NULL, ",", &sv))
			if (bench_cluster(&o, t, false) != 0)
				rc = -1;
	} else {
		rc = bench_cluster(&o, "fail-noisy", false);
		if (o.fail_stop && bench_cluster(&o, "fail-stop", true) != 0)
			rc = -1;
	}

	const struct result *w = find("nnar", "write", 1), *r = find("nnar", "read", 1);
	double wr = w && rtt > 0 ? w->p50_ms * 1000.0 / (2 * rtt) : NAN;
	double rr = r && rtt > 0 ? r->p50_ms * 1000.0 / (2 * rtt) : NAN;
	/* The same without the client hop: what the two round trips between nodes cost. */
	double wr2 = w && rtt > 0 ? (w->p50_ms - hop_ms) * 1000.0 / (2 * rtt) : NAN;
	double rr2 = r && rtt > 0 ? (r->p50_ms - hop_ms) * 1000.0 / (2 * rtt) : NAN;
	if (w && r) {
		printf("nnar 1 client vs 2 raw round trips (%.1f us each): write p50 %.1fx, read p50 "
		       "%.1fx (target <= 3x)\n",
		       rtt, wr, rr);
		printf("  without the client hop (%.1f us): write %.1fx, read %.1fx\n", hop_ms * 1000,
		       wr2, rr2);
	}

	FILE *f = fopen(o.json, "w");
	if (f) {
		fprintf(f, "{\"bench\": \"reg\", \"nodes\": %u, \"runs\": %u, \"duration_ms\": %u, ",
			o.nodes, o.runs, o.duration_ms);
		json_num(f, "udp_rtt_us", rtt, true);
		json_num(f, "nnar_write_over_2rtt", wr, true);
		json_num(f, "nnar_read_over_2rtt", rr, true);
		json_num(f, "client_hop_us", hop_ms * 1000, true);
		json_num(f, "nnar_write_minus_hop_over_2rtt", wr2, true);
		json_num(f, "nnar_read_minus_hop_over_2rtt", rr2, true);
		fprintf(f, "\"results\": [");
		bool first = true;
		for (size_t i = 0; i < nresults; i++) {
			const struct result *x = &results[i];
			if (!x->ok)
				continue;
			fprintf(f, "%s\n  {\"cluster\": \"%s\", \"algo\": \"%s\", \"op\": \"%s\", "
				   "\"clients\": %u, \"samples\": %zu, \"errors\": %lu, ",
				first ? "" : ",", x->cluster, x->algo, x->op, x->clients, x->samples,
				x->errors);
			json_num(f, "p50_ms", x->p50_ms, true);
			json_num(f, "p99_ms", x->p99_ms, true);
			json_num(f, "ops_per_s", x->ops_per_s, true);
			json_num(f, "msgs_per_op", x->msgs_per_op, true);
			json_num(f, "retransmits_per_op", x->retx_per_op, true);
			json_num(f, "node_cpu_us_per_op", x->node_cpu_us_per_op, true);
			json_num(f, "client_cpu_us_per_op", x->client_cpu_us_per_op, true);
			json_num(f, "stores_per_s", x->stores_per_s, true);
			json_num(f, "syncs_per_s", x->syncs_per_s, true);
			json_num(f, "batches_per_s", x->batches_per_s, true);
			json_num(f, "book_msgs", x->book, true);
			fprintf(f, "\"book\": \"%s\"}", x->book_spec);
			first = false;
		}
		fprintf(f, "\n]}\n");
		fclose(f);
	}
	return rc == 0 && nresults > 0 ? 0 : 1;
}
