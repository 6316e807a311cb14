/* Internal API of the register family (src/reg/): the shared per-key instance table, client
 * request handling, the quorum engine the book's message-passing registers are parameters of, and
 * the register "port" through which the book's transformations (Alg. 4.3, 4.4, 4.8) drive
 * instances of another register module.
 *
 * A register module (struct reg_mod) keeps one instance per key, created lazily in a bounded
 * table (REG_MAX_KEYS keys; the next key gets STRATA_EFULL). An instance holds the register's
 * state (timestamp, writer rank, value) and at most one operation in progress; further operations
 * on the same key at the same node wait in a bounded FIFO (REG_QUEUE_PER_KEY per key,
 * REG_QUEUE_MAX per module; beyond it STRATA_EFULL). Instances are never retired: the register's
 * value is the state a register must keep forever, so the bound is on keys, and memory is at most
 * REG_MAX_KEYS * (max value + key + ~200 bytes) per module plus the queued writes' values.
 *
 * Wire format (payload of a beb message to all, or of a perfect-link frame whose instance is
 * reg_hash(key) for a reply to one process or for the fail-recovery register's messages):
 *   u8 type, bytes key, u64 rid, then per type:
 *     READ   (nothing)                     query a replica's (ts, wr, value)
 *     VALUE  u64 ts, u64 wr, bytes value   answer to READ (ts = 0: never written)
 *     WRITE  u64 ts, u64 wr, bytes value   store if (ts, wr) is newer, then ACK
 *     ACK    (nothing)
 * Every message carries the key bytes: a receiver checks reg_hash(key) == instance (perfect-link
 * frames) and looks the instance up by the key bytes, so a hash collision between two keys gives
 * two instances, never a merged one. rid names the phase of the
 * operation a reply belongs to; replies to an older phase are ignored. Perfect links carry a
 * message addressed to a node's previous incarnation on to its next one, so a durable module
 * (fail-recovery) never reuses a rid across incarnations either (see "Phase ids" in core.c).
 *
 * Port (composition): reg_port_start() starts a read or write on instance `key` of a lower
 * register module on behalf of an upper module. When it finishes the lower module raises
 * REG_EV_DONE to the upper module (queued, never a synchronous call back), instance =
 * reg_hash(key), arg = the caller's tag, msg = a result decoded by reg_port_result(). */
#ifndef STRATA_REG_REG_H
#define STRATA_REG_REG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bcast/bcast.h"
#include "core/codec.h"
#include "core/node.h"
#include "core/stack.h"

#define REG_EV_DONE 200 /* a port operation finished; see above */

#define REG_MAX_KEYS 4096       /* instances per module */
#define REG_KEY_MAX 256         /* bytes in a client's key */
#define REG_WIRE_KEY_MAX 1024   /* bytes in a key on the wire (sub-keys of compositions) */
#define REG_QUEUE_PER_KEY 16    /* waiting operations per key per node */
#define REG_QUEUE_MAX 1024      /* waiting operations per module per node */
/* Bytes of a perfect-link message not available to the value: type, key, rid, ts, wr and the
 * composition's own (ts, wr) headers. A client value may be max_value - key - REG_RESERVE. */
#define REG_RESERVE 128
/* Durable modules: phase ids of one incarnation are epoch << 40 + 1, 2, ...: 2^40 phases per key
 * per incarnation (years at the rate a key can complete phases), 2^24 restarts. */
#define REG_RID_EPOCH_SHIFT 40

enum reg_kind { REG_READ = 1, REG_WRITE = 2 };
enum reg_msg_type { REG_MSG_READ = 1, REG_MSG_VALUE, REG_MSG_WRITE, REG_MSG_ACK };

/* An operation: a client request or a port call from an upper module. */
struct reg_op {
	struct reg_op *next;
	uint8_t kind;              /* enum reg_kind */
	uint64_t id;               /* client request id, or the port caller's tag */
	struct strata_module *up;  /* NULL for a client request */
	uint32_t writer;           /* the node writing (single-writer ts owner) */
	struct strata_msg *val;    /* write: the value (own reference) */
	/* A client request that named a deadline (strata_request.timeout_ms): the timer answers
	 * the client with STRATA_ETIMEDOUT before it gives up; the operation itself runs on (its
	 * outcome is unknown to the client) and completes without a second reply. */
	struct strata_timer timer;
	uint64_t serial;           /* the timer's instance: finds the op in the module's list */
	struct reg_inst *inst;     /* the instance the op waits on (instances are never retired) */
	bool answered;             /* the client already got its (timeout) reply */
	uint32_t timeout_ms;       /* the client's timeout, 0 = none */
	struct reg_op *tprev, *tnext; /* the module's ops with an armed deadline */
	bool listed;               /* on that list */
};

