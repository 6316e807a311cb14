/* Where a KV put's durability time goes at c=1: the storage steps of one follower turn, each
 * timed alone on the same disk in the same run (docs/benchmarks.md, "The c=1 floor").
 *
 *   bench_store [--dir DIR] [--iters N] [--size BYTES] [--json]
 *
 *   lmdb       what a follower's turn stores for one APPEND (src/smr/wal.c through
 *              src/store/lmdb.c): one log entry of BYTES and the hard state staged, committed
 *              without a sync (strata_store_commit_nosync, on the loop thread), then
 *              strata_store_flush (mdb_env_sync: the fdatasync, on the sync thread)
 *   lmdb_flush the flush alone (the part the sync thread waits for)
 *   wal        what a follower's turn stores for one APPEND today (src/smr/wal.c through
 *              src/store/rlog.c): the entry and the hard state as two records of the record
 *              log, written in one pwrite by strata_store_commit_nosync, then strata_store_flush
 *              (one fdatasync of the preallocated segment)
 *   wal_zeroed the same as wal in a segment prepared ahead (zero-filled, synced, renamed in: the
 *              record log's spare, store/wal_file.c), where wal writes into the first segment of a
 *              log, fallocated only (its first write into each block converts an unwritten extent)
 *   wal_dsync  what a follower's turn for one APPEND costs since the ninth session: the same two
 *              records in the same zero-filled segment, made durable by strata_store_sync_now
 *              on the calling thread, whose one write is a pwritev2 with RWF_DSYNC and no
 *              fdatasync when nothing else is unsynced (store/wal_file.c); interleaved with
 *              wal_zeroed (pwrite + fdatasync), so wal_dsync / wal_zeroed is the change
 *   prealloc   the floor's storage step: pwrite BYTES into a preallocated, synced file, then
 *              fdatasync (what an append-only log with preallocated segments costs)
 *   append     pwrite BYTES at the end of a growing file, then fdatasync (a log without
 *              preallocation: every sync also journals the new size)
 *   pair_*     the disk step of a 3-node put (it waits for both followers' syncs, two files on
 *              one disk at once): BYTES into a preallocated, zero-filled, synced file, one
 *              writer (`solo`) or two threads on two files released together (`pair`: the slower
 *              of the two), with pwrite + fdatasync (`fsync`) or one pwritev2 RWF_DSYNC
 *              (`dsync`); the four interleaved per iteration
 *   handoff    the sync thread's round trip with nothing to do: uv_queue_work of an empty job
 *              until its after-callback runs on the loop (what the runtime adds to every sync)
 *
 * lmdb, wal, wal_zeroed and prealloc run interleaved (one of each per iteration), so a loaded disk weighs
 * on the three alike. Each: median, p90 and p99 in microseconds over N iterations (after N/10
 * warm-up). The ratios lmdb / prealloc, wal / prealloc and (wal + handoff) / prealloc say how
 * far one follower turn is from the floor's single fdatasync. Timings, not assertions: `make
 * bench` prints them. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/uio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "core/msg.h"
#include "store/rlog.h"
#include "store/store.h"

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct stat3 {
	double p50, p90, p99;
};

static struct stat3 stats(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	struct stat3 s = { v[n / 2], v[n * 9 / 10], v[n * 99 / 100] };
	return s;
}

struct handoff {
	uv_work_t w;
	double t0, dt;
	int done;
};

static void ho_work(uv_work_t *w)
{
	(void)w;
}

static void ho_after(uv_work_t *w, int status)
{
	(void)status;
	struct handoff *h = w->data;
	h->dt = now_us() - h->t0;
	h->done = 1;
}

static int die(const char *what)
{
	fprintf(stderr, "bench_store: %s: %s\n", what, strerror(errno));
	return 1;
}

/* ---- pair_*: two writers on two files at once ---- */

struct pw {
	int fd;
	const char *buf;
	size_t size, slot, slots;
	pthread_barrier_t *go, *done;
	int mode; /* 0 fsync, 1 dsync, -1 stop */
	size_t i;
	double dt;
	bool skip; /* this iteration: the second writer sits out (solo) */
	int rc;
};

