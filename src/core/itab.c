/* The instance table; see itab.h.
 *
 * Open addressing with linear probing over 2 x cap slots (so the load stays <= 1/2) and
 * backward-shift deletion (no tombstones: a long-running table never degrades). Instances are
 * also kept in a dense array in creation order, which is what iteration walks: deletion moves
 * the last instance into the hole, so the order depends only on the operations. */
#include "core/itab.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"

struct itab_ent {
	uint64_t hash;
	size_t dense;       /* index in t->dense */
	size_t key_len;
	uint8_t *key;       /* points after the extension in the same allocation */
	_Alignas(max_align_t) unsigned char ext[];
};

struct strata_itab {
	char what[48];
	char err[96];
	size_t cap, ext_size, mask;
	strata_itab_fini fini;
	void *fini_arg;
	struct itab_ent **slot;  /* mask + 1 slots */
	struct itab_ent **dense; /* len entries in creation order (modulo deletions) */
	size_t len;
};

static uint64_t itab_hash(const void *key, size_t len)
{
	/* FNV-1a, then a final mix: keys are names and ids, not adversarial to a capped table. */
	const uint8_t *p = key;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

struct strata_itab *strata_itab_new(const char *what, size_t cap, size_t ext_size,
				    strata_itab_fini fini, void *fini_arg)
{
	STRATA_ASSERT(what && cap >= 1);
	struct strata_itab *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	snprintf(t->what, sizeof(t->what), "%s", what);
	size_t slots = 2;
	while (slots < 2 * cap)
		slots *= 2;
	t->cap = cap;
	t->ext_size = ext_size;
	t->mask = slots - 1;
	t->fini = fini;
	t->fini_arg = fini_arg;
	t->slot = calloc(slots, sizeof(*t->slot));
	t->dense = calloc(cap, sizeof(*t->dense));
	if (!t->slot || !t->dense) {
		free(t->slot);
		free(t->dense);
		free(t);
		return NULL;
	}
	return t;
}

static void ent_free(struct strata_itab *t, struct itab_ent *e)
{
	if (t->fini)
		t->fini(e->ext, t->fini_arg);
	free(e);
}

void strata_itab_free(struct strata_itab *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->len; i++)
		ent_free(t, t->dense[i]);
	free(t->slot);
	free(t->dense);
	free(t);
}

static size_t find_slot(const struct strata_itab *t, uint64_t h, const void *key, size_t len)
{
	for (size_t i = (size_t)h & t->mask;; i = (i + 1) & t->mask) {
		const struct itab_ent *e = t->slot[i];
		if (!e || (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0))
			return i;
	}
}

void *strata_itab_find(const struct strata_itab *t, const void *key, size_t key_len)
{
	STRATA_ASSERT(key_len <= STRATA_ITAB_KEY_MAX && (key || key_len == 0));
	struct itab_ent *e = t->slot[find_slot(t, itab_hash(key, key_len), key, key_len)];
	return e ? e->ext : NULL;
}

void *strata_itab_get(struct strata_itab *t, const void *key, size_t key_len, bool *created,
		      int *rc)
{
	STRATA_ASSERT(key_len <= STRATA_ITAB_KEY_MAX && (key || key_len == 0));
	if (created)
		*created = false;
	uint64_t h = itab_hash(key, key_len);
	size_t i = find_slot(t, h, key, key_len);
	if (t->slot[i])
		return t->slot[i]->ext;
	if (t->len >= t->cap) {
		snprintf(t->err, sizeof(t->err), "%s is full (%zu instances)", t->what, t->cap);
		if (rc)
			*rc = STRATA_EFULL;
		return NULL;
	}
	size_t ext = (t->ext_size + 15) & ~(size_t)15;
	struct itab_ent *e = calloc(1, sizeof(*e) + ext + key_len);
	if (!e) {
		if (rc)
			*rc = STRATA_ENOMEM;
		return NULL;
	}
	e->hash = h;
	e->key_len = key_len;
	e->key = (uint8_t *)e->ext + ext;
	if (key_len)
		memcpy(e->key, key, key_len);
	e->dense = t->len;
	t->dense[t->len++] = e;
	t->slot[i] = e;
	if (created)
		*created = true;
	return e->ext;
}

