/* Consistent hashing for the leaderless store: the key hash and the ring of virtual nodes.
 *
 * Every node builds the same ring from the cluster size alone (membership is static in strata),
 * so placement needs no coordination: node i owns LKV_VNODES tokens, token j of node i being
 * the hash of (i, j). A key's preference list is the first `replicas` distinct nodes clockwise
 * from the key's hash. Virtual nodes spread each node's share over many small arcs, so shares
 * stay within a few percent of 1/n and the load of a crashed node falls on many successors. */
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "reg/lkv.h"

static uint64_t mix64(uint64_t z)
{
	/* splitmix64's finalizer: every input bit flips each output bit with probability ~1/2, which
	 * FNV-1a alone does not give in the high bits the ring and the digest buckets use. */
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t lkv_hash(const void *key, size_t len)
{
	const uint8_t *p = key;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return mix64(h ^ len);
}

static int vnode_cmp(const void *a, const void *b)
{
	const struct lkv_vnode *x = a, *y = b;
	if (x->token != y->token)
		return x->token < y->token ? -1 : 1;
	return x->node < y->node ? -1 : x->node > y->node; /* deterministic on a (rare) tie */
}

int lkv_ring_init(struct lkv_ring *r, uint32_t n, uint32_t vnodes)
{
	memset(r, 0, sizeof(*r));
	if (n == 0 || n > STRATA_MAX_NODES || vnodes == 0 || vnodes > 4096)
		return STRATA_EINVAL;
	r->v = calloc((size_t)n * vnodes, sizeof(*r->v));
	if (!r->v)
		return STRATA_ENOMEM;
	r->n = n;
	r->len = (size_t)n * vnodes;
	for (uint32_t i = 0; i < n; i++) {
		for (uint32_t j = 0; j < vnodes; j++) {
			uint8_t b[8] = { 'v', (uint8_t)(i + 1), (uint8_t)((i + 1) >> 8),
					 (uint8_t)j, (uint8_t)(j >> 8), 'l', 'k', 'v' };
			struct lkv_vnode *v = &r->v[(size_t)i * vnodes + j];
			v->token = lkv_hash(b, sizeof(b));
			v->node = i + 1;
		}
	}
	qsort(r->v, r->len, sizeof(*r->v), vnode_cmp);
	return 0;
}

void lkv_ring_free(struct lkv_ring *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

unsigned lkv_ring_replicas(const struct lkv_ring *r, uint64_t h, uint32_t count, uint32_t *out)
{
	STRATA_ASSERT(r->len > 0);
	if (count > r->n)
		count = r->n;
	/* First token >= h; past the end wraps to the start. */
	size_t lo = 0, hi = r->len;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->v[mid].token < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	unsigned got = 0;
	for (size_t k = 0; k < r->len && got < count; k++) {
		uint32_t node = r->v[(lo + k) % r->len].node;
		bool seen = false;
		for (unsigned j = 0; j < got; j++)
			seen |= out[j] == node;
		if (!seen)
			out[got++] = node;
	}
	STRATA_ASSERT(got == count);
	return got;
}
