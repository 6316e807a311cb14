/* Byzantine Read/Write Epoch Consensus (the book's Alg. 5.17-5.18), one instance per
 * (consensus instance, epoch), owned by Byzantine leader-driven consensus (bldc.c). See bep.c.
 * Internal to src/cons/. */
#ifndef STRATA_CONS_BEP_H
#define STRATA_CONS_BEP_H

#include <stdbool.h>
#include <stdint.h>

#include "cons/bcollect.h"
#include "cons/cons.h"

/* Message types on the owner's wire, [type][ets][body]; 17 and 18 are conditional collect's. */
enum bep_type {
	BEP_READ = 16,   /* [ets] leader -> all */
	BEP_WRITE = 19,  /* [ets][bytes SHA-256(v)] all -> all (the value's digest, bep.c) */
	BEP_ACCEPT = 20, /* [ets][bytes SHA-256(v)] all -> all */
	BEP_PROPOSE = 21, /* [ets][bytes v] leader -> all: the epoch's collect showed the instance
			   * unbound (bldc.c, "One conditional collect per epoch"; bep.c) */
};

/* A writeset holds at most this many (ts, v) pairs, one per distinct value (the book replaces
 * the pair of a value written again); see bep.c for what happens when it is full. */
#define BEP_WS_MAX 8u

/* The epoch state (valts, val, writeset) a process carries from epoch to epoch. */
struct bep_state {
	uint64_t valts;
	struct strata_msg *val; /* NULL = ⊥ */
	unsigned nws;
	struct {
		uint64_t ts;
		struct strata_msg *v;
	} ws[BEP_WS_MAX];
};

struct bep {
	uint64_t ets;
	uint32_t leader;
	struct bep_state st;
	struct bcc cc;
	bool read;          /* READ delivered: STATE input to cc */
	bool collected;
	bool accepted_sent; /* ACCEPT sent (the written quorum fired) */
	bool decided;       /* <Decide> indicated */
	bool halted;
	struct strata_msg *written[BCC_MAX_N + 1];  /* WRITE digest per sender */
	struct strata_msg *accepted[BCC_MAX_N + 1]; /* ACCEPT digest per sender */
	struct strata_msg *wval; /* the value this process wrote (its tmpval), NULL if none */
	uint8_t wdig[32];        /* its SHA-256 digest */
	const struct strata_msg *vdig_of; /* the val whose digest vdig holds (a cache) */
	uint8_t vdig[32];
	bool wq_pending;         /* a WRITE quorum on a digest whose value is not here yet */
	bool aq_pending;         /* an ACCEPT quorum likewise */
	bool no_digest;          /* TEST ONLY: bep_env's no_digest, for bep_value_of */
	bool wrote;              /* a WRITE went out this epoch (from COLLECTED or a PROPOSE) */
	bool fast;               /* leader: this epoch proposes directly (PROPOSE, no READ) */
	struct strata_msg *prop; /* the leader's PROPOSE, kept until the epoch's collect says */
	struct strata_msg *my_propose; /* leader: sent, kept for repeats */
	struct strata_msg *my_write, *my_accept;    /* sent, kept for repeats */
};

struct bep_env {
	struct strata_module *m;
	uint64_t instance;
	uint32_t n, f, self;
	uint32_t quorum;   /* the Byzantine quorum: more than (N + f) / 2 (a test may lower it) */
	bool check_sigs;   /* conditional collect verifies signatures (a test may turn it off) */
	bool no_digest;    /* TEST ONLY broken variant: a quorum's digest is not checked against
			    * the value acted on (bep.c, "Digests") */
	/* This process's own proposal for the instance (Byzantine behaviours derive their
	 * equivocating values from it), NULL if none. */
	const struct strata_msg *own;
	/* The owner's instance table: a value that fails its external validity predicate
	 * (cons_tab_valid) is never written. NULL: no predicate. */
	const struct cons_tab *tab;
	/* The epoch's conditional collect (bldc.c) for this instance: BEP_FAST_YES when it showed
	 * every instance at or above this one unbound (a PROPOSE may be written), BEP_FAST_NO when
	 * it did not (a PROPOSE is refused), BEP_FAST_WAIT while it has not completed here. */
	int fast;
};

enum { BEP_FAST_NO = 0, BEP_FAST_YES = 1, BEP_FAST_WAIT = 2 };

/* upon event <ep, Init | epochstate>: takes over st's references (st is left empty). */
void bep_init(struct bep *e, uint64_t ets, uint32_t leader, struct bep_state *st);
/* Frees every reference the instance holds. */
void bep_free(struct bep *e);
void bep_state_free(struct bep_state *st);
/* upon event <ep, Propose | v> (only the leader) */
void bep_propose(const struct bep_env *env, struct bep *e, const struct strata_msg *v);
/* The leader proposes v directly (PROPOSE to all, no READ): only when env->fast says the
 * epoch's collect showed the instance unbound (bldc.c). */
void bep_propose_direct(const struct bep_env *env, struct bep *e, const struct strata_msg *v);
/* The epoch's collect completed here (env->fast is now YES or NO): a PROPOSE that waited for it
 * is written or refused. Returns the decided value as bep_recv does; *refused is set when a
 * waiting PROPOSE was refused (the leader proposed below the epoch's bound). */
const struct strata_msg *bep_epoch_ready(const struct bep_env *env, struct bep *e,
					 bool *refused);
/* A message of this epoch from `from` (type and ets read from r already). Returns the decided
 * value (a borrowed reference, valid until bep_free) when it triggers <ep, Decide | v>, NULL
 * otherwise; *bad is set to a reason for a malformed message or a bad signature. */
const struct strata_msg *bep_recv(const struct bep_env *env, struct bep *e, uint32_t from,
				  uint8_t type, struct strata_rd *r, const char **bad);
/* The process sends its messages of this epoch again (READ and COLLECTED at the leader, its
 * SEND, WRITE and ACCEPT): receivers keep sets per sender, so repeats are harmless. */
void bep_resend(const struct bep_env *env, const struct bep *e);
/* upon event <ep, Abort>: trigger <ep, Aborted | (valts, val, writeset)>; halt. The state's
 * references move to *out. */
void bep_abort(struct bep *e, struct bep_state *out);

/* The predicate sound(S) of Alg. 5.17 on a vector of encoded STATEs (conditional collect's C);
 * exposed for the unit tests. */
bool bep_sound(const struct bcc_env *env, const struct bcc_vec *v);
/* The value with digest d (STRATA_HASH_LEN bytes) this process holds in the epoch (the value it
 * wrote, its val, a value of its writeset), or NULL: a borrowed reference, valid until the
 * epoch changes. */
const struct strata_msg *bep_held_value(const struct bep *e, const uint8_t *d, size_t len);

#endif
