/* The libuv runtime: hosts one strata_node on a uv loop.
 *
 * It implements struct strata_env for a real process: monotonic time from uv_hrtime(), random
 * numbers from libsodium, datagrams on one UDP socket bound to the node's host:port (sent with
 * uv_udp_try_send; a send the kernel refuses is a fair-loss drop, counted), one uv_timer for the
 * node's earliest deadline, stable storage in LMDB (store/store.h), outputs to the log and to
 * client subscribers, trace lines to the log. It also serves clients on TCP (client.c,
 * proto/client.proto) on the node's host:client_port.
 *
 * Turn-batches and the sync thread: every input the loop hands the node in one iteration (the
 * timer, every datagram and client request read in the poll phase) is one turn-batch
 * (strata_node_batch_begin at the first input, strata_node_batch_end in a uv_check callback,
 * after the poll phase). At its end the node asks for a sync (env.sync_async): if no sync runs,
 * the runtime commits the batch's LMDB transaction without flushing it and flushes it on the
 * libuv thread pool (uv_queue_work); the loop goes on reading and processing the next batches,
 * whose writes are staged in a new transaction that is committed and flushed as one group when
 * the running flush completes (never while it runs). The node holds each batch's datagrams,
 * replies and deliveries until the flush covering it completes (strata_node_synced, in the
 * after-work callback): persist before send and before reply. A failed flush stops the node.
 *
 * Lifecycle:
 *     rt = strata_uv_new(loop, &opts, ...)     creates the node (no handle yet)
 *     strata_stack_build(strata_uv_node(rt))   the caller adds the modules
 *     strata_uv_start(rt, recovering, ...)     binds UDP and TCP, runs the node's first turn
 *     uv_run(loop) ... strata_uv_close(rt)     closes every handle; uv_run then returns
 *     strata_uv_free(rt)                       frees the node (after the loop has drained)
 * strata_uv_close must also be called (and the loop run) when strata_uv_start fails.
 *
 * Ownership: the runtime borrows cfg, the store and the secret key (the node copies it). */
#ifndef STRATA_RT_UV_UV_H
#define STRATA_RT_UV_UV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "core/config.h"
#include "core/node.h"
#include "store/store.h"

enum strata_log_level {
	STRATA_LOG_ERROR = 0,
	STRATA_LOG_WARN,
	STRATA_LOG_INFO,
	STRATA_LOG_DEBUG,
	STRATA_LOG_TRACE,
};

const char *strata_log_level_name(enum strata_log_level l);
/* "error", "warn", "info", "debug", "trace"; -1 if unknown. */
int strata_log_level_parse(const char *s);

struct strata_uv;

struct strata_uv_opts {
	const struct strata_config *cfg; /* must outlive the runtime */
	uint32_t id;
	uint64_t incarnation;
	const uint8_t *secret_key;       /* 64 bytes, copied by the node */
	const uint8_t *coin_share;       /* threshold coin share (32 bytes) or NULL, copied */
	/* The cluster's client key (32 bytes, copied into secure memory) when [client] auth is on:
	 * clients must complete the handshake of crypto/session.h and RESP clients must AUTH.
	 * NULL: clients are served without authentication (refused by the config off loopback). */
	const uint8_t *client_key;
	struct strata_store *store;      /* borrowed; NULL = no stable storage (STRATA_EIO) */
	enum strata_log_level log_level; /* trace also turns on the node's trace lines */
	FILE *log;                       /* NULL = stderr */
	/* Called for every output before the runtime handles it (e.g. the daemon's broadcast
	 * log). May be NULL. */
	void (*on_output)(void *arg, const struct strata_output *o);
	/* Whether on_output records module's deliveries (the daemon's --bcast-log records the
	 * broadcast modules', --cons-log the consensus modules'): that module builds them even when
	 * no client subscribed (strata_env.deliveries_wanted); the others (the KV's watch events)
	 * only for a subscriber. Asked per module, with arg. NULL: on_output records none. */
	bool (*records_deliveries)(void *arg, const char *module);
	/* Called once when the node stopped because stable storage failed (strata_node_failed);
	 * the owner shuts down (closes its own handles and calls strata_uv_close). NULL: the runtime
	 * closes itself. */
	void (*on_fatal)(void *arg);
	void *arg;
	size_t client_queue_max;         /* bytes queued toward one client (0 = [client]
					  * queue_max_bytes) */
	unsigned max_clients;            /* concurrent client connections (0 = [client]
					  * max_connections) */
	/* TEST ONLY: the node misbehaves on purpose (struct strata_node_opts.byz). The daemon sets
	 * it only from --byzantine-test; STRATA_BYZ_NONE (0) otherwise. */
	enum strata_byz byz;
	/* TEST ONLY: every sync sleeps this long on the sync thread before it flushes (to show that
	 * replies wait for the sync). The daemon sets it only from --test-sync-delay-ms. */
	unsigned test_sync_delay_ms;
	/* TEST ONLY: every datagram this node sends or receives on its peer socket is appended to
	 * this file as it leaves or arrives (format in docs/fuzzing.md, "Captured traffic"). The
	 * daemon sets it only from --test-capture; NULL otherwise. Borrowed: the owner closes it. */
	FILE *test_capture;
};

/* Creates the runtime and its node. NULL with a reason in err on failure. */
struct strata_uv *strata_uv_new(uv_loop_t *loop, const struct strata_uv_opts *o, char *err,
				size_t errlen);
