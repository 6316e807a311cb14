/* The record log's segment files in a directory (POSIX), for store/lmdb.c: the
 * strata_rlog_io a real node's record log runs on. See wal_file.c. Loop thread only, except
 * that the file descriptors strata_wal_files_fd returns may be fdatasynced on the sync thread
 * (they stay open until their segment is removed, which happens on the loop thread between
 * flushes). */
#ifndef STRATA_STORE_WAL_FILE_H
#define STRATA_STORE_WAL_FILE_H

#include "store/rlog.h"

struct strata_wal_files;

/* Fills *io for the segments in dir (created, 0700, with the first segment). Message in err
 * on failure. */
int strata_wal_files_open(const char *dir, struct strata_wal_files **out,
			  struct strata_rlog_io *io, char *err, size_t errlen);
void strata_wal_files_close(struct strata_wal_files *w);
/* The open descriptor of segment seq (opened if needed), -1 on failure. */
int strata_wal_files_fd(struct strata_wal_files *w, uint64_t seq);
int strata_wal_files_dirfd(const struct strata_wal_files *w);
const char *strata_wal_files_error(const struct strata_wal_files *w);
/* The durable write (RWF_DSYNC, see wal_file.c): whether the kernel refused it (then every
 * write is a pwrite followed by the flush's fdatasync); tests: make every later attempt be
 * refused by the kernel (an unknown flag), so the fallback path runs. */
bool strata_wal_files_dsync_refused(const struct strata_wal_files *w);
void strata_wal_files_test_refuse_dsync(struct strata_wal_files *w);

/* The spare segment (wal_file.c): begin (loop thread) returns true when a spare of size bytes
 * should be prepared now (the log has a segment, no spare is ready or being prepared); then
 * prepare runs on one other thread (it creates, zero-fills and syncs "<dir>/spare"), then
 * done on the loop thread again (0, or STRATA_EIO with the reason in spare_error: no spare,
 * segments are created without one). Close only while no preparation runs. */
bool strata_wal_files_spare_begin(struct strata_wal_files *w, uint64_t size);
void strata_wal_files_spare_prepare(struct strata_wal_files *w);
int strata_wal_files_spare_done(struct strata_wal_files *w);
const char *strata_wal_files_spare_error(const struct strata_wal_files *w);

#endif
