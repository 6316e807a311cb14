/* Stable storage on LMDB (see store.h): one environment, one unnamed database, one write
 * transaction staged per node turn; and the KV's record log (store/rlog.c) in the wal/
 * subdirectory, synced after LMDB by the same flush. */
#include "store/store.h"

#include <errno.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/error.h"
#include "store/wal_file.h"

#define STORE_DEFAULT_MAP (1ull << 30)

struct strata_store {
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *txn;    /* the open write transaction, NULL if nothing is staged */
	bool poisoned;   /* a store failed since the last sync: that sync must fail too */
	unsigned long long commits;
	unsigned long long flushes; /* written by the flushing thread only */
	unsigned long long dsyncs;  /* sync_now's groups made durable by their own write */
	/* The record log. The flush syncs LMDB (when a commit is unflushed), then the segments
	 * written (ffds) and the directory (fdir), in that order: the hard state in the log never
	 * reaches the disk before the snapshot it names. */
	struct strata_wal_files *wf;
	struct strata_rlog *wal;
	int *ffds;
	size_t nffds, capffds;
	bool fdir;
	bool lmdb_dirty;  /* an LMDB commit is not flushed yet */
	bool wal_flushed; /* the last flush succeeded: old segments may go (at the next commit) */
	char dir[1024];             /* the data directory, for error texts */
	char err[1400];
	char flush_err[1400];       /* written by the flushing thread only */
};

static int fail(struct strata_store *s, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct strata_store *s, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return code;
}

/* The text of a failed write of LMDB's file: the file, the step and LMDB's error, and the free
 * space left on its file system. A full disk does not always read as ENOSPC here: LMDB reports
 * a short write (the file system took part of a page run, then had no space) as EIO. So when
 * the file system has less free space than one segment of the record log (which the node
 * needs next anyway), the text says that the disk is full. */
static void lmdb_write_err(const struct strata_store *s, char *buf, size_t n, const char *what,
			   int rc)
{
	struct statvfs vfs;
	if ((rc == EIO || rc == ENOSPC || rc == EDQUOT) && statvfs(s->dir, &vfs) == 0) {
		unsigned long long avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
		bool full = rc == ENOSPC || avail < STRATA_STORE_WAL_SEGMENT;
		snprintf(buf, n, "store: %s/data.mdb: %s: %s (%llu bytes free on its file system%s)",
			 s->dir, what, mdb_strerror(rc), avail,
			 full ? ": the disk is full, no space left on device (ENOSPC)" : "");
		return;
	}
	snprintf(buf, n, "store: %s/data.mdb: %s: %s", s->dir, what, mdb_strerror(rc));
}