/* A register value with its timestamp: ts == 0 means never written (the book's bottom). */
struct reg_val {
	uint64_t ts;
	uint32_t wr;              /* writer rank (N,N); the writer's id or 0 for (1,N) */
	struct strata_msg *v;     /* own reference, NULL when ts == 0 */
};

struct reg_inst {
	uint64_t hash;
	uint8_t *key;
	size_t klen;
	bool kicking;              /* starting waiting operations (see kick() in core.c) */
	/* replica / register state */
	struct reg_val cur;
	uint64_t wts;              /* single writer: last timestamp used at this node */
	/* the operation in progress, NULL when idle */
	struct reg_op *op;
	struct reg_op *qhead, *qtail;
	unsigned qlen;
	uint64_t rid;              /* current phase id (increases per phase) */
	uint8_t phase;             /* algorithm-defined */
	uint64_t replied;          /* bit (id-1): replied in this phase */
	unsigned nreplied;
	struct reg_val best;       /* highest (ts, wr) seen in this phase, or to impose/return */
	uint64_t remote_ts;        /* reg2atomic11 reader: highest ts returned */
};

struct reg_mod;

/* What distinguishes one register algorithm from another. */
struct reg_algo_ops {
	/* Starts i->op (the instance was idle). */
	void (*start)(struct reg_mod *r, struct reg_inst *i);
	/* A message from a peer for instance i (key checked); the reader is past the rid. Returns
	 * STRATA_EPROTO if the body is malformed (counted and dropped by the caller). */
	int (*deliver)(struct reg_mod *r, struct reg_inst *i, uint32_t from, uint8_t type,
			uint64_t rid, struct strata_rd *rd);
	/* Compositions: a lower operation on subkey finished (see reg_port_result); the algorithm
	 * finds its own instance from the sub-key (reg_inst_find). Pointers are borrowed. */
	void (*lower_done)(struct reg_mod *r, uint64_t tag, int status, const uint8_t *subkey,
			   size_t sklen, const uint8_t *val, size_t vlen, bool found);
	/* Fail-stop: the correct set shrank; re-check i's completion condition. */
	void (*recheck)(struct reg_mod *r, struct reg_inst *i);
	/* Fail-recovery: load i's durable state (called once, before first use). */
	int (*load)(struct reg_mod *r, struct reg_inst *i);
	/* Fail-recovery: peer came back with a new incarnation while i->op runs (called for every
	 * instance with an operation in progress). Its previous life may have taken this phase's
	 * request and crashed before its answer was acknowledged: the answer is gone with it. */
	void (*peer_restart)(struct reg_mod *r, struct reg_inst *i, uint32_t peer);
};

/* Parameters of the quorum engine (reg/quorum.c): every message-passing register in the book's
 * chapter 4 is one combination of these. */
enum reg_quorum { REG_Q_ALL_CORRECT, REG_Q_MAJORITY };
enum reg_wts { REG_TS_WRITER, REG_TS_LOCAL_NN, REG_TS_CONSULT };

struct reg_quorum_params {
	enum reg_quorum quorum;
	enum reg_wts wts;         /* writer's counter (1,N); local ts+1 (Alg. 4.9); consult (4.10) */
	bool read_local;          /* read the local copy instead of querying a quorum */
	bool read_impose;         /* write the value read back before returning it */
	bool durable;             /* store (ts, wr, value) and wts before acknowledging (lmv) */
};