struct strata_node *strata_uv_node(struct strata_uv *rt);
/* Binds the UDP socket and the client port, then starts the node. Returns 0, or STRATA_EIO /
 * STRATA_ECONFIG with a reason in err (e.g. "udp 127.0.0.1:7101: address already in use"). */
int strata_uv_start(struct strata_uv *rt, bool recovering, char *err, size_t errlen);
/* Closes every handle the runtime opened (idempotent). Clients are disconnected; replies still
 * pending are dropped. */
void strata_uv_close(struct strata_uv *rt);
/* Frees the node and the runtime. Every handle must be closed (the loop has run after
 * strata_uv_close). NULL is fine. */
void strata_uv_free(struct strata_uv *rt);

/* One log line: "<ISO 8601 UTC ms> n=<id> L=<lamport> <level>: <message>". */
void strata_uv_log(struct strata_uv *rt, enum strata_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Runtime counters (besides the node's struct strata_counters), reported by status. */
struct strata_uv_counters {
	uint64_t udp_send_dropped;   /* the kernel refused a datagram (EAGAIN, unreachable, ...) */
	uint64_t udp_recv_truncated; /* a datagram larger than the receive buffer */
	uint64_t udp_recv_errors;
	uint64_t udp_recv_calls;     /* recvmmsg calls */
	uint64_t udp_recv_empty;     /* of them, the ones that found nothing (EAGAIN) */
	uint64_t client_accepted;
	uint64_t client_refused;     /* over max_clients, none evictable (all have requests in flight) */
	uint64_t client_evicted;     /* closed to make room: the least recently active idle one */
	uint64_t client_idle_closed; /* closed after [client] idle_timeout_ms without a request */
	uint64_t client_frame_timeouts; /* closed: a frame incomplete frame_timeout_ms after its
					 * first byte (slowloris) */
	uint64_t client_slow_dropped;/* disconnected: outgoing queue over client_queue_max */
	uint64_t client_replies_dropped; /* the requesting connection was gone */
	uint64_t client_replies;     /* Response frames queued toward client connections */
	uint64_t client_writes;      /* writes of them to the sockets: fewer than the replies when
				      * a connection's replies of one step leave together (lsn_cork) */
	uint64_t client_auth_ok;     /* handshakes completed ([client] auth) */
	uint64_t client_auth_failed; /* handshakes refused: wrong key, replayed or malformed */
	uint64_t client_unauthenticated; /* plain requests refused: auth is on */
	uint64_t client_decrypt_failed; /* session frames that did not open (altered, replayed,
					 * reordered): the connection is closed */
	uint64_t client_bad_bundles; /* bundles whose frames do not fill them exactly (a length
				      * that lies): refused whole, the connection is closed */
	uint64_t store_syncs;        /* stable-storage transactions committed (each one fsync) */
	uint64_t sync_us_max;        /* longest sync (commit + flush), microseconds */
	uint64_t sync_us_total;      /* sum of sync durations, microseconds */
	uint64_t syncs_inline;       /* of the syncs, those done on the loop thread (small batches) */
	uint64_t syncs_dsync;        /* of those, the ones whose record-log write was its own sync
				      * (RWF_DSYNC, no fdatasync: store/wal_file.c) */
	uint64_t spare_failures;     /* preparations of the record log's next segment that failed
				      * (a full disk: the segment is then created inline, or not) */
	uint64_t input_paused;       /* times UDP reading paused: too much held waiting for a sync */
	uint64_t nemesis_dropped_out;/* datagrams the nemesis dropped on sending */
	uint64_t nemesis_dropped_in; /* datagrams the nemesis dropped on receiving */
	uint64_t nemesis_delayed;    /* datagrams the nemesis held back before sending */
	uint64_t nemesis_delay_overflow; /* dropped: the delay queue was full */
	uint64_t metrics_scrapes;    /* GET /metrics served (metrics.c) */
	uint64_t resp_accepted;      /* RESP connections (resp.c) */
	uint64_t resp_refused;       /* over [resp] max_connections, none evictable */
	uint64_t resp_commands;
	uint64_t resp_replies;       /* replies (one per command) written toward RESP connections */
	uint64_t resp_writes;        /* writes of them to the sockets: fewer than the replies when
				      * several leave together (one flush of the ring, lsn_cork) */
	uint64_t resp_concurrent_max; /* most commands of one RESP connection in the KV at once */
	uint64_t resp_errors;        /* error replies */
	uint64_t resp_bad_requests;  /* protocol errors (the connection closes) */
	uint64_t resp_slow_dropped;  /* disconnected: replies queued over [resp] queue_max_bytes */
	uint64_t resp_auth_failed;   /* AUTH/HELLO with a wrong password */
	uint64_t resp_unauthenticated; /* commands refused before AUTH ([client] auth) */
	/* The discipline of the RESP and metrics ports (listener.c), as client_* for the client
	 * port: refused = over max_connections with every connection busy. */
	uint64_t resp_evicted, resp_idle_closed, resp_frame_timeouts;
	uint64_t metrics_accepted, metrics_refused, metrics_evicted, metrics_idle_closed;
	uint64_t metrics_frame_timeouts, metrics_slow_dropped;
	uint64_t metrics_bad_requests; /* malformed or oversized HTTP requests (400, 431) */
};
const struct strata_uv_counters *strata_uv_counters(const struct strata_uv *rt);

#endif
