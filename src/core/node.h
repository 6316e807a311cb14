/* A strata node: the environment interface, the module stack, the event queue and timers.
 *
 * The protocol core is sans-I/O. Everything a module needs from the world comes through
 * struct strata_env, which a runtime implements: rt/uv (sockets, libuv timers, LMDB) or rt/sim
 * (virtual time, simulated network, a durable map per node). Nothing in src/ outside rt/ calls a
 * socket, a clock, rand() or the file system, and there is no global mutable state: everything
 * hangs off a node, so one process can host many nodes.
 *
 * Execution model (the book's "upon <event> do"): a runtime hands the node one external input at
 * a time (a datagram, an expired timer, a client request, start). The node runs the handler, and
 * every event raised inside a handler is queued on the node's FIFO queue and handled after the
 * current handler returns; the node drains the queue before returning to the runtime.
 *
 * Turn-batches (group commit): a runtime may bracket several inputs with strata_node_batch_begin
 * / strata_node_batch_end (rt/uv: everything read in one event-loop iteration); an input outside
 * such brackets is a batch of its own. At the end of a batch the node raises STRATA_EV_TURN_END
 * to the modules that asked for it (strata_node_at_turn_end), drains again, lets the link layer
 * pack its frames, and then makes stable storage durable: env.sync (blocking), or env.sync_async
 * (the runtime syncs in the background and calls strata_node_synced later). Everything the batch
 * would send or output -- datagrams, client replies, deliveries, detector changes -- is held in
 * the node's outbox, in order, and released only after the sync that covers the batch: persist
 * before send and before reply. Batches are released in order; a failed sync releases nothing
 * more and stops the node.
 *
 * Modules embed struct strata_module as their first member. Requests go down as direct calls to
 * the lower layer's API (they only queue work, never call back up synchronously); indications go
 * up as queued events to every subscriber. */
#ifndef STRATA_CORE_NODE_H
#define STRATA_CORE_NODE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/msg.h"

struct strata_node;
struct strata_module;

/* ---- Outputs: what a node tells its clients (and what the simulator's checkers observe). ---- */

enum strata_out_kind {
	STRATA_OUT_FD = 1,    /* peer changed state: peer, a = enum strata_peer_state, b = incarnation */
	STRATA_OUT_LEADER,    /* peer = new leader (0 = none), a = epoch (0 if none) */
	STRATA_OUT_DELIVER,   /* a broadcast delivery: module, peer = sender, a = seq, data/len = payload,
			       * vc/vc_len = vector clock if the algorithm has one */
	STRATA_OUT_REPLY,     /* reply to a client request: a = request id, status = 0 or STRATA_E*,
			       * b = flags (STRATA_REPLY_*), data/len = value, text = error detail */
	STRATA_OUT_BCAST,     /* this node broadcast: module, a = seq, data/len = payload */
	STRATA_OUT_EVENT,     /* free-form module event for logs and watchers: text */
};

#define STRATA_REPLY_FOUND 1u /* a read found a value (absent = never written, prints null) */
/* data holds several values and a context (lkv-vc): codec u64 count, count x bytes value,
 * bytes context; the runtime turns them into OpReply.siblings/context. */
#define STRATA_REPLY_SIBLINGS 2u
/* data holds the keys of a range (kv): codec u64 count, count x (bytes key, bytes value,
 * u64 mod revision, u64 create revision, u64 version), u8 more (1: more keys matched than
 * returned); the runtime turns them into OpReply.kvs/more. */
#define STRATA_REPLY_RANGE 4u

struct strata_output {
	enum strata_out_kind kind;
	uint16_t module;       /* wire id of the module that produced it (0 = node) */
	const char *module_name;
	uint32_t peer;
	uint64_t a, b;
	int status;
	const uint8_t *data;   /* borrowed for the duration of the call */
	size_t len;
	const uint64_t *vc;    /* borrowed; vc[0..vc_len) indexed by node id - 1 */
	size_t vc_len;
	const char *text;      /* borrowed; may be NULL */
	/* DELIVER: a recovered process announces again a delivery it had logged before it crashed
	 * (its first announcement may have been lost with the crash: state reaches the disk before
	 * the batch's outputs leave). BCAST: likewise for an own broadcast it had logged. Whoever
	 * records deliveries or broadcasts records it only if it has not already (the daemon's
	 * --bcast-log, the simulator's checkers). */
	bool replay;
	uint64_t revision;     /* REPLY of the replicated KV: the store revision (0 = none) */
	/* REPLY of the Byzantine fault-tolerant KV (smr/smr.h, smr_bft_*): the Ed25519 signature
	 * by replica `peer` over the reply's digest, or an envelope's (signature and proof, smr.h
	 * SMR_BFT_SIG_MAX): sig_len bytes; NULL otherwise. */
	const uint8_t *sig;
	size_t sig_len;
};
#define STRATA_OUT_SIG_LEN 64 /* = STRATA_SIG_LEN (crypto/crypto.h) */

