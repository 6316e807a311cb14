/* Stable storage for a real node: one LMDB environment in the node's data directory.
 *
 * This is what the libuv runtime puts behind strata_env.store / retrieve / sync (the simulator
 * keeps its own durable map instead). Writes are staged in one open LMDB write transaction;
 * reads go through that transaction, so they see staged writes; sync commits it. A node syncs
 * once at the end of every turn, so all the stores of one turn are one transaction and one
 * fsync (group commit), and a turn with no store costs nothing.
 *
 * Errors are returned, never asserted: a full map, a failing disk or a key LMDB cannot hold give
 * a negative STRATA_E* code and a message in strata_store_error(). A failed store poisons the
 * open transaction (LMDB cannot continue it), so the following sync fails too and the whole
 * turn's writes are lost together: no turn is ever half durable.
 *
 * Background sync (group commit off the event loop, used by rt/uv): strata_store_commit_nosync
 * commits the staged transaction without flushing it (LMDB's MDB_NOSYNC for that one commit:
 * pages are written to the OS, not forced to the disk), and strata_store_flush -- on another
 * thread -- forces everything committed so far to the disk (mdb_env_sync). The loop thread keeps
 * staging the next writes in a new transaction meanwhile, but must not commit it before the
 * flush returned: a later commit's meta page could otherwise reach the disk before the pages of
 * the transaction being flushed. Writes are durable when the flush returns 0. A process crash
 * (kill -9) at any point loses only what was not flushed; LMDB's caveat for MDB_NOSYNC applies
 * to the window between one commit and its flush: on a power failure, a file system that
 * reorders writes could persist that transaction's meta page before its data pages.
 *
 * Ownership: strata_store_open allocates, strata_store_close frees (aborting staged writes).
 * Threads: everything runs on one thread (the loop's) except strata_store_flush, which may run
 * on one other thread at a time, between a commit_nosync and the next one. */
#ifndef STRATA_STORE_STORE_H
#define STRATA_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/msg.h"

struct strata_store;

#define STRATA_STORE_KEY_MAX 511 /* LMDB's default maximum key size */

/* Opens (creating if needed) the LMDB environment in directory dir, which must exist.
 * map_size_bytes bounds the database (0 = 1 GiB; address space, not memory). On failure returns
 * STRATA_EIO (or STRATA_ENOMEM), *out = NULL and writes a message naming dir into err. */
int strata_store_open(const char *dir, size_t map_size_bytes, struct strata_store **out, char *err,
		      size_t errlen);
/* Aborts staged writes and closes (NULL is fine). */
void strata_store_close(struct strata_store *s);

/* Stages key -> val. key: 1..STRATA_STORE_KEY_MAX bytes (STRATA_EINVAL otherwise).
 * STRATA_EIO when LMDB fails (e.g. the map is full); the open transaction is then lost. */
int strata_store_put(struct strata_store *s, const char *key, const void *val, size_t len);
/* Stages the removal of key (absent is fine). Errors as for put. */
int strata_store_del(struct strata_store *s, const char *key);
/* Reads key, seeing staged writes. *out is a new message the caller unrefs; STRATA_ENOENT if
 * absent, STRATA_EIO on failure. */
int strata_store_get(struct strata_store *s, const char *key, struct strata_msg **out);
/* Commits the staged writes (durable when it returns 0). 0 at once if nothing is staged.
 * STRATA_EIO if the commit failed or a store of this transaction failed. */
int strata_store_sync(struct strata_store *s);

/* Commits the staged writes without forcing them to the disk. 1 if something was committed (a
 * flush must follow before they count as durable), 0 if nothing was staged, STRATA_EIO if the
 * commit failed or a store of this transaction failed (the writes are lost). Loop thread. */
int strata_store_commit_nosync(struct strata_store *s);
/* Forces every commit so far to the disk. 0 = durable; STRATA_EIO otherwise (the message is in
 * strata_store_flush_error, readable once the flush returned). Any one thread at a time. */
int strata_store_flush(struct strata_store *s);
const char *strata_store_flush_error(const struct strata_store *s);
/* Commit and flush at once, on the calling thread (the runtime's flush of a small batch on the
 * loop thread), with no flush running: 0 if nothing was staged, 1 when everything staged is
 * durable, < 0 on failure (message in strata_store_error). When LMDB has nothing to flush and
 * the record log's group is one write while nothing else of the log is unsynced, that write is
 * durable by itself (RWF_DSYNC, store/wal_file.c; *dsync = true) and no fdatasync follows;
 * otherwise it is commit_nosync + flush. Durable on return either way: the same guarantee. */
int strata_store_sync_now(struct strata_store *s, bool *dsync);
/* Groups sync_now made durable by their own write (RWF_DSYNC). */
unsigned long long strata_store_dsyncs(const struct strata_store *s);
/* The record log's bytes staged for the next group (not yet written). */
uint64_t strata_store_staged_bytes(const struct strata_store *s);
/* Tests: the kernel refuses every later durable write (an unknown pwritev2 flag), so the
 * fallback (pwrite + fdatasync) runs. */
void strata_store_test_refuse_dsync(struct strata_store *s);

/* The KV's record log (store/rlog.h) in <dir>/wal/: segments of STRATA_STORE_WAL_SEGMENT
 * bytes. Its staged operations are written by strata_store_commit_nosync / strata_store_sync
 * after the LMDB commit, and synced by the flush after LMDB's sync: the two stores of a group
 * are durable when the flush returns, LMDB's never after the log's. */
#define STRATA_STORE_WAL_SEGMENT ((uint64_t)4 << 20)
struct strata_rlog *strata_store_wal(struct strata_store *s);
/* The record log's next segment, prepared ahead (store/wal_file.c): spare_begin on the loop
 * thread says whether one should be prepared now; if so spare_prepare runs on one other thread
 * (it only touches the spare's file), then spare_done on the loop thread (0, or STRATA_EIO with
 * the reason in strata_store_error; the log then creates segments without it). */
bool strata_store_spare_begin(struct strata_store *s);
void strata_store_spare_prepare(struct strata_store *s);
int strata_store_spare_done(struct strata_store *s);

/* The message of the last failure ("" if none). Lives as long as the store. */
const char *strata_store_error(const struct strata_store *s);
/* Groups committed so far: syncs with writes (LMDB and/or the record log), one flush each (for
 * tests: group commit is one per sync with writes). */
unsigned long long strata_store_commits(const struct strata_store *s);
/* Flushes (fsyncs) that completed. */
unsigned long long strata_store_flushes(const struct strata_store *s);

#endif
