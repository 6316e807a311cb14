/* Shared between runtime.c (node, UDP, timer, log) and the TCP ports: client.c (client
 * protocol), resp.c (RESP), metrics.c (HTTP metrics), all on listener.c. */
#ifndef STRATA_RT_UV_INTERNAL_H
#define STRATA_RT_UV_INTERNAL_H

#include <sys/socket.h>

#include "rt/uv/client_frame.h"
#include "rt/uv/listener.h"
#include "rt/uv/turntrace.h"
#include "rt/uv/uv.h"

struct client_conn;
struct resp_conn;

#define NEM_DELAY_MAX 8192u
#define NEM_DELAY_MAX_BYTES (16u << 20)

/* A datagram the nemesis holds back: sent to `to` at due_ms (loop time). */
struct nem_delayed {
	uint64_t due_ms;
	uint32_t to;
	uint32_t len;
	uint8_t *buf;
};

/* A client request in flight in the node: the node sees only `rid` (unique in this runtime);
 * the reply is routed back to the connection under the client's own id. */
struct pending_op {
	uint64_t rid;           /* 0 = free slot */
	struct client_conn *c;  /* NULL once the connection closed: the reply is dropped */
	uint64_t client_id;
	struct resp_conn *rc;   /* a RESP connection's request (c is NULL); NULL once closed */
	uint32_t rslot, rpart;  /* its reply slot and part (resp.c) */
	uint64_t t0_us;         /* when it was handed to the node (metrics) */
	uint16_t mstat;         /* its module's metrics slot, UVRT_MSTAT_NONE = not counted */
};

/* Metrics (metrics.c): latency histograms with fixed bounds (MET_BOUNDS_US), per module of the
 * client protocol's operations (at most MET_MODULES names; later ones share the last slot,
 * "other") and for the storage syncs. */
#define MET_BOUNDS 16
#define MET_MODULES 32
#define UVRT_MSTAT_NONE UINT16_MAX
struct met_hist {
	uint64_t bucket[MET_BOUNDS + 1]; /* non-cumulative; the last one is +Inf */
	uint64_t count, sum_us;
};
struct met_module {
	char name[32];
	uint64_t errors; /* replies with a non-zero status */
	struct met_hist lat;
};

/* One status counter (client.c): the name points into a static table or into unnamed. */
struct uvrt_counter {
	const char *name;
	uint64_t value;
	char unnamed[24];
};

/* Datagrams handed to the kernel by one sendmmsg at most (runtime.c). */
#define TX_BATCH 64

#define PENDING_BITS 14
#define PENDING_MAX (1u << PENDING_BITS)

struct strata_uv {
	uv_loop_t *loop;
	struct strata_uv_opts o;
	const struct strata_config *cfg;
	uint32_t id;
	struct strata_node *node;
	struct strata_env env;
	struct strata_uv_counters counters;
	/* env.random: kernel randomness fetched 32 values at a time (a follower draws
	 * one per APPEND for its election timer; one getrandom call each cost a system call). */
	uint64_t rand_buf[32];
	unsigned rand_left;
	uint64_t started_ms; /* uv_hrtime at start, for uptime */
	bool closing;
	bool fatal_reported; /* the node stopped on a storage failure */
	char store_err[1400]; /* the last stable-storage error logged: the fatal line repeats it */
	char fatal_why[1600]; /* after it: the answer to every client request (runtime.c) */
	uv_timer_t grace_timer; /* the ports' grace after it, before the runtime closes */
	bool grace_init;
	bool capture_failed; /* a --test-capture write failed: capture stopped */
	struct uvrt_tt *tt;  /* the turn trace (STRATA_TURN_TRACE), NULL when off */
	uv_prepare_t tt_prepare; /* its probe before each poll */
	bool tt_prepare_init;

	/* UDP */
	uv_udp_t udp;
	bool udp_init;
	uint8_t *rxbuf;
	size_t rxlen;
	/* Datagrams of one release, sent together by sendmmsg at env.send_flush (or when the
	 * run fills the arena or TX_BATCH entries): one system call for a batch's datagrams. */
	uint8_t *txbuf;      /* TX arena, tx_cap bytes */
	size_t tx_cap, tx_used;
	uint32_t tx_n;
	uint32_t tx_to[TX_BATCH];
	uint32_t tx_off[TX_BATCH], tx_len[TX_BATCH];
	struct sockaddr_storage peer_addr[STRATA_MAX_NODES + 1];
	bool peer_addr_ok[STRATA_MAX_NODES + 1];
	/* The built-in nemesis ([cluster] nemesis = on; set by `strata nemesis`): bit i-1 = node i. */
	uint64_t nem_block_out, nem_block_in;
	uint32_t nem_drop_pct;
	/* `nemesis delay`: datagrams to send later, a FIFO ring bounded by NEM_DELAY_MAX datagrams
	 * and NEM_DELAY_MAX_BYTES bytes (over either bound a datagram is dropped, counted). */
	uint32_t nem_delay_ms;
	struct nem_delayed *nem_q; /* NEM_DELAY_MAX slots, allocated on the first delay */
	uint32_t nem_qhead, nem_qlen;
	size_t nem_qbytes;
	uv_timer_t nem_timer;
	bool nem_timer_init;

	/* Metrics (metrics.c), off unless [node.N] metrics_port is set */
	struct met_module met_mod[MET_MODULES];
	uint16_t met_nmod;
	struct met_hist met_sync;
	uint64_t leader_epoch; /* of the last leader output */
	struct lsn met_lsn; /* the HTTP metrics port */

