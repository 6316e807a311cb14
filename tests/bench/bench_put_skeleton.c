/* The least a replicated put at c=1 can cost on this machine: the put's messages and syncs
 * with nothing else (docs/benchmarks.md, "Session 17: the put's skeleton").
 *
 *   bench_put_skeleton --dir DIR [--mode raft|par|thrifty|direct] [--total N] [--warmup N]
 *                      [--sched batch|normal] [--json]
 *
 * Four processes, as a 3-node cluster and its client are: the client sends a 128-byte request
 * over TCP (loopback, TCP_NODELAY) and waits; the leader reads it whole with one blocking recv,
 * sends a 160-byte APPEND datagram to each follower in one sendmmsg; a follower reads it with
 * one blocking recv, writes 160 bytes into a preallocated, zero-filled, synced file of its own
 * in DIR (pwrite, then fdatasync) and answers with a 16-byte datagram. No event loop, no
 * encoding, no logging: each process blocks in the one call it waits on, so what a put costs
 * here is the hops, the wakes and the syncs of the disk, and any implementation's put is above
 * it. The modes are who waits for what:
 *   raft     the leader waits for both followers' answers, then replies to the client over TCP
 *            (strata's default at N = 3: the followers' two syncs make the majority, the
 *            leader's own store is off the path)
 *   par      the leader also writes and syncs its own copy after sending, and replies once its
 *            sync and one follower's answer are in ([smr] leader_sync_parallel)
 *   thrifty  the leader sends to one follower only, syncs its own copy, and replies once that
 *            and the follower's answer are in ([smr] thrifty)
 *   direct   the followers answer the client itself (a UDP datagram each), and the client takes
 *            the put as done when both answers are in: one hop fewer than raft (the followers
 *            acknowledging straight to the client, CURP's idea; not something strata does)
 * --sched batch (the default, as stratad's) puts every process under SCHED_BATCH.
 * Prints p50, p90, p99 in ms over N puts after the warm-up; timings, not assertions. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { REQ = 128, APP = 160, ACK = 16, NBLK = 64 };
enum mode { RAFT, PAR, THRIFTY, DIRECT };

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_put_skeleton: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int udp_bound(struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	socklen_t len = sizeof *addr;
	if (fd < 0)
		die("socket");
	memset(addr, 0, sizeof *addr);
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)addr, sizeof *addr) != 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &len) != 0)
		die("bind udp");
	return fd;
}

/* A preallocated file as a write-ahead log's segment is: zero-filled and synced first, so each
 * later fdatasync flushes data only. */