struct reg_mod {
	struct strata_module m; /* first */
	struct strata_module_ops ops;
	char name[48];
	const struct reg_algo_ops *a;
	struct reg_quorum_params q;
	bool single_writer;       /* client writes only at cfg->writer */
	bool one_reader;          /* client reads only at reg_reader(cfg) (Alg. 4.3 is (1,1)) */
	bool client;              /* reachable by clients (private lower modules are not) */
	size_t vmax;              /* largest value accepted (client limit or lower limit) */
	unsigned depth;           /* composition levels below (for the value limit) */
	struct strata_itab *tab;  /* instances by key (core/itab.h), REG_MAX_KEYS at most; never
				   * retired: an instance is this replica's copy of the register */
	unsigned nqueued;
	uint64_t correct;         /* fail-stop: bit (id-1) set while not reported crashed by P */
	struct strata_module *lower;
	/* The book's "uses BestEffortBroadcast, instance beb; PerfectPointToPointLinks, instance
	 * pl": a message to all goes down to this module's own beb instance, a reply to one process
	 * on perfect links (reg_send). Set by reg_use_beb (the fail-recovery register lmv too, see
	 * bcast_open_under_recovery); without it a message to all is pl-sent to every process. */
	struct bcast_lower beb;
	bool on_beb;
	/* Messages to one process (replies, a restarted replica's repeated request) and, without
	 * beb, to all: what the links refuse is owed and sent again (core.c, reg_send). */
	struct strata_pl_owed *owed;
	uint64_t dropped_full;    /* messages dropped because the table was full */
	/* First phase id of every instance in this incarnation (see "Phase ids" in core.c): 0 for
	 * modules without stable storage, (durable epoch) << REG_RID_EPOCH_SHIFT otherwise. */
	uint64_t rid_base;
	int rid_err;              /* the epoch could not be made durable: own operations fail */
	/* Per-instance extension state (the Byzantine registers' struct byz_inst): ext_size bytes
	 * allocated zeroed with each instance in the instance table, released by ext_fini. Set
	 * before the first instance exists (reg_set_ext). xstate: module-wide state of the
	 * algorithm, freed with the module by xstate_free. */
	size_t ext_size;
	void (*ext_fini)(struct reg_mod *r, void *ext);
	void *xstate;
	void (*xstate_free)(void *xstate);
	/* Client deadlines: the ops whose timer is armed (at most REG_QUEUE_MAX queued plus one
	 * running per instance), and the serial of the next one. */
	struct reg_op *timed;
	uint64_t next_serial;
	/* What a timeout reply says the module needed: set by the quorum engine (from q) and the
	 * Byzantine registers (need = their quorum); REG_NEED_NONE for compositions, whose phases
	 * wait for lower registers rather than for nodes. */
	enum { REG_NEED_NONE, REG_NEED_MAJORITY, REG_NEED_ALL_CORRECT, REG_NEED_COUNT } need_kind;
	unsigned need;
};

/* "uses beb": opens r's own instance of the node's beb (bcast/bcast.h) for its messages to all;
 * their Deliver indications come up to r like perfect-link deliveries. 0 or an error with the
 * reason in err (the caller's constructor fails). */
int reg_use_beb(struct reg_mod *r, char *err, size_t errlen);

/* Declares r's per-instance extension (before any instance exists). */
void reg_set_ext(struct reg_mod *r, size_t ext_size, void (*fini)(struct reg_mod *r, void *ext));
/* The extension of instance i (zeroed when the instance was created). */
void *reg_inst_ext(struct reg_mod *r, struct reg_inst *i);

/* ---- construction ---- */

/* Allocates a register module and adds it to the node. name is the ops name ("mv", or
 * "reg2atomic11.mv" for a private lower instance, which gets no client requests), and the name
 * alone gives the wire id: a client-facing register takes its catalog row's (strata_wire_id); a
 * composition's private lower module, named "<upper>.<lower>" and built after its upper (which
 * may be private too: "atomic11to1n.reg2atomic11.mv"), takes the id after its upper's, so a
 * chain stays inside the span of the composition's row (test_catalog checks every id). */
struct reg_mod *reg_mod_new(struct strata_node *n, const char *name, const struct reg_algo_ops *a,
			    bool client, char *err, size_t errlen);
/* reg_mod_new with an explicit wire id, for a register outside the catalog (a test's). */
struct reg_mod *reg_mod_new_wire(struct strata_node *n, const char *name, uint16_t wire_id,
				 const struct reg_algo_ops *a, bool client, char *err,
				 size_t errlen);
/* Subscribes r to the node's perfect failure detector (fail-stop algorithms). */
int reg_use_p(struct reg_mod *r, char *err, size_t errlen);
/* TEST ONLY (broken variant): a message the links refuse to the register module m is lost, not
 * owed and sent again; and what its links refused and what came of it (links.h). */
struct strata_pl_owed_counts;
void reg_test_no_owed(struct strata_module *m);
void reg_test_owed_counts(struct strata_module *m, struct strata_pl_owed_counts *c);
/* Creates a quorum-engine register (reg/quorum.c). */
struct reg_mod *reg_quorum_new(struct strata_node *n, const char *name,
			       const struct reg_quorum_params *q, bool single_writer, bool client,
			       char *err, size_t errlen);

/* ---- shared helpers ---- */