/* ---- The environment a runtime provides. All callbacks get env.ctx. ---- */

struct strata_rlog;

struct strata_env {
	void *ctx;
	/* Monotonic time in microseconds (virtual in the simulator). */
	uint64_t (*now_us)(void *ctx);
	/* Send one datagram to peer `to` (1..n). Fair-loss: it may be dropped, duplicated, delayed. */
	void (*send)(void *ctx, uint32_t to, const uint8_t *buf, size_t len);
	/* Optional: the end of a run of send() calls (a batch's datagrams released after its sync).
	 * A runtime may keep the datagrams of a run (copied: buf is the caller's) and hand them to
	 * the kernel together here (sendmmsg); NULL = every send() leaves at once. */
	void (*send_flush)(void *ctx);
	/* The node's earliest timer deadline changed; UINT64_MAX = no timer. When now >= deadline the
	 * runtime calls strata_node_tick(). */
	void (*wake_at)(void *ctx, uint64_t deadline_us);
	/* Uniform 64-bit random numbers from a PRNG the runtime seeds. */
	uint64_t (*random)(void *ctx);
	/* Stable storage. store() stages a write; it is durable once sync() returns 0. retrieve()
	 * sees staged writes; *out is a new strata_msg the caller unrefs, STRATA_ENOENT if absent.
	 * May be NULL for runtimes without storage: then store/retrieve return STRATA_EIO. */
	int (*store)(void *ctx, const char *key, const void *val, size_t len);
	int (*retrieve)(void *ctx, const char *key, struct strata_msg **out);
	int (*sync)(void *ctx);
	/* Optional: deletes key (staged like store; absent is not an error). NULL: logs cannot be
	 * truncated and snapshots not replaced (STRATA_EIO). */
	int (*remove)(void *ctx, const char *key);
	/* Optional asynchronous sync, used instead of sync when set. Asks the runtime to make
	 * everything stored so far durable, for turn-batch `ticket` (increasing). Returns 1 if that
	 * is already the case (nothing staged and no sync in flight: the batch is released at
	 * once), 0 if the runtime will call strata_node_synced(node, t, rc) with t >= ticket later
	 * (from outside any handler), or a negative STRATA_E* code (the node stops). */
	int (*sync_async)(void *ctx, uint64_t ticket);
	/* Optional: the runtime's record log for the log named `name` (store/rlog.h: an
	 * append-only, preallocated log file synced by the same env.sync / sync_async, after the
	 * other stores), or NULL: that log is kept as keys through store/retrieve/remove. */
	struct strata_rlog *(*wal)(void *ctx, const char *name);
	/* Indications to clients. Called only once the batch that produced them is durable. */
	void (*output)(void *ctx, const struct strata_output *out);
	/* Optional: whether anything takes module `module`'s STRATA_OUT_DELIVER outputs now (a
	 * client subscribed to its deliveries, a delivery log). Asked by modules whose deliveries
	 * exist only for such takers (the KV's watch events), which then skip building them.
	 * NULL: always. */
	bool (*deliveries_wanted)(void *ctx, const char *module);
	/* One structured trace line (already formatted, no newline). May be NULL. */
	void (*trace)(void *ctx, const char *line);
};

/* ---- Events ---- */

/* Event types. Ranges: core/links/fd 1-99, bcast 100-199, reg 200-299, cons 300-399,
 * tests 1000+. Family headers define their own types in their range. */
enum strata_ev_type {
	STRATA_EV_INIT = 1,       /* node started; arg = 1 if recovering (crash-recovery) */
	STRATA_EV_TIMER,          /* a strata_timer fired; arg = token, instance = timer's instance */
	STRATA_EV_FLL_DELIVER,    /* fair-loss delivery: peer, instance, msg */
	STRATA_EV_SL_DELIVER,     /* stubborn delivery (may repeat): peer, instance, msg */
	STRATA_EV_PL_DELIVER,     /* perfect delivery (once, FIFO per sender): peer, instance, msg */
	STRATA_EV_PEER_RESTART,   /* peer came back with a new incarnation: peer, arg = incarnation */
	STRATA_EV_CRASH,          /* P: peer crashed */
	STRATA_EV_SUSPECT,        /* <>P: peer suspected */
	STRATA_EV_RESTORE,        /* <>P: suspicion of peer withdrawn */
	STRATA_EV_LEADER,         /* LE / Omega: peer is the leader (trust) */
	STRATA_EV_DELIVER,        /* a broadcast's Deliver indication: body struct strata_deliver,
				   * peer = origin, instance = the lower instance, arg = seq */
	STRATA_EV_TURN_END,       /* the turn-batch's queue drained (see strata_node_at_turn_end) */
	STRATA_EV_DECIDE,         /* a consensus Decide for clients: body struct strata_decide,
				   * instance = the decided instance, arg = its round or epoch */
};