static int prealloc(const char *dir, const char *name)
{
	char path[4096];
	static char zero[NBLK * 4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die(path);
	if (pwrite(fd, zero, sizeof zero, 0) != (ssize_t)sizeof zero || fsync(fd) != 0)
		die("prealloc");
	return fd;
}

static int use_dsync; /* --write dsync: one pwritev2 with RWF_DSYNC instead of pwrite + fdatasync */

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* SKEL_STORE_TIMES=1: each process prints the median of its own write + sync at exit. */
static double store_us[200000];
static size_t nstore;

static void store_report(const char *who)
{
	if (getenv("SKEL_STORE_TIMES") && nstore > 0) {
		size_t n = nstore < 200000 ? nstore : 200000;
		qsort(store_us, n, sizeof *store_us, cmp_d);
		fprintf(stderr, "%s: store p50 %.1f us over %zu\n", who, store_us[n / 2], n);
	}
}

static void store_raw(int fd, uint64_t i, const char *buf);

static void store(int fd, uint64_t i, const char *buf)
{
	double t = now_us();
	store_raw(fd, i, buf);
	if (nstore < 200000)
		store_us[nstore] = now_us() - t;
	nstore++;
}

static void store_raw(int fd, uint64_t i, const char *buf)
{
	off_t off = (off_t)((i % NBLK) * 4096);
	if (use_dsync) {
		struct iovec v = {(void *)buf, APP};
		if (pwritev2(fd, &v, 1, off, RWF_DSYNC) != APP)
			die("store");
		return;
	}
	if (pwrite(fd, buf, APP, off) != APP || fdatasync(fd) != 0)
		die("store");
}

static void set_sched(int batch)
{
	struct sched_param p = {0};
	if (batch && sched_setscheduler(0, SCHED_BATCH, &p) != 0)
		die("SCHED_BATCH");
	alarm(600); /* a lost datagram would leave a process blocked: nothing outlives this */
}

/* A follower: each APPEND is stored and synced, then answered (to the leader or the client). */
static void follower(int sock, int file, const struct sockaddr_in *to)
{
	char buf[APP];
	for (uint64_t i = 0;; i++) {
		ssize_t n = recv(sock, buf, sizeof buf, 0);
		if (n <= 1) { /* the leader's one-byte farewell */
			store_report("follower");
			_exit(0);
		}
		store(file, i, buf);
		if (sendto(sock, buf, ACK, 0, (const struct sockaddr *)to, sizeof *to) != ACK)
			die("follower sendto");
	}
}

static void leader(enum mode mode, int lsock, int tcp_listen, int file,
		   const struct sockaddr_in fol[2])
{
	int conn = accept(tcp_listen, NULL, NULL);
	int one = 1;
	char req[REQ], app[APP], ack[ACK];
	if (conn < 0)
		die("accept");
	setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	memset(app, 'a', sizeof app);
	for (uint64_t i = 0;; i++) {
		ssize_t n = recv(conn, req, sizeof req, MSG_WAITALL);
		if (n != REQ)
			break;
		memcpy(app, req, 8); /* the put's sequence number */
		struct iovec iov[2] = {{app, APP}, {app, APP}};
		struct mmsghdr m[2];
		memset(m, 0, sizeof m);
		for (int k = 0; k < 2; k++) {
			m[k].msg_hdr.msg_name = (void *)&fol[k];
			m[k].msg_hdr.msg_namelen = sizeof fol[k];
			m[k].msg_hdr.msg_iov = &iov[k];
			m[k].msg_hdr.msg_iovlen = 1;
		}
		unsigned int nsend = mode == THRIFTY ? 1 : 2;
		if (sendmmsg(lsock, m, nsend, 0) != (int)nsend)
			die("sendmmsg");
		if (mode == DIRECT)
			continue; /* the followers answer the client */
		if (mode == PAR || mode == THRIFTY)
			store(file, i, app);
		int need = mode == RAFT ? 2 : 1;
		while (need > 0) {
			if (recv(lsock, ack, sizeof ack, 0) != ACK)
				die("leader recv");
			if (memcmp(ack, req, 8) == 0)
				need--; /* a late answer to an earlier put does not count */
		}
		if (send(conn, ack, ACK, 0) != ACK)
			die("leader send");
	}
	char q = 'q';
	for (int k = 0; k < 2; k++)
		sendto(lsock, &q, 1, 0, (const struct sockaddr *)&fol[k], sizeof fol[k]);
	store_report("leader");
	_exit(0);
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	enum mode mode = RAFT;
	long total = 5000, warmup = 500;
	int batch = 1, json = 0;
	static const char *names[] = {"raft", "par", "thrifty", "direct"};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--json") == 0) {
			json = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "bench_put_skeleton: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (strcmp(a, "--dir") == 0)
			dir = v;
		else if (strcmp(a, "--total") == 0)
			total = atol(v);
		else if (strcmp(a, "--warmup") == 0)
			warmup = atol(v);
		else if (strcmp(a, "--write") == 0 && (strcmp(v, "dsync") == 0 || strcmp(v, "fdatasync") == 0))
			use_dsync = strcmp(v, "dsync") == 0;
		else if (strcmp(a, "--sched") == 0 && (strcmp(v, "batch") == 0 || strcmp(v, "normal") == 0))
			batch = strcmp(v, "batch") == 0;
		else if (strcmp(a, "--mode") == 0) {
			int k;
			for (k = 0; k < 4 && strcmp(v, names[k]) != 0; k++)
				;
			if (k == 4) {
				fprintf(stderr, "bench_put_skeleton: --mode is raft, par, thrifty or direct\n");
				return 2;
			}
			mode = (enum mode)k;
		} else {
			fprintf(stderr, "usage: bench_put_skeleton --dir DIR [--mode raft|par|thrifty|direct] "
					"[--total N] [--warmup N] [--sched batch|normal] [--write fdatasync|dsync] [--json]\n");
			return 2;
		}
	}
	if (!dir || total < 1 || warmup < 0) {
		fprintf(stderr, "bench_put_skeleton: --dir DIR is needed (the disk to measure), --total >= 1\n");
		return 2;
	}

	struct sockaddr_in la, fa[2], ca, ta;
	int lsock = udp_bound(&la), fsock[2] = {udp_bound(&fa[0]), udp_bound(&fa[1])};
	int csock = udp_bound(&ca);
	int files[3] = {prealloc(dir, "skel-leader"), prealloc(dir, "skel-f1"), prealloc(dir, "skel-f2")};
	int tl = socket(AF_INET, SOCK_STREAM, 0);
	socklen_t tlen = sizeof ta;
	memset(&ta, 0, sizeof ta);
	ta.sin_family = AF_INET;
	ta.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (tl < 0 || bind(tl, (struct sockaddr *)&ta, sizeof ta) != 0 || listen(tl, 1) != 0 ||
	    getsockname(tl, (struct sockaddr *)&ta, &tlen) != 0)
		die("tcp listen");

	pid_t pids[3];
	for (int k = 0; k < 3; k++) {
		pids[k] = fork();
		if (pids[k] < 0)
			die("fork");
		if (pids[k] == 0) {
			set_sched(batch);
			if (k == 0)
				leader(mode, lsock, tl, files[0], fa);
			follower(fsock[k - 1], files[k], mode == DIRECT ? &ca : &la);
		}
	}
	set_sched(batch);
	int conn = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (conn < 0 || connect(conn, (struct sockaddr *)&ta, sizeof ta) != 0)
		die("connect");
	setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

	double *lat = malloc((size_t)total * sizeof *lat);
	char req[REQ], ack[ACK];
	if (!lat)
		die("malloc");
	memset(req, 'r', sizeof req);
	double start = 0;
	for (long i = 0; i < warmup + total; i++) {
		uint64_t seq = (uint64_t)i + 1;
		memcpy(req, &seq, 8);
		if (i == warmup)
			start = now_us();
		double t = now_us();
		if (send(conn, req, REQ, 0) != REQ)
			die("client send");
		if (mode == DIRECT) {
			for (int need = 2; need > 0;) {
				if (recv(csock, ack, sizeof ack, 0) != ACK)
					die("client recv");
				if (memcmp(ack, &seq, 8) == 0)
					need--;
			}
		} else if (recv(conn, ack, sizeof ack, MSG_WAITALL) != ACK) {
			die("client recv");
		}
		if (i >= warmup)
			lat[i - warmup] = now_us() - t;
	}
	double secs = (now_us() - start) / 1e6;
	close(conn);
	for (int k = 0; k < 3; k++)
		waitpid(pids[k], NULL, 0);
	qsort(lat, (size_t)total, sizeof *lat, cmp_d);
	double p50 = lat[total / 2] / 1e3, p90 = lat[total * 9 / 10] / 1e3, p99 = lat[total * 99 / 100] / 1e3;
	if (json)
		printf("{\"mode\":\"%s\",\"total\":%ld,\"ops_per_s\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
		       "\"p99_ms\":%.3f,\"sched\":\"%s\"}\n",
		       names[mode], total, (double)total / secs, p50, p90, p99, batch ? "batch" : "normal");
	else
		printf("%-8s %ld puts: p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, %.0f ops/s (%s)\n", names[mode],
		       total, p50, p90, p99, (double)total / secs, batch ? "batch" : "normal");
	for (int k = 0; k < 3; k++) {
		char path[4096];
		static const char *fn[] = {"skel-leader", "skel-f1", "skel-f2"};
		snprintf(path, sizeof path, "%s/%s", dir, fn[k]);
		unlink(path);
	}
	free(lat);
	return 0;
}
