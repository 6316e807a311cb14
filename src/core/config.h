/* The cluster configuration, parsed from INI text (sans-I/O: the caller reads the file).
 *
 * Sections: [cluster] (id, model, f, algorithms), [node.N] (host, port, client_port, public_key),
 * [fd] (heartbeat and timeouts), [links] (datagram size, retransmission, windows), [lkv]
 * (leaderless store quorums), [bcast] (gossip parameters of the probabilistic broadcasts), [smr]
 * (the replicated KV's log: heartbeat, election timeout, window, batching, bounds), [client],
 * [resp] and [metrics] (connection limits of the TCP ports), [tob] (the consensus under
 * total-order broadcast).
 * Node ids are 1..n, contiguous. Every error names the file, line and key. */
#ifndef STRATA_CORE_CONFIG_H
#define STRATA_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STRATA_MAX_NODES 64
#define STRATA_NAME_MAX 32
#define STRATA_HOST_MAX 64

/* The book's system models. */
enum strata_model {
	STRATA_MODEL_FAIL_STOP = 0,      /* crash-stop + perfect failure detector P */
	STRATA_MODEL_FAIL_NOISY,         /* crash-stop + eventually perfect detector / Omega */
	STRATA_MODEL_FAIL_SILENT,        /* crash-stop, no failure detector */
	STRATA_MODEL_FAIL_RECOVERY,      /* crash-recovery with stable storage */
	STRATA_MODEL_FAIL_ARBITRARY,     /* Byzantine, authenticated links */
	STRATA_MODEL_RANDOMIZED,         /* crash-stop, probabilistic algorithms */
	STRATA_MODEL_COUNT
};

const char *strata_model_name(enum strata_model m);
/* Parses "fail-stop", "fail-noisy", ...; returns -1 if unknown. */
int strata_model_parse(const char *s);
/* Whether a cluster running model `cluster` gives what an algorithm written for `algo` needs
 * (e.g. a fail-stop cluster runs fail-noisy and fail-silent algorithms too). */
bool strata_model_supports(enum strata_model cluster, enum strata_model algo);

struct strata_peer_cfg {
	uint32_t id;
	char host[STRATA_HOST_MAX];
	uint16_t port;        /* UDP, peers */
	uint16_t client_port; /* TCP, clients */
	uint16_t resp_port;   /* TCP, RESP (Redis protocol) clients of the kv module; 0 = off */
	uint16_t metrics_port; /* TCP, Prometheus text over HTTP (GET /metrics); 0 = off */
	char metrics_host[STRATA_HOST_MAX]; /* where metrics listen; default 127.0.0.1 */
	uint8_t public_key[32];
	bool has_public_key;
	/* The threshold coin's verification key V_N = g^x_N (ristretto255), from the dealer
	 * (`stratad coin-deal`); every node has one or none does (docs/consensus.md). */
	uint8_t coin_key[32];
	bool has_coin_key;
};

/* The TCP ports of a node, each with a section of connection limits of its own. */
enum strata_port {
	STRATA_PORT_CLIENT = 0, /* [client]: the client port ([node.N] client_port) */
	STRATA_PORT_RESP,       /* [resp]: the RESP port ([node.N] resp_port) */
	STRATA_PORT_METRICS,    /* [metrics]: the HTTP metrics port ([node.N] metrics_port) */
	STRATA_PORT_COUNT
};

/* A TCP port's connection discipline (docs/security.md, rt/uv/listener.h), the same four keys
 * in each port's section: at most max_conns connections at once (a new one evicts the least
 * recently active connection without a request in flight); a connection silent for idle_ms is
 * closed (0 = never; subscribers are exempt); a request must be complete frame_ms after its
 * first byte; at most queue_max bytes of replies and events are queued toward one connection (a
 * client that does not read is disconnected). Defaults: [client] and [resp] 1024 connections,
 * 5 minutes idle, 10 s per request, 4 MiB queued; [metrics] 16 connections, 10 s idle, 10 s per
 * request, 2 MiB queued (strata_listen_defaults). Where the host and port are: [node.N]. */