/* Typed event bodies. An event may carry a body: a small struct whose type the event type
 * names (STRATA_EV_DELIVER carries struct strata_deliver, a family's events carry the family's
 * structs). strata_raise_body() copies the body into the queue entry (at most
 * STRATA_EV_BODY_MAX bytes), so the raiser's copy may live on its stack. The handler borrows
 * ev->body for the duration of the call only; whoever keeps something takes its own copy (or
 * its own reference to ev->msg). Pointers inside a body must point into ev->msg (the queue
 * holds a reference to it until the handler returns) or into memory that outlives the turn. */
#define STRATA_EV_BODY_MAX 128

/* Deliver(origin, seq, bytes): the indication of every broadcast module, whatever its layer. */
struct strata_deliver {
	uint32_t origin;      /* the process that broadcast it */
	uint64_t inc;         /* origin's incarnation (0 for the fail-recovery algorithms) */
	uint64_t seq;         /* origin's sequence number, 1, 2, ... */
	const uint8_t *data;  /* the payload: points into ev->msg */
	size_t len;
	const uint64_t *vc;   /* vector timestamp (causal broadcasts), else NULL; into ev->msg or
			       * the raiser's module state, valid for the handler */
	size_t vc_len;
	bool replay;          /* announced again after a recovery (struct strata_output.replay) */
};

/* Decide(v) of a client-facing consensus instance, raised to the client adapter by the module
 * that decided (ev->src). The adapter outputs it (STRATA_OUT_DELIVER named after ev->src:
 * peer = this node, a = instance, b = round, text "<round_name> <round>") and then answers the
 * client requests that waited for it, as ev->src, with the instance (u64) and the value. */
#define STRATA_DECIDE_WAIT_MAX 8u
struct strata_decide {
	uint64_t instance;
	uint64_t round;
	const char *round_name;  /* "round" or "epoch": static storage */
	const uint8_t *value;    /* points into ev->msg */
	size_t len;
	unsigned nwait;
	uint64_t waiters[STRATA_DECIDE_WAIT_MAX]; /* client request ids, answered in this order */
};

struct strata_event {
	uint16_t type;
	struct strata_module *dst;
	struct strata_module *src; /* the module that indicated it (strata_indicate*), else NULL */
	uint32_t peer;
	uint64_t instance;
	uint64_t arg;
	struct strata_msg *msg; /* NULL or a payload; the queue holds one reference while queued,
				 * a handler that keeps it takes its own */
	const void *body;       /* NULL or the typed body (see above): borrowed for the handler */
	size_t body_len;
};

/* ---- Client requests (decoded by the runtime, routed to a module by name) ---- */

enum strata_op {
	STRATA_OP_READ = 1,
	STRATA_OP_WRITE,
	STRATA_OP_DELETE,
	STRATA_OP_CAS,
	STRATA_OP_BROADCAST,
	STRATA_OP_PROPOSE,       /* consensus: key = instance id (decimal), value = proposal */
	STRATA_OP_RANGE,         /* kv: key = prefix (empty: every key), value = start after this
				  * key (empty: from the first), limit = at most this many keys */
	STRATA_OP_HISTORY,       /* kv: the changes of key (flags: or of a prefix) from revision
				  * seq on, limit = at most this many (src/smr/smr.h) */
};

struct strata_request {
	uint64_t id;             /* echoed in the STRATA_OUT_REPLY */
	enum strata_op op;
	const uint8_t *key;      /* borrowed for the call: copy what you keep */
	size_t key_len;
	const uint8_t *value;
	size_t value_len;
	const uint8_t *value2;   /* CAS: the new value; lkv: a causal context */
	size_t value2_len;
	uint32_t r, w;           /* quorum overrides, 0 = configured default */
	uint64_t session, seq;   /* exactly-once session of a KV write (0 = none) */
	uint32_t flags;          /* module-specific request flags (smr: STRATA_REQ_SERIALIZABLE) */
	uint32_t limit;          /* range: at most this many keys (0 = the module's default) */
	uint32_t timeout_ms;     /* the client gives up after this long (0 = not said); modules
				  * that wait for a quorum answer STRATA_ETIMEDOUT before it */
	const uint8_t *client_auth; /* BFT KV: the client's public key || its signature of the
				     * request (96 bytes), or a request envelope's auth (smr/bft.c,
				     * at most STRATA_REQ_AUTH_MAX bytes); NULL = none */
	size_t client_auth_len;
};

#define STRATA_REQ_AUTH_MAX 392 /* = SMR_BFT_AUTH_MAX (smr/smr.h) */

/* ---- Modules ---- */

#define STRATA_MAX_SUBS 16

struct strata_module_ops {
	const char *name; /* the algorithm's short name: "pl", "evp", "nnar", ... */
	void (*handle)(struct strata_module *m, const struct strata_event *ev);
	/* A client request. Return 0 if accepted (the module replies later with strata_node_reply),
	 * or a STRATA_E* code which the node turns into an immediate error reply. May be NULL. */
	int (*request)(struct strata_module *m, const struct strata_request *req);
	/* Frees the module (called once at node destruction, in reverse order of addition). */
	void (*destroy)(struct strata_module *m);
	/* The family interface upper modules stack on (e.g. struct bcast_iface of bcast/bcast.h),
	 * NULL if the module cannot be stacked on. Core never looks inside. */
	const void *iface;
};

