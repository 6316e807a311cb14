/* Metrics: each node serves the Prometheus text exposition format (version 0.0.4) over HTTP on
 * [node.N] metrics_host:metrics_port (default host 127.0.0.1; no port = no server), GET /metrics.
 *
 * HTTP/1.1 is served here, on the runtime's listener (listener.c): the same connection
 * discipline as the client and RESP ports ([metrics] in the config: by default 16 connections,
 * the least recently active idle one evicted for a new one, 10 s to send a request head once
 * its first byte arrived, 10 s idle, 2 MiB queued; counted as metrics_*). A request head is at
 * most 8 KiB (else 431); GET and HEAD /metrics are answered, any other path 404, any other
 * method 405, a malformed request line 400 (metrics_bad_requests); every answer closes the
 * connection (Connection: close), so no body and no pipelined request is ever parsed. Every
 * callback runs on the node's loop thread and reads the counters directly, with no copy and
 * no lock; the page is built in a buffer of at most METRICS_PAGE_MAX.
 *
 * The port has no authentication: a config binding it to a non-loopback address is refused
 * unless [metrics] allow_remote = on (core/config.c; docs/security.md lists what it exposes).
 *
 * The page: every status counter (strata_<name>), the node's view of each peer (failure
 * detector state and incarnation), the leader and the epoch of the last leader change, per-
 * module operation counts, errors and latency histograms of the client protocol's operations
 * (RESP commands are in resp_commands), and the storage syncs with their latency histogram.
 * Rates are left to the scraper (status's *_per_s are not exported). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "rt/uv/internal.h"

#define METRICS_PAGE_MAX (1u << 20)
#define METRICS_HEAD_MAX (8u * 1024 + 1) /* a request head, and a NUL */

/* Upper bounds of the latency buckets, microseconds (then +Inf). */
static const uint64_t bounds_us[MET_BOUNDS] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};

void uvrt_metrics_observe(struct met_hist *h, uint64_t us)
{
	size_t i = 0;
	while (i < MET_BOUNDS && us > bounds_us[i])
		i++;
	h->bucket[i]++;
	h->count++;
	h->sum_us += us;
}

uint16_t uvrt_metrics_module(struct strata_uv *rt, const char *name)
{
	if (!name || !*name)
		return UVRT_MSTAT_NONE;
	for (uint16_t i = 0; i < rt->met_nmod; i++)
		if (strcmp(rt->met_mod[i].name, name) == 0)
			return i;
	/* Names come from clients: the table is bounded, the last slot takes the rest. */
	if (rt->met_nmod == MET_MODULES - 1) {
		snprintf(rt->met_mod[MET_MODULES - 1].name, sizeof rt->met_mod[0].name, "other");
		rt->met_nmod = MET_MODULES;
	}
	if (rt->met_nmod == MET_MODULES)
		return MET_MODULES - 1;
	snprintf(rt->met_mod[rt->met_nmod].name, sizeof rt->met_mod[0].name, "%s", name);
	return rt->met_nmod++;
}

void uvrt_metrics_op_done(struct strata_uv *rt, const struct pending_op *p, int status)
{
	if (p->mstat >= rt->met_nmod)
		return;
	struct met_module *m = &rt->met_mod[p->mstat];
	uvrt_metrics_observe(&m->lat, uv_hrtime() / 1000 - p->t0_us);
	if (status != 0)
		m->errors++;
}

/* ---- the page ---- */

struct page {
	char *p;
	size_t len, cap;
	bool full;
};

__attribute__((format(printf, 2, 3))) static void put(struct page *pg, const char *fmt, ...)
{
	if (pg->full)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int k = vsnprintf(pg->p + pg->len, pg->cap - pg->len, fmt, ap);
		va_end(ap);
		if (k < 0) {
			pg->full = true;
			return;
		}
		if ((size_t)k < pg->cap - pg->len) {
			pg->len += (size_t)k;
			return;
		}
		size_t cap = pg->cap * 2;
		char *np = cap <= METRICS_PAGE_MAX ? realloc(pg->p, cap) : NULL;
		if (!np) {
			pg->full = true;
			return;
		}
		pg->p = np;
		pg->cap = cap;
	}
}

/* Counters that are levels rather than running totals. */
static bool is_gauge(const char *name)
{
	static const char *const gauges[] = {
		"kv_leader", "kv_term", "kv_last_index", "kv_commit_index", "kv_applied_index",
		"kv_state_bytes", "kv_quota_bytes", "held_max", "sync_us_max",
	};
	for (size_t i = 0; i < sizeof gauges / sizeof gauges[0]; i++)
		if (strcmp(name, gauges[i]) == 0)
			return true;
	return false;
}