int strata_store_open(const char *dir, size_t map_size_bytes, struct strata_store **out, char *err,
		      size_t errlen)
{
	STRATA_ASSERT(dir && out);
	*out = NULL;
	struct strata_store *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "%s: out of memory", dir);
		return STRATA_ENOMEM;
	}
	if (strlen(dir) >= sizeof(s->dir)) {
		snprintf(err, errlen, "%s: path too long", dir);
		free(s);
		return STRATA_EINVAL;
	}
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	MDB_txn *txn = NULL;
	const char *what = "mdb_env_create";
	int rc = mdb_env_create(&s->env);
	if (rc == 0) {
		what = "mdb_env_set_mapsize";
		rc = mdb_env_set_mapsize(s->env, map_size_bytes ? map_size_bytes : STORE_DEFAULT_MAP);
	}
	if (rc == 0) {
		/* Default flags: every commit is fsynced (durability is the point). MDB_NOTLS lets a
		 * read-only lookup run while no write transaction is open without thread-local
		 * reader slots. */
		what = "mdb_env_open";
		rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600);
	}
	if (rc == 0) {
		what = "mdb_txn_begin";
		rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	}
	if (rc == 0) {
		what = "mdb_dbi_open";
		rc = mdb_dbi_open(txn, NULL, 0, &s->dbi);
	}
	if (rc == 0) {
		what = "mdb_txn_commit";
		rc = mdb_txn_commit(txn);
		txn = NULL;
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s: %s", dir, what, mdb_strerror(rc));
		if (txn)
			mdb_txn_abort(txn);
		if (s->env)
			mdb_env_close(s->env);
		free(s);
		return STRATA_EIO;
	}
	char wdir[4200];
	snprintf(wdir, sizeof(wdir), "%s/wal", dir);
	struct strata_rlog_io io;
	char werr[512];
	rc = strata_wal_files_open(wdir, &s->wf, &io, werr, sizeof(werr));
	if (rc == 0)
		rc = strata_rlog_open(&io, STRATA_STORE_WAL_SEGMENT, &s->wal, werr, sizeof(werr));
	if (rc != 0) {
		const char *fe = s->wf ? strata_wal_files_error(s->wf) : "";
		snprintf(err, errlen, "%s: %s%s%s", wdir, werr, fe[0] ? ": " : "", fe);
		strata_store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void strata_store_close(struct strata_store *s)
{
	if (!s)
		return;
	if (s->txn)
		mdb_txn_abort(s->txn);
	mdb_env_close(s->env);
	strata_rlog_close(s->wal);
	strata_wal_files_close(s->wf);
	free(s->ffds);
	free(s);
}

static int key_check(struct strata_store *s, const char *key, size_t *klen)
{
	*klen = key ? strlen(key) : 0;
	if (*klen == 0 || *klen > STRATA_STORE_KEY_MAX)
		return fail(s, STRATA_EINVAL, "store: key must be 1..%d bytes", STRATA_STORE_KEY_MAX);
	return 0;
}

static int write_op(struct strata_store *s, const char *key, const void *val, size_t len,
		    bool del)
{
	size_t klen;
	int rc = key_check(s, key, &klen);
	if (rc)
		return rc;
	if (s->poisoned)
		return fail(s, STRATA_EIO, "store: put '%s': an earlier store of this turn failed", key);
	if (!s->txn) {
		rc = mdb_txn_begin(s->env, NULL, 0, &s->txn);
		if (rc != 0) {
			s->txn = NULL;
			s->poisoned = true;
			return fail(s, STRATA_EIO, "store: begin: %s", mdb_strerror(rc));
		}
	}
	MDB_val k = { .mv_size = klen, .mv_data = (void *)(uintptr_t)key };
	MDB_val v = { .mv_size = len, .mv_data = (void *)(uintptr_t)(len ? val : "") };
	rc = del ? mdb_del(s->txn, s->dbi, &k, NULL) : mdb_put(s->txn, s->dbi, &k, &v, 0);
	if (del && rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0) {
		/* LMDB cannot continue a transaction after a failed put (MDB_MAP_FULL etc.). */
		mdb_txn_abort(s->txn);
		s->txn = NULL;
		s->poisoned = true;
		char what[160];
		snprintf(what, sizeof(what), "%s '%s' (%zu bytes)", del ? "del" : "put", key, len);
		lmdb_write_err(s, s->err, sizeof(s->err), what, rc);
		return STRATA_EIO;
	}
	return 0;
}

int strata_store_put(struct strata_store *s, const char *key, const void *val, size_t len)
{
	return write_op(s, key, val, len, false);
}

int strata_store_del(struct strata_store *s, const char *key)
{
	return write_op(s, key, NULL, 0, true);
}

int strata_store_get(struct strata_store *s, const char *key, struct strata_msg **out)
{
	STRATA_ASSERT(out);
	*out = NULL;
	size_t klen;
	int rc = key_check(s, key, &klen);
	if (rc)
		return rc;
	MDB_txn *txn = s->txn;
	if (!txn) {
		rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
		if (rc != 0)
			return fail(s, STRATA_EIO, "store: begin read: %s", mdb_strerror(rc));
	}
	MDB_val k = { .mv_size = klen, .mv_data = (void *)(uintptr_t)key };
	MDB_val v;
	rc = mdb_get(txn, s->dbi, &k, &v);
	int ret = 0;
	if (rc == MDB_NOTFOUND) {
		ret = STRATA_ENOENT;
	} else if (rc != 0) {
		ret = fail(s, STRATA_EIO, "store: get '%s': %s", key, mdb_strerror(rc));
	} else {
		/* LMDB's pointer is only valid inside the transaction: copy out. */
		*out = strata_msg_new(v.mv_data, v.mv_size);
		if (!*out)
			ret = fail(s, STRATA_ENOMEM, "store: get '%s': out of memory", key);
	}
	if (txn != s->txn)
		mdb_txn_abort(txn);
	return ret;
}

/* Tells the record log that the last flush made its written bytes durable (once per flush). */
static void wal_note_flushed(struct strata_store *s)
{
	if (s->wal_flushed) {
		strata_rlog_synced(s->wal);
		s->wal_flushed = false;
	}
}

/* Writes the record log's staged bytes and collects the descriptors the flush must sync. */
static int wal_stage_out(struct strata_store *s)
{
	wal_note_flushed(s);
	int rc = strata_rlog_write_staged(s->wal);
	if (rc < 0)
		return fail(s, STRATA_EIO, "store: wal: %s", strata_wal_files_error(s->wf));
	for (;;) {
		uint64_t seqs[8];
		bool dir = false;
		size_t n = strata_rlog_dirty(s->wal, seqs, 8, &dir);
		s->fdir |= dir;
		for (size_t i = 0; i < n; i++) {
			int fd = strata_wal_files_fd(s->wf, seqs[i]);
			if (fd < 0)
				return fail(s, STRATA_EIO, "store: wal: %s",
					    strata_wal_files_error(s->wf));
			if (s->nffds == s->capffds) {
				size_t nc = s->capffds ? s->capffds * 2 : 4;
				int *a = realloc(s->ffds, nc * sizeof(*a));
				if (!a)
					return fail(s, STRATA_ENOMEM, "store: wal: out of memory");
				s->ffds = a;
				s->capffds = nc;
			}
			s->ffds[s->nffds++] = fd;
		}
		if (n < 8)
			break;
	}
	return s->nffds > 0 || s->fdir;
}

/* The flush: LMDB first, then the record log's segments and directory. */
static int flush_all(struct strata_store *s, char *err, size_t errlen)
{
	if (s->lmdb_dirty) {
		int rc = mdb_env_sync(s->env, 1);
		if (rc != 0) {
			lmdb_write_err(s, err, errlen, "sync", rc);
			return STRATA_EIO;
		}
		s->lmdb_dirty = false;
	}
	for (size_t i = 0; i < s->nffds; i++)
		if (fdatasync(s->ffds[i]) != 0) {
			snprintf(err, errlen, "store: wal: fdatasync: %s", strerror(errno));
			return STRATA_EIO;
		}
	if (s->fdir && strata_wal_files_dirfd(s->wf) >= 0 &&
	    fsync(strata_wal_files_dirfd(s->wf)) != 0) {
		snprintf(err, errlen, "store: wal: fsync of the directory: %s", strerror(errno));
		return STRATA_EIO;
	}
	s->nffds = 0;
	s->fdir = false;
	s->wal_flushed = true;
	return 0;
}

/* The tail of every commit after LMDB's part (work: it committed a transaction): write the
 * record log's staged bytes and count the commit. 1 if there was a commit, 0 if nothing was to
 * do, < 0 on failure. */
static int stage_commit(struct strata_store *s, bool work)
{
	int w = wal_stage_out(s);
	if (w < 0)
		return w;
	if (!work && !w)
		return 0;
	s->commits++;
	return 1;
}

/* The tail of a synced commit, shared by strata_store_sync and strata_store_sync_now:
 * stage_commit, then flush LMDB and every descriptor the log dirtied. 1 if a commit was made
 * durable, 0 if there was nothing to do, < 0 on failure (s->err says why). */
static int stage_and_flush(struct strata_store *s, bool work)
{
	int rc = stage_commit(s, work);
	if (rc <= 0)
		return rc;
	if (flush_all(s, s->err, sizeof(s->err)) != 0)
		return STRATA_EIO;
	s->flushes++;
	return 1;
}

int strata_store_sync(struct strata_store *s)
{
	if (s->poisoned) {
		s->poisoned = false; /* the lost turn is reported once; the next turn starts clean */
		return fail(s, STRATA_EIO, "store: sync: a store of this turn failed, turn not durable");
	}
	bool work = false;
	if (s->txn) {
		int rc = mdb_txn_commit(s->txn);
		s->txn = NULL; /* commit frees the transaction even when it fails */
		if (rc != 0) {
			lmdb_write_err(s, s->err, sizeof(s->err), "commit", rc);
			return STRATA_EIO;
		}
		work = true;
	}
	int rc = stage_and_flush(s, work);
	return rc < 0 ? rc : 0;
}

/* The LMDB part of a commit without a flush: 1 if a transaction was committed (lmdb_dirty: a
 * flush must follow), 0 if none was open, < 0 on failure. */
static int lmdb_commit_nosync(struct strata_store *s)
{
	if (s->poisoned) {
		s->poisoned = false;
		return fail(s, STRATA_EIO, "store: sync: a store of this turn failed, turn not durable");
	}
	if (!s->txn)
		return 0;
	/* No flush runs now (the caller's contract), so switching the flag is race-free. */
	int rc = mdb_env_set_flags(s->env, MDB_NOSYNC, 1);
	if (rc == 0)
		rc = mdb_txn_commit(s->txn);
	else
		mdb_txn_abort(s->txn);
	s->txn = NULL;
	int rc2 = mdb_env_set_flags(s->env, MDB_NOSYNC, 0);
	if (rc != 0) {
		lmdb_write_err(s, s->err, sizeof(s->err), "commit", rc);
		return STRATA_EIO;
	}
	if (rc2 != 0)
		return fail(s, STRATA_EIO, "store: set flags: %s", mdb_strerror(rc2));
	s->lmdb_dirty = true;
	return 1;
}

int strata_store_commit_nosync(struct strata_store *s)
{
	int work = lmdb_commit_nosync(s);
	if (work < 0)
		return work;
	/* After the LMDB commit: a process crash from here on keeps that commit. */
	return stage_commit(s, work);
}

int strata_store_sync_now(struct strata_store *s, bool *dsync)
{
	*dsync = false;
	int work = lmdb_commit_nosync(s);
	if (work < 0)
		return work;
	if (!s->lmdb_dirty && s->nffds == 0 && !s->fdir) {
		/* Nothing else waits for a flush: the record log's group may be durable by its own
		 * write (rlog.c decides; it knows whether anything else of the log is unsynced). */
		wal_note_flushed(s);
		int w = strata_rlog_write_staged_dsync(s->wal);
		if (w < 0)
			return fail(s, STRATA_EIO, "store: wal: %s", strata_wal_files_error(s->wf));
		if (w == 2) {
			s->commits++;
			s->flushes++;
			s->dsyncs++;
			s->wal_flushed = true;
			*dsync = true;
			return 1;
		}
		/* Written (or nothing staged): the segments it dirtied are collected below. */
	}
	return stage_and_flush(s, work);
}

unsigned long long strata_store_dsyncs(const struct strata_store *s)
{
	return s->dsyncs;
}

uint64_t strata_store_staged_bytes(const struct strata_store *s)
{
	return strata_rlog_staged_bytes(s->wal);
}

void strata_store_test_refuse_dsync(struct strata_store *s)
{
	strata_wal_files_test_refuse_dsync(s->wf);
}

int strata_store_flush(struct strata_store *s)
{
	if (flush_all(s, s->flush_err, sizeof(s->flush_err)) != 0)
		return STRATA_EIO;
	s->flushes++;
	return 0;
}

struct strata_rlog *strata_store_wal(struct strata_store *s)
{
	return s ? s->wal : NULL;
}

bool strata_store_spare_begin(struct strata_store *s)
{
	return strata_wal_files_spare_begin(s->wf, STRATA_STORE_WAL_SEGMENT);
}

void strata_store_spare_prepare(struct strata_store *s)
{
	strata_wal_files_spare_prepare(s->wf);
}

int strata_store_spare_done(struct strata_store *s)
{
	int rc = strata_wal_files_spare_done(s->wf);
	if (rc)
		return fail(s, rc, "store: wal: %s", strata_wal_files_spare_error(s->wf));
	return 0;
}

const char *strata_store_flush_error(const struct strata_store *s)
{
	return s->flush_err;
}

unsigned long long strata_store_flushes(const struct strata_store *s)
{
	return s->flushes;
}

const char *strata_store_error(const struct strata_store *s)
{
	return s->err;
}

unsigned long long strata_store_commits(const struct strata_store *s)
{
	return s->commits;
}