struct strata_module {
	const struct strata_module_ops *ops;
	struct strata_node *node;
	uint16_t wire_id; /* 1..255, unique in the node; frames carry it. 0 = not addressable */
	struct strata_module *subs[STRATA_MAX_SUBS];
	unsigned nsubs;
};

/* ---- Timers: intrusive, embedded in module state, no allocation per arm. ---- */

struct strata_timer {
	uint64_t deadline_us;
	size_t heap_idx; /* SIZE_MAX when not armed */
	struct strata_module *m;
	uint64_t token;
	uint64_t instance;
};

/* ---- Counters reported by `strata status`. ---- */

struct strata_counters {
	uint64_t dgram_in, dgram_out, bytes_in, bytes_out;
	uint64_t frames_in, frames_out, retransmits, acks_out;
	uint64_t pl_delivered, pl_dup_dropped, pl_window_dropped, pl_reset_dropped;
	uint64_t sl_evicted, send_full;
	/* Sends the links refused, owed and sent again (links.h, strata_pl_owed), every module's:
	 * owed (refused, or held behind one), resent, dropped beyond a module's caps (lost). */
	uint64_t owed, owed_resent, owed_dropped;
	uint64_t rej_short, rej_cluster, rej_receiver, rej_sender, rej_mac, rej_malformed;
	uint64_t rej_replay, rej_incarnation, rej_module, rej_payload, rej_fragment;
	uint64_t rej_addr; /* authenticated as a peer, sent from another address (a twin) */
	uint64_t client_bad_requests;
	uint64_t store_errors;
	/* The replicated KV (src/smr), kept current by its module: gauges, then counters. */
	uint64_t kv_leader, kv_term, kv_last_index, kv_commit_index, kv_applied_index;
	uint64_t kv_batches, kv_commands, kv_read_rounds, kv_busy;
	uint64_t kv_snapshot_index, kv_log_first, kv_snapshots, kv_snapshot_installs;
	uint64_t kv_unreadable; /* stored entries or snapshot the hard state names, unreadable */
	/* The space quota ([smr] quota_bytes): growing writes refused, and the state's bytes as
	 * the quota counts them, and the quota. */
	uint64_t kv_quota_rejects, kv_state_bytes, kv_quota_bytes;
	uint64_t kv_thrifty_batches, kv_thrifty_fallbacks; /* [smr] thrifty (smr.h smr_status) */
	/* Changes sent as `kv watch` events (smr_emit_changes); none while nobody watches. */
	uint64_t kv_watch_events;
	uint64_t kv_bft_unsigned; /* BFT KV: ordered commands skipped, their client signature bad */
	/* BFT KV (src/smr/tob_log.c, bft_reply.c): copies ordered by a non-designated replica
	 * (fallback), bundles broadcast and the requests in them, reply envelopes signed (two or
	 * more replies under one signature) and the replies in them. */
	uint64_t kv_bft_fallbacks, kv_bft_bundles, kv_bft_bundled, kv_bft_envelopes, kv_bft_taken;
	uint64_t kv_bft_enveloped;
	/* BFT KV over btob: rounds that delivered to it, and the requests (bundle entries) ordered:
	 * requests per round = kv_bft_ordered / kv_bft_rounds. */
	uint64_t kv_bft_rounds, kv_bft_ordered;
	/* BFT KV over btob, overlapping rounds: bundles a round sender broadcast while the rounds
	 * before its own were being decided ([smr] bft_overlap). */
	uint64_t kv_bft_early;
	/* BFT KV signed checkpoints (src/smr/bft_ckpt.c): own ones signed, the stable one's index,
	 * made stable by 2f + 1 votes or by a peer's certificate, messages refused or dropped. */
	uint64_t kv_ckpt_taken, kv_ckpt_stable_index, kv_ckpt_stabilized, kv_ckpt_adopted;
	uint64_t kv_ckpt_rejected, kv_ckpt_dropped;
	/* ... budgets exceeded (certificates, asks, fetches not verified or served), snapshot
	 * fetches started, fetched snapshots refused, chunks served (installs count in
	 * kv_snapshot_installs). */
	uint64_t kv_ckpt_limited, kv_ckpt_fetches, kv_ckpt_snap_bad, kv_ckpt_served;
	/* Turn-batches and storage: batches run, store/remove operations staged, syncs that made
	 * them durable (a batch that stored nothing needs none; one sync may cover many batches). */
	uint64_t batches, stores, syncs;
	uint64_t held_max; /* most bytes ever held in the outbox waiting for a sync */
	uint64_t early_dgrams; /* datagrams sent before their batch's sync (the early class) */
	/* Ed25519 signatures made and verified by the Byzantine modules (btob, bldc's conditional
	 * collect, the BFT KV's replies): the cost `make bench-bft` reports per operation. */
	uint64_t sig_signed, sig_verified;
};