struct strata_listen_cfg {
	uint32_t max_conns; /* max_connections */
	uint32_t idle_ms;   /* idle_timeout_ms; 0 = no idle timeout */
	uint32_t frame_ms;  /* frame_timeout_ms, >= 1 */
	uint32_t queue_max; /* queue_max_bytes */
};

struct strata_config {
	char cluster_id[STRATA_NAME_MAX];
	uint64_t cluster_hash; /* first 8 bytes of SHA-256(cluster_id), on every datagram */
	enum strata_model model;
	uint32_t n; /* number of [node.N] sections */
	uint32_t f; /* tolerated faults */

	/* Default algorithms per family ([cluster] reg_algo, bcast_algo, cons_algo), "" = family default. */
	char reg_algo[STRATA_NAME_MAX];
	char bcast_algo[STRATA_NAME_MAX];
	uint32_t writer; /* the writer of single-writer registers, 1..n (default 1) */
	bool nemesis;    /* [cluster] nemesis = on: nodes obey `strata nemesis` (test clusters) */
	/* The threshold coin of randomized consensus: shares needed to reveal a coin, with
	 * f + 1 <= coin_threshold <= n - f; 0 = no coin dealt ([node.N] coin_key absent). */
	uint32_t coin_threshold;

	/* Leaderless store ([lkv] replicas, r, w; max_keys: keys each store keeps per node, the
	 * capacity of its instance table). */
	uint32_t lkv_replicas, lkv_r, lkv_w, lkv_max_keys;

	/* Probabilistic broadcasts ([bcast]): eager and lazy probabilistic broadcast gossip each
	 * message to `fanout` random peers for `rounds` hops; lazy probabilistic broadcast keeps a
	 * message for retransmission with probability store_probability_pct / 100. */
	uint32_t bcast_fanout;                /* k, 1..64 (default 3) */
	uint32_t bcast_rounds;                /* R, 1..64 (default 4) */
	uint32_t bcast_store_probability_pct; /* 0..100 (default 50) */

	/* Replicated KV ([smr], docs/smr.md). */
	uint32_t smr_heartbeat_ms;    /* leader heartbeat / retransmission check (default 50) */
	uint32_t smr_election_ms;     /* follower election timeout, randomised in [t, 2t) (default 500) */
	uint32_t smr_window;          /* log entries in flight per follower (default 64) */
	uint32_t smr_batch_max;       /* commands per log entry (default 1024) */
	uint32_t smr_pending_max;     /* client requests a node holds at once (default 8192) */
	uint32_t smr_timeout_ms;      /* a request unanswered this long: unknown outcome (default 5000) */
	uint32_t smr_sessions_max;    /* client sessions remembered for exactly-once (default 100000) */
	uint32_t smr_quota_bytes;     /* the KV state's space quota (default 2 GiB; docs/smr.md) */
	uint32_t smr_snapshot_entries; /* a snapshot every this many applied entries (default 10000;
					* 0 = never: the log is not compacted) */
	uint32_t smr_snapshot_tail;   /* entries kept behind a snapshot for slow followers (1000) */
	/* [smr] leader_sync_parallel (default off): the leader stores its new entries in the turn
	 * that sends them and counts itself once that sync is done, so its fdatasync runs beside
	 * the followers' (docs/smr.md); off: it stores them 5 ms later, off the path. */
	bool smr_leader_sync_parallel;
	/* [smr] thrifty: when nothing is in flight (c = 1), the leader stores a new entry in the
	 * turn that sends it and sends it at once only to majority - 1 followers (the others get
	 * it off the path: with the next commit, heartbeat or batch, or after a bound when the
	 * chosen ones are late); docs/smr.md "Thrifty replication". */
	bool smr_thrifty;
	uint32_t smr_checkpoint_interval; /* BFT KV: a signed checkpoint every this many applied
					   * commands (default 1024; 0 = none) */
	uint32_t smr_bft_overlap; /* BFT KV over btob: rounds with requests in flight at once
				   * (default 1 = one round at a time; 2 overlaps them; at most min(N, 16)) */
	/* The KV's log ([smr] log): "" or "paxos" = the leader-driven replicated log (log.c),
	 * "tob" = state machine fed by total-order broadcast deliveries (tob_log.c). */
	char smr_log[STRATA_NAME_MAX];
	/* The consensus under total-order broadcast ([tob] consensus): "" = ldc. */
	char tob_consensus[STRATA_NAME_MAX];

