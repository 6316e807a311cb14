/* Internal API of the Byzantine registers (src/reg/bmq.c, adbq.c, dwbq.c, bql.c): the helpers
 * they share on top of the register family's core (reg/reg.h).
 *
 * Each Byzantine register is a struct reg_mod built by reg_mod_new(): the per-key instance table,
 * the client request checks (empty key, value size, single writer = cfg->writer), the per-key
 * operation queue and the reply convention (STRATA_REPLY_FOUND when a value was written) are the
 * family's. What the Byzantine algorithms need on top — a reply per replica during a read, a
 * second (pre-written) copy, the writer's signature, the listeners of a key, the Byzantine
 * behaviours' stale copy — lives in a per-key extension (struct byz_inst) that the instance
 * table allocates with each instance (reg_set_ext, core/itab.h); the module-wide part (struct
 * byz_mod: quorum, test knobs, counters) is the register module's xstate.
 *
 * Wire format: the family's header (u8 type, bytes key, u64 rid; frame instance = reg_hash(key))
 * with types READ, VALUE, WRITE, ACK, then a u8 sub-type (algorithm-defined: PREWRITE vs WRITE,
 * READ vs READ-COMPLETE) and the algorithm's fields. The core routes and checks the header; the
 * algorithm decodes the rest and returns STRATA_EPROTO on a malformed body (counted as a bad
 * payload by the core).
 *
 * Memory: the core's bounds (REG_MAX_KEYS keys, bounded queues) plus, per key, one extension:
 * a reply slot per node while a read runs at this node (freed when it completes), one pre-written
 * value (dwbq), one listener rid per node (bql), and at a Byzantine test node one stale copy. */
#ifndef STRATA_REG_BYZ_H
#define STRATA_REG_BYZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "reg/reg.h"

/* Test-only knobs, used by tests/sim/sim_reg_byz.c to show that its checkers are not vacuous.
 * Never set by stratad: the stack builds every Byzantine register through the checked
 * constructors, which pass NULL. */
struct reg_byz_test {
	bool skip_resilience; /* TEST ONLY: build even if n <= k*f (the algorithm is then unsafe) */
	bool skip_verify;     /* TEST ONLY (adbq): accept any signature */
};

enum byz_kind { BYZ_BMQ, BYZ_ADBQ, BYZ_DWBQ, BYZ_BQL };

/* Sub-types (the u8 after the family header). */
enum { BYZ_SUB_PLAIN = 0, BYZ_SUB_PRE = 1, BYZ_SUB_FINAL = 2, BYZ_SUB_COMPLETE = 3 };

/* The last reply of one replica during a read at this node. */
struct byz_entry {
	bool got;
	uint64_t rid;
	uint64_t ts, pts;          /* written and pre-written timestamps (pts = ts if unused) */
	struct strata_msg *v, *pv; /* own references; NULL = bottom */
};

struct byz_inst {
	struct reg_inst *i;
	/* replica */
	uint64_t pts;               /* dwbq: pre-written copy (pts, pv) */
	struct strata_msg *pv;
	uint8_t sig[STRATA_SIG_LEN]; /* adbq: the writer's signature over i->cur */
	uint64_t *listen;           /* bql: listen[id-1] = rid + 1 of id's read, 0 = not listening */
	struct reg_val old;         /* Byzantine test node: the copy before cur, replayed */
	uint8_t old_sig[STRATA_SIG_LEN];
	/* the operation in progress at this node */
	struct byz_entry *ent;      /* [n], index id - 1; NULL when no read runs */
	uint64_t first_rid;         /* first round of the read in progress (dwbq retries) */
	unsigned rounds;
	uint8_t best_sig[STRATA_SIG_LEN];
	/* adbq: the last signature verified here, so repeated replies cost one memcmp */
	bool vc_ok;
	uint64_t vc_ts;
	uint8_t vc_sig[STRATA_SIG_LEN];
	uint8_t vc_hash[STRATA_HASH_LEN];
};

struct byz_mod {
	struct reg_mod *r;
	enum byz_kind kind;
	struct reg_byz_test test;
	uint32_t n, f, q;       /* q: the quorum every phase waits for */
	/* what correct nodes detected and dropped (each also counted as a bad payload) */
	uint64_t rej_writer, rej_sig, rej_incons;
};

