/* The randomized binary consensus engine (book Alg. 5.12-5.13), shared by the binary module
 * (rbc.c) and Randomized Consensus with Large Domain (rcons.c, one engine per binary instance).
 * Internal to src/cons/. The owner gives each engine a context: how to broadcast one of its
 * messages, what to do on its decision, and the coin instance name prefix.
 *
 * Messages (the owner wraps them: instance id, and for rcons the binary instance):
 *   [RB_PHASE1][round][v: 0 or 1]
 *   [RB_PHASE2][round][v: 0, 1 or 2 = bottom]
 *   [RB_COIN][round][share: TCOIN_SHARE_LEN bytes]   (threshold coin only)
 *   [RB_DECIDED][round][v]                           (eager reliable broadcast: relayed once)
 *
 * Rounds are buffered from the current round up to RB_AHEAD - 1 ahead (messages beyond are
 * dropped and counted in rb_coin.dropped_ahead); a round's slot holds bitmasks of senders and
 * values and, for the threshold coin, up to N shares (allocated when the first share of the
 * round arrives). Memory per engine: RB_AHEAD slots of 6 words, plus N * 32 bytes per slot
 * holding shares. */
#ifndef STRATA_CONS_RBC_H
#define STRATA_CONS_RBC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cons/cons.h"
#include "cons/tcoin.h"
#include "core/codec.h"
#include "core/node.h"

#define RB_AHEAD 16u
#define RB_BOTTOM 2u

enum rb_type {
	RB_PHASE1 = 5,
	RB_PHASE2 = 6,
	RB_COIN = 7,
	RB_DECIDED = 8,
};

enum rb_coin_mode {
	RB_COIN_THRESHOLD = 0, /* the threshold coin (tcoin.h): always in the daemon */
	RB_COIN_SEEDED,        /* TEST ONLY: coin = H(seed, name), known to anyone with the seed */
};

/* The coin every engine of a module uses, and the module's counters. */
struct rb_coin {
	enum rb_coin_mode mode;
	uint32_t t;                           /* shares needed (cfg coin_threshold) */
	const uint8_t *x;                     /* this node's share x_i (node's secure memory) */
	uint8_t vk[TCOIN_MAX_NODES][TCOIN_POINT_LEN]; /* [q - 1]: V_q, from the config */
	uint64_t seed;                        /* RB_COIN_SEEDED */
	bool broken_decide;                   /* TEST ONLY: decide on > decide_above values */
	uint32_t decide_above;
	uint64_t shares_bad, dropped_ahead, coins, rounds_max;
};

struct rb_slot {
	uint64_t p1, p1_one;          /* PHASE-1 senders, and those that sent 1 */
	uint64_t p2, p2_zero, p2_one; /* PHASE-2 senders; bottom = p2 & ~zero & ~one */
	uint64_t sh;                  /* senders whose share verified */
	uint8_t (*shares)[TCOIN_POINT_LEN]; /* [q - 1], or NULL */
	bool coin_known;
	uint8_t coin;
};

struct rb_eng {
	uint64_t round; /* 0: not started (no proposal yet) */
	int phase;      /* 1, 2, or 0 = waiting for the coin */
	int proposal;   /* 0, 1, or RB_BOTTOM */
	bool decided;
	int decision;   /* when decided */
	uint64_t view2, view2_zero, view2_one; /* PHASE-2 values when the coin was released */
	struct rb_slot slot[RB_AHEAD];         /* round r in slot[r % RB_AHEAD] */
};

struct rb_ctx {
	struct strata_module *m;
	struct rb_coin *coin;
	uint32_t n, f;
	/* trigger <beb, Broadcast | body> for this engine */
	void (*send)(void *arg, const struct strata_msg *body);
	/* <Decide | v> of this engine (round: the round it was decided in) */
	void (*decided)(void *arg, int v, uint64_t round);
	void *arg;
	uint8_t name[48]; /* coin instance name prefix (module, instance, binary instance) */
	size_t name_len;
};

/* The head of both randomized modules (rbc, rcons). */
struct rb_mod {
	struct strata_module m;
	struct cons_tab tab;
	struct rb_coin coin;
};

/* A zeroed engine is a fresh one; rb_init zeroes. */
void rb_init(struct rb_eng *e);
void rb_free(struct rb_eng *e);
/* <Propose | v>, v in {0, 1}; nothing if already started. */
void rb_propose(struct rb_eng *e, const struct rb_ctx *c, int v);
/* A message from q (the body after the owner's wrapping). May call c->decided. */
void rb_recv(struct rb_eng *e, const struct rb_ctx *c, uint32_t q, struct strata_rd *r);
/* The smallest value the first PHASE-1 message of round 1 carried, for joining: -1 if none. */
int rb_heard(const struct rb_eng *e);
/* Loads the coin settings of node n: STRATA_ECONFIG with a reason if it has no coin. */
int rb_coin_init(struct rb_coin *coin, struct strata_node *n, const char *algo, char *err,
		 size_t errlen);

#endif