/* Per-peer view kept by the failure detector for status and watch. */
enum strata_peer_state {
	STRATA_PEER_ALIVE = 0,
	STRATA_PEER_SUSPECTED,
	STRATA_PEER_CRASHED,
};
const char *strata_peer_state_name(enum strata_peer_state s);

/* ---- Byzantine behaviour (test-only) ----
 * A node created with byz != STRATA_BYZ_NONE misbehaves on purpose, for the simulator's and the
 * integration tests' Byzantine scenarios. Modules of the fail-arbitrary model consult
 * strata_node_byz() where they send and implement each behaviour that makes sense for them;
 * everything else ignores it. Never set in production: the daemon accepts it only with the
 * explicitly test-only flag --byzantine-test. Twins (two copies of one identity) are not a
 * behaviour of one node: the simulator starts them with sim_twin(), and live a second stratad with
 * another node's identity is refused by its peers (see the links' address check). */
enum strata_byz {
	STRATA_BYZ_NONE = 0,
	STRATA_BYZ_SILENT,     /* sends nothing of the Byzantine protocols */
	STRATA_BYZ_EQUIVOCATE, /* different values/messages to different peers */
	STRATA_BYZ_REPLAY,     /* answers with stale state (old timestamps and values) */
	STRATA_BYZ_FORGE,      /* forged fields: timestamps, senders, echoes of unseen messages */
	STRATA_BYZ_BADSIG,     /* invalid signatures */
	/* Consensus behaviours (appended: suites that draw among the five above keep their seeds). */
	STRATA_BYZ_LIE_STATE,  /* lies about its state in STATE: a fabricated timestamp/value pair */
	STRATA_BYZ_COMPLAIN,   /* complains about every leader, correct ones included */
	STRATA_BYZ_OLD_EPOCH,  /* replays messages of old epochs/rounds (recorded, then resent later) */
	STRATA_BYZ_COUNT
};
const char *strata_byz_name(enum strata_byz b);
int strata_byz_parse(const char *s); /* -1 if unknown */

/* ---- The transport ----
 *
 * The node knows its link layer only through this table: the runtime (or a test) names the
 * transport in strata_node_opts, and core calls it at four points of a turn. The link layer
 * (src/links, strata_links_transport in links/links.h) is the one implementation; core includes
 * no header of it. Ownership: the state create returns belongs to the node until destroy.
 *   create           builds the per-node state (after the node's identity and keys are set);
 *                    NULL with a reason in err on failure
 *   destroy          frees it (timers already emptied from the heap)
 *   recv             one datagram from the network, inside a turn
 *   flush            packs what modules queued this turn-batch into datagrams (strata_send_dgram)
 *   timer            a timer armed with strata_timer_init(t, NULL, token, instance) fired
 *   peer_incarnation the incarnation a peer's datagrams last carried, 0 if none yet */
struct strata_transport_ops {
	const char *name;
	void *(*create)(struct strata_node *n, char *err, size_t errlen);
	void (*destroy)(void *t);
	void (*recv)(void *t, const uint8_t *buf, size_t len);
	/* Optional: recv with the id of the peer whose configured address the datagram came from
	 * (0: none of them; STRATA_FROM_UNCHECKED: not known). NULL: recv is used. */
	void (*recv_from)(void *t, const uint8_t *buf, size_t len, uint32_t from);
	void (*flush)(void *t);
	void (*timer)(void *t, uint64_t token, uint64_t instance);
	uint64_t (*peer_incarnation)(const void *t, uint32_t peer);
};

/* ---- The node ---- */

struct strata_node_opts {
	const struct strata_config *cfg; /* must outlive the node */
	uint32_t id;                     /* 1..cfg->n */
	uint64_t incarnation;            /* > 0, strictly larger after every restart */
	const uint8_t *secret_key;       /* Ed25519 secret key (64 bytes), copied to secure memory */
	const uint8_t *coin_share;       /* threshold coin share x_i (32 bytes) or NULL; copied to
					  * secure memory (cons/tcoin.h, [node.N] coin_key) */
	const struct strata_env *env;    /* copied */
	bool trace;                      /* emit trace lines */
	enum strata_byz byz;             /* test-only misbehaviour, STRATA_BYZ_NONE normally */
	const struct strata_transport_ops *transport; /* required (see above) */
	/* Optional: the pairwise link keys this identity shares with every peer, (cfg->n + 1) x
	 * STRATA_LINK_KEY_LEN bytes by peer id (the node's own slot unused), exactly as
	 * strata_link_key derives them. Read (and copied) by the transport while strata_node_new
	 * runs. The simulator passes keys it derived once, since its identities are fixed; NULL
	 * (daemon, tests): the transport derives them itself. */
	const uint8_t *link_keys;
};

/* Creates a node with its transport; modules are added by the caller (see core/stack.h).
 * Returns NULL and writes a reason into err on failure. */
struct strata_node *strata_node_new(const struct strata_node_opts *o, char *err, size_t errlen);
void strata_node_free(struct strata_node *n);

