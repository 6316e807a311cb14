/* What lurb (logged uniform reliable broadcast, Alg. 3.8, lurb.c) offers an upper module beyond
 * the stackable interface of bcast.h: the logged algorithms above it (Logged Uniform Total-Order
 * Broadcast, Alg. 6.12) name a message by (sender, seq) of their lurb instance, tell lurb when
 * they have logged a delivery (so that lurb may collect it), and announce their own pending
 * broadcasts again after a recovery. l is the upper's handle from bcast_open(n, "lurb", ...). */
#ifndef STRATA_BCAST_LURB_H
#define STRATA_BCAST_LURB_H

#include <stddef.h>
#include <stdint.h>

#include "bcast/bcast.h"

/* trigger <lurb, Broadcast | data> on the upper's instance; *seq (if not NULL) is the message's
 * sequence number in that instance. 0, STRATA_ETOOBIG, STRATA_EFULL (pending table full),
 * STRATA_ENOMEM or STRATA_EIO. */
int bc_lurb_broadcast(const struct bcast_lower *l, const uint8_t *data, size_t len, uint64_t *seq);
/* The upper has logged its own delivery of (origin, seq) in the current turn-batch: once that
 * batch is synced this process counts as having logged it, and the message can be collected when
 * every process has. Unknown or already collected messages are ignored. Volatile: after a
 * recovery lurb announces every logged delivery still pending again (struct strata_deliver
 * .replay) and the upper releases again those it had logged. */
void bc_lurb_release(const struct bcast_lower *l, uint32_t origin, uint64_t seq);
/* Calls fn for every own broadcast of the upper's instance still pending here, in sequence
 * order (for the upper's announcement of them after a recovery: data is borrowed for the call). */
void bc_lurb_own_pending(const struct bcast_lower *l,
			 void (*fn)(void *arg, uint64_t seq, const uint8_t *data, size_t len),
			 void *arg);

#endif
