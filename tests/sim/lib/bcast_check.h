/* Online property checkers for broadcast simulations.
 *
 * A per-run record of every broadcast and delivery the nodes output (STRATA_OUT_BCAST and
 * STRATA_OUT_DELIVER of the module under test). Safety properties are checked as each event is
 * recorded, so a suite can stop at the first bad step (bck_violation() after every sim step):
 *   no duplication, no creation (the message was broadcast by its sender with this payload),
 *   FIFO order (a process delivers seq k of s only after 1..k-1 of s), uniform total order (any
 *   two processes, crashed ones included, deliver the messages they both deliver in the same
 *   order; checked at each delivery against every other process's sequence), per-sender monotone
 *   order (lpb: increasing seq, gaps allowed), causal order (m1 -> m2 implies m1 is delivered
 *   before m2), with happened-before computed from the recorded events: a broadcast's causal
 *   past is everything its sender had broadcast or delivered before (transitively), never the
 *   algorithm's own clocks.
 * Liveness-style properties are checked at the end of a run (bck_final): validity (messages of
 * correct senders are delivered by every correct process), agreement (a message delivered by a
 * correct process is delivered by every correct process) and uniform agreement (delivered by
 * any process, even a faulty one). Who counts as correct is the suite's call.
 * Message identity is (sender, seq); seq counts from 1. Ownership: bck_new allocates, bck_free
 * frees; payloads are copied. */
#ifndef STRATA_TESTS_SIM_BCAST_CHECK_H
#define STRATA_TESTS_SIM_BCAST_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bck_prop {
	BCK_NODUP = 1u << 0,
	BCK_NOCREATE = 1u << 1,
	BCK_VALIDITY = 1u << 2,
	BCK_AGREEMENT = 1u << 3,
	BCK_UNIFORM = 1u << 4,
	BCK_FIFO = 1u << 5,
	BCK_CAUSAL = 1u << 6,
	BCK_MONOTONE = 1u << 7,
	BCK_TOTAL = 1u << 8, /* uniform total order: any two nodes deliver common messages alike */
};

#define BCK_MAX_NODES 8
#define BCK_MAX_SEQ 128

struct bck;

struct bck *bck_new(uint32_t n, unsigned props);
void bck_free(struct bck *b);

void bck_on_bcast(struct bck *b, uint32_t node, uint64_t seq, const uint8_t *data, size_t len);
/* Whether node's broadcast seq was already recorded (for replays after a recovery). */
bool bck_broadcast_known(const struct bck *b, uint32_t node, uint64_t seq);
/* Whether node already delivered sender's seq (for replays after a recovery). */
bool bck_delivered(const struct bck *b, uint32_t node, uint32_t sender, uint64_t seq);
void bck_on_deliver(struct bck *b, uint32_t node, uint32_t sender, uint64_t seq,
		    const uint8_t *data, size_t len);

/* The first safety violation, or NULL. */
const char *bck_violation(const struct bck *b);

/* End of run: correct[i] = process i must deliver; sender_ok[i] = messages broadcast by i must
 * be delivered (validity). Returns 0 or 1 with why filled in (also for a latched safety
 * violation). */
int bck_final(struct bck *b, const bool *correct, const bool *sender_ok, char *why,
	      size_t whylen);

/* Counts for probabilistic validity: how many (message, correct receiver) pairs were expected
 * and how many delivered, over messages of sender_ok senders. */
void bck_coverage(const struct bck *b, const bool *correct, const bool *sender_ok,
		  uint64_t *expected, uint64_t *delivered);
uint64_t bck_broadcasts(const struct bck *b);

#endif