/* A label value: the exposition format escapes backslash, double quote and newline. */
static void put_label(struct page *pg, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			put(pg, "\\%c", *s);
		else if (*s == '\n')
			put(pg, "\\n");
		else
			put(pg, "%c", *s);
	}
}

static void put_hist(struct page *pg, const char *name, const char *mod, const struct met_hist *h)
{
	uint64_t cum = 0;
	for (size_t i = 0; i <= MET_BOUNDS; i++) {
		cum += h->bucket[i];
		put(pg, "%s_bucket{", name);
		if (mod) {
			put(pg, "module=\"");
			put_label(pg, mod);
			put(pg, "\",");
		}
		if (i < MET_BOUNDS)
			put(pg, "le=\"%g\"} %" PRIu64 "\n", (double)bounds_us[i] / 1e6, cum);
		else
			put(pg, "le=\"+Inf\"} %" PRIu64 "\n", cum);
	}
	const char *open = mod ? "{module=\"" : "";
	const char *close = mod ? "\"}" : "";
	put(pg, "%s_sum%s", name, open);
	if (mod)
		put_label(pg, mod);
	put(pg, "%s %.6f\n", close, (double)h->sum_us / 1e6);
	put(pg, "%s_count%s", name, open);
	if (mod)
		put_label(pg, mod);
	put(pg, "%s %" PRIu64 "\n", close, h->count);
}

static void build_page(struct strata_uv *rt, struct page *pg)
{
	struct strata_node *n = rt->node;
	const struct strata_config *cfg = rt->cfg;
	put(pg, "# HELP strata_node_info This node: id, cluster, model (value 1).\n"
		"# TYPE strata_node_info gauge\nstrata_node_info{node=\"%u\",cluster=\"", rt->id);
	put_label(pg, cfg->cluster_id);
	put(pg, "\",model=\"%s\"} 1\n", strata_model_name(cfg->model));
	put(pg, "# HELP strata_uptime_seconds Time since the runtime started.\n"
		"# TYPE strata_uptime_seconds gauge\nstrata_uptime_seconds %.3f\n",
	    (double)(uv_hrtime() / 1000000 - rt->started_ms) / 1e3);
	put(pg, "# HELP strata_incarnation This node's incarnation.\n"
		"# TYPE strata_incarnation gauge\nstrata_incarnation %" PRIu64 "\n",
	    strata_node_incarnation(n));
	put(pg, "# HELP strata_lamport This node's Lamport clock.\n"
		"# TYPE strata_lamport counter\nstrata_lamport %" PRIu64 "\n",
	    strata_node_lamport(n));
	put(pg, "# HELP strata_leader The leader this node trusts (0 = none).\n"
		"# TYPE strata_leader gauge\nstrata_leader %u\n", strata_node_leader(n));
	put(pg, "# HELP strata_leader_epoch Epoch of the last leader change this node output (0 = "
		"none or no epochs).\n# TYPE strata_leader_epoch gauge\nstrata_leader_epoch %" PRIu64
		"\n", rt->leader_epoch);

	put(pg, "# HELP strata_peer_up 1 if this node's failure detector holds the peer alive.\n"
		"# TYPE strata_peer_up gauge\n");
	for (uint32_t p = 1; p <= cfg->n; p++)
		put(pg, "strata_peer_up{peer=\"%u\"} %d\n", p,
		    p == rt->id || strata_node_peer_state(n, p) == STRATA_PEER_ALIVE);
	put(pg, "# HELP strata_peer_state The peer's state as this node sees it (one series per "
		"state, value 1 for the current one).\n# TYPE strata_peer_state gauge\n");
	for (uint32_t p = 1; p <= cfg->n; p++) {
		const char *cur = p == rt->id ? "self"
			: strata_peer_state_name(strata_node_peer_state(n, p));
		static const char *const states[] = { "self", "alive", "suspected", "crashed" };
		for (size_t i = 0; i < 4; i++)
			put(pg, "strata_peer_state{peer=\"%u\",state=\"%s\"} %d\n", p, states[i],
			    strcmp(cur, states[i]) == 0);
	}
	put(pg, "# HELP strata_peer_incarnation The incarnation the peer's datagrams last carried.\n"
		"# TYPE strata_peer_incarnation gauge\n");
	for (uint32_t p = 1; p <= cfg->n; p++)
		put(pg, "strata_peer_incarnation{peer=\"%u\"} %" PRIu64 "\n", p,
		    p == rt->id ? strata_node_incarnation(n) : strata_node_peer_incarnation(n, p));

	size_t max = uvrt_counters_max();
	struct uvrt_counter *uc = calloc(max, sizeof *uc);
	if (uc) {
		size_t k = uvrt_counters(rt, uc, max);
		for (size_t i = 0; i < k; i++) {
			const char *t = is_gauge(uc[i].name) ? "gauge" : "counter";
			put(pg, "# HELP strata_%s Status counter %s (strata status).\n"
				"# TYPE strata_%s %s\nstrata_%s %" PRIu64 "\n",
			    uc[i].name, uc[i].name, uc[i].name, t, uc[i].name, uc[i].value);
		}
		free(uc);
	}

	put(pg, "# HELP strata_op_duration_seconds Client operations by module, from the request's "
		"arrival to its reply (after the sync).\n"
		"# TYPE strata_op_duration_seconds histogram\n");
	for (uint16_t i = 0; i < rt->met_nmod; i++)
		put_hist(pg, "strata_op_duration_seconds", rt->met_mod[i].name, &rt->met_mod[i].lat);
	put(pg, "# HELP strata_op_errors_total Client operations answered with an error, by "
		"module.\n# TYPE strata_op_errors_total counter\n");
	for (uint16_t i = 0; i < rt->met_nmod; i++) {
		put(pg, "strata_op_errors_total{module=\"");
		put_label(pg, rt->met_mod[i].name);
		put(pg, "\"} %" PRIu64 "\n", rt->met_mod[i].errors);
	}
	put(pg, "# HELP strata_sync_duration_seconds Stable-storage syncs (commit + flush).\n"
		"# TYPE strata_sync_duration_seconds histogram\n");
	put_hist(pg, "strata_sync_duration_seconds", NULL, &rt->met_sync);
}

