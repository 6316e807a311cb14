/* Broadcast benchmark: delivery throughput and messages per broadcast of every broadcast
 * algorithm a real local cluster runs, for N = 3, 5, 7 (crash models) and N = 4, 7 (Byzantine
 * reliable broadcast), next to the book's message count.
 *
 *   bench_bcast [--sizes LIST] [--byz-sizes LIST] [--algos LIST] [--byz-algos LIST]
 *               [--total T] [--runs R] [--json FILE] [--svg FILE]
 *
 * For each size it starts a cluster with scripts/cluster (fail-noisy: every crash-model broadcast
 * it runs — beb, erb, urb, fifo, wcb and the randomized epb, lpb; fail-arbitrary: brb) and, per
 * algorithm, subscribes to that algorithm's deliveries on every node (one TCP connection each),
 * then R times sends a burst: every node broadcasts T/N messages at once (64-byte payloads,
 * pipelined, at most 32 outstanding requests per node). A burst ends when every node has
 * delivered every message of the burst, or after 2 s without a new delivery (probabilistic
 * algorithms may miss some; the delivered fraction is reported), or after 60 s.
 *
 * Reported: deliveries per second aggregated over the nodes (deliveries of the burst / time from
 * the first broadcast request to the last delivery; median over the R bursts), the delivered
 * fraction, and messages per broadcast: frames sent by all nodes (frames_out from `status`,
 * before and after the burst) minus the idle background (heartbeats) over the same time, divided
 * by the burst's broadcasts, split into first sends (what the algorithm asked for) and perfect-link
 * retransmissions. Messages to self never reach the network and are not counted; acks ride in
 * datagram headers and are not frames. The book's count (strata_algo messages, which
 * counts messages to self) is evaluated for N beside it.
 *
 * Text on stdout, JSON in build/bench/bcast.json, a bar chart in build/bench/bcast.svg. */
#include "bench_client.h"

#define WINDOW 32
#define PAYLOAD 64
#define QUIET_NS 2000000000ull
#define BURST_MAX_NS 60000000000ull

struct result {
	char model[16];
	char algo[32];
	uint32_t n;
	uint64_t broadcasts, expected;
	double deliveries_per_s, delivered_fraction, msgs_per_bcast, retx_per_bcast, first_per_bcast;
	double seconds;
	double book;
	char book_spec[96];
	unsigned long errors;
};

static struct result results[64];
static size_t nresults;

struct opts {
	uint32_t sizes[8], byz_sizes[8];
	size_t nsizes, nbyz;
	const char *algos, *byz_algos;
	unsigned total, runs;
	char json[1100], svg[1100], log[1100];
};

