/* Metrics: each node serves the Prometheus text exposition format (version 0.0.4) over HTTP on
 * [node.N] metrics_host:metrics_port (default host 127.0.0.1; no port = no server), GET /metrics.
 *
 * HTTP is libmicrohttpd's, run without threads of its own: a uv_poll on its listening socket
 * calls MHD_run when a connection arrives, and a 5 ms uv timer keeps calling it while connections
 * are open. Every callback therefore runs on the node's loop thread and reads the counters
 * directly, with no copy and no lock. Bounds: 16 connections, 10 s idle timeout, 32 KiB of
 * memory per connection; the page itself is built in a buffer of at most METRICS_PAGE_MAX.
 *
 * The page: every status counter (strata_<name>), the node's view of each peer (failure
 * detector state and incarnation), the leader and the epoch of the last leader change, per-
 * module operation counts, errors and latency histograms of the client protocol's operations
 * (RESP commands are in resp_commands), and the storage syncs with their latency histogram.
 * Rates are left to the scraper (status's *_per_s are not exported). */
#include <inttypes.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "rt/uv/internal.h"

#define METRICS_PAGE_MAX (1u << 20)

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
		"held_max", "sync_us_max",
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

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned code, const char *text,
				 size_t len, bool head)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(head ? 0 : len, (void *)(uintptr_t)text,
						MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	enum MHD_Result ok = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct strata_uv *rt = cls;
	(void)version;
	(void)upload;
	bool head = strcmp(method, "HEAD") == 0;
	if (strcmp(method, "GET") != 0 && !head) {
		static const char msg[] = "only GET /metrics\n";
		return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, msg, sizeof msg - 1, false);
	}
	if (*upload_size) { /* a GET with a body: ignore it */
		*upload_size = 0;
		return MHD_YES;
	}
	(void)req_cls;
	if (strcmp(url, "/metrics") != 0) {
		static const char msg[] = "not found: the metrics are at /metrics\n";
		return send_text(conn, MHD_HTTP_NOT_FOUND, msg, sizeof msg - 1, head);
	}
	rt->counters.metrics_scrapes++;
	struct page pg = { .p = malloc(16384), .cap = 16384 };
	if (!pg.p) {
		static const char msg[] = "out of memory\n";
		return send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, msg, sizeof msg - 1, head);
	}
	pg.p[0] = '\0';
	build_page(rt, &pg);
	enum MHD_Result ok;
	if (pg.full) {
		static const char msg[] = "metrics page over its size bound\n";
		ok = send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, msg, sizeof msg - 1, head);
	} else {
		ok = send_text(conn, MHD_HTTP_OK, pg.p, pg.len, head);
	}
	free(pg.p);
	return ok;
}

static void on_met_timer(uv_timer_t *t)
{
	struct strata_uv *rt = t->data;
	if (!rt->mhd || rt->closing)
		return;
	MHD_run(rt->mhd);
	const union MHD_DaemonInfo *di =
		MHD_get_daemon_info(rt->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	if (!di || di->num_connections == 0)
		uv_timer_stop(t);
}

static void on_met_poll(uv_poll_t *h, int status, int events)
{
	struct strata_uv *rt = h->data;
	(void)status;
	(void)events;
	if (!rt->mhd || rt->closing)
		return;
	MHD_run(rt->mhd);
	const union MHD_DaemonInfo *di =
		MHD_get_daemon_info(rt->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	if (di && di->num_connections > 0 && !uv_is_active((uv_handle_t *)&rt->met_timer))
		uv_timer_start(&rt->met_timer, on_met_timer, 5, 5);
}

int metrics_server_start(struct strata_uv *rt, char *err, size_t errlen)
{
	const struct strata_peer_cfg *me = &rt->cfg->nodes[rt->id];
	if (me->metrics_port == 0)
		return 0;
	struct sockaddr_storage ss;
	int rc = uvrt_resolve(me->metrics_host, me->metrics_port, SOCK_STREAM, &ss, err, errlen);
	if (rc)
		return rc;
	unsigned flags = MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	rt->mhd = MHD_start_daemon(flags, me->metrics_port, NULL, NULL, on_request, rt,
				   MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				   MHD_OPTION_CONNECTION_LIMIT, 16u,
				   MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				   MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
				   MHD_OPTION_END);
	if (!rt->mhd) {
		snprintf(err, errlen, "metrics %s:%u: cannot listen (port in use?)",
			 me->metrics_host, me->metrics_port);
		return STRATA_EIO;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(rt->mhd, MHD_DAEMON_INFO_LISTEN_FD);
	if (!di || uv_poll_init_socket(rt->loop, &rt->met_poll, di->listen_fd) != 0) {
		snprintf(err, errlen, "metrics: cannot watch the listening socket");
		MHD_stop_daemon(rt->mhd);
		rt->mhd = NULL;
		return STRATA_EIO;
	}
	rt->met_poll_init = true;
	rt->met_poll.data = rt;
	uv_timer_init(rt->loop, &rt->met_timer);
	rt->met_timer_init = true;
	rt->met_timer.data = rt;
	uv_poll_start(&rt->met_poll, UV_READABLE, on_met_poll);
	strata_uv_log(rt, STRATA_LOG_INFO, "metrics on http://%s:%u/metrics", me->metrics_host,
		      me->metrics_port);
	return 0;
}

void metrics_server_close(struct strata_uv *rt)
{
	/* Stop watching the socket before libmicrohttpd closes it. */
	if (rt->met_poll_init)
		uv_close((uv_handle_t *)&rt->met_poll, NULL);
	if (rt->met_timer_init)
		uv_close((uv_handle_t *)&rt->met_timer, NULL);
	rt->met_poll_init = rt->met_timer_init = false;
	if (rt->mhd) {
		MHD_stop_daemon(rt->mhd);
		rt->mhd = NULL;
	}
}

void metrics_server_free(struct strata_uv *rt)
{
	if (rt->mhd) { /* closed without strata_uv_close */
		MHD_stop_daemon(rt->mhd);
		rt->mhd = NULL;
	}
}
