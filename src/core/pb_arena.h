/* A bump allocator for protobuf-c's decoding: protobuf-c allocates a decoded message's structs,
 * repeated-field arrays, strings and byte fields one malloc each; from an arena each costs a bump,
 * and giving the whole decoding back is one reset. What does not fit in the arena's buffer (a
 * large value) is malloc'd and freed at the reset. One decoding at a time: reset before the next.
 * Used by the client port (rt/uv/client_frame.c: requests) and the links (links/datagram.c:
 * received datagrams). */
#ifndef STRATA_CORE_PB_ARENA_H
#define STRATA_CORE_PB_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

struct strata_pb_arena {
	ProtobufCAllocator pa; /* protobuf-c's view; allocator_data is the arena */
	uint8_t *buf;          /* cap bytes (NULL: every allocation is malloc'd) */
	size_t cap, used;
	void *big;             /* allocations that did not fit: a list freed at the reset */
};

/* cap bytes of buffer; if that allocation fails, buf is NULL and every allocation is malloc'd. */
void strata_pb_arena_init(struct strata_pb_arena *a, size_t cap);
/* Gives back everything allocated since the last reset (the buffer is kept). */
void strata_pb_arena_reset(struct strata_pb_arena *a);
void strata_pb_arena_free(struct strata_pb_arena *a);

#endif
