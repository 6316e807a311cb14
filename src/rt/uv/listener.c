/* A TCP listener with connection discipline (listener.h): the connection limit with eviction,
 * the frame deadline, the idle timeout and the output cap of every TCP port of the runtime. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "rt/uv/internal.h"
#include "rt/uv/listener.h"

/* ---- teardown ---- */

static void on_conn_closed(uv_handle_t *h)
{
	struct lsn_conn *c = h->data;
	struct lsn *l = c->l;
	if (c->prev)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	l->n--;
	l->nclosing--;
	l->ops->freed(c);
}

void lsn_conn_close(struct lsn_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	c->l->nclosing++;
	if (c->l->ops->closing)
		c->l->ops->closing(c);
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	(void)status;
	lsn_conn_close(req->data);
}

static void cork_flush(struct lsn_conn *c);

void lsn_conn_drain(struct lsn_conn *c)
{
	if (c->closing || c->draining)
		return;
	if (c->l->ops->flush_held) {
		/* what the owner held back joins the held bytes, which go before the shutdown */
		unsigned corked = c->l->corked;
		c->l->corked = 1;
		c->l->ops->flush_held(c);
		c->l->corked = corked;
	}
	cork_flush(c); /* the held replies go before the shutdown */
	if (c->closing)
		return;
	c->draining = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	c->shut.data = c;
	if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
		lsn_conn_close(c);
}

unsigned lsn_open_count(const struct lsn *l)
{
	return l->n - l->nclosing;
}

/* ---- input ---- */

void lsn_conn_input(struct lsn_conn *c, unsigned completed, bool partial)
{
	uint64_t now = uv_now(c->tcp.loop);
	if (completed)
		c->active_ms = now;
	/* The deadline of a half-received request runs from its first byte: a new one starts
	 * when the previous request completed in this read. */
	if (partial && (!c->partial || completed))
		c->frame_start_ms = now;
	c->partial = partial;
}

/* ---- writing ---- */

struct lsn_wreq *lsn_wreq_new(struct lsn_conn *c, size_t len)
{
	if (c->closing || c->draining)
		return NULL;
	struct lsn *l = c->l;
	if (c->out_bytes + (c->cork ? c->cork->len : 0) + len > l->lim.queue_max) {
		(*l->cnt.slow_dropped)++;
		strata_uv_log(l->rt, STRATA_LOG_WARN,
			      "%s: client too slow: %zu bytes queued (limit %" PRIu32 "), disconnected",
			      l->ops->name, c->out_bytes, l->lim.queue_max);
		lsn_conn_close(c);
		return NULL;
	}
	struct lsn_wreq *w = malloc(sizeof(*w) + len);
	if (!w) {
		lsn_conn_close(c);
		return NULL;
	}
	w->c = c;
	w->len = len;
	return w;
}

static void on_write(uv_write_t *req, int status)
{
	struct lsn_wreq *w = (struct lsn_wreq *)req;
	struct lsn_conn *c = w->c;
	c->out_bytes -= w->len;
	free(w);
	/* UV_ECANCELED: the connection is closing; c is still valid (its close callback runs
	 * after every write callback). Any other error: the peer is gone. */
	if (status < 0)
		lsn_conn_close(c);
}

/* Holds w's first len bytes in c's cork (a connection's first held write is kept as it is, so
 * a lone reply costs no copy; later ones are appended). Takes w and returns 0, or -1 (memory:
 * w is still the caller's). */
static int cork_take(struct lsn_conn *c, struct lsn_wreq *w, size_t len)
{
	if (!c->cork) {
		w->len = len;
		c->cork = w;
		c->cork_cap = len;
	} else {
		size_t have = c->cork->len;
		if (have + len > c->cork_cap) {
			size_t cap = c->cork_cap * 2 > 4096 ? c->cork_cap * 2 : 4096;
			while (cap < have + len)
				cap *= 2;
			struct lsn_wreq *g = realloc(c->cork, sizeof(*g) + cap);
			if (!g)
				return -1;
			c->cork = g;
			c->cork_cap = cap;
		}
		memcpy(c->cork->data + have, w->data, len);
		c->cork->len = have + len;
		free(w);
	}
	lsn_cork_hold(c);
	return 0;
}

void lsn_cork_hold(struct lsn_conn *c)
{
	if (!c->on_cork_list) {
		c->on_cork_list = true;
		c->cork_next = c->l->cork_list;
		c->l->cork_list = c;
	}
}

