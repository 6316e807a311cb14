/* The leaderless quorum key-value store ("lkv", the Dynamo family): placement on a consistent
 * hash ring, N/R/W quorums, last-write-wins versions from a hybrid logical clock, tombstones,
 * read repair and bucketed-digest anti-entropy. docs/leaderless.md explains the design; lkv.c
 * opens with the specification it implements.
 *
 * This header is shared by the module (lkv.c), the ring (lkv_ring.c), the algorithm table
 * (lkv_algos.c) and the tests, which use the inspection and tuning hooks at the end. */
#ifndef STRATA_REG_LKV_H
#define STRATA_REG_LKV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/msg.h"
#include "core/node.h"

#define LKV_VNODES 128           /* virtual nodes per node on the ring */
#define LKV_KEY_MAX 1024         /* longest key, bytes */
#define LKV_MAX_PENDING 1024     /* client requests a node coordinates at once */
#define LKV_TIMEOUT_US 2000000u  /* a quorum that does not answer in 2 s: outcome unknown */
#define LKV_GC_AGE_US (600ull * 1000000u) /* tombstones are dropped 10 minutes after the delete */
#define LKV_AE_PERIOD_US 200000u /* one anti-entropy exchange per node every 200 ms */
#define LKV_AE_BUCKETS 256       /* digest buckets: the top 8 bits of the key hash */
#define LKV_AE_BUCKETS_PER_ROUND 8 /* mismatched buckets repaired per exchange (bounded work) */

/* ---- the ring (lkv_ring.c) ---- */

/* The key hash: FNV-1a 64 followed by the splitmix64 finalizer (full avalanche). Fast and
 * deterministic on every node; not keyed, so a client that picks keys adversarially can aim
 * them at one node (the same is true of any public placement function). */
uint64_t lkv_hash(const void *key, size_t len);

struct lkv_vnode {
	uint64_t token;
	uint32_t node;
};

struct lkv_ring {
	uint32_t n;            /* nodes 1..n */
	size_t len;            /* n * vnodes tokens, sorted */
	struct lkv_vnode *v;
};

/* Builds the ring of nodes 1..n with `vnodes` tokens each. 0 or STRATA_ENOMEM/EINVAL. */
int lkv_ring_init(struct lkv_ring *r, uint32_t n, uint32_t vnodes);
void lkv_ring_free(struct lkv_ring *r);
/* The preference list of hash h: the first `count` distinct nodes met walking clockwise from the
 * first token >= h (wrapping). Writes min(count, n) ids into out and returns that number. */
unsigned lkv_ring_replicas(const struct lkv_ring *r, uint64_t h, uint32_t count, uint32_t *out);

/* ---- the module (lkv.c) ---- */

struct strata_module *lkv_create(struct strata_node *n, char *err, size_t errlen);

/* Test and inspection hooks (the simulator, unit tests). */
struct lkv_version {
	uint64_t ts;
	uint32_t wr;  /* node that wrote it (tie-break) */
	bool tomb;    /* a delete */
	const struct strata_msg *val; /* borrowed; NULL for a tombstone */
};
/* The stored version of key on this node: 0, or STRATA_ENOENT if none is stored. */
int lkv_peek(struct strata_module *m, const void *key, size_t klen, struct lkv_version *out);
/* Entries (values and tombstones) stored on this node. */
size_t lkv_count(struct strata_module *m);
struct lkv_stats {
	uint64_t read_repairs, writebacks, ae_rounds, ae_pushed, ae_applied, gc_dropped, full_rejects;
};
void lkv_stats(struct strata_module *m, struct lkv_stats *out);
/* TEST ONLY (broken variant): what lkv's (lkv_vc_*: lkv-vc's) links refuse is lost, not owed and
 * sent again (lkv_send_to); and what its links refused and what came of it (links.h). */
struct strata_pl_owed_counts;
void lkv_test_no_owed(struct strata_module *m);
void lkv_test_owed_counts(struct strata_module *m, struct strata_pl_owed_counts *c);
void lkv_vc_test_no_owed(struct strata_module *m);
void lkv_vc_test_owed_counts(struct strata_module *m, struct strata_pl_owed_counts *c);
/* Overrides the bounds (0 keeps a value). */
void lkv_set_limits(struct strata_module *m, size_t max_keys, uint64_t gc_age_us,
		    uint64_t ae_period_us);
/* Test-only: this node's clock reads skew_us ahead (real clocks are never synchronised; the
 * simulator's virtual clock is shared, so suites add skew to exercise the clock's role). */
void lkv_set_clock_skew(struct strata_module *m, uint64_t skew_us);

/* ---- lkv-vc (lkv_vc.c): vector-clock versions, siblings and contexts ---- */

#define LKV_VC_MAX_SIBLINGS 8    /* versions kept per key; beyond, the oldest is dropped */

struct strata_module *lkv_vc_create(struct strata_node *n, char *err, size_t errlen);
/* Decodes a client context (OpRequest.value2: n, then n u64 entries) into out[n]; an empty one
 * is all zeros. 0 or STRATA_EINVAL (wrong n, malformed). */
int lkv_vc_context_decode(const uint8_t *p, size_t len, uint32_t n, uint64_t *out);
struct lkv_vc_sibling {
	uint32_t node;  /* the dot: coordinator of the put ... */
	uint64_t ctr;   /* ... and its counter */
	bool tomb;
	const struct strata_msg *val; /* borrowed; NULL for a tombstone */
};
/* The versions of key stored on this node (at most max written); their number. */
size_t lkv_vc_peek(struct strata_module *m, const void *key, size_t klen,
		   struct lkv_vc_sibling *out, size_t max);
