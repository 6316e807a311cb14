/* The KV client and history harness of the KV simulation suites (sim_kv, sim_tob_kv).
 *
 * Logical clients, each with its own session, issue gets, puts and cas on three keys, one
 * operation at a time each, each operation to a random live node, and record a Jepsen-shaped
 * history in virtual time: a put writes a unique value ("proc.seq"), a cas expects the last
 * value its client saw acknowledged for the key (or "none"). A reply STRATA_ETIMEDOUT, or a
 * request lost in a crash (kvh_crashed), is an unknown outcome (info); a busy refusal and a
 * failed compare are definite failures; any other error reply fails the run. With the write
 * duplication fault a write is sent again (same session and sequence number, request id with
 * KVH_DUP_BIT) to a random node up to 50 ms later, as a client's retry would be.
 *
 * Also here: the fault schedule every suite shares (lossy network; one partition of a node
 * isolated, a 2|3 split or a one-way cut, healed after 0.2-0.6 s; one node paused for
 * 0.1-0.7 s), the end of a run (liveness: every operation answered within 5 s of healing,
 * then every client reads every key once more; non-vacuity), the agreement check on the
 * replicas' states and the linearizability check of each key's history (src/check).
 *
 * The suite owns the simulator, its crashes and restarts, and its output callback, which hands
 * replies to kvh_reply. Random draws happen in a fixed order, so a seed replays exactly.
 * Memory: one struct kvh per run (fixed arrays) plus the history text (open_memstream),
 * freed by kvh_fini.
 *
 * sim_btob_kv keeps its own copy for now: its clients send every request to every replica and
 * accept the outcome f + 1 replicas signed. To move it here it would keep its client (vote,
 * deadline) and take from the harness the history and seen values (a client embedding struct
 * kvh_client, with kvh_reply's bookkeeping split from its single-node matching), kvh_net_faults,
 * kvh_faults_init/kvh_faults_step (part_node returning the replica it cuts off, isolate set),
 * kvh_check_agreement (its state callback leaving out the Byzantine replica) and
 * kvh_check_history; the random draws would stay in its order (byz_id and behaviour first). */
#ifndef STRATA_TESTS_SIM_KV_HARNESS_H
#define STRATA_TESTS_SIM_KV_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/node.h"
#include "rt/sim/sim.h"

#define KVH_MAX_CL 8
#define KVH_NKEYS 3
#define KVH_QUOTA_KEYS 8 /* keys of the space quota's workload (kvh.quota) */
#define KVH_MAXDUP 64
#define KVH_MS 1000ull
#define KVH_DUP_BIT (1ull << 62) /* request ids of duplicated writes: their replies are dropped */

enum kvh_op { KVH_GET, KVH_PUT, KVH_CAS, KVH_DEL };

struct kvh_client {
	uint32_t node; /* where the operation in flight went */
	int64_t proc;
	bool busy;
	uint64_t req_id, seq, next_at;
	uint64_t session, wseq; /* writes carry the session and their own sequence number */
	int kind;
	const char *key;
	char val[24], old[24];
};

struct kvh_dup {
	bool used;
	uint64_t at;
	uint32_t node;
	struct kvh_client c; /* a copy of the request's fields */
};

struct kvh {
	struct sim *s;
	uint32_t n;   /* nodes 1..n */
	unsigned ncl; /* clients in use, <= KVH_MAX_CL */
	bool dup_writes;   /* the write duplication fault */
	bool cas_is_write; /* a successful cas counts in writes_ok (else in cas_ok) */
	/* The space quota's workload: KVH_QUOTA_KEYS keys, puts of new keys and deletes (in the
	 * history an absent key holds "(absent)": every key starts so, written by a setup process
	 * before the clients start; a delete writes it, a get that finds nothing reads it); a
	 * STRATA_ENOSPACE refusal is a definite failure (counted in quota_refused), as a busy one
	 * is. */
	bool quota;
	unsigned quota_refused, dels_ok;
	uint32_t avoid;    /* a node clients do not send to, 0 for none */
	struct kvh_client cl[KVH_MAX_CL];
	struct kvh_dup dups[KVH_MAXDUP];
	FILE *hist;
	char *hbuf;
	size_t hlen;
	int error; /* an error reply (or the suite's own error) fails the run with errtxt */
	bool storage_lost; /* that reply was STRATA_EIO: a node found its stored state damaged
			    * at a restart (a durability violation, not a harness error) */
	char errtxt[256];
	unsigned ops_ok, reads_ok, writes_ok, cas_ok, info, dups_sent;
	char seen[KVH_QUOTA_KEYS][24]; /* last value acknowledged per key (cas expectations) */
	/* The operation phase as run and as drawn (us; set by the suite, for kvh_finish's text). */
	uint64_t phase_us, phase_drawn_us;
	/* Watch events (kvh_watch): the nodes nobody watches (sim_opts.unwatched, kvh_unwatched),
	 * a digest of the change of each revision as the first event naming it told it (0: none
	 * yet), the last revision each node's current life told, and the first violation. */
	uint64_t unwatched;
	uint64_t *wchange;
	size_t wcap;
	uint64_t wlast[STRATA_MAX_NODES + 1], winc[STRATA_MAX_NODES + 1]; /* and its incarnation */
	uint64_t wevents; /* changes checked */
	char wbad[256];
};