/* Adds a module (the node takes ownership; it is destroyed with the node). */
void strata_node_add_module(struct strata_node *n, struct strata_module *m,
			    const struct strata_module_ops *ops, uint16_t wire_id);
/* Lazy creation. A factory creates, on first use, a module the node does not have yet: the one
 * a client request names (by name; wire_id 0) or the one a peer's frame is addressed to (by
 * wire id; name NULL). It returns the new module (added to the node) or NULL. A module added
 * after strata_node_start() gets its INIT event (with the node's recovering flag) queued ahead
 * of the input that caused its creation. The stack builder (src/stack/build.c) installs one;
 * without a factory, inputs for missing modules are refused as before. */
typedef struct strata_module *(*strata_module_factory)(struct strata_node *n, const char *name,
							uint16_t wire_id, void *arg);
void strata_node_set_factory(struct strata_node *n, strata_module_factory f, void *arg);
/* The module named `name` (or with wire id `wire_id`), created through the factory when the
 * node has none; NULL when neither exists. */
struct strata_module *strata_node_module_get(struct strata_node *n, const char *name);
struct strata_module *strata_node_module_get_wire(struct strata_node *n, uint16_t wire_id);

/* `upper` receives every indication `lower` raises with strata_indicate(). After start, a
 * subscriber of the failure detector or leader role first gets the current view (CRASH /
 * SUSPECT per peer, LEADER) as queued events, since it missed the earlier indications. */
void strata_module_subscribe(struct strata_module *lower, struct strata_module *upper);
struct strata_module *strata_node_module_by_name(struct strata_node *n, const char *name);
struct strata_module *strata_node_module_by_wire(struct strata_node *n, uint16_t wire_id);
size_t strata_node_module_count(const struct strata_node *n);
struct strata_module *strata_node_module_at(struct strata_node *n, size_t i);

/* External inputs, called by the runtime. Each runs one turn (handler + queue); outside a batch
 * bracket it is its own turn-batch (+ turn-end events + sync + release of its outputs). */
void strata_node_start(struct strata_node *n, bool recovering);
void strata_node_recv(struct strata_node *n, const uint8_t *buf, size_t len);
/* The same, for a runtime that knows the source address: `from` is the peer whose configured
 * address it is (0: none). The link layer rejects (rej_addr) a fresh datagram that
 * authenticates as another peer: a second process with that peer's identity (a twin).
 * strata_node_recv is strata_node_recv_from(..., STRATA_FROM_UNCHECKED). */
#define STRATA_FROM_UNCHECKED UINT32_MAX
void strata_node_recv_from(struct strata_node *n, const uint8_t *buf, size_t len, uint32_t from);
void strata_node_tick(struct strata_node *n);
/* Routes a client request to the module named `module`; replies (possibly at once, with an
 * error) through STRATA_OUT_REPLY. */
void strata_node_request(struct strata_node *n, const char *module, const struct strata_request *r);
/* Brackets several inputs into one turn-batch: one sync, released together (see the top). Not
 * nested; a runtime must not call them from inside an input. */
void strata_node_batch_begin(struct strata_node *n);
void strata_node_batch_end(struct strata_node *n);
/* The runtime's answer to env.sync_async: every batch with ticket <= `ticket` is durable (rc 0)
 * and its held datagrams and outputs are released now, in order; rc != 0: the sync failed,
 * nothing held is released and the node stops. Must not be called from inside an input. */
void strata_node_synced(struct strata_node *n, uint64_t ticket, int rc);
/* Bytes held in the outbox waiting for a sync (for a runtime's back-pressure). */
size_t strata_node_held_bytes(const struct strata_node *n);
/* Turn-batches whose sync has not completed yet. */
size_t strata_node_batches_unsynced(const struct strata_node *n);

/* A module asks for one STRATA_EV_TURN_END event after the current turn-batch's event queue has
 * drained and before the batch's stores are synced and its sends/replies released. Idempotent
 * within a batch; events it raises are handled in the same batch. Used to batch work (e.g. all
 * client commands read in one loop iteration become one log batch). */
void strata_node_at_turn_end(struct strata_module *m);

/* Raising events (from inside handlers). The queue takes its own reference to msg. */
void strata_raise(struct strata_node *n, struct strata_module *dst, uint16_t type, uint32_t peer,
		  uint64_t instance, uint64_t arg, struct strata_msg *msg);
/* Raises the event to every subscriber of m. */
void strata_indicate(struct strata_module *m, uint16_t type, uint32_t peer, uint64_t instance,
		     uint64_t arg, struct strata_msg *msg);
/* The same with a typed body (copied into the queue; body_len <= STRATA_EV_BODY_MAX; body may
 * be NULL when body_len is 0) and, for strata_raise_body, the indicating module src (NULL for
 * none). */
void strata_raise_body(struct strata_node *n, struct strata_module *src, struct strata_module *dst,
		       uint16_t type, uint32_t peer, uint64_t instance, uint64_t arg,
		       struct strata_msg *msg, const void *body, size_t body_len);
