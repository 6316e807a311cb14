/* Stable storage on LMDB (see store.h): one environment, one unnamed database, one write
 * transaction staged per node turn. */
#include "store/store.h"

#include <lmdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"

#define STORE_DEFAULT_MAP (1ull << 30)

struct strata_store {
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *txn;    /* the open write transaction, NULL if nothing is staged */
	bool poisoned;   /* a store failed since the last sync: that sync must fail too */
	unsigned long long commits;
	unsigned long long flushes; /* written by the flushing thread only */
	char err[256];
	char flush_err[256];        /* written by the flushing thread only */
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
		return fail(s, STRATA_EIO, "store: %s '%s' (%zu bytes): %s", del ? "del" : "put", key,
			    len, mdb_strerror(rc));
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

int strata_store_sync(struct strata_store *s)
{
	if (s->poisoned) {
		s->poisoned = false; /* the lost turn is reported once; the next turn starts clean */
		return fail(s, STRATA_EIO, "store: sync: a store of this turn failed, turn not durable");
	}
	if (!s->txn)
		return 0;
	int rc = mdb_txn_commit(s->txn);
	s->txn = NULL; /* commit frees the transaction even when it fails */
	if (rc != 0)
		return fail(s, STRATA_EIO, "store: commit: %s", mdb_strerror(rc));
	s->commits++;
	return 0;
}

int strata_store_commit_nosync(struct strata_store *s)
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
	if (rc != 0)
		return fail(s, STRATA_EIO, "store: commit: %s", mdb_strerror(rc));
	if (rc2 != 0)
		return fail(s, STRATA_EIO, "store: set flags: %s", mdb_strerror(rc2));
	s->commits++;
	return 1;
}

int strata_store_flush(struct strata_store *s)
{
	int rc = mdb_env_sync(s->env, 1);
	if (rc != 0) {
		snprintf(s->flush_err, sizeof(s->flush_err), "store: sync: %s", mdb_strerror(rc));
		return STRATA_EIO;
	}
	s->flushes++;
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