uint64_t reg_hash(const uint8_t *key, size_t len);
/* The designated reader of a client-facing (1,1) register: the node after the writer. */
uint32_t reg_reader(const struct strata_config *cfg);
/* The instance for key, created (and loaded) if absent; NULL with *rc = STRATA_EFULL/EIO/ENOMEM. */
struct reg_inst *reg_inst_get(struct reg_mod *r, const uint8_t *key, size_t klen, uint64_t hash,
			      int *rc);
/* The existing instance for key, or NULL. */
struct reg_inst *reg_inst_find(struct reg_mod *r, const uint8_t *key, size_t klen);
/* Finishes i->op: replies to the client or raises REG_EV_DONE to the upper module, then starts
 * the next waiting operation. val is borrowed. */
void reg_complete(struct reg_mod *r, struct reg_inst *i, int status, const struct reg_val *val);
/* Starts the next phase: new rid, no replies yet. */
void reg_phase(struct reg_inst *i, uint8_t phase);
/* Whether the replies of this phase form the quorum. */
bool reg_quorum_reached(const struct reg_mod *r, const struct reg_inst *i,
			enum reg_quorum quorum);
/* Records a reply from `from` in this phase; false if it is a duplicate. */
bool reg_replied(struct reg_inst *i, uint32_t from);
void reg_val_set(struct reg_val *dst, uint64_t ts, uint32_t wr, struct strata_msg *v);
void reg_val_clear(struct reg_val *v);
/* (ts, wr) order used by every algorithm: first timestamp, then writer rank. */
bool reg_val_newer(uint64_t ts, uint32_t wr, const struct reg_val *than);

/* A perfect-link send of m to `to` (1..n) that is owed when the links refuse it (core.c; the
 * Byzantine registers' byz_send goes through it too). */
void reg_pl_send(struct reg_mod *r, uint32_t to, uint64_t instance, struct strata_msg *m);
/* Messages: encodes the header + body and sends to `to` (0 = everyone, including self). */
void reg_send(struct reg_mod *r, struct reg_inst *i, uint32_t to, uint8_t type, uint64_t rid,
	      const struct reg_val *val);

/* ---- port ---- */

/* Starts an operation on instance key of module lower on behalf of up. writer: for writes, the
 * node writing (must be this node). Returns 0, STRATA_EFULL, STRATA_ETOOBIG, STRATA_ENOMEM. */
int reg_port_start(struct strata_module *lower, struct strata_module *up, enum reg_kind kind,
		   const uint8_t *key, size_t klen, const void *val, size_t vlen, uint64_t tag);
/* Decodes the msg of a REG_EV_DONE. Pointers borrow from msg. 0 or STRATA_EPROTO. */
int reg_port_result(const struct strata_msg *msg, int *status, bool *found,
		    const uint8_t **subkey, size_t *sklen, const uint8_t **val, size_t *vlen);

/* Value encoding used by compositions inside a lower register's value: u64 ts, u64 wr, bytes. */
struct strata_msg *reg_pack(uint64_t ts, uint32_t wr, const void *v, size_t vlen);
/* Decodes reg_pack; a lower register never written (found false) decodes as ts 0. */
int reg_unpack(const uint8_t *p, size_t len, bool found, uint64_t *ts, uint32_t *wr,
	       const uint8_t **v, size_t *vlen);
/* Sub-key of a composition: varint(klen) key varint(a) varint(b) — prefix-free, so distinct
 * (key, a, b) never share a sub-key. Returns the length written into out (>= klen + 30 bytes). */
size_t reg_subkey(uint8_t *out, const uint8_t *key, size_t klen, uint32_t a, uint32_t b);
/* Parses a sub-key; 0 or STRATA_EPROTO. */
int reg_subkey_parse(const uint8_t *sk, size_t sklen, const uint8_t **key, size_t *klen,
		     uint32_t *a, uint32_t *b);

/* Creators, for the family table (reg/algos.c). */
struct strata_module *reg_rowa_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *reg_mv_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *reg_lmv_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *reg_riwa_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *reg_riwm_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *reg_riwca_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *reg_nnar_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *reg_reg2atomic11_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *reg_atomic11to1n_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *reg_atomic1nton_create(struct strata_node *n, char *err, size_t errlen);

/* Builders of the registers that compositions also use as their private lower modules (the
 * wire id follows from the name, as in reg_mod_new). */
struct reg_mod *reg_mv_new(struct strata_node *n, const char *name, bool client, char *err,
			   size_t errlen);
struct reg_mod *reg_riwm_new(struct strata_node *n, const char *name, bool client, char *err,
			     size_t errlen);
struct reg_mod *reg_reg2atomic11_new(struct strata_node *n, const char *name, bool client,
				     char *err, size_t errlen);

#endif