/* Writes c's held bytes now (c stays on the cork list with nothing held). */
static void cork_flush(struct lsn_conn *c)
{
	struct lsn_wreq *w = c->cork;
	if (!w)
		return;
	c->cork = NULL;
	c->cork_cap = 0;
	if (c->closing) {
		free(w);
		return;
	}
	unsigned corked = c->l->corked;
	c->l->corked = 0; /* lsn_write: straight to the socket */
	(void)lsn_write(c, w, w->len);
	c->l->corked = corked;
}

void lsn_cork(struct lsn *l)
{
	l->corked++;
}

void lsn_uncork(struct lsn *l)
{
	STRATA_ASSERT(l->corked > 0);
	if (l->corked > 1) {
		l->corked--;
		return;
	}
	/* Still corked: what the owner held back joins each connection's held bytes first. */
	if (l->ops && l->ops->flush_held) /* no ops: never started, no connections */
		for (struct lsn_conn *c = l->cork_list; c; c = c->cork_next)
			if (!c->closing)
				l->ops->flush_held(c);
	l->corked = 0;
	while (l->cork_list) {
		struct lsn_conn *c = l->cork_list;
		l->cork_list = c->cork_next;
		c->cork_next = NULL;
		c->on_cork_list = false;
		cork_flush(c);
	}
}

int lsn_write(struct lsn_conn *c, struct lsn_wreq *w, size_t len)
{
	if (c->closing) {
		free(w);
		return -1;
	}
	if (c->l->corked && !c->draining && cork_take(c, w, len) == 0)
		return 0;
	cork_flush(c); /* out of memory to hold it: what is held first, then this */
	if (c->closing) {
		free(w);
		return -1;
	}
	/* At once when the socket takes it all: no write request, so no callback and no extra
	 * loop iteration for it (one reply per put at c=1). libuv refuses a try_write while
	 * writes are queued, so the order of the bytes is kept. */
	size_t off = 0;
	if (c->l->cnt.writes)
		(*c->l->cnt.writes)++;
	uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
	UVRT_TT(c->l->rt, UVRT_TT_TCP_TX, 0, len);
	int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
	if (n >= 0 && (size_t)n == len) {
		free(w);
		return 0;
	}
	if (n > 0)
		off = (size_t)n;
	else if (n != UV_EAGAIN && n != UV_ENOSYS) {
		free(w);
		lsn_conn_close(c);
		return -1;
	}
	/* The unwritten tail moves to the front, so that w->data is what the request writes. */
	if (off)
		memmove(w->data, w->data + off, len - off);
	w->len = len - off;
	b = uv_buf_init((char *)w->data, (unsigned)w->len);
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) { /* no callback */
		free(w);
		lsn_conn_close(c);
		return -1;
	}
	c->out_bytes += w->len;
	return 0;
}

int lsn_write_copy(struct lsn_conn *c, const void *data, size_t len)
{
	if (len == 0)
		return c->closing ? -1 : 0;
	struct lsn_wreq *w = lsn_wreq_new(c, len);
	if (!w)
		return -1;
	memcpy(w->data, data, len);
	return lsn_write(c, w, len);
}

/* ---- admission and deadlines ---- */

/* The connection to close for a new one when max_conns are open: nothing in flight, nothing
 * queued; plain connections before exempt ones; then the least recently active. NULL when
 * every connection is busy. */
static struct lsn_conn *eviction_victim(struct lsn *l, const struct lsn_conn *self)
{
	struct lsn_conn *best = NULL;
	for (struct lsn_conn *c = l->conns; c; c = c->next) {
		if (c == self || c->closing || c->draining || c->inflight || c->out_bytes)
			continue;
		if (best && (c->exempt != best->exempt ? c->exempt
						       : c->active_ms >= best->active_ms))
			continue;
		best = c;
	}
	return best;
}

/* "upon the sweep timer": closes connections whose half-received request is past its
 * deadline, and idle ones (no request for idle_ms, nothing in flight or queued, not exempt). */