struct lkv_vc_stats {
	uint64_t superseded, sibling_drops, full_rejects;
};
void lkv_vc_stats(struct strata_module *m, struct lkv_vc_stats *out);
/* Keys stored on this node (at most [lkv] max_keys: the store's instance table). */
size_t lkv_vc_count(struct strata_module *m);

/* ---- shared by lkv and lkv-vc (lkv_common.c) ---- */

#include "core/codec.h"

enum { LKV_K_GET = 1, LKV_K_PUT, LKV_K_DEL };

static inline uint64_t lkv_bit(uint32_t id)
{
	return 1ull << (id - 1);
}

static inline unsigned lkv_popcount(uint64_t x)
{
	unsigned c = 0;
	for (; x; x &= x - 1)
		c++;
	return c;
}

/* A store's limits for checking client requests. */
struct lkv_limits {
	size_t max_value; /* cfg->max_value */
	size_t overhead;  /* bytes a put's message adds to key + value */
	uint32_t replicas, r, w;
	size_t nops;      /* requests this node coordinates now */
};

/* Replies STRATA_OUT_REPLY with code and the formatted reason; returns 0 (the request was
 * answered). */
int lkv_reject(struct strata_module *m, uint64_t id, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Checks op, key, value size, r/w and the pending bound. 0 with *kind set (LKV_K_*), or -1
 * after refusing the request with a reason. */
int lkv_request_check(struct strata_module *m, const struct strata_request *q,
		      const struct lkv_limits *lim, uint8_t *kind);
/* Finishes an encoding (NULL, traced, if it failed). */
struct strata_msg *lkv_wr_done(struct strata_module *m, struct strata_wr *w);
/* Perfect-link send from module m. One the links refuse (the backlog toward `to` full) is owed
 * to `to` and sent again, in order, when its backlog has room (owed: the module's, links.h
 * strata_pl_owed, queued; NULL: lost, the test-only broken variant); nothing in the quorum
 * protocol repeats a request or an answer, so a refused one would leave its request to the
 * LKV_TIMEOUT_US deadline. Any other failure is traced and left to the timeout or to repair. */
struct strata_pl_owed;
void lkv_send_to(struct strata_module *m, struct strata_pl_owed *owed, uint32_t to,
		 struct strata_msg *msg);
/* What a module's links refused to owe (lkv_owed_new): per peer one request and one answer per
 * coordinated request (LKV_MAX_PENDING each), and anti-entropy's few; at most
 * LKV_OWED_BYTES of payload (backlog_bytes if larger). */
#define LKV_OWED_MSGS (2u * LKV_MAX_PENDING + 64u)
#define LKV_OWED_BYTES (64u << 20)
struct strata_pl_owed *lkv_owed_new(struct strata_node *n, struct strata_module *m,
				    uint64_t token);
/* Checks [lkv] replicas, r and w against n: 0, or -1 with the reason in err (prefixed name). */
struct strata_config;
int lkv_config_check(const struct strata_config *cfg, const char *name, char *err,
		     size_t errlen);

/* A client request this node coordinates, as both stores keep it (each store's op record opens
 * with it): rid = generation * LKV_MAX_PENDING + slot names it in messages (a late answer to an
 * older request of the slot finds nothing), the client's request, the key's replicas, which
 * replicas answered, and the request's timeout. */
struct lkv_coord {
	uint64_t rid, req_id;
	uint8_t kind; /* LKV_K_* */
	uint32_t r, w;
	uint8_t *key; /* owned */
	size_t klen;
	uint32_t reps[STRATA_MAX_NODES]; /* the key's preference list */
	unsigned nrep;
	uint64_t replied, acked, full; /* bit (id - 1) */
	struct strata_timer timer;     /* instance rid */
};
/* The requests a node coordinates: at most LKV_MAX_PENDING (lkv_request_check refuses more). */
struct lkv_coords {
	struct lkv_coord *op[LKV_MAX_PENDING];
	size_t n, hint;
	uint64_t gen;
};
/* Enters c (zeroed, allocated by the caller with key, q->key_len bytes that c owns from now)
 * for request q of this kind in the next free slot: its rid, the request (r, w: q's or lim's
 * defaults), a copy of the key, the key's replicas on ring, and its timer (timer_arg, armed for
 * LKV_TIMEOUT_US). Returns the key's hash. A slot must be free (lim->nops < LKV_MAX_PENDING). */
uint64_t lkv_coord_add(struct lkv_coords *t, struct lkv_coord *c, struct strata_module *m,
		       const struct strata_request *q, uint8_t kind, const struct lkv_limits *lim,
		       uint8_t *key, const struct lkv_ring *ring, uint64_t timer_arg);
/* The request named rid, or NULL. */
struct lkv_coord *lkv_coord_find(const struct lkv_coords *t, uint64_t rid);
/* The position of node id in c's replicas, or -1. */
int lkv_coord_rep(const struct lkv_coord *c, uint32_t id);
/* Records a replica's acknowledgement of c's write (full: it had no room); false (nothing
 * recorded) when from is not one of c's replicas or answered already. */
bool lkv_coord_ack(struct lkv_coord *c, uint32_t from, bool full);
/* Takes c out of the table: disarms its timer, frees its key (the caller frees the rest). */
void lkv_coord_remove(struct lkv_coords *t, struct strata_module *m, struct lkv_coord *c);
/* Sends msg to each of c's replicas and drops the caller's reference (NULL: nothing). */
void lkv_send_reps(struct strata_module *m, struct strata_pl_owed *owed, const struct lkv_coord *c,
		   struct strata_msg *msg);
/* A replica's answer to a put: [type][rid][full: rc != 0] to the coordinator. */
void lkv_send_ack(struct strata_module *m, struct strata_pl_owed *owed, uint32_t to, uint8_t type,
		  uint64_t rid, int rc);

#endif
