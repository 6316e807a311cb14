/* The record log's segments as POSIX files (store/wal_file.h): "<dir>/<16 hex digits>.wal".
 * The directory is created with the first segment (a node that never writes the log has none).
 *
 * A segment's size never changes after it is created, so an append's fdatasync has no file
 * size to journal. The next segment is prepared ahead, off the loop thread (the runtime runs
 * strata_wal_files_spare_prepare on a pool thread once the log has a segment): "<dir>/spare",
 * preallocated, zero-filled and synced, so its blocks are written extents and an append into it
 * is a pure data overwrite, the floor's case. Creating a segment of that size renames the spare
 * into place (the rename is made durable by the flush's fsync of the directory, like a created
 * file). Without a ready spare (the first segment, a record larger than a segment, a spare still
 * being prepared) the segment is created with fallocate alone: its blocks are unwritten extents
 * (they read as zeros) and the first write into each is an extent conversion the fdatasync
 * journals. Zero-filling on the loop thread was tried and taken out: a 4 MiB write + fdatasync
 * stalled the node for up to seconds on a loaded disk. A spare left by a crash is removed at
 * open (it names no segment and may be partly written).
 *
 * File descriptors stay open (one per segment) for reads and for the sync thread's fdatasync;
 * the directory is fsynced by the store's flush when segments were created or removed. Errors
 * name the file and the system call.
 *
 * The durable write (io_write_dsync: one pwritev2 with RWF_DSYNC instead of pwrite + fdatasync,
 * for a small group flushed on the loop thread: store/lmdb.c strata_store_sync_now). Why it is
 * as strong as pwrite + fdatasync there, i.e. why persist before send still holds when the
 * APPEND_R leaves right after it returns:
 *   1. Linux's RWF_DSYNC write returns after generic_write_sync(), which is
 *      vfs_fsync_range(file, pos, pos + len - 1, datasync = 1): the file system's fdatasync
 *      limited to the written range (the range's data written back and waited for, the
 *      metadata needed to read it back committed, the disk's volatile cache flushed). An error
 *      in any of that is the call's error (the log then fails, like a failed fdatasync).
 *   2. Only the range: other dirty data of the file is not written. So it is used only when
 *      that range is everything the log has not made durable: rlog.c tracks it (no write, no
 *      segment created or removed since the last completed sync, not the first group after a
 *      recovery, whose records may be in the page cache only), and the store adds that LMDB has
 *      no commit waiting for its flush. A group that creates a segment (a new file and a
 *      directory entry) or spans two is written and synced the usual way.
 *   3. The segment's size never changes (preallocated), so no size update is left for a later
 *      sync; a spare's blocks are written extents; a fallocated segment's first write into a
 *      block converts an unwritten extent, which is metadata needed to read the data, which
 *      the datasync commits (1).
 *   4. Refused (EOPNOTSUPP from a file system or kernel without it, EINVAL, ENOSYS): the bytes
 *      go with pwrite and the caller's flush fdatasyncs, exactly the path before; the refusal
 *      is remembered and counted (the record log's dsync_refused).
 * A torn write is what it was: the record's CRC cuts it at recovery. */
#include "store/wal_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/error.h"

struct wal_fd {
	uint64_t seq;
	int fd;
};

struct strata_wal_files {
	char dir[1024];
	int dirfd;
	struct wal_fd *fds;
	size_t nfds, capfds;
	char err[1400];
	/* The spare segment. Loop thread: spare_fd/spare_size (ready, -1 if none) and
	 * prep_running. The preparing thread writes prep_* only while prep_running; the loop reads
	 * them after strata_wal_files_spare_done. */
	int spare_fd;
	uint64_t spare_size;
	bool prep_running;
	int prep_fd, prep_rc;
	uint64_t prep_size;
	char prep_err[1400];
	/* The durable write (io_write_dsync): refused once by the kernel or the file system
	 * (EOPNOTSUPP, EINVAL, ENOSYS), then not tried again; test_refuse makes the call with a
	 * flag no kernel knows, so that the refusal path runs (tests only). */
	bool dsync_refused, test_refuse;
};

static void spare_path(const struct strata_wal_files *w, char *p, size_t n)
{
	snprintf(p, n, "%s/spare", w->dir);
}

/* errno's text; a full disk (or quota) is named as such for the operator. */
static const char *errno_text(int e)
{
	if (e == ENOSPC)
		return "No space left on device (ENOSPC: the disk is full)";
	if (e == EDQUOT)
		return "Disk quota exceeded (EDQUOT)";
	return strerror(e);
}

static int ferr(struct strata_wal_files *w, const char *what, uint64_t seq)
{
	snprintf(w->err, sizeof(w->err), "%s/%016" PRIx64 ".wal: %s: %s", w->dir, seq, what,
		 errno_text(errno));
	return STRATA_EIO;
}

