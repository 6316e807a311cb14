/* The rounds of a consensus-based total-order broadcast, shared by tob (Alg. 6.1, tob.c) and
 * ltob (Alg. 6.12, ltob.c): both propose `unordered` as one batch per round on consensus
 * instance `round`, deliver a decided batch in a deterministic order (sorted by sender, then the
 * message's name), and hold a Decide of a later round (learned from a peer before this process
 * reached it) until its round comes.
 *
 * A batch is [count] then per message [sender][incarnation, when named by it][seq][payload];
 * tob names a message (sender, incarnation, seq), ltob (sender, seq) (its lurb seq survives
 * recoveries). Bounds: `unordered` is the caller's array; a batch holds what fits in one
 * consensus value; the buffer of later rounds holds TOBR_AHEAD_MAX decisions (one more is
 * refused: the caller counts it). Nothing here sends or stores. */
#ifndef STRATA_CONS_TOB_ROUNDS_H
#define STRATA_CONS_TOB_ROUNDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/codec.h"
#include "core/node.h"

#define TOBR_AHEAD_MAX 64u
#define TOBR_ENTRY_OVERHEAD 40u /* a batch entry's bytes beyond its payload, at most */

/* A message of `unordered`: inc is 0 where messages are not named by an incarnation. */
struct tobr_msg {
	uint32_t origin;
	uint64_t inc, seq;
	struct strata_msg *payload; /* the bytes broadcast, one reference */
};

/* An entry of a decided batch; p points into the batch. */
struct tobr_entry {
	uint32_t origin;
	uint64_t inc, seq;
	const uint8_t *p;
	size_t len;
};

/* Decisions of rounds after the current one, each held once per round it arrived for. */
struct tobr_ahead {
	struct {
		uint64_t round;
		struct strata_msg *batch;
	} e[TOBR_AHEAD_MAX];
	unsigned n;
};

/* The index of (origin, inc, seq) in unordered[0..n), or -1. */
int tobr_find(const struct tobr_msg *u, size_t n, uint32_t origin, uint64_t inc, uint64_t seq);
/* Removes (origin, inc, seq) from unordered if there (the last one takes its place). */
void tobr_remove(struct tobr_msg *u, size_t *n, uint32_t origin, uint64_t inc, uint64_t seq);
/* Writes the batch of the first unordered messages that fit in max bytes; returns how many. */
size_t tobr_encode(struct strata_wr *w, size_t max, const struct tobr_msg *u, size_t n,
		   bool with_inc);
/* Parses a decided batch into entries sorted by (origin, inc, seq) (the caller frees them).
 * NULL and *count = 0 when empty, or malformed (reported as "<what>: malformed decided batch":
 * a decided value is one some process proposed, so only a broken peer gets there). */
struct tobr_entry *tobr_parse(struct strata_module *m, const char *what,
			      const struct strata_msg *batch, bool with_inc, size_t *count);

bool tobr_ahead_has(const struct tobr_ahead *a, uint64_t round);
/* Holds batch (a reference) for round; false when the buffer is full (not held). */
bool tobr_ahead_add(struct tobr_ahead *a, uint64_t round, struct strata_msg *batch);
/* After the current round advanced to *round: applies each held decision of the current round
 * in turn (apply advances *round), and lets go of those of rounds passed. */
void tobr_ahead_drain(struct tobr_ahead *a, const uint64_t *round,
		      void (*apply)(void *arg, const struct strata_msg *batch), void *arg);
void tobr_ahead_free(struct tobr_ahead *a);

#endif
