/* Read/Write Epoch Consensus (the book's Alg. 5.6), one instance per (consensus instance,
 * epoch), owned by leader-driven consensus (ldc.c). See ep.c. Internal to src/cons/. */
#ifndef STRATA_CONS_EP_H
#define STRATA_CONS_EP_H

#include <stdbool.h>
#include <stdint.h>

#include "cons/cons.h"

/* Epoch-consensus message types (on the wire of the owning module, after its own type range):
 * [type][ets][body]. */
enum ep_type {
	EP_READ = 16,   /* [ets] */
	EP_STATE = 17,  /* [ets][valts][has][bytes val if has] */
	EP_WRITE = 18,  /* [ets][bytes v] */
	EP_ACCEPT = 19, /* [ets] */
	EP_DECIDED = 20 /* [ets][bytes v] */
};

struct ep {
	uint64_t ets;
	uint32_t leader;
	uint64_t valts;   /* state: the timestamp of val */
	int val;          /* state: index in the consensus instance's values, -1 = ⊥ */
	int tmpval;       /* leader: the value it proposes, -1 = ⊥ */
	uint64_t states;  /* leader: who sent STATE (bit q-1) */
	uint64_t st_ts[STRATA_MAX_NODES + 1];
	int st_val[STRATA_MAX_NODES + 1];
	uint64_t accepted; /* leader: who sent ACCEPT (bit q-1) */
	bool wrote, decided_sent, halted;
};

/* What epoch consensus needs from its owner. */
struct ep_env {
	struct strata_module *m;
	const struct bcast_lower *beb; /* READ, WRITE, DECIDED; STATE and ACCEPT go over pl */
	struct cons_inst *ci; /* the consensus instance: its id and its value table */
	uint32_t n, self;
	uint32_t quorum;      /* more than N/2 (a test may lower it) */
	/* Logged epoch consensus (Alg. 5.9): stores (valts, val) before the ACCEPT is sent.
	 * NULL for the crash-stop algorithm. */
	void (*store_state)(const struct ep_env *env, uint64_t valts, int val);
};

/* upon event <ep, Init | state> */
void ep_init(struct ep *e, uint64_t ets, uint32_t leader, uint64_t valts, int val);
/* upon event <ep, Propose | v> (only the leader), v = value index */
void ep_propose(const struct ep_env *env, struct ep *e, int v);
/* A message of this epoch from `from` (type and ets already read from r). Returns the index of
 * the decided value when it triggers <ep, Decide | v>, -1 otherwise, -2 if malformed. */
int ep_recv(const struct ep_env *env, struct ep *e, uint32_t from, uint8_t type,
	    struct strata_rd *r);
/* The leader sends its current phase's message again (READ, WRITE or DECIDED): a process that
 * started this epoch late may have missed it. Every handler is idempotent (sets of senders). */
void ep_resend(const struct ep_env *env, struct ep *e);
/* upon event <ep, Abort>: trigger <ep, Aborted | (valts, val)>; halt. */
void ep_abort(struct ep *e, uint64_t *valts, int *val);

#endif