static bool in_list(const char *list, const char *name)
{
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

/* Subscribes k to the deliveries of `algo`; 0 once the node confirmed. */
static int subscribe(struct bench_conn *k, const char *algo)
{
	Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
	Strata__Client__SubscribeRequest sub = STRATA__CLIENT__SUBSCRIBE_REQUEST__INIT;
	char *mods[1] = { (char *)(uintptr_t)algo };
	sub.deliveries = true;
	sub.n_modules = 1;
	sub.modules = mods;
	req.id = 7;
	req.body_case = STRATA__CLIENT__REQUEST__BODY_SUBSCRIBE;
	req.subscribe = &sub;
	if (bench_send(k, &req) != 0)
		return -1;
	Strata__Client__Response *r = bench_recv(k, 3000);
	int rc = r && r->id == 7 && r->status == 0 ? 0 : -1;
	if (r)
		strata__client__response__free_unpacked(r, NULL);
	return rc;
}

struct sender {
	struct bench_conn k;
	uint64_t next;      /* messages sent and not refused */
	uint64_t acked;     /* broadcasts the node accepted */
	unsigned inflight;
	uint64_t retry_at;  /* after STRATA_EFULL: back off */
};

/* One burst: every node broadcasts per_node messages tagged with `burst`. Returns deliveries of
 * this burst counted on all subscribers; *t_ns the time from the first request to the last
 * delivery. */
static uint64_t burst(const struct bench_cluster *c, const char *algo, unsigned burst_no,
		      uint64_t per_node, struct bench_conn *subs, uint64_t *t_ns, unsigned long *errors)
{
	uint32_t n = c->n;
	struct sender *s = calloc(n + 1, sizeof(*s));
	STRATA_ASSERT(s);
	for (uint32_t i = 1; i <= n; i++)
		if (bench_connect(&s[i].k, c->cfg.nodes[i].client_port) != 0) {
			fprintf(stderr, "bench_bcast: cannot connect to node %u\n", i);
			for (uint32_t j = 1; j < i; j++)
				bench_close(&s[j].k);
			free(s);
			return 0;
		}
	char tag[24];
	int taglen = snprintf(tag, sizeof(tag), "b%u-", burst_no);
	uint64_t expected = per_node * n * n, delivered = 0, req_id = 1;
	uint64_t t0 = bench_now_ns(), last = t0, last_progress = t0;
	struct pollfd p[2 * STRATA_MAX_NODES];
	for (;;) {
		uint64_t now = bench_now_ns();
		for (uint32_t i = 1; i <= n; i++) {
			struct sender *x = &s[i];
			while (x->next < per_node && x->inflight < WINDOW && now >= x->retry_at) {
				char payload[PAYLOAD + 1];
				memset(payload, '.', PAYLOAD);
				int l = snprintf(payload, sizeof(payload), "%sn%u-%llu", tag, i,
						 (unsigned long long)x->next);
				payload[l] = '.';
				payload[PAYLOAD] = 0;
				Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
				Strata__Client__OpRequest o = STRATA__CLIENT__OP_REQUEST__INIT;
				o.module = (char *)(uintptr_t)algo;
				o.op = STRATA_OP_BROADCAST;
				o.value.data = (uint8_t *)payload;
				o.value.len = PAYLOAD;
				req.id = req_id;
				req.body_case = STRATA__CLIENT__REQUEST__BODY_OP;
				req.op = &o;
				if (bench_send(&x->k, &req) != 0) {
					(*errors)++;
					x->next = per_node; /* give up on this node */
					break;
				}
				req_id++;
				x->next++;
				x->inflight++;
			}
		}
		if (delivered >= expected)
			break;
		if (now - last_progress > QUIET_NS && now - t0 > QUIET_NS)
			break;
		if (now - t0 > BURST_MAX_NS)
			break;
		nfds_t np = 0;
		for (uint32_t i = 1; i <= n; i++) {
			p[np++] = (struct pollfd){ .fd = subs[i].fd, .events = POLLIN };
			p[np++] = (struct pollfd){ .fd = s[i].k.fd, .events = POLLIN };
		}
		if (poll(p, np, 20) < 0 && errno != EINTR)
			break;
		for (uint32_t i = 1; i <= n; i++) {
			struct pollfd *ps = &p[2 * (i - 1)], *pk = &p[2 * (i - 1) + 1];
			Strata__Client__Response *r;
			if (ps->revents) {
				if (bench_fill(&subs[i]) != 0) {
					fprintf(stderr, "bench_bcast: subscriber %u lost\n", i);
					(*errors)++;
					goto out;
				}
				while (bench_take(&subs[i], &r) == 1) {
					if (r->body_case == STRATA__CLIENT__RESPONSE__BODY_EVENT &&
					    !strcmp(r->event->kind, "deliver") &&
					    r->event->payload.len >= (size_t)taglen &&
					    !memcmp(r->event->payload.data, tag, (size_t)taglen)) {
						delivered++;
						last = last_progress = bench_now_ns();
					}
					strata__client__response__free_unpacked(r, NULL);
				}
			}
			if (pk->revents) {
				struct sender *x = &s[i];
				if (bench_fill(&x->k) != 0) {
					fprintf(stderr, "bench_bcast: sender %u lost\n", i);
					(*errors)++;
					goto out;
				}
				while (bench_take(&x->k, &r) == 1) {
					x->inflight--;
					if (r->status == 0) {
						x->acked++;
					} else if (r->status == STRATA_EFULL) {
						/* Back-pressure: send this one again a little later. */
						x->retry_at = bench_now_ns() + 2000000ull;
						x->next--; /* one more to send */
					} else {
						if (*errors < 3)
							fprintf(stderr, "bench_bcast: %s broadcast: %s\n", algo,
								r->error ? r->error : "?");
						(*errors)++;
					}
					strata__client__response__free_unpacked(r, NULL);
				}
			}
		}
	}
out:
	for (uint32_t i = 1; i <= n; i++)
		bench_close(&s[i].k);
	free(s);
	*t_ns = last - t0;
	return delivered;
}

static void bench_algo(const struct bench_cluster *c, const struct opts *o, const char *model,
		       const struct strata_algo *a, double idle_fps)
{
	uint32_t n = c->n;
	struct bench_conn subs[STRATA_MAX_NODES + 1];
	for (uint32_t i = 1; i <= n; i++) {
		if (bench_connect(&subs[i], c->cfg.nodes[i].client_port) != 0 ||
		    subscribe(&subs[i], a->name) != 0) {
			fprintf(stderr, "bench_bcast: cannot subscribe to %s at node %u\n", a->name, i);
			for (uint32_t j = 1; j <= i; j++)
				bench_close(&subs[j]);
			return;
		}
	}
	uint64_t per_node = o->total / n ? o->total / n : 1;
	double rate[32], frac[32], mpb[32], rpb[32], fpb[32], secs[32];
	unsigned good = 0;
	unsigned long errors = 0;
	for (unsigned run = 0; run < o->runs && run < 32; run++) {
		struct bench_ctr before, after;
		uint64_t tb, ta, t_ns = 0;
		if (bench_cluster_ctr(c, &before, &tb) != 0)
			break;
		uint64_t got = burst(c, a->name, run, per_node, subs, &t_ns, &errors);
		bench_sleep_ms(100); /* relays and late echoes of the burst leave the nodes */
		if (bench_cluster_ctr(c, &after, &ta) != 0 || got == 0 || t_ns == 0)
			continue;
		double bg = idle_fps * (double)(ta - tb) / 1e9;
		double bcasts = (double)(per_node * n);
		rate[good] = (double)got * 1e9 / (double)t_ns;
		frac[good] = (double)got / (double)(per_node * n * n);
		mpb[good] = ((double)(after.frames_out - before.frames_out) - bg) / bcasts;
		rpb[good] = (double)(after.retransmits - before.retransmits) / bcasts;
		fpb[good] = mpb[good] - rpb[good];
		secs[good] = (double)t_ns / 1e9;
		good++;
	}
	for (uint32_t i = 1; i <= n; i++)
		bench_close(&subs[i]);
	if (good == 0) {
		fprintf(stderr, "bench_bcast: %s at N=%u: no burst completed\n", a->name, n);
		return;
	}
	STRATA_ASSERT(nresults < sizeof(results) / sizeof(results[0]));
	struct result *r = &results[nresults++];
	memset(r, 0, sizeof(*r));
	snprintf(r->model, sizeof(r->model), "%s", model);
	snprintf(r->algo, sizeof(r->algo), "%s", a->name);
	r->n = n;
	r->broadcasts = per_node * n;
	r->expected = per_node * n * n;
	r->deliveries_per_s = bench_quantile(rate, good, 0.5);
	r->delivered_fraction = bench_quantile(frac, good, 0.5);
	r->msgs_per_bcast = bench_quantile(mpb, good, 0.5);
	r->retx_per_bcast = bench_quantile(rpb, good, 0.5);
	r->first_per_bcast = bench_quantile(fpb, good, 0.5);
	r->seconds = bench_quantile(secs, good, 0.5);
	r->errors = errors;
	snprintf(r->book_spec, sizeof(r->book_spec), "%s", a->messages);
	r->book = bench_book_count(a->messages, NULL, n);
	char book[32] = "-";
	if (!isnan(r->book))
		snprintf(book, sizeof(book), "%.0f", r->book);
	/* Retransmitted frames are counted in frames_out too: first sends are what the algorithm
	 * itself asked for, comparable with the book. */
	printf("%-14s N=%u %-6s %7.0f deliveries/s  %5.1f%% delivered  %6.1f msgs/bcast = %5.1f "
	       "first sends + %6.1f retransmissions (book %s = %s)%s\n",
	       model, n, a->name, r->deliveries_per_s, 100.0 * r->delivered_fraction,
	       r->msgs_per_bcast, r->first_per_bcast, r->retx_per_bcast,
	       r->book_spec, book, errors ? "  [errors]" : "");
	fflush(stdout);
}

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

static int bench_size(const struct opts *o, const char *model, uint32_t n, const char *list)
{
	struct bench_cluster c;
	if (bench_cluster_start(&c, n, model, o->log) != 0) {
		bench_cluster_stop(&c);
		return -1;
	}
	double idle = bench_idle_frames_per_s(&c, 1000);
	fprintf(stderr, "bench_bcast: %s cluster of %u: idle %.0f frames/s\n", model, n, idle);
	struct collect all = { .n = 0 };
	strata_algo_foreach("bcast", collect_fn, &all);
	for (size_t i = 0; i < all.n; i++) {
		char why[256];
		if (strata_algo_check(all.v[i], &c.cfg, why, sizeof(why)) != 0)
			continue;
		if (list && !in_list(list, all.v[i]->name))
			continue;
		bench_algo(&c, o, model, all.v[i], isnan(idle) ? 0 : idle);
	}
	bench_cluster_stop(&c);
	return 0;
}

/* ---- output ---- */

static void json_num(FILE *f, const char *k, double v, bool comma)
{
	if (isnan(v) || isinf(v))
		fprintf(f, "\"%s\": null%s", k, comma ? ", " : "");
	else
		fprintf(f, "\"%s\": %.4g%s", k, v, comma ? ", " : "");
}

static void write_json(const struct opts *o)
{
	FILE *f = fopen(o->json, "w");
	if (!f) {
		fprintf(stderr, "bench_bcast: %s: %s\n", o->json, strerror(errno));
		return;
	}
	fprintf(f, "{\"bench\": \"bcast\", \"total_per_burst\": %u, \"runs\": %u, "
		   "\"payload_bytes\": %d, \"results\": [",
		o->total, o->runs, PAYLOAD);
	for (size_t i = 0; i < nresults; i++) {
		const struct result *x = &results[i];
		fprintf(f, "%s\n  {\"model\": \"%s\", \"algo\": \"%s\", \"n\": %u, \"broadcasts\": %llu, "
			   "\"deliveries_expected\": %llu, \"errors\": %lu, ",
			i ? "," : "", x->model, x->algo, x->n, (unsigned long long)x->broadcasts,
			(unsigned long long)x->expected, x->errors);
		json_num(f, "deliveries_per_s", x->deliveries_per_s, true);
		json_num(f, "delivered_fraction", x->delivered_fraction, true);
		json_num(f, "seconds", x->seconds, true);
		json_num(f, "msgs_per_bcast", x->msgs_per_bcast, true);
		json_num(f, "retransmits_per_bcast", x->retx_per_bcast, true);
		json_num(f, "first_sends_per_bcast", x->first_per_bcast, true);
		json_num(f, "book_msgs", x->book, true);
		fprintf(f, "\"book\": \"%s\"}", x->book_spec);
	}
	fprintf(f, "\n]}\n");
	fclose(f);
}

/* A grouped bar chart, one group per algorithm, one bar per N. */
static void write_svg(const struct opts *o)
{
	const char *algos[32];
	size_t na = 0;
	uint32_t ns[8];
	size_t nn = 0;
	double ymax = 0;
	for (size_t i = 0; i < nresults; i++) {
		size_t k;
		for (k = 0; k < na && strcmp(algos[k], results[i].algo); k++)
			;
		if (k == na && na < 32)
			algos[na++] = results[i].algo;
		for (k = 0; k < nn && ns[k] != results[i].n; k++)
			;
		if (k == nn && nn < 8)
			ns[nn++] = results[i].n;
		if (results[i].deliveries_per_s > ymax)
			ymax = results[i].deliveries_per_s;
	}
	if (na == 0)
		return;
	for (size_t a = 1; a < nn; a++) /* insertion sort: few sizes */
		for (size_t b = a; b > 0 && ns[b - 1] > ns[b]; b--) {
			uint32_t t = ns[b];
			ns[b] = ns[b - 1];
			ns[b - 1] = t;
		}
	/* A round axis maximum: 1, 2 or 5 times a power of ten. */
	double step = pow(10, floor(log10(ymax > 0 ? ymax : 1)));
	double top = step;
	while (top < ymax)
		top += step;
	const char *colors[] = { "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#e15759", "#76b7b2",
				 "#edc948", "#9c755f" };
	const int left = 80, right = 20, topm = 50, bottom = 70, bar = 14, gap = 18;
	int groupw = (int)nn * bar + gap;
	int plotw = (int)na * groupw, ploth = 300;
	int W = left + plotw + right, H = topm + ploth + bottom;
	FILE *f = fopen(o->svg, "w");
	if (!f) {
		fprintf(stderr, "bench_bcast: %s: %s\n", o->svg, strerror(errno));
		return;
	}
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		   "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
		W, H, W, H);
	fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
	fprintf(f, "<text x=\"%d\" y=\"20\" font-size=\"14\" font-weight=\"bold\">Broadcast "
		   "deliveries per second, all nodes (median of %u bursts)</text>\n",
		left, o->runs);
	for (int t = 0; t <= 5; t++) {
		double v = top * t / 5;
		int y = topm + ploth - (int)(ploth * t / 5);
		fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n", left, y,
			left + plotw, y);
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.0f</text>\n", left - 6, y + 4,
			v);
	}
	for (size_t a = 0; a < na; a++) {
		int gx = left + (int)a * groupw + gap / 2;
		for (size_t k = 0; k < nn; k++) {
			for (size_t i = 0; i < nresults; i++) {
				const struct result *x = &results[i];
				if (strcmp(x->algo, algos[a]) || x->n != ns[k])
					continue;
				int h = (int)(ploth * x->deliveries_per_s / top);
				int x0 = gx + (int)k * bar;
				fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
					   "fill=\"%s\"><title>%s N=%u: %.0f deliveries/s</title></rect>\n",
					x0, topm + ploth - h, bar - 2, h, colors[k % 8], x->algo, x->n,
					x->deliveries_per_s);
			}
		}
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
			gx + (int)nn * bar / 2, topm + ploth + 18, algos[a]);
	}
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", left,
		topm + ploth, left + plotw, topm + ploth);
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", left, topm,
		left, topm + ploth);
	for (size_t k = 0; k < nn; k++) {
		int lx = left + (int)k * 70, ly = topm + ploth + 40;
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", lx, ly,
			colors[k % 8]);
		fprintf(f, "<text x=\"%d\" y=\"%d\">N = %u</text>\n", lx + 16, ly + 11, ns[k]);
	}
	fprintf(f, "</svg>\n");
	fclose(f);
}