	/* The node's wake-up */
	uv_timer_t timer;
	bool timer_init;
	uint64_t wake_at_us; /* last deadline the node reported, UINT64_MAX = none */

	/* Turn-batches and the sync thread */
	uv_check_t check;
	bool check_init;
	bool batch_open;       /* a turn-batch is open in the node (this loop iteration) */
	uint32_t batch_inputs; /* inputs (datagrams, client reads, timers) in the open batch */
	bool batch_timer;      /* a timer fired in the open batch */
	uv_work_t sync_work;
	uv_work_t spare_work;  /* the record log's next segment, prepared on the thread pool */
	bool spare_running;
	bool spare_failing;    /* the last preparation failed (logged once until one succeeds) */
	bool syncing;          /* a flush runs on the thread pool */
	int sync_rc;           /* its result (written by the pool thread) */
	uint64_t sync_ticket;  /* last batch the running flush covers */
	uint64_t want_ticket;  /* last batch the node asked to make durable */
	uint64_t sync_start_us;
	bool udp_paused;       /* reading stopped: the outbox is over its bound */
	/* The socket was drained by the last recvmmsg (it returned fewer datagrams than it had
	 * room for): on_udp_alloc ends this read round without another system call, which would
	 * only find EAGAIN. epoll is level-triggered, so a datagram that arrives meanwhile wakes
	 * the next poll. rx_batch counts the datagrams of the recvmmsg call in progress. */
	bool rx_drained, rx_end;
	uint32_t rx_batch;
	uint64_t releasing;    /* the node is releasing outputs of batches <= this (after their
				* sync); 0 = not releasing (logged with replies, for tests) */
	/* status rates: counters at the start of the current rate window */
	uint64_t rate_t0_ms, rate_syncs0, rate_stores0, rate_batches0;
	uint64_t rate_syncs_per_s, rate_stores_per_s, rate_batches_per_s;

	/* TCP client server */
	uint8_t *client_key;       /* [client] auth: 32 bytes of secure memory; NULL = off */
	char resp_password[65];    /* derived from client_key (RESP AUTH), when it is set */
	struct lsn client_lsn;     /* the client port: connections are struct client_conn */
	struct strata_pb_arena req_arena; /* the client request being handled (client.c) */
	struct pending_op *pend;
	uint32_t pend_cap;
	uint32_t *pend_free;
	uint32_t npend_free;
	uint64_t pend_seq;

	/* RESP server (resp.c), off unless [node.N] resp_port is set */
	struct lsn resp_lsn;  /* the RESP port: connections are struct resp_conn */
	uv_timer_t resp_kick; /* resumes connections whose ring has room again */
	bool resp_kick_init;
	uint64_t resp_next_id;
};

/* Resolves host:port (numeric or a name) into ss. 0 or STRATA_ECONFIG. */
int uvrt_resolve(const char *host, uint16_t port, int socktype, struct sockaddr_storage *ss,
		 char *err, size_t errlen);

/* Opens the loop iteration's turn-batch if it is not open yet (before handing the node an
 * input). */
void uvrt_input(struct strata_uv *rt);

/* Sets the nemesis delay of this node's outgoing datagrams (0 sends what is held now). */
void uvrt_nemesis_set_delay(struct strata_uv *rt, uint32_t ms);

/* metrics.c */
int metrics_server_start(struct strata_uv *rt, char *err, size_t errlen);
void metrics_server_close(struct strata_uv *rt);
void metrics_server_free(struct strata_uv *rt);
void uvrt_metrics_observe(struct met_hist *h, uint64_t us);
/* The metrics slot of a module name (UVRT_MSTAT_NONE if name is NULL). */
uint16_t uvrt_metrics_module(struct strata_uv *rt, const char *name);
/* An operation's reply: counts it and its latency under its module. */
void uvrt_metrics_op_done(struct strata_uv *rt, const struct pending_op *p, int status);

/* client.c */
/* The status counters (node's, then runtime's; not the rates), at most max; returns how many. */
size_t uvrt_counters(struct strata_uv *rt, struct uvrt_counter *out, size_t max);
size_t uvrt_counters_max(void);
int client_server_start(struct strata_uv *rt, char *err, size_t errlen);
void client_server_close(struct strata_uv *rt);
void client_server_free(struct strata_uv *rt);
/* Routes an output to the requesting connection (REPLY) or to subscribers. */
void client_output(struct strata_uv *rt, const struct strata_output *o);
void client_fail_pending(struct strata_uv *rt, const char *why);
void client_drain_all(struct strata_uv *rt);
/* Whether a connection subscribed to module `module`'s deliveries (client_output would send
 * them to it). */
bool client_deliveries_wanted(struct strata_uv *rt, const char *module);
/* A slot for a request in flight in the node (NULL when PENDING_MAX are in flight), and its
 * release. */
struct pending_op *uvrt_pending_alloc(struct strata_uv *rt);
void uvrt_pending_release(struct strata_uv *rt, struct pending_op *p);

/* resp.c */
int resp_server_start(struct strata_uv *rt, char *err, size_t errlen);
void resp_server_close(struct strata_uv *rt);
/* The node's reply to part `part` of a RESP connection's slot `slot`. */
void resp_reply(struct strata_uv *rt, struct resp_conn *c, uint32_t slot, uint32_t part,
		const struct strata_output *o);

#endif