/* ---- HTTP ---- */

/* One connection: its request head is read into buf (a request whose head does not fit is
 * refused with 431); once complete it is answered and the connection closes after the answer
 * ("Connection: close"), so no request body or second request is ever parsed. */
struct met_conn {
	struct lsn_conn ce; /* first: the listener's part */
	struct strata_uv *rt;
	size_t len;
	char buf[METRICS_HEAD_MAX];
};

#define MCONN(lc) ((struct met_conn *)(lc))

/* Answers with status `code` and closes once it is written. HEAD: the headers only. */
static void reply(struct met_conn *c, unsigned code, const char *reason, const char *extra,
		  const char *body, size_t blen, bool head)
{
	char hdr[320];
	int n = snprintf(hdr, sizeof hdr,
			 "HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
			 "Connection: close\r\n\r\n",
			 code, reason,
			 code == 200 ? "text/plain; version=0.0.4; charset=utf-8"
				     : "text/plain; charset=utf-8",
			 blen, extra ? extra : "");
	STRATA_ASSERT(n > 0 && (size_t)n < sizeof hdr);
	size_t len = (size_t)n + (head ? 0 : blen);
	struct lsn_wreq *w = lsn_wreq_new(&c->ce, len); /* NULL: closed (over the cap) */
	if (!w)
		return;
	memcpy(w->data, hdr, (size_t)n);
	if (!head && blen)
		memcpy(w->data + n, body, blen);
	if (lsn_write(&c->ce, w, len) == 0)
		lsn_conn_drain(&c->ce);
}

static void reply_text(struct met_conn *c, unsigned code, const char *reason, const char *extra,
		       const char *text, bool head)
{
	reply(c, code, reason, extra, text, strlen(text), head);
}

static void bad_request(struct met_conn *c, unsigned code, const char *reason, const char *text)
{
	c->rt->counters.metrics_bad_requests++;
	strata_uv_log(c->rt, STRATA_LOG_DEBUG, "metrics: %u %s", code, reason);
	reply_text(c, code, reason, NULL, text, false);
}