void strata_indicate_body(struct strata_module *m, uint16_t type, uint32_t peer, uint64_t instance,
			  uint64_t arg, struct strata_msg *msg, const void *body, size_t body_len);

/* The client adapter: the one module that turns indications into client outputs. A module
 * whose indications are for clients (a broadcast's client-facing instance, ...) raises them
 * to strata_client_adapter(n) like to any upper module; the adapter turns STRATA_EV_DELIVER
 * into STRATA_OUT_DELIVER named after ev->src, and STRATA_EV_DECIDE into the same output plus
 * the replies to the requests waiting for the decision. Created on first use, not
 * addressable. */
struct strata_module *strata_client_adapter(struct strata_node *n);

/* Timers. */
void strata_timer_init(struct strata_timer *t, struct strata_module *m, uint64_t token,
		       uint64_t instance);
void strata_timer_arm(struct strata_node *n, struct strata_timer *t, uint64_t deadline_us);
void strata_timer_arm_in(struct strata_node *n, struct strata_timer *t, uint64_t delay_us);
void strata_timer_disarm(struct strata_node *n, struct strata_timer *t);
bool strata_timer_armed(const struct strata_timer *t);

/* Environment access for modules. */
uint64_t strata_now_us(const struct strata_node *n);
uint64_t strata_random(struct strata_node *n);
/* Uniform in [0, bound), bound > 0. */
uint64_t strata_random_below(struct strata_node *n, uint64_t bound);
int strata_store(struct strata_node *n, const char *key, const void *val, size_t len);
int strata_retrieve(struct strata_node *n, const char *key, struct strata_msg **out);
/* Deletes key (staged like a store). STRATA_EIO without env.remove. */
int strata_remove(struct strata_node *n, const char *key);

/* Logs on stable storage named by a short string ("kv", "cons": 1..32 of [A-Za-z0-9._-]).
 * Entries are indexed by u64 (index >= 1). put may write any index (overwriting; holes read
 * STRATA_ENOENT); reads see staged writes; everything is durable after the turn-batch's sync,
 * like strata_store (one transaction with the batch's other stores). Implemented once over
 * store/retrieve/remove (core/storage.c, which states the properties), so both runtimes and
 * the simulator's storage faults cover it. Errors: STRATA_EINVAL (name, index 0), STRATA_EIO. */
int strata_log_put(struct strata_node *n, const char *log, uint64_t index, const void *v, size_t len);
int strata_log_get(struct strata_node *n, const char *log, uint64_t index, struct strata_msg **out); /* STRATA_ENOENT */
/* empty: *first = 1, *last = 0 for a new log; always last = first - 1 when empty (after a
 * compaction of everything, first is the next index to append). */
int strata_log_bounds(struct strata_node *n, const char *log, uint64_t *first, uint64_t *last);
int strata_log_truncate_prefix(struct strata_node *n, const char *log, uint64_t keep_from); /* drops < keep_from */
int strata_log_truncate_suffix(struct strata_node *n, const char *log, uint64_t drop_from); /* drops >= drop_from */
/* The log's meta record: a small value (its owner's hard state) stored with the entries (in the
 * same record stream when the runtime keeps the log in a record log, so an entry and the hard
 * state naming it are durable together), else under the key "L/<name>/m". STRATA_ENOENT if
 * none. */
int strata_log_meta_put(struct strata_node *n, const char *log, const void *v, size_t len);
int strata_log_meta_get(struct strata_node *n, const char *log, struct strata_msg **out);
/* 1 if the runtime keeps this log in a record log (env.wal), 0 if as keys. */
int strata_log_in_wal(struct strata_node *n, const char *log);
/* Copies a log kept as keys (an earlier release's layout) into the runtime's record log, which
 * must be empty: entries, bounds. The keys stay (an older release would read them as they
 * were). 0 and *copied = entries copied (0 when there is nothing to copy or no record log). */
int strata_log_import_keys(struct strata_node *n, const char *log, uint64_t *copied);
/* Snapshots: one current snapshot per name, with the log index it covers; read back whole or in
 * chunks (offset, max) to stream to a peer. get/read: STRATA_ENOENT if there is none; read at
 * offset == total gives an empty message, beyond it STRATA_EINVAL. */
int strata_snapshot_put(struct strata_node *n, const char *name, uint64_t index, const void *v, size_t len);
int strata_snapshot_get(struct strata_node *n, const char *name, uint64_t *index, uint64_t *total_len);
int strata_snapshot_read(struct strata_node *n, const char *name, uint64_t offset, size_t max, struct strata_msg **out);
void strata_output(struct strata_node *n, const struct strata_output *o);
/* Whether the runtime takes module `module`'s STRATA_OUT_DELIVER outputs now
 * (strata_env.deliveries_wanted; true without it). */
