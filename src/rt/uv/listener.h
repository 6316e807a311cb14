/* A TCP listener with connection discipline: the one mechanism behind every TCP port of the
 * libuv runtime (client.c's client port, resp.c's RESP port, metrics.c's HTTP metrics port).
 *
 * The listener accepts connections and owns their lifecycle (accept, admission, writes with an
 * output cap, graceful drain, close); the protocol on top (the "owner": client, RESP, HTTP)
 * reads and parses and tells the listener what it saw. The discipline, per listener
 * (struct strata_listen_cfg, the config's [client], [resp] or [metrics] section, core/config.h):
 *
 *   1. Connection limit with eviction: at most max_conns open. A connection beyond the limit
 *      evicts the least recently active connection that has no request in flight and no reply
 *      queued - plain connections before exempt ones (subscribers). "Active" means a complete
 *      request, not a byte, so a connection trickling a request is never fresh. The new
 *      connection is refused only when every open connection is busy.
 *   2. Frame deadline: a request must be complete frame_ms after its first byte arrived
 *      (slowloris), else the connection is closed.
 *   3. Idle timeout: a connection without a request for idle_ms (0 = never), with nothing in
 *      flight, nothing queued and no request half-received, is closed; exempt connections
 *      (subscribers, which wait for events by design) are never closed for idleness.
 *   4. Output cap: at most queue_max bytes queued toward one connection; a write beyond it
 *      disconnects the connection (a client that does not read its replies is not buffered
 *      without bound).
 *   Each closure and refusal is counted in the owner's status counters (struct lsn_counters),
 *   and the closures of one sweep are logged as one line, so a flood does not flood the log.
 *
 * One timer per listener sweeps its connections for both deadlines, every quarter of the
 * shorter one (between 50 ms and 1 s). Bounds: max_conns connections (the listen backlog is
 * as large, up to 4,096, so that a burst does not push a legitimate SYN into a one-second
 * retransmission); queue_max bytes queued per connection; the owner bounds what it buffers
 * while reading (it must report a half-received request, or the deadline cannot apply).
 *
 * Ownership: the owner allocates its connection struct (with a struct lsn_conn as its first
 * member) in ops->create and frees it in ops->freed, which the listener calls from the libuv
 * close callback, after every write callback of the connection has run. No global state: a
 * struct lsn lives in the runtime (struct strata_uv). */
#ifndef STRATA_RT_UV_LISTENER_H
#define STRATA_RT_UV_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/config.h"

struct strata_uv;
struct lsn;

/* Where the listener counts (fields of the runtime's status counters). */
struct lsn_counters {
	uint64_t *accepted, *refused, *evicted, *idle_closed, *frame_timeouts, *slow_dropped;
	uint64_t *writes; /* writes handed to the sockets (may be NULL) */
};

struct lsn_conn {
	uv_tcp_t tcp; /* tcp.data is this struct */
	uv_shutdown_t shut;
	struct lsn *l;
	struct lsn_conn *prev, *next;
	uint64_t active_ms;      /* loop time of the last complete request (or the accept) */
	uint64_t frame_start_ms; /* loop time the half-received request began (if partial) */
	size_t out_bytes;        /* queued in uv_write, not yet written */
	unsigned inflight;       /* the owner's requests in the node (kept by the owner) */
	bool partial;            /* a request is half-received */
	bool exempt;             /* a subscriber: no idle timeout, evicted last (set by the owner) */
	bool closing;            /* uv_close called */
	bool draining;           /* a last reply is being written, then shutdown + close */
	struct lsn_wreq *cork;   /* writes held while the listener is corked (lsn_cork), or NULL */
	size_t cork_cap;         /* bytes cork->data can hold */
	struct lsn_conn *cork_next; /* the listener's cork list (connections that held writes) */
	bool on_cork_list;
};

