/* The protobuf-c bump allocator; see pb_arena.h. */
#include "core/pb_arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16u /* malloc's alignment: protobuf-c puts any struct at what it gets */

struct arena_big {
	struct arena_big *next;
	max_align_t pad[]; /* the allocation */
};

static void *arena_alloc(void *data, size_t n)
{
	struct strata_pb_arena *a = data;
	size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (a->buf && need >= n && need <= a->cap - a->used) {
		void *p = a->buf + a->used;
		a->used += need;
		return p;
	}
	if (n > SIZE_MAX - sizeof(struct arena_big))
		return NULL;
	struct arena_big *b = malloc(sizeof(*b) + n);
	if (!b)
		return NULL;
	b->next = a->big;
	a->big = b;
	return b->pad;
}

static void arena_free(void *data, void *p)
{
	(void)data; /* everything is given back at the reset */
	(void)p;
}

void strata_pb_arena_reset(struct strata_pb_arena *a)
{
	for (struct arena_big *b = a->big, *next; b; b = next) {
		next = b->next;
		free(b);
	}
	a->big = NULL;
	a->used = 0;
}

void strata_pb_arena_init(struct strata_pb_arena *a, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->pa.alloc = arena_alloc;
	a->pa.free = arena_free;
	a->pa.allocator_data = a;
	a->buf = cap ? malloc(cap) : NULL;
	a->cap = a->buf ? cap : 0;
}

void strata_pb_arena_free(struct strata_pb_arena *a)
{
	strata_pb_arena_reset(a);
	free(a->buf);
	a->buf = NULL;
	a->cap = 0;
}