/* "upon a complete request head": GET or HEAD /metrics gets the page; anything else an error. */
static void handle_request(struct met_conn *c, size_t line_len)
{
	struct strata_uv *rt = c->rt;
	/* The request line: METHOD SP TARGET SP HTTP/1.x */
	char *line = c->buf;
	line[line_len] = '\0';
	char *sp1 = strchr(line, ' ');
	char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		bad_request(c, 400, "Bad Request", "malformed request line\n");
		return;
	}
	*sp1 = *sp2 = '\0';
	const char *method = line, *target = sp1 + 1;
	bool head = strcmp(method, "HEAD") == 0;
	if (strcmp(method, "GET") != 0 && !head) {
		reply_text(c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n",
			   "only GET /metrics\n", false);
		return;
	}
	size_t tl = strcspn(target, "?");
	if (tl != 8 || strncmp(target, "/metrics", 8) != 0) {
		reply_text(c, 404, "Not Found", NULL, "not found: the metrics are at /metrics\n",
			   head);
		return;
	}
	rt->counters.metrics_scrapes++;
	struct page pg = { .p = malloc(16384), .cap = 16384 };
	if (!pg.p) {
		reply_text(c, 500, "Internal Server Error", NULL, "out of memory\n", head);
		return;
	}
	pg.p[0] = '\0';
	build_page(rt, &pg);
	if (pg.full)
		reply_text(c, 500, "Internal Server Error", NULL,
			   "metrics page over its size bound\n", head);
	else
		reply(c, 200, "OK", NULL, pg.p, pg.len, head);
	free(pg.p);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct met_conn *c = h->data;
	(void)suggested;
	/* Never zero bytes: a full head is answered (431) before the next read. */
	*buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - 1 - c->len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct met_conn *c = s->data;
	(void)buf;
	if (nread < 0) {
		lsn_conn_close(&c->ce);
		return;
	}
	if (nread == 0 || c->ce.closing || c->ce.draining)
		return;
	c->len += (size_t)nread;
	c->buf[c->len] = '\0';
	/* The head ends at an empty line (CRLF CRLF; a bare LF LF is accepted too). */
	if (!strstr(c->buf, "\r\n\r\n") && !strstr(c->buf, "\n\n")) {
		if (c->len == sizeof c->buf - 1) {
			bad_request(c, 431, "Request Header Fields Too Large",
				    "request head larger than 8 KiB\n");
			return;
		}
		lsn_conn_input(&c->ce, 0, true);
		return;
	}
	lsn_conn_input(&c->ce, 1, false);
	if (memchr(c->buf, '\0', c->len)) {
		bad_request(c, 400, "Bad Request", "NUL byte in the request head\n");
		return;
	}
	handle_request(c, strcspn(c->buf, "\r\n"));
}

static struct lsn_conn *conn_create(struct lsn *l)
{
	struct met_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->rt = l->rt;
	return &c->ce;
}

static int conn_opened(struct lsn_conn *lc)
{
	return uv_read_start((uv_stream_t *)&lc->tcp, on_alloc, on_read);
}

static void conn_freed(struct lsn_conn *lc)
{
	free(MCONN(lc));
}

static const struct lsn_ops metrics_ops = {
	.name = "metrics",
	.create = conn_create,
	.opened = conn_opened,
	.closing = NULL,
	.freed = conn_freed,
};

int metrics_server_start(struct strata_uv *rt, char *err, size_t errlen)
{
	const struct strata_peer_cfg *me = &rt->cfg->nodes[rt->id];
	if (me->metrics_port == 0)
		return 0;
	const struct strata_config *cfg = rt->cfg;
	struct strata_uv_counters *k = &rt->counters;
	const struct strata_listen_cfg lim = strata_listen_cfg_of(cfg, STRATA_PORT_METRICS);
	const struct lsn_counters cnt = {
		.accepted = &k->metrics_accepted, .refused = &k->metrics_refused,
		.evicted = &k->metrics_evicted, .idle_closed = &k->metrics_idle_closed,
		.frame_timeouts = &k->metrics_frame_timeouts,
		.slow_dropped = &k->metrics_slow_dropped,
	};
	int rc = lsn_start(&rt->met_lsn, rt, &metrics_ops, &lim, &cnt, me->metrics_host,
			   me->metrics_port, err, errlen);
	if (rc == 0)
		strata_uv_log(rt, STRATA_LOG_INFO, "metrics on http://%s:%u/metrics",
			      me->metrics_host, me->metrics_port);
	return rc;
}

void metrics_server_close(struct strata_uv *rt)
{
	lsn_close(&rt->met_lsn);
}

void metrics_server_free(struct strata_uv *rt)
{
	STRATA_ASSERT(rt->met_lsn.conns == NULL); /* every close callback has run */
}