struct lsn_ops {
	const char *name; /* "client", "resp", "metrics": log lines and errors */
	/* A zeroed connection struct whose first member is the struct lsn_conn; NULL on OOM. */
	struct lsn_conn *(*create)(struct lsn *l);
	/* The connection is admitted: set up and start reading. Non-zero closes it. */
	int (*opened)(struct lsn_conn *c);
	/* The connection is being closed (uv_close called): detach requests in flight. May be
	 * NULL. */
	void (*closing)(struct lsn_conn *c);
	/* The close callback ran: free the owner's struct (and what it holds). */
	void (*freed)(struct lsn_conn *c);
	/* Output the owner held back while the listener was corked (lsn_cork_hold): write it now
	 * with lsn_write (it joins the connection's held bytes). Called by lsn_uncork for each
	 * connection on the cork list before their bytes leave, and by lsn_conn_drain. May be
	 * NULL. (client.c seals a connection's replies of one step as one frame.) */
	void (*flush_held)(struct lsn_conn *c);
};

struct lsn {
	struct strata_uv *rt;
	const struct lsn_ops *ops;
	struct strata_listen_cfg lim; /* max_conns >= 1, frame_ms >= 1 */
	struct lsn_counters cnt;
	uv_tcp_t server;
	bool server_init;
	uv_timer_t sweep;
	bool sweep_init;
	struct lsn_conn *conns; /* doubly linked, including those closing */
	unsigned n;             /* connections, including those closing */
	unsigned nclosing;      /* closed, waiting for their close callback */
	unsigned corked;        /* lsn_cork depth */
	struct lsn_conn *cork_list; /* connections with writes held (lsn_conn.cork) */
};

/* Binds host:port and listens. 0, or STRATA_ECONFIG / STRATA_EIO with "<name> port
 * host:port: reason" in err. lsn_close must be called (and the loop run) even on failure. */
int lsn_start(struct lsn *l, struct strata_uv *rt, const struct lsn_ops *ops,
	      const struct strata_listen_cfg *lim, const struct lsn_counters *cnt, const char *host,
	      uint16_t port, char *err, size_t errlen);
/* Closes the listening socket, the sweep timer and every connection (idempotent). The
 * connections are freed by their close callbacks: l->conns is NULL once the loop ran them. */
void lsn_close(struct lsn *l);
/* Connections open and not closing. */
unsigned lsn_open_count(const struct lsn *l);

/* Closes at once; writes still queued are cancelled. Idempotent. */
void lsn_conn_close(struct lsn_conn *c);
/* Stops reading and closes once what is queued (e.g. an error reply) is written. */
void lsn_conn_drain(struct lsn_conn *c);

/* The owner's read callback consumed `completed` whole requests and now holds `partial` = a
 * request half-received: the activity and the frame deadline follow from this. */
void lsn_conn_input(struct lsn_conn *c, unsigned completed, bool partial);

/* Between lsn_cork and lsn_uncork (nested calls count), lsn_write appends to one buffer per
 * connection, and lsn_uncork writes each connection's buffer at once: the replies the node
 * releases in one step (a turn-batch's end, a finished sync) toward one connection share one
 * system call. The output cap counts held bytes too; a drain writes what is held first. Cork
 * and uncork are paired within one callback of the loop, so nothing waits for a later turn.
 * Both may be called on a listener that was never started (a port not configured): no effect. */
void lsn_cork(struct lsn *l);
void lsn_uncork(struct lsn *l);
/* Whether the listener is corked. */
static inline bool lsn_corked(const struct lsn *l)
{
	return l->corked > 0;
}
/* While corked: the owner holds output of its own for c, which ops->flush_held writes at
 * lsn_uncork (c joins the cork list). */
void lsn_cork_hold(struct lsn_conn *c);

/* A write request: the owner fills data[0..len) and hands it to lsn_write. */
struct lsn_wreq {
	uv_write_t req;
	struct lsn_conn *c;
	size_t len;
	uint8_t data[];
};
/* A write request of len bytes, or NULL (the connection is closed: out of memory, or queuing
 * len more bytes would pass queue_max, which is counted in slow_dropped and logged). NULL too
 * when the connection is already closing or draining (nothing is counted then). */
struct lsn_wreq *lsn_wreq_new(struct lsn_conn *c, size_t len);
/* Writes w's first len bytes: at once when the socket takes them all, the rest through
 * uv_write (counted in out_bytes until written). Takes w. 0, or -1 after closing the
 * connection. */
int lsn_write(struct lsn_conn *c, struct lsn_wreq *w, size_t len);
/* lsn_wreq_new + copy + lsn_write. 0 or -1 (the connection is closed or closing). */
int lsn_write_copy(struct lsn_conn *c, const void *data, size_t len);

#endif