/* One partition, one pause, as kvh_faults_step applies them. part_node and pause_node choose
 * the node (the suite's policy: the leader, a random live node); 0 from pause_node pauses
 * none. isolate: the partition always cuts part_node off from the rest. */
struct kvh_faults {
	bool part, pause, isolate;
	uint64_t part_at, part_len, pause_at, pause_len;
	uint32_t (*part_node)(void *arg);
	uint32_t (*pause_node)(void *arg);
	void *arg;
	bool parted, healed, paused, resumed;
	uint32_t pause_id;
};

extern const char *const kvh_keys[KVH_QUOTA_KEYS]; /* the first KVH_NKEYS unless kvh.quota */

/* Before sim_new (the history opens here); set h->s once the simulator exists. */
void kvh_init(struct kvh *h, uint32_t n, unsigned ncl);
void kvh_fini(struct kvh *h);
/* The clients' processes and sessions, each starting within 3 ms. */
void kvh_start(struct kvh *h);

/* The nodes nobody watches in a run of this seed (bit id - 1 for node id, for
 * sim_opts.unwatched and h->unwatched): every subset of the n nodes, drawn from the seed alone
 * (no draw from the run's generator), so that runs where every node, none or some build watch
 * events all occur and replay. */
uint64_t kvh_unwatched(uint64_t seed, uint32_t n);
/* A watch event piece (STRATA_OUT_DELIVER of module kv) at node: true if o is one. Checked: no
 * node in h->unwatched builds one; every change names the same key, value, create revision and
 * version for its revision at every node and life (the replicas apply one order); a life tells
 * revisions in increasing order. The first violation is kept for kvh_check_watch. */
bool kvh_watch(struct kvh *h, uint32_t node, const struct strata_output *o);
/* 0, or 1 with why filled in and *violation set when kvh_watch saw a violation. */
int kvh_check_watch(struct kvh *h, char *why, size_t wl, bool *violation);
/* A reply to a client's request: ends its operation in the history. False if it is none. */
bool kvh_reply(struct kvh *h, uint32_t node, const struct strata_output *o);
/* Operations in flight at a node that crashed: unknown outcome. */
void kvh_crashed(struct kvh *h, uint32_t node);
/* A random node up, not paused and not avoided (64 tries), or 0. */
uint32_t kvh_random_up(struct kvh *h);
void kvh_issue(struct kvh *h, struct kvh_client *c, int kind, const char *key, uint32_t node);
/* One tick of the operation phase: due duplicates sent, every idle client whose time came
 * issues a random operation (45% get, 40% put, 15% cas; with kvh.quota 40% get, 40% put, 20%
 * del on KVH_QUOTA_KEYS keys) to a random live node. */
void kvh_tick(struct kvh *h, uint64_t t);
/* A sim_run_until predicate: no client has an operation in flight. */
int kvh_all_idle(struct sim *s, void *arg);

/* The lossy network of the fault cases: up to 10% loss, 5% duplication, delays of 0.1-3.1 ms
 * and a 2-12% tail of 20 ms (reordering). */
void kvh_net_faults(struct sim *s);
/* Draws the partition's and the pause's times within [t0, t0 + t_ops / 2). */
void kvh_faults_init(struct kvh_faults *f, struct sim *s, uint64_t t0, uint64_t t_ops);
void kvh_faults_step(struct kvh *h, struct kvh_faults *f, uint64_t t);
/* Cuts node l off: alone, with another random node (2|3 split), or one way (l to the others or
 * the others to l); always alone when isolate. */
void kvh_partition(struct kvh *h, uint32_t l, bool isolate);

/* The non-vacuity minimum: writes and reads completed (kvh_finish). */
#define KVH_MIN_OPS 5
/* Whether the workload is still short of KVH_MIN_OPS writes and reads: the suites' operation
 * phase runs on while it is, up to SIM_OPS_EXTEND times its length (docs/simulator.md). */
bool kvh_short(const struct kvh *h);
/* After healing: liveness (5 s), the final reads, an error reply, non-vacuity (>= KVH_MIN_OPS
 * writes and reads). 0, or 1 with why filled in. */
int kvh_finish(struct kvh *h, char *why, size_t wl);
/* The quota workload's non-vacuity over a case's seeds (kvh.quota; nothing otherwise): the
 * writes refused and the deletes done are summed over the process's seeds, and from the
 * fifth seed on a case with none of either fails. Returns rc, or the failure. */
int kvh_quota_tally(const struct kvh *h, int rc, char *why, size_t wl);
/* Agreement on the state: replicas that applied the same number of commands (what `state`
 * tells for a node; false for a node to leave out) hold the same digest. what names the
 * commands ("entries", "commands") in the failure. */
int kvh_check_agreement(struct kvh *h, char *why, size_t wl, bool *violation,
			bool (*state)(void *arg, uint32_t id, uint64_t *applied, uint64_t *digest),
			void *arg, const char *what);
/* Each key's history linearizable (STRATA_CHECK_ATOMIC). */
int kvh_check_history(struct kvh *h, char *why, size_t wl, bool *violation);

#endif