/* Creates the register module `name` with its Byzantine state and per-key extensions. resilience_k: needs n > k*f (checked
 * unless test->skip_resilience); q: the quorum size. a: the algorithm. test may be NULL. */
struct reg_mod *byz_reg_new(struct strata_node *n, const char *name,
			    const struct reg_algo_ops *a, enum byz_kind kind, unsigned resilience_k,
			    uint32_t q, const struct reg_byz_test *test, char *err, size_t errlen);
struct byz_mod *byz_of(struct reg_mod *r);
/* The extension of instance i (allocated with it, zeroed at first). */
struct byz_inst *byz_ext(struct reg_mod *r, struct reg_inst *i);

/* Quorum sizes: smallest integer above (N + k f) / 2, capped at N - f (a phase can never wait
 * for more replies than the correct processes give; the cap binds only below the resilience). */
uint32_t byz_quorum(uint32_t n, uint32_t f, unsigned k);

/* The behaviour of this node (STRATA_BYZ_NONE for every correct node). */
enum strata_byz byz_behaviour(const struct reg_mod *r);

/* Messages. byz_begin writes the family header and the sub-type; byz_send sends (to = 0: all,
 * self included) and frees the writer. */
void byz_begin(struct strata_wr *w, struct reg_mod *r, struct reg_inst *i, uint8_t type,
	       uint64_t rid, uint8_t sub);
void byz_send(struct reg_mod *r, struct reg_inst *i, uint32_t to, struct strata_wr *w);
/* Writes a value as bytes (NULL = bottom, empty). */
void byz_wr_val(struct strata_wr *w, const struct strata_msg *v);
/* Reads a value: *out = new message (NULL if ts == 0); STRATA_EPROTO if malformed, bottom
 * with bytes, or ENOMEM. */
int byz_rd_val(struct strata_rd *rd, uint64_t ts, struct strata_msg **out);

/* Read bookkeeping. */
int byz_read_begin(struct reg_mod *r, struct reg_inst *i, struct byz_inst *b);
void byz_read_end(struct reg_mod *r, struct byz_inst *b);
/* Stores replica `from`'s reply (takes references). */
void byz_entry_set(struct byz_inst *b, uint32_t from, uint64_t rid, uint64_t pts,
		   struct strata_msg *pv, uint64_t ts, struct strata_msg *v);
bool byz_msg_eq(const struct strata_msg *a, const struct strata_msg *b);

/* Replica side: a WRITE-like message from someone other than the writer is dropped and counted.
 * Returns true if `from` is the writer. */
bool byz_from_writer(struct reg_mod *r, uint32_t from, const char *what);
/* A correct node detected a Byzantine message: counted (rej_payload) and traced. */
void byz_reject(struct reg_mod *r, uint32_t from, uint64_t *counter, const char *why);

/* Byzantine replica: remembers the copy it is about to overwrite (material for REPLAY and
 * EQUIVOCATE). sig may be NULL. */
void byz_keep_old(struct reg_mod *r, struct byz_inst *b, const uint8_t *sig);
/* Byzantine replica: what to answer `to` with, per behaviour, instead of the copy (ts, v):
 * FORGE a high timestamp and a made-up value (and a WRITE of it to every node, as if it were the
 * writer), REPLAY the old copy, EQUIVOCATE the copy to odd
 * readers and a made-up value of the same timestamp to even ones. Returns false when the node
 * is correct (answer honestly) — the caller then uses its own copy. *v gets a new reference. */
bool byz_answer(struct reg_mod *r, struct byz_inst *b, uint32_t to, uint64_t *ts,
		struct strata_msg **v, bool *replayed);

/* Creators (the table in reg/byz_algos.c) and their test-only forms. */
struct strata_module *reg_bmq_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *reg_adbq_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *reg_dwbq_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *reg_bql_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *reg_bmq_create_test(struct strata_node *n, const struct reg_byz_test *t,
					  char *err, size_t errlen);
struct strata_module *reg_adbq_create_test(struct strata_node *n, const struct reg_byz_test *t,
					   char *err, size_t errlen);

/* Shared by bmq and bql (plain, unsigned quorum registers): their two phases. */
enum { BYZ_PH_WRITE = 1, BYZ_PH_READ = 2 };
void byz_send_value(struct reg_mod *r, struct reg_inst *i, struct byz_inst *b, uint32_t to,
		    uint64_t rid);
void byz_plain_start(struct reg_mod *r, struct reg_inst *i);

#endif