static void path_of(const struct strata_wal_files *w, uint64_t seq, char *p, size_t n)
{
	snprintf(p, n, "%s/%016" PRIx64 ".wal", w->dir, seq);
}

static int fd_of(struct strata_wal_files *w, uint64_t seq)
{
	for (size_t i = 0; i < w->nfds; i++)
		if (w->fds[i].seq == seq)
			return w->fds[i].fd;
	if (w->nfds == w->capfds) {
		size_t nc = w->capfds ? w->capfds * 2 : 8;
		struct wal_fd *a = realloc(w->fds, nc * sizeof(*a));
		if (!a)
			return -1;
		w->fds = a;
		w->capfds = nc;
	}
	char p[1100];
	path_of(w, seq, p, sizeof(p));
	int fd = open(p, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	w->fds[w->nfds++] = (struct wal_fd){ .seq = seq, .fd = fd };
	return fd;
}

static int parse_name(const char *name, uint64_t *seq)
{
	if (strlen(name) != 20 || strcmp(name + 16, ".wal") != 0)
		return -1;
	uint64_t v = 0;
	for (int i = 0; i < 16; i++) {
		char c = name[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	if (v == 0)
		return -1;
	*seq = v;
	return 0;
}

static int io_list(void *ctx, uint64_t *seqs, size_t max, size_t *n)
{
	struct strata_wal_files *w = ctx;
	DIR *d = opendir(w->dir);
	if (!d && errno == ENOENT) {
		*n = 0; /* no segment was ever created */
		return 0;
	}
	if (!d)
		return ferr(w, "opendir", 0);
	size_t k = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		uint64_t seq;
		if (parse_name(e->d_name, &seq) != 0)
			continue;
		if (k < max)
			seqs[k] = seq;
		k++;
	}
	closedir(d);
	*n = k;
	return 0;
}

/* The directory is created with the first segment; its entry in the data directory is
 * synced at once (once per data directory). */
static int dir_ready(struct strata_wal_files *w)
{
	if (w->dirfd >= 0)
		return 0;
	if (mkdir(w->dir, 0700) != 0 && errno != EEXIST)
		return ferr(w, "mkdir", 0);
	w->dirfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd < 0)
		return ferr(w, "open the directory", 0);
	char parent[1100];
	snprintf(parent, sizeof(parent), "%s/..", w->dir);
	int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0 || fsync(pfd) != 0) {
		int rc = ferr(w, "fsync of the data directory", 0);
		if (pfd >= 0)
			close(pfd);
		return rc;
	}
	close(pfd);
	return 0;
}

static int io_create(void *ctx, uint64_t seq, uint64_t size)
{
	struct strata_wal_files *w = ctx;
	int drc = dir_ready(w);
	if (drc)
		return drc;
	char p[1100];
	path_of(w, seq, p, sizeof(p));
	if (w->spare_fd >= 0 && !w->prep_running && w->spare_size == size) {
		/* The prepared spare becomes segment seq: no other file of that name may exist. */
		char sp[1100];
		spare_path(w, sp, sizeof(sp));
		struct stat st;
		if (stat(p, &st) == 0) {
			errno = EEXIST;
			return ferr(w, "create", seq);
		}
		if (rename(sp, p) == 0) {
			if (w->nfds == w->capfds) {
				size_t nc = w->capfds ? w->capfds * 2 : 8;
				struct wal_fd *a = realloc(w->fds, nc * sizeof(*a));
				if (!a) {
					(void)rename(p, sp);
					return STRATA_ENOMEM;
				}
				w->fds = a;
				w->capfds = nc;
			}
			w->fds[w->nfds++] = (struct wal_fd){ .seq = seq, .fd = w->spare_fd };
			w->spare_fd = -1;
			return 0;
		}
		/* The spare could not be renamed: dropped, and the segment created below. */
		close(w->spare_fd);
		w->spare_fd = -1;
		(void)unlink(sp);
	}
	int fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return ferr(w, "create", seq);
	/* Reserve the blocks (the size is set, so no append changes it); no zero-fill and no sync
	 * here: this runs on the loop thread, and a 4 MiB write + fdatasync took up to seconds
	 * on a loaded disk, during which the node neither sends nor answers. The segment's
	 * data and the directory entry are synced by the next flush. */
	int rc = fallocate(fd, 0, 0, (off_t)size);
	if (rc != 0 && (errno == EOPNOTSUPP || errno == ENOSYS))
		rc = ftruncate(fd, (off_t)size); /* no fallocate here: a sparse file of that size */
	if (rc != 0) {
		rc = ferr(w, "fallocate", seq);
		goto bad;
	}
	if (w->nfds == w->capfds) {
		size_t nc = w->capfds ? w->capfds * 2 : 8;
		struct wal_fd *a = realloc(w->fds, nc * sizeof(*a));
		if (!a) {
			rc = STRATA_ENOMEM;
			goto bad;
		}
		w->fds = a;
		w->capfds = nc;
	}
	w->fds[w->nfds++] = (struct wal_fd){ .seq = seq, .fd = fd };
	return 0;
bad:
	close(fd);
	unlink(p);
	return rc;
}

