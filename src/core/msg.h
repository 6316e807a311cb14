/* Reference-counted immutable byte buffers for message payloads.
 *
 * Ownership: strata_msg_new() returns a buffer with one reference owned by the caller.
 * Whoever stores a pointer beyond the current handler takes a reference with strata_msg_ref()
 * and gives it back with strata_msg_unref(); the last unref frees it. Payloads are never
 * modified after creation, so a message can be shared between the event queue, retransmission
 * sets and upper modules without copying. */
#ifndef STRATA_CORE_MSG_H
#define STRATA_CORE_MSG_H

#include <stddef.h>
#include <stdint.h>

struct strata_msg {
	uint32_t refs;
	size_t len;
	uint8_t data[]; /* len bytes */
};

/* Copies len bytes from data (data may be NULL when len is 0). NULL on allocation failure. */
struct strata_msg *strata_msg_new(const void *data, size_t len);
/* Allocates an uninitialised buffer of len bytes for the caller to fill before sharing it. */
struct strata_msg *strata_msg_alloc(size_t len);
struct strata_msg *strata_msg_ref(struct strata_msg *m);
void strata_msg_unref(struct strata_msg *m);

#endif