	/* The connection discipline of the TCP ports ([client], [resp], [metrics]; indexed by
	 * enum strata_port): one struct strata_listen_cfg each, parsed by one table (config.c). */
	struct strata_listen_cfg listen[STRATA_PORT_COUNT];
	/* [metrics] allow_remote: metrics_host may be a non-loopback address (the metrics port has
	 * no authentication). Default off: such a config is refused. */
	bool metrics_allow_remote;
	/* [client] auth (docs/security.md): clients must prove they hold the cluster's client key
	 * (client.key next to the config) and their sessions are encrypted; RESP asks for AUTH.
	 * Default on; off is refused when any node's host is not a loopback address. */
	bool client_auth;
	/* [cluster] encrypt (docs/links.md): peer datagrams are encrypted with an AEAD under the
	 * pair keys instead of carrying an HMAC in clear. Default off. */
	bool encrypt;

	/* Failure detection ([fd]). */
	uint32_t heartbeat_ms;        /* heartbeat period (default 50) */
	uint32_t timeout_ms;          /* P: Delta; a peer silent this long is crashed (default 250) */
	uint32_t evp_timeout_ms;      /* <>P: initial timeout (default 250) */
	uint32_t evp_increment_ms;    /* <>P: added on every false suspicion (default 100) */

	/* Links ([links]). */
	uint32_t max_datagram;        /* bytes per UDP datagram (default 1400) */
	uint32_t max_value;           /* largest message a perfect link carries (default 1 MiB) */
	uint32_t window;              /* perfect-link frames in flight per peer (default 1024) */
	uint32_t retransmit_min_ms;   /* lower bound of the retransmission timeout (default 10) */
	uint32_t retransmit_max_ms;   /* upper bound after backoff (default 1000) */
	uint32_t backlog_bytes;       /* queued, not yet sent bytes per peer (default 64 MiB) */
	uint32_t ack_delay_us;        /* a lone ack waits this long for a frame (default 2000; 0: at once) */

	struct strata_peer_cfg nodes[STRATA_MAX_NODES + 1]; /* index = node id, [0] unused */
};

/* Fills every default; n = 0. */
/* Whether host (a config host: an address or a name) is a loopback address: 127.0.0.0/8, ::1
 * or "localhost". */
bool strata_host_is_loopback(const char *host);

void strata_config_defaults(struct strata_config *c);

/* The section name of a port: "client", "resp" or "metrics". */
const char *strata_port_name(enum strata_port p);
/* The defaults of a port's section. */
struct strata_listen_cfg strata_listen_defaults(enum strata_port p);
/* c->listen[p], with the port's default in place of a zero max_conns, frame_ms or queue_max
 * (fields that cannot be zero in a parsed config: a config a caller built by hand). */
struct strata_listen_cfg strata_listen_cfg_of(const struct strata_config *c, enum strata_port p);

/* Parses INI text. `filename` is used in messages only. On error returns STRATA_ECONFIG and writes
 * "FILE:LINE: [section] key: problem" into err. Validates ranges, node ids 1..n contiguous, unique
 * host:port pairs, n > 0, f < n, and computes cluster_hash. */
int strata_config_parse(struct strata_config *c, const char *text, const char *filename, char *err,
			size_t errlen);

/* Resilience check: does an algorithm needing n > k*f (k = resilience_k) fit this cluster?
 * Writes the reason into err when it does not. */
int strata_config_check_resilience(const struct strata_config *c, const char *algo,
				   unsigned resilience_k, char *err, size_t errlen);

#endif