static void on_sweep(uv_timer_t *t)
{
	struct lsn *l = t->data;
	uint64_t now = uv_now(t->loop);
	uint64_t frame_ms = l->lim.frame_ms, idle_ms = l->lim.idle_ms;
	unsigned slow = 0, idle = 0;
	for (struct lsn_conn *c = l->conns; c; c = c->next) {
		if (c->closing || c->draining)
			continue;
		if (c->partial && now - c->frame_start_ms >= frame_ms) {
			(*l->cnt.frame_timeouts)++;
			slow++;
			lsn_conn_close(c);
		} else if (idle_ms && !c->partial && !c->inflight && !c->out_bytes && !c->exempt &&
			   now - c->active_ms >= idle_ms) {
			(*l->cnt.idle_closed)++;
			idle++;
			lsn_conn_close(c);
		}
	}
	/* One line per sweep, not per connection: a flood must not flood the log too. */
	if (slow)
		strata_uv_log(l->rt, STRATA_LOG_WARN,
			      "%s: %u connection(s) closed: a request not complete %" PRIu64
			      " ms after its first byte",
			      l->ops->name, slow, frame_ms);
	if (idle)
		strata_uv_log(l->rt, STRATA_LOG_INFO,
			      "%s: %u idle connection(s) closed after %" PRIu64 " ms", l->ops->name,
			      idle, idle_ms);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct lsn *l = server->data;
	if (status < 0) {
		strata_uv_log(l->rt, STRATA_LOG_WARN, "%s accept: %s", l->ops->name,
			      uv_strerror(status));
		return;
	}
	struct lsn_conn *c = l->ops->create(l);
	if (!c)
		return; /* the connection stays in the backlog; retried on the next callback */
	c->l = l;
	if (uv_tcp_init(server->loop, &c->tcp) != 0) {
		l->ops->freed(c);
		return;
	}
	c->tcp.data = c;
	c->next = l->conns;
	if (l->conns)
		l->conns->prev = c;
	l->conns = c;
	l->n++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		lsn_conn_close(c);
		return;
	}
	c->active_ms = uv_now(server->loop);
	if (lsn_open_count(l) > l->lim.max_conns) {
		struct lsn_conn *v = eviction_victim(l, c);
		if (!v) {
			(*l->cnt.refused)++;
			strata_uv_log(l->rt, STRATA_LOG_WARN,
				      "%s: connection refused: %u connections, all with requests "
				      "in flight or replies queued",
				      l->ops->name, lsn_open_count(l) - 1);
			lsn_conn_close(c);
			return;
		}
		(*l->cnt.evicted)++;
		strata_uv_log(l->rt, STRATA_LOG_DEBUG,
			      "%s: connection evicted: %u connections; the least recently active "
			      "idle one (%" PRIu64 " ms) makes room",
			      l->ops->name, l->lim.max_conns, c->active_ms - v->active_ms);
		lsn_conn_close(v);
	}
	(*l->cnt.accepted)++;
	uv_tcp_nodelay(&c->tcp, 1);
	if (l->ops->opened(c) != 0)
		lsn_conn_close(c);
}

int lsn_start(struct lsn *l, struct strata_uv *rt, const struct lsn_ops *ops,
	      const struct strata_listen_cfg *lim, const struct lsn_counters *cnt, const char *host,
	      uint16_t port, char *err, size_t errlen)
{
	STRATA_ASSERT(lim->max_conns >= 1 && lim->frame_ms >= 1);
	l->rt = rt;
	l->ops = ops;
	l->lim = *lim;
	l->cnt = *cnt;
	struct sockaddr_storage ss;
	int rc = uvrt_resolve(host, port, SOCK_STREAM, &ss, err, errlen);
	if (rc)
		return rc;
	uv_loop_t *loop = rt->loop;
	rc = uv_tcp_init(loop, &l->server);
	if (rc == 0) {
		l->server_init = true;
		l->server.data = l;
		rc = uv_tcp_bind(&l->server, (const struct sockaddr *)&ss, 0);
	}
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&l->server,
			       lim->max_conns < 4096 - 64 ? (int)lim->max_conns + 64 : 4096,
			       on_connection);
	if (rc == 0)
		rc = uv_timer_init(loop, &l->sweep);
	if (rc == 0) {
		l->sweep_init = true;
		l->sweep.data = l;
		uint64_t lo = lim->frame_ms;
		if (lim->idle_ms && lim->idle_ms < lo)
			lo = lim->idle_ms;
		uint64_t every = lo / 4;
		every = every < 50 ? 50 : every > 1000 ? 1000 : every;
		rc = uv_timer_start(&l->sweep, on_sweep, every, every);
	}
	if (rc) {
		snprintf(err, errlen, "%s port %s:%u: %s", ops->name, host, port, uv_strerror(rc));
		return STRATA_EIO;
	}
	return 0;
}

void lsn_close(struct lsn *l)
{
	if (l->server_init && !uv_is_closing((uv_handle_t *)&l->server))
		uv_close((uv_handle_t *)&l->server, NULL);
	if (l->sweep_init && !uv_is_closing((uv_handle_t *)&l->sweep))
		uv_close((uv_handle_t *)&l->sweep, NULL);
	for (struct lsn_conn *c = l->conns; c; c = c->next)
		lsn_conn_close(c);
}