int main(int argc, char **argv)
{
	struct opts o = { .sizes = { 3, 5, 7 }, .nsizes = 3, .byz_sizes = { 4, 7 }, .nbyz = 2,
			  .byz_algos = "brb", .total = 1500, .runs = 3 };
	char top[1024];
	bench_top(top, sizeof(top));
	snprintf(o.json, sizeof(o.json), "%s/build/bench/bcast.json", top);
	snprintf(o.svg, sizeof(o.svg), "%s/build/bench/bcast.svg", top);
	snprintf(o.log, sizeof(o.log), "%s/build/bench/bench_bcast.cluster.log", top);
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "--sizes") && v)
			o.nsizes = parse_sizes(argv[++i], o.sizes, 8);
		else if (!strcmp(argv[i], "--byz-sizes") && v)
			o.nbyz = parse_sizes(argv[++i], o.byz_sizes, 8);
		else if (!strcmp(argv[i], "--algos") && v)
			o.algos = argv[++i];
		else if (!strcmp(argv[i], "--byz-algos") && v)
			o.byz_algos = argv[++i];
		else if (!strcmp(argv[i], "--total") && v)
			o.total = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--runs") && v)
			o.runs = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--json") && v)
			snprintf(o.json, sizeof(o.json), "%s", argv[++i]);
		else if (!strcmp(argv[i], "--svg") && v)
			snprintf(o.svg, sizeof(o.svg), "%s", argv[++i]);
		else {
			fprintf(stderr,
				"usage: %s [--sizes LIST] [--byz-sizes LIST] [--algos LIST] "
				"[--byz-algos LIST] [--total T] [--runs R] [--json FILE] [--svg FILE]\n",
				argv[0]);
			return 2;
		}
	}
	if (o.runs < 1 || o.runs > 32 || o.total < 1 || o.total > 1000000) {
		fprintf(stderr, "bench_bcast: bad arguments\n");
		return 2;
	}
	for (size_t i = 0; i < o.nsizes; i++)
		if (o.sizes[i] < 1 || o.sizes[i] > 16) {
			fprintf(stderr, "bench_bcast: sizes are 1..16\n");
			return 2;
		}
	for (size_t i = 0; i < o.nbyz; i++)
		if (o.byz_sizes[i] < 4 || o.byz_sizes[i] > 16) {
			fprintf(stderr, "bench_bcast: Byzantine sizes are 4..16\n");
			return 2;
		}
	bench_install_handlers();
	printf("every node broadcasts %u/N 64-byte messages at once; deliveries/s summed over nodes, "
	       "median of %u bursts; msgs/bcast = frames sent per broadcast (no self-messages, acks "
	       "ride in headers), idle heartbeats subtracted\n",
	       o.total, o.runs);
	fflush(stdout);
	int rc = 0;
	for (size_t i = 0; i < o.nsizes; i++)
		if (bench_size(&o, "fail-noisy", o.sizes[i], o.algos) != 0)
			rc = -1;
	for (size_t i = 0; i < o.nbyz; i++)
		if (bench_size(&o, "fail-arbitrary", o.byz_sizes[i], o.byz_algos) != 0)
			rc = -1;
	write_json(&o);
	write_svg(&o);
	printf("json: %s\nplot: %s\n", o.json, o.svg);
	return rc == 0 && nresults > 0 ? 0 : 1;
}