static double one_write(int fd, const char *buf, size_t size, off_t off, int mode, int *rc)
{
	double t0 = now_us();
	if (mode == 0) {
		if (pwrite(fd, buf, size, off) != (ssize_t)size || fdatasync(fd) != 0)
			*rc = -1;
	} else {
		struct iovec iov = { .iov_base = (void *)(uintptr_t)buf, .iov_len = size };
		if (pwritev2(fd, &iov, 1, off, RWF_DSYNC) != (ssize_t)size)
			*rc = -1;
	}
	return now_us() - t0;
}

static void *pw_thread(void *arg)
{
	struct pw *p = arg;
	for (;;) {
		pthread_barrier_wait(p->go);
		if (p->mode < 0)
			return NULL;
		p->dt = p->skip ? 0 : one_write(p->fd, p->buf, p->size,
						 (off_t)((p->i % p->slots) * p->slot), p->mode, &p->rc);
		pthread_barrier_wait(p->done);
	}
}

static int pw_file(const char *path, size_t slot, size_t slots)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	char *z = calloc(1, slot);
	for (size_t i = 0; fd >= 0 && z && i < slots; i++)
		if (pwrite(fd, z, slot, (off_t)(i * slot)) != (ssize_t)slot) {
			close(fd);
			fd = -1;
		}
	free(z);
	if (fd >= 0 && fsync(fd) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	const char *dir = "/tmp";
	size_t iters = 500, size = 200;
	int json = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--iters") && i + 1 < argc) {
			iters = strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
			size = strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else {
			fprintf(stderr, "usage: bench_store [--dir DIR] [--iters N] [--size BYTES] "
					"[--json]\n");
			return 2;
		}
	}
	if (iters < 20 || size == 0 || size > (1u << 20)) {
		fprintf(stderr, "bench_store: --iters at least 20, --size 1..1048576\n");
		return 2;
	}
	size_t warm = iters / 10;
	char path[4096];
	snprintf(path, sizeof(path), "%s/bench-store.XXXXXX", dir);
	if (!mkdtemp(path))
		return die("mkdtemp");
	char *buf = malloc(size);
	double *t = malloc((iters + warm) * sizeof(*t));
	if (!buf || !t)
		return die("malloc");
	memset(buf, 'x', size);
	struct stat3 r_lmdb, r_flush, r_wal, r_walz, r_wald, r_pre, r_app, r_ho;
	size_t ndsync = 0;

	/* lmdb (an entry and the hard state per turn, as a follower stored one APPEND before the
	 * record log), wal (the same through the record log) and prealloc (the floor's fdatasync),
	 * interleaved */
	struct strata_store *st = NULL;
	char err[256];
	if (strata_store_open(path, 0, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_store: %s\n", err);
		return 1;
	}
	struct strata_rlog *wal = strata_store_wal(st);
	/* wal_zeroed: a second store whose log fills its first segment's start, prepares the spare
	 * and rolls into it with 64 KiB records; the timed appends then go into the spare. */
	char zpath[4200];
	snprintf(zpath, sizeof(zpath), "%s/z", path);
	struct strata_store *zst = NULL;
	if (mkdir(zpath, 0700) != 0 || strata_store_open(zpath, 0, &zst, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_store: %s\n", zst ? err : strerror(errno));
		return 1;
	}
	struct strata_rlog *zwal = strata_store_wal(zst);
	size_t fill = (size_t)64 << 10;
	char *fbuf = calloc(1, fill);
	uint64_t zidx = 1;
	if (!fbuf || strata_rlog_put(zwal, zidx++, "x", 1) != 0 ||
	    strata_store_commit_nosync(zst) < 0 || strata_store_flush(zst) != 0 ||
	    !strata_store_spare_begin(zst))
		return die("wal_zeroed: first segment");
	strata_store_spare_prepare(zst);
	if (strata_store_spare_done(zst) != 0) {
		fprintf(stderr, "bench_store: %s\n", strata_store_error(zst));
		return 1;
	}
	for (uint64_t segs = strata_rlog_stats(zwal)->segments_created; ;) {
		if (strata_rlog_put(zwal, zidx++, fbuf, fill) != 0 || strata_store_commit_nosync(zst) < 0 ||
		    strata_store_flush(zst) != 0)
			return die("wal_zeroed: fill");
		if (strata_rlog_stats(zwal)->segments_created > segs)
			break; /* the last fill record opened the spare */
	}
	free(fbuf);
	double *tf = malloc((iters + warm) * sizeof(*tf));
	double *tw = malloc((iters + warm) * sizeof(*tw));
	double *tz = malloc((iters + warm) * sizeof(*tz));
	double *tp = malloc((iters + warm) * sizeof(*tp));
	double *td = malloc((iters + warm) * sizeof(*td));
	if (!tf || !tw || !tz || !tp || !td)
		return die("malloc");
	char fpath[4200];
	snprintf(fpath, sizeof(fpath), "%s/prealloc", path);
	int fd = open(fpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return die("open prealloc");
	size_t slots = 64, slot = (size + 4095) / 4096 * 4096;
	char *zero = calloc(1, slot);
	for (size_t i = 0; i < slots; i++)
		if (!zero || pwrite(fd, zero, slot, (off_t)(i * slot)) != (ssize_t)slot)
			return die("preallocate");
	if (fsync(fd) != 0)
		return die("fsync");
	for (size_t i = 0; i < iters + warm; i++) {
		char key[64];
		snprintf(key, sizeof(key), "log/kv/%016zx", i);
		double t0 = now_us();
		if (strata_store_put(st, key, buf, size) != 0 ||
		    strata_store_put(st, "smr/hs", buf, 64) != 0 ||
		    strata_store_commit_nosync(st) < 0) {
			fprintf(stderr, "bench_store: %s\n", strata_store_error(st));
			return 1;
		}
		double t1 = now_us();
		if (strata_store_flush(st) != 0) {
			fprintf(stderr, "bench_store: %s\n", strata_store_flush_error(st));
			return 1;
		}
		double t2 = now_us();
		t[i] = t2 - t0;
		tf[i] = t2 - t1;

		t0 = now_us();
		if (strata_rlog_put(wal, i + 1, buf, size) != 0 ||
		    strata_rlog_meta_put(wal, buf, 64) != 0 || strata_store_commit_nosync(st) < 0) {
			fprintf(stderr, "bench_store: wal: %s\n", strata_store_error(st));
			return 1;
		}
		if (strata_store_flush(st) != 0) {
			fprintf(stderr, "bench_store: %s\n", strata_store_flush_error(st));
			return 1;
		}
		tw[i] = now_us() - t0;

		t0 = now_us();
		if (strata_rlog_put(zwal, zidx++, buf, size) != 0 ||
		    strata_rlog_meta_put(zwal, buf, 64) != 0 || strata_store_commit_nosync(zst) < 0 ||
		    strata_store_flush(zst) != 0) {
			fprintf(stderr, "bench_store: wal_zeroed: %s\n", strata_store_error(zst));
			return 1;
		}
		tz[i] = now_us() - t0;

		t0 = now_us();
		bool ds = false;
		if (strata_rlog_put(zwal, zidx++, buf, size) != 0 ||
		    strata_rlog_meta_put(zwal, buf, 64) != 0 || strata_store_sync_now(zst, &ds) < 0) {
			fprintf(stderr, "bench_store: wal_dsync: %s\n", strata_store_error(zst));
			return 1;
		}
		td[i] = now_us() - t0;
		ndsync += ds && i >= warm;

		t0 = now_us();
		if (pwrite(fd, buf, size, (off_t)((i % slots) * slot)) != (ssize_t)size ||
		    fdatasync(fd) != 0)
			return die("pwrite/fdatasync");
		tp[i] = now_us() - t0;
	}
	r_lmdb = stats(t + warm, iters);
	r_flush = stats(tf + warm, iters);
	r_wal = stats(tw + warm, iters);
	r_walz = stats(tz + warm, iters);
	r_wald = stats(td + warm, iters);
	if (strata_rlog_stats(zwal)->segments_created != 2)
		fprintf(stderr, "bench_store: wal_zeroed ran past its prepared segment (fewer "
				"--iters or a smaller --size keep it inside)\n");
	strata_store_close(zst);
	{
		static const char *const zf[] = { "data.mdb", "lock.mdb", "wal/0000000000000001.wal",
						  "wal/0000000000000002.wal", "wal/spare", "wal" };
		char zp[4400];
		for (size_t k = 0; k < sizeof(zf) / sizeof(zf[0]); k++) {
			snprintf(zp, sizeof(zp), "%s/%s", zpath, zf[k]);
			if (k + 1 < sizeof(zf) / sizeof(zf[0]))
				unlink(zp);
			else
				rmdir(zp);
		}
		rmdir(zpath);
	}	r_pre = stats(tp + warm, iters);
	strata_store_close(st);
	close(fd);
	unlink(fpath);

	/* append: a growing file */
	snprintf(fpath, sizeof(fpath), "%s/append", path);
	fd = open(fpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return die("open append");
	for (size_t i = 0; i < iters + warm; i++) {
		double t0 = now_us();
		if (pwrite(fd, buf, size, (off_t)(i * size)) != (ssize_t)size || fdatasync(fd) != 0)
			return die("append/fdatasync");
		t[i] = now_us() - t0;
	}
	r_app = stats(t + warm, iters);
	close(fd);
	unlink(fpath);

	/* pair_*: solo and pair, pwrite + fdatasync and RWF_DSYNC, interleaved */
	struct stat3 r_pair[4]; /* fsync solo, fsync pair, dsync solo, dsync pair */
	{
		char pa[4200], pb[4200];
		snprintf(pa, sizeof(pa), "%s/pair-a", path);
		snprintf(pb, sizeof(pb), "%s/pair-b", path);
		int fa = pw_file(pa, slot, slots), fb = pw_file(pb, slot, slots);
		if (fa < 0 || fb < 0)
			return die("pair files");
		pthread_barrier_t go, done;
		pthread_barrier_init(&go, NULL, 2);
		pthread_barrier_init(&done, NULL, 2);
		struct pw p = { .fd = fb, .buf = buf, .size = size, .slot = slot, .slots = slots,
				.go = &go, .done = &done };
		pthread_t th;
		if (pthread_create(&th, NULL, pw_thread, &p) != 0)
			return die("pthread_create");
		double *tv[4];
		for (int k = 0; k < 4; k++)
			if (!(tv[k] = malloc((iters + warm) * sizeof(double))))
				return die("malloc");
		int rc = 0;
		for (size_t i = 0; i < iters + warm; i++)
			for (int k = 0; k < 4; k++) {
				p.mode = k / 2;
				p.i = i;
				p.skip = (k % 2) == 0;
				pthread_barrier_wait(&go);
				double a = one_write(fa, buf, size, (off_t)((i % slots) * slot), k / 2, &rc);
				pthread_barrier_wait(&done);
				tv[k][i] = a > p.dt ? a : p.dt;
			}
		p.mode = -1;
		pthread_barrier_wait(&go);
		pthread_join(th, NULL);
		if (rc || p.rc)
			return die("pair: write/sync");
		for (int k = 0; k < 4; k++) {
			r_pair[k] = stats(tv[k] + warm, iters);
			free(tv[k]);
		}
		close(fa);
		close(fb);
		unlink(pa);
		unlink(pb);
	}

	/* handoff: the sync thread's round trip */
	uv_loop_t loop;
	uv_loop_init(&loop);
	for (size_t i = 0; i < iters + warm; i++) {
		struct handoff h = { .t0 = now_us() };
		h.w.data = &h;
		if (uv_queue_work(&loop, &h.w, ho_work, ho_after) != 0)
			return die("uv_queue_work");
		while (!h.done)
			uv_run(&loop, UV_RUN_ONCE);
		t[i] = h.dt;
	}
	r_ho = stats(t + warm, iters);
	uv_loop_close(&loop);

	/* the LMDB files and the record log's segment */
	snprintf(fpath, sizeof(fpath), "%s/data.mdb", path);
	unlink(fpath);
	snprintf(fpath, sizeof(fpath), "%s/lock.mdb", path);
	unlink(fpath);
	snprintf(fpath, sizeof(fpath), "%s/wal/0000000000000001.wal", path);
	unlink(fpath);
	snprintf(fpath, sizeof(fpath), "%s/wal", path);
	rmdir(fpath);
	rmdir(path);

	double ratio = r_lmdb.p50 / r_pre.p50, ratio_w = r_wal.p50 / r_pre.p50,
	       ratio_ho = (r_wal.p50 + r_ho.p50) / r_pre.p50;
	if (json) {
		printf("{\"iters\":%zu,\"size\":%zu,\"lmdb_us\":[%.1f,%.1f,%.1f],"
		       "\"lmdb_flush_us\":[%.1f,%.1f,%.1f],\"wal_us\":[%.1f,%.1f,%.1f],"
		       "\"wal_zeroed_us\":[%.1f,%.1f,%.1f],\"wal_dsync_us\":[%.1f,%.1f,%.1f],"
		       "\"wal_dsync_share\":%.3f,\"wal_dsync_over_wal_zeroed\":%.2f,"
		       "\"prealloc_us\":[%.1f,%.1f,%.1f],"
		       "\"append_us\":[%.1f,%.1f,%.1f],\"handoff_us\":[%.1f,%.1f,%.1f],"
		       "\"pair_fsync_solo_us\":%.1f,\"pair_fsync_pair_us\":%.1f,"
		       "\"pair_dsync_solo_us\":%.1f,\"pair_dsync_pair_us\":%.1f,"
		       "\"lmdb_over_prealloc\":%.2f,\"wal_over_prealloc\":%.2f,"
		       "\"wal_handoff_over_prealloc\":%.2f,\"wal_zeroed_over_prealloc\":%.2f}\n",
		       iters, size, r_lmdb.p50, r_lmdb.p90, r_lmdb.p99, r_flush.p50, r_flush.p90,
		       r_flush.p99, r_wal.p50, r_wal.p90, r_wal.p99, r_walz.p50, r_walz.p90,
		       r_walz.p99, r_wald.p50, r_wald.p90, r_wald.p99, (double)ndsync / (double)iters,
		       r_wald.p50 / r_walz.p50, r_pre.p50, r_pre.p90, r_pre.p99,
		       r_app.p50, r_app.p90, r_app.p99, r_ho.p50, r_ho.p90, r_ho.p99, r_pair[0].p50,
		       r_pair[1].p50, r_pair[2].p50, r_pair[3].p50, ratio, ratio_w,
		       ratio_ho, r_walz.p50 / r_pre.p50);
	} else {
		printf("store (%zu iterations of %zu bytes in %s), us p50 / p90 / p99:\n", iters, size,
		       dir);
		printf("  lmdb       %8.1f %8.1f %8.1f   (entry + hard state in LMDB, commit, flush)\n",
		       r_lmdb.p50, r_lmdb.p90, r_lmdb.p99);
		printf("  lmdb_flush %8.1f %8.1f %8.1f   (the flush alone)\n", r_flush.p50,
		       r_flush.p90, r_flush.p99);
		printf("  wal        %8.1f %8.1f %8.1f   (entry + hard state in the record log, write, "
		       "flush)\n", r_wal.p50, r_wal.p90, r_wal.p99);
		printf("  wal_zeroed %8.1f %8.1f %8.1f   (the same in a zero-filled spare segment)\n",
		       r_walz.p50, r_walz.p90, r_walz.p99);
		printf("  wal_dsync  %8.1f %8.1f %8.1f   (the same, one pwritev2 RWF_DSYNC: %zu of %zu "
		       "groups)\n", r_wald.p50, r_wald.p90, r_wald.p99, ndsync, iters);
		printf("  prealloc   %8.1f %8.1f %8.1f   (pwrite + fdatasync, preallocated: the floor)\n",
		       r_pre.p50, r_pre.p90, r_pre.p99);
		printf("  append     %8.1f %8.1f %8.1f   (pwrite + fdatasync, growing file)\n",
		       r_app.p50, r_app.p90, r_app.p99);
		printf("  pair: pwrite + fdatasync one writer %.1f, two at once %.1f (x%.2f); RWF_DSYNC "
		       "one %.1f, two at once %.1f (x%.2f); two RWF_DSYNC / two fdatasync x%.2f (p50)\n",
		       r_pair[0].p50, r_pair[1].p50, r_pair[1].p50 / r_pair[0].p50, r_pair[2].p50,
		       r_pair[3].p50, r_pair[3].p50 / r_pair[2].p50, r_pair[3].p50 / r_pair[1].p50);
		printf("  handoff    %8.1f %8.1f %8.1f   (sync thread round trip, no work)\n",
		       r_ho.p50, r_ho.p90, r_ho.p99);
		printf("  lmdb / prealloc = x%.2f; wal / prealloc = x%.2f; (wal + handoff) / prealloc "
		       "= x%.2f; wal_zeroed / prealloc = x%.2f\n", ratio, ratio_w, ratio_ho,
		       r_walz.p50 / r_pre.p50);
		printf("  wal_dsync / wal_zeroed = x%.2f (same segment, interleaved)\n",
		       r_wald.p50 / r_walz.p50);
	}
	free(buf);
	free(td);
	free(t);
	free(tf);
	free(tw);
	free(tp);
	free(zero);
	return 0;
}