void strata_itab_del(struct strata_itab *t, const void *key, size_t key_len)
{
	size_t i = find_slot(t, itab_hash(key, key_len), key, key_len);
	struct itab_ent *e = t->slot[i];
	if (!e)
		return;
	/* Backward-shift deletion: pull later members of the probe run into the hole. */
	t->slot[i] = NULL;
	for (size_t j = (i + 1) & t->mask; t->slot[j]; j = (j + 1) & t->mask) {
		size_t home = (size_t)t->slot[j]->hash & t->mask;
		/* Move slot j to the hole i if its home is not in (i, j] cyclically. */
		bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!between) {
			t->slot[i] = t->slot[j];
			t->slot[j] = NULL;
			i = j;
		}
	}
	size_t d = e->dense;
	t->len--;
	if (d != t->len) {
		t->dense[d] = t->dense[t->len];
		t->dense[d]->dense = d;
	}
	ent_free(t, e);
}

static void id_key(uint64_t id, uint8_t k[8])
{
	for (int i = 0; i < 8; i++)
		k[i] = (uint8_t)(id >> (56 - 8 * i));
}

const void *strata_itab_ext_key(const void *ext, size_t *key_len)
{
	STRATA_ASSERT(ext && key_len);
	const struct itab_ent *e =
		(const struct itab_ent *)(const void *)((const unsigned char *)ext -
							offsetof(struct itab_ent, ext));
	*key_len = e->key_len;
	return e->key;
}

uint64_t strata_itab_key_id(const void *key)
{
	const uint8_t *k = key;
	uint64_t id = 0;
	for (int i = 0; i < 8; i++)
		id = id << 8 | k[i];
	return id;
}

void *strata_itab_find_id(const struct strata_itab *t, uint64_t id)
{
	uint8_t k[8];
	id_key(id, k);
	return strata_itab_find(t, k, sizeof(k));
}

void *strata_itab_get_id(struct strata_itab *t, uint64_t id, bool *created, int *rc)
{
	uint8_t k[8];
	id_key(id, k);
	return strata_itab_get(t, k, sizeof(k), created, rc);
}

void strata_itab_del_id(struct strata_itab *t, uint64_t id)
{
	uint8_t k[8];
	id_key(id, k);
	strata_itab_del(t, k, sizeof(k));
}

size_t strata_itab_retire_below(struct strata_itab *t, uint64_t watermark)
{
	size_t n = 0;
	for (size_t i = 0; i < t->len;) {
		struct itab_ent *e = t->dense[i];
		if (e->key_len == 8 && strata_itab_key_id(e->key) < watermark) {
			strata_itab_del(t, e->key, 8);
			n++;
		} else {
			i++;
		}
	}
	return n;
}

void *strata_itab_next(const struct strata_itab *t, size_t *it, const void **key,
		       size_t *key_len)
{
	/* Walks the dense array from the end: deleting the instance just returned moves the last
	 * one (already visited) into its place, and leaves the unvisited ones [0, pos) alone.
	 * *it is 0 at the start, then (unvisited count) + 1. */
	size_t pos = *it == 0 ? t->len : *it - 1;
	if (pos == 0 || pos > t->len)
		return NULL;
	struct itab_ent *e = t->dense[pos - 1];
	*it = pos; /* next: pos - 1 unvisited; 1 reads as none left */
	if (key)
		*key = e->key;
	if (key_len)
		*key_len = e->key_len;
	return e->ext;
}

size_t strata_itab_len(const struct strata_itab *t) { return t->len; }
size_t strata_itab_cap(const struct strata_itab *t) { return t->cap; }
const char *strata_itab_error(const struct strata_itab *t) { return t->err; }