static int io_remove(void *ctx, uint64_t seq)
{
	struct strata_wal_files *w = ctx;
	for (size_t i = 0; i < w->nfds; i++)
		if (w->fds[i].seq == seq) {
			close(w->fds[i].fd);
			w->fds[i] = w->fds[--w->nfds];
			break;
		}
	char p[1100];
	path_of(w, seq, p, sizeof(p));
	if (unlink(p) != 0 && errno != ENOENT)
		return ferr(w, "unlink", seq);
	return 0;
}

static int io_size(void *ctx, uint64_t seq, uint64_t *size)
{
	struct strata_wal_files *w = ctx;
	int fd = fd_of(w, seq);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0)
		return ferr(w, "stat", seq);
	*size = (uint64_t)st.st_size;
	return 0;
}

static int io_read(void *ctx, uint64_t seq, uint64_t off, void *buf, size_t len)
{
	struct strata_wal_files *w = ctx;
	int fd = fd_of(w, seq);
	if (fd < 0)
		return ferr(w, "open", seq);
	uint8_t *p = buf;
	while (len) {
		ssize_t k = pread(fd, p, len, (off_t)off);
		if (k <= 0)
			return k == 0 ? (errno = EIO, ferr(w, "read past the end", seq))
				      : ferr(w, "read", seq);
		p += k;
		off += (uint64_t)k;
		len -= (size_t)k;
	}
	return 0;
}

/* The short-write loop of both writes: len bytes of buf at off in segment seq, one pwritev2
 * with flags per pass (0: a plain write, as pwrite; RWF_DSYNC: the durable write). 0 when all
 * is written. With flags, a refusal by the kernel or the file system (EOPNOTSUPP, EINVAL,
 * ENOSYS) returns 1 with *done the bytes written before it. < 0 on any other failure. */
static int write_full(struct strata_wal_files *w, int fd, uint64_t seq, uint64_t off,
		      const uint8_t *p, size_t len, int flags, size_t *done)
{
	size_t n = 0;
	while (n < len) {
		struct iovec iov = { .iov_base = (void *)(uintptr_t)(p + n), .iov_len = len - n };
		ssize_t k = pwritev2(fd, &iov, 1, (off_t)(off + n), flags);
		if (k < 0 && flags && (errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS)) {
			*done = n;
			return 1;
		}
		if (k <= 0)
			return ferr(w, flags ? "pwritev2 (RWF_DSYNC)" : "write", seq);
		n += (size_t)k;
	}
	*done = n;
	return 0;
}

static int io_write(void *ctx, uint64_t seq, uint64_t off, const void *buf, size_t len)
{
	struct strata_wal_files *w = ctx;
	int fd = fd_of(w, seq);
	if (fd < 0)
		return ferr(w, "open", seq);
	size_t done;
	return write_full(w, fd, seq, off, buf, len, 0, &done);
}

/* One write that is durable when it returns: pwritev2 with RWF_DSYNC, which on Linux writes
 * like pwrite and then syncs that range as fdatasync would (generic_write_sync: the range's
 * data and the metadata needed to read it back, the disk's cache flushed). Only the range:
 * other unsynced data of the file stays unsynced, so the caller (rlog.c,
 * strata_rlog_write_staged_dsync) uses this only when the range is all the log has unsynced.
 * Refused (an old kernel, a file system without it): the bytes are written with a plain write
 * and 1 is returned, the caller then syncs with fdatasync as for any write. */
static int io_write_dsync(void *ctx, uint64_t seq, uint64_t off, const void *buf, size_t len)
{
	struct strata_wal_files *w = ctx;
	int fd = fd_of(w, seq);
	if (fd < 0)
		return ferr(w, "open", seq);
	const uint8_t *p = buf;
	size_t done = 0;
	if (!len)
		return 0;
	if (!w->dsync_refused) {
		int flags = RWF_DSYNC | (w->test_refuse ? (int)0x40000000 : 0);
		int rc = write_full(w, fd, seq, off, p, len, flags, &done);
		if (rc <= 0)
			return rc;
		w->dsync_refused = true;
	}
	/* Refused (now or before): what is left goes with a plain write; the caller's fdatasync
	 * covers it and whatever a partial durable write put before it. */
	int rc = write_full(w, fd, seq, off + done, p + done, len - done, 0, &done);
	return rc ? rc : 1;
}

