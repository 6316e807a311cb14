/* The record log: an append-only, segmented, preallocated log file for one replicated log (the
 * KV's entries and its hard state), behind core/storage.c's strata_log_* when the runtime
 * provides one (env.wal). See rlog.c for the format and the recovery rules.
 *
 * The same code runs in both runtimes; only the file I/O differs (struct strata_rlog_io): POSIX
 * files in the node's data directory (store/wal_file.c, used by store/lmdb.c) or the
 * simulator's disk (rt/sim/sim.c), whose crashes lose unsynced writes, keep a prefix of them and
 * tear the next one, or fail the sync.
 *
 * Write path: every operation is staged in memory (reads see it). The runtime, when it syncs,
 * first commits its other storage (LMDB), then calls strata_rlog_write_staged (the staged bytes
 * go to the files in one write per segment), then syncs the segments strata_rlog_dirty names
 * (and the directory when segments were created), and after that sync strata_rlog_synced (old
 * segments no longer needed are removed); or, for a small group while nothing else is unsynced,
 * strata_rlog_write_staged_dsync, whose write may be its own sync (then nothing is left to sync).
 * Ownership: open allocates, close frees. One thread
 * (the loop's) calls everything here; the runtime's sync thread only syncs file descriptors. */
#ifndef STRATA_STORE_RLOG_H
#define STRATA_STORE_RLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/msg.h"

/* Segment files are named by a sequence number >= 1. Every function returns 0 or a negative
 * STRATA_E* code. */
struct strata_rlog_io {
	void *ctx;
	/* The existing segments, any order. At most max; *n = how many exist (may exceed max). */
	int (*list)(void *ctx, uint64_t *seqs, size_t max, size_t *n);
	/* Creates segment seq of size bytes, preallocated, reading as zeros (STRATA_EIO if it
	 * exists). */
	int (*create)(void *ctx, uint64_t seq, uint64_t size);
	int (*remove)(void *ctx, uint64_t seq);
	int (*size)(void *ctx, uint64_t seq, uint64_t *size);
	int (*read)(void *ctx, uint64_t seq, uint64_t off, void *buf, size_t len);
	int (*write)(void *ctx, uint64_t seq, uint64_t off, const void *buf, size_t len);
	/* Optional (NULL: never called). Writes like write and makes [off, off + len) durable
	 * before it returns, as write followed by a sync limited to that range would (POSIX files:
	 * one pwritev2 with RWF_DSYNC). 0: written and durable. 1: written only (the durable
	 * write was refused, e.g. EOPNOTSUPP: the caller syncs as after write). < 0: failure. */
	int (*write_dsync)(void *ctx, uint64_t seq, uint64_t off, const void *buf, size_t len);
	/* Tests only (0 in every runtime): STRATA_RLOG_BROKEN_* bits, each taking back one rule
	 * of the durable write or of recovery, so test_rlog shows its page-cache-against-disk
	 * model catching the loss each rule prevents. */
	unsigned broken;
};

/* The broken variants (struct strata_rlog_io.broken). */
/* write_staged_dsync ignores that an earlier write is not synced yet (the unsynced mark). */
#define STRATA_RLOG_BROKEN_DSYNC_UNSYNCED 1u
/* The first sync after a recovery does not fdatasync every segment recovery kept. */
#define STRATA_RLOG_BROKEN_RECOVERY_SEGS 2u
/* The first sync after a recovery does not fsync the directory. */
#define STRATA_RLOG_BROKEN_RECOVERY_DIR 4u

struct strata_rlog;

struct strata_rlog_stats {
	uint64_t records_written, bytes_written, segments_created, segments_removed;
	uint64_t recovered_records, torn_cuts; /* at open: records replayed, torn tails cut */
	/* write_staged_dsync: groups made durable by their own write; groups whose durable write
	 * io.write_dsync refused (written plainly, synced by the caller). */
	uint64_t dsync_writes, dsync_refused;
};

#define STRATA_RLOG_SEGMENT_MIN 4096u
#define STRATA_RLOG_SEGMENT_MAX (1ull << 31)

/* Opens the log on io, recovering what the segments hold (a torn tail is cut and zeroed, the
 * segments after it removed). The first record written creates the first segment, so a node
 * that never writes this log has no file. seg_size: bytes per preallocated segment (a record
 * larger than that gets a segment of its own size). */
int strata_rlog_open(const struct strata_rlog_io *io, uint64_t seg_size, struct strata_rlog **out,
		     char *err, size_t errlen);
void strata_rlog_close(struct strata_rlog *r);

/* core/storage.c's log operations (same specification, SP1-SP3), plus the log's meta record
 * (the owner's hard state, stored in the same stream, so in the same sync, as its entries).
 * put refuses idx < first (STRATA_EINVAL); holes above last are allowed and read ENOENT. */
int strata_rlog_put(struct strata_rlog *r, uint64_t idx, const void *v, size_t len);
int strata_rlog_get(struct strata_rlog *r, uint64_t idx, struct strata_msg **out);
void strata_rlog_bounds(const struct strata_rlog *r, uint64_t *first, uint64_t *last);
int strata_rlog_truncate_prefix(struct strata_rlog *r, uint64_t keep_from);
int strata_rlog_truncate_suffix(struct strata_rlog *r, uint64_t drop_from);
int strata_rlog_meta_put(struct strata_rlog *r, const void *v, size_t len);
int strata_rlog_meta_get(struct strata_rlog *r, struct strata_msg **out); /* STRATA_ENOENT */

/* Sync protocol (see the top). write_staged: 1 if bytes were written, 0 if nothing was staged.
 * A failed write or create leaves the log failed: every later call returns STRATA_EIO. */
int strata_rlog_write_staged(struct strata_rlog *r);
/* Up to max of the segments written since they were last returned (into seqs; returns how
 * many: call again while it returns max) and whether the directory changed (segments created
 * or removed); clears what it returns. */
/* As write_staged, but a group that is one write into a segment while nothing else of the log
 * is unsynced (no write and no segment created or removed since the last strata_rlog_synced,
 * and the log was not just recovered: what recovery read may not be durable) goes through
 * io.write_dsync: its range is then everything the log has that is not durable yet, so making
 * that range durable makes the whole log durable, as write + the usual sync would. Returns 2
 * when the group is durable that way (nothing for the caller to sync; strata_rlog_dirty names
 * nothing from it, and the caller calls strata_rlog_synced as after a sync), 1 written (sync
 * as strata_rlog_dirty says), 0 if nothing was staged, < 0 as write_staged. */
int strata_rlog_write_staged_dsync(struct strata_rlog *r);
/* Bytes staged and not written yet (the group's size). */
uint64_t strata_rlog_staged_bytes(const struct strata_rlog *r);
size_t strata_rlog_dirty(struct strata_rlog *r, uint64_t *seqs, size_t max, bool *dir);
/* Every write so far is durable: removes the segments that hold nothing live any more. */
void strata_rlog_synced(struct strata_rlog *r);
bool strata_rlog_staged(const struct strata_rlog *r);
const struct strata_rlog_stats *strata_rlog_stats(const struct strata_rlog *r);

/* CRC-32C (Castagnoli) of buf, continuing from crc (0 to start). */
uint32_t strata_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