bool strata_node_deliveries_wanted(const struct strata_node *n, const char *module);
/* Convenience: a STRATA_OUT_REPLY for request `req_id`. */
void strata_node_reply(struct strata_node *n, struct strata_module *m, uint64_t req_id, int status,
		       uint64_t flags, const void *data, size_t len, const char *text);

/* Accessors. */
uint32_t strata_node_id(const struct strata_node *n);
uint32_t strata_node_n(const struct strata_node *n);
uint64_t strata_node_incarnation(const struct strata_node *n);
const struct strata_config *strata_node_config(const struct strata_node *n);
struct strata_counters *strata_node_counters(struct strata_node *n);
/* The environment the node was created with (its copy). */
const struct strata_env *strata_node_env(const struct strata_node *n);
/* The transport's state if the node's transport is `ops`, else NULL. */
void *strata_node_transport(const struct strata_node *n, const struct strata_transport_ops *ops);
uint64_t strata_node_lamport(const struct strata_node *n);
enum strata_byz strata_node_byz(const struct strata_node *n);
/* True once stable storage failed to sync: the node sent nothing of that turn and has stopped
 * (inputs are ignored, requests answered with STRATA_EIO). The runtime should shut down. */
bool strata_node_failed(const struct strata_node *n);
/* Advances the Lamport clock for a send and returns the stamp. */
uint64_t strata_lamport_send(struct strata_node *n);
/* Merges a received stamp: clock = max(clock, ts) + 1. */
void strata_lamport_recv(struct strata_node *n, uint64_t ts);
/* The signing identity (secure memory, wiped on free). */
const uint8_t *strata_node_secret_key(const struct strata_node *n);
/* The link keys given in strata_node_opts, while strata_node_new creates the transport; NULL
 * otherwise (the transport then derives them). */
const uint8_t *strata_node_given_link_keys(const struct strata_node *n);
/* The node's threshold coin share (32 bytes), or NULL if it was started without one. */
const uint8_t *strata_node_coin_share(const struct strata_node *n);
const uint8_t *strata_node_public_key(const struct strata_node *n, uint32_t id);

/* Failure-detector view (written by the fd modules, read by status/watch). */
enum strata_peer_state strata_node_peer_state(const struct strata_node *n, uint32_t peer);
uint64_t strata_node_peer_incarnation(const struct strata_node *n, uint32_t peer);
uint32_t strata_node_leader(const struct strata_node *n);
/* Sets the view and emits STRATA_OUT_FD / STRATA_OUT_LEADER when it changes. */
void strata_node_set_peer_state(struct strata_node *n, struct strata_module *by, uint32_t peer,
				enum strata_peer_state s);
void strata_node_set_leader(struct strata_node *n, struct strata_module *by, uint32_t leader);

/* Trace: "t=<us> n=<id> L=<lamport> <module>: <reason> -> <action>". No-op unless tracing. */
void strata_trace(struct strata_node *n, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool strata_tracing(const struct strata_node *n);

/* Roles let upper modules find the lower modules they stand on without knowing which algorithm
 * the config chose: the failure detector (raises CRASH, or SUSPECT/RESTORE) and the leader
 * module (raises LEADER). */
enum strata_role {
	STRATA_ROLE_FD = 0,
	STRATA_ROLE_LEADER,
	STRATA_ROLE_CLIENT, /* the client adapter (strata_client_adapter) */
	STRATA_ROLE_COUNT
};
void strata_node_set_role(struct strata_node *n, enum strata_role r, struct strata_module *m);
struct strata_module *strata_node_role(struct strata_node *n, enum strata_role r);

/* For the link layer: hand one finished datagram to the runtime. */
void strata_node_send_datagram(struct strata_node *n, uint32_t to, const uint8_t *buf, size_t len);
/* The early class: a datagram that may leave before the sync of the batch that produced it
 * (it goes to the runtime at once, even inside a batch, and is counted as early_dgrams).
 * Persist before send holds for everything else; the link layer sends a datagram this way
 * only when every frame in it was queued with strata_pl_send_early and it carries no
 * acknowledgement of frames delivered since the last completed sync (links/links.h). The rule a caller must keep (docs/smr.md, "The early
 * class"): the message's content depends on nothing this node has staged and not yet synced,
 * i.e. it promises nothing about this node's stable storage. A leader's APPEND qualifies (its
 * commit index counted only entries the leader had synced, its term durable since the
 * election); an acknowledgement, a vote, a reply, a read index or a snapshot chunk does not. */
void strata_node_send_datagram_early(struct strata_node *n, uint32_t to, const uint8_t *buf,
				     size_t len);
/* Ticket of the current (or last) turn-batch, and the highest ticket whose batch is durable
 * and released: a module that staged a write in batch t knows it is synced once
 * strata_node_synced_ticket(n) >= t. */
uint64_t strata_node_batch_ticket(const struct strata_node *n);
uint64_t strata_node_synced_ticket(const struct strata_node *n);

/* A module reports a malformed payload from `peer` (counted, traced, dropped). */
void strata_node_bad_payload(struct strata_node *n, struct strata_module *m, uint32_t peer,
			     const char *why);

#endif