int strata_wal_files_open(const char *dir, struct strata_wal_files **out,
			  struct strata_rlog_io *io, char *err, size_t errlen)
{
	*out = NULL;
	struct strata_wal_files *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "%s: out of memory", dir);
		return STRATA_ENOMEM;
	}
	if (strlen(dir) >= sizeof(w->dir)) {
		snprintf(err, errlen, "%s: path too long", dir);
		free(w);
		return STRATA_EINVAL;
	}
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	w->spare_fd = -1;
	w->prep_fd = -1;
	char sp[1100];
	spare_path(w, sp, sizeof(sp));
	(void)unlink(sp); /* left by a crash: names no segment, may be partly written */
	w->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd < 0 && errno != ENOENT) {
		snprintf(err, errlen, "%s: open: %s", dir, strerror(errno));
		free(w);
		return STRATA_EIO;
	}
	*io = (struct strata_rlog_io){
		.ctx = w, .list = io_list, .create = io_create, .remove = io_remove,
		.size = io_size, .read = io_read, .write = io_write, .write_dsync = io_write_dsync,
	};
	*out = w;
	return 0;
}

void strata_wal_files_close(struct strata_wal_files *w)
{
	if (!w)
		return;
	STRATA_ASSERT(!w->prep_running); /* the runtime waits for its preparation */
	for (size_t i = 0; i < w->nfds; i++)
		close(w->fds[i].fd);
	free(w->fds);
	if (w->spare_fd >= 0) {
		char sp[1100];
		spare_path(w, sp, sizeof(sp));
		close(w->spare_fd);
		(void)unlink(sp);
	}
	if (w->dirfd >= 0)
		close(w->dirfd);
	free(w);
}

bool strata_wal_files_spare_begin(struct strata_wal_files *w, uint64_t size)
{
	if (w->prep_running || w->spare_fd >= 0 || w->nfds == 0 || size == 0)
		return false;
	w->prep_running = true;
	w->prep_size = size;
	w->prep_fd = -1;
	w->prep_rc = 0;
	w->prep_err[0] = 0;
	return true;
}

/* On the preparing thread: touches prep_* and the spare's file only. */
void strata_wal_files_spare_prepare(struct strata_wal_files *w)
{
	char sp[1100];
	spare_path(w, sp, sizeof(sp));
	const char *what = "create";
	size_t chunk = (size_t)1 << 20;
	uint8_t *zero = calloc(1, chunk);
	int fd = open(sp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = fd < 0 || !zero ? -1 : 0;
	if (rc == 0) {
		what = "fallocate";
		rc = fallocate(fd, 0, 0, (off_t)w->prep_size);
		if (rc != 0 && (errno == EOPNOTSUPP || errno == ENOSYS))
			rc = 0; /* no fallocate here: the zero-fill allocates the blocks */
	}
	what = rc == 0 ? "write zeros" : what;
	for (uint64_t off = 0; rc == 0 && off < w->prep_size;) {
		size_t n = w->prep_size - off < chunk ? (size_t)(w->prep_size - off) : chunk;
		ssize_t k = pwrite(fd, zero, n, (off_t)off);
		if (k <= 0)
			rc = -1;
		else
			off += (uint64_t)k;
	}
	if (rc == 0) {
		what = "fdatasync";
		rc = fdatasync(fd);
	}
	if (rc != 0) {
		snprintf(w->prep_err, sizeof(w->prep_err), "%s: %s: %s", sp, what,
			 !zero && fd >= 0 ? "out of memory" : errno_text(errno));
		if (fd >= 0) {
			close(fd);
			(void)unlink(sp);
		}
		fd = -1;
	}
	free(zero);
	w->prep_fd = fd;
	w->prep_rc = rc == 0 ? 0 : STRATA_EIO;
}

int strata_wal_files_spare_done(struct strata_wal_files *w)
{
	STRATA_ASSERT(w->prep_running);
	w->prep_running = false;
	if (w->prep_rc != 0)
		return w->prep_rc;
	w->spare_fd = w->prep_fd;
	w->spare_size = w->prep_size;
	w->prep_fd = -1;
	return 0;
}

const char *strata_wal_files_spare_error(const struct strata_wal_files *w)
{
	return w->prep_err;
}

void strata_wal_files_test_refuse_dsync(struct strata_wal_files *w)
{
	w->test_refuse = true;
}

bool strata_wal_files_dsync_refused(const struct strata_wal_files *w)
{
	return w->dsync_refused;
}

int strata_wal_files_fd(struct strata_wal_files *w, uint64_t seq)
{
	return fd_of(w, seq);
}

int strata_wal_files_dirfd(const struct strata_wal_files *w)
{
	return w->dirfd;
}

const char *strata_wal_files_error(const struct strata_wal_files *w)
{
	return w->err;
}
