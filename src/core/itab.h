/* The instance table: multi-instance modules keep their instances here.
 *
 * A module with many instances (a broadcast instance per upper layer, a register per key, a
 * consensus per slot) keeps each instance's state as an "extension" of ext_size bytes in one
 * table keyed by the instance id: a u64 or key bytes (a register's key). The table is owned by
 * the module, so the full key is (module, instance id or key bytes).
 *
 *   - lazy: strata_itab_get() finds the instance or creates it zeroed (the caller initialises
 *     what zero does not);
 *   - capped: at most `cap` instances; a creation beyond it fails with STRATA_EFULL and the
 *     table's error message says which table is full and its capacity (strata_itab_error);
 *   - retired by the owner's rule: strata_itab_del() frees an instance (the owner's fini
 *     callback releases what the extension holds); strata_itab_retire_below() retires every u64
 *     instance below a watermark (consensus instances below the decided one);
 *   - iterable (strata_itab_next), in an order that depends only on the keys and the sequence
 *     of operations, never on addresses, so every node and every run iterates alike.
 *
 * Memory: one allocation per instance (extension + key), and an index of 2 x cap slots.
 * Extension pointers stay valid until the instance is deleted. Not thread-safe (one node). */
#ifndef STRATA_CORE_ITAB_H
#define STRATA_CORE_ITAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strata_itab;

/* Releases what an extension holds (not the extension itself). May be NULL. */
typedef void (*strata_itab_fini)(void *ext, void *arg);

/* `what` names the table in errors ("urb pending", "nnar registers"); cap >= 1. NULL when out
 * of memory. */
struct strata_itab *strata_itab_new(const char *what, size_t cap, size_t ext_size,
				    strata_itab_fini fini, void *fini_arg);
/* Retires every instance (fini on each) and frees the table. NULL is a no-op. */
void strata_itab_free(struct strata_itab *t);

/* Key bytes. find returns the extension or NULL. get finds or creates (zeroed; *created set
 * if given); NULL with *rc = STRATA_EFULL when the table is full, STRATA_ENOMEM when out of
 * memory (rc may be NULL). key_len <= STRATA_ITAB_KEY_MAX. */
#define STRATA_ITAB_KEY_MAX 1024
void *strata_itab_find(const struct strata_itab *t, const void *key, size_t key_len);
void *strata_itab_get(struct strata_itab *t, const void *key, size_t key_len, bool *created,
		      int *rc);
/* Retires one instance (fini, then freed); no-op if absent. */
void strata_itab_del(struct strata_itab *t, const void *key, size_t key_len);

/* u64 ids (encoded big-endian as 8 key bytes, so the two forms never mix in one table by
 * accident: use one or the other per table). */
void *strata_itab_find_id(const struct strata_itab *t, uint64_t id);
void *strata_itab_get_id(struct strata_itab *t, uint64_t id, bool *created, int *rc);
void strata_itab_del_id(struct strata_itab *t, uint64_t id);
/* Retires every u64 instance with id < watermark; returns how many. */
size_t strata_itab_retire_below(struct strata_itab *t, uint64_t watermark);

/* Iteration: `for (size_t it = 0; (ext = strata_itab_next(t, &it, &key, &key_len));)`.
 * Deleting the instance just returned is allowed; creating during iteration is not. */
void *strata_itab_next(const struct strata_itab *t, size_t *it, const void **key,
		       size_t *key_len);
/* The key bytes of an instance, given its extension (as returned by get/find/next): stored in
 * the instance's allocation, valid until the instance is deleted. */
const void *strata_itab_ext_key(const void *ext, size_t *key_len);
/* The u64 id of a key returned by strata_itab_next (tables keyed by ids). */
uint64_t strata_itab_key_id(const void *key);

size_t strata_itab_len(const struct strata_itab *t);
size_t strata_itab_cap(const struct strata_itab *t);
/* "<what> is full (<cap> instances)" after a STRATA_EFULL, else "". */
const char *strata_itab_error(const struct strata_itab *t);

#endif
