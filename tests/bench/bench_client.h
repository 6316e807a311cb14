/* Shared pieces of the cluster benchmarks (bench_reg, bench_bcast): a local cluster started with
 * scripts/cluster and always stopped by PID, a minimal client of the protobuf client protocol
 * (4-byte big-endian length + Response/Request), node counters from `status`, a loopback UDP
 * round-trip baseline, percentiles and the book's message-count formulas.
 *
 * Header-only (static inline) because the Makefile builds each bench from one .c file plus
 * libstrata.a. Benchmarks are test programs: the PID table used by the signal handler is the one
 * piece of global state, so that an interrupted or asserting bench never leaves daemons behind. */
#ifndef STRATA_BENCH_CLIENT_H
#define STRATA_BENCH_CLIENT_H

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.pb-c.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/config.h"
#include "core/error.h"
#include "core/stack.h"

#include "../lib/loopback.h"

#define BENCH_FRAME_MAX (2u << 20)

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void bench_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of v[0..n) by nearest rank; sorts v. NAN when empty. */
static inline double bench_quantile(double *v, size_t n, double q)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(double), bench_cmp_double);
	size_t k = (size_t)ceil(q * (double)n);
	return v[k == 0 ? 0 : k - 1];
}

/* The top of the source tree: BENCH_TOP, else two levels above this executable
 * (build/bench/bench_x). */
static inline void bench_top(char *out, size_t len)
{
	const char *e = getenv("BENCH_TOP");
	if (e && *e) {
		snprintf(out, len, "%s", e);
		return;
	}
	char exe[1024];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	STRATA_ASSERT(n > 0);
	exe[n] = 0;
	for (int up = 0; up < 3; up++) {
		char *s = strrchr(exe, '/');
		STRATA_ASSERT(s);
		*s = 0;
	}
	snprintf(out, len, "%s", exe);
}

/* ---- cluster lifecycle ---- */

struct bench_cluster {
	char top[1024];
	char dir[256];
	char log[1100];
	struct strata_config cfg;
	uint32_t n;
	pid_t pids[STRATA_MAX_NODES + 1];
	bool up;
};

/* The PIDs of every running cluster, for the signal handler (see the file comment). */
static pid_t bench_pids[4 * (STRATA_MAX_NODES + 1)];

static inline void bench_pids_set(const struct bench_cluster *c, bool add)
{
	for (uint32_t i = 1; i <= c->n; i++) {
		for (size_t k = 0; k < sizeof(bench_pids) / sizeof(bench_pids[0]); k++) {
			if (add && bench_pids[k] == 0) {
				bench_pids[k] = c->pids[i];
				break;
			}
			if (!add && bench_pids[k] == c->pids[i]) {
				bench_pids[k] = 0;
				break;
			}
		}
	}
}

/* SIGINT, SIGTERM, SIGABRT (a failed assertion): stop our daemons by PID, then die. Only
 * async-signal-safe calls. */
static inline void bench_on_fatal(int sig)
{
	for (size_t k = 0; k < sizeof(bench_pids) / sizeof(bench_pids[0]); k++) {
		if (bench_pids[k] > 0) {
			kill(bench_pids[k], SIGCONT);
			kill(bench_pids[k], SIGKILL);
		}
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static inline void bench_install_handlers(void)
{
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, bench_on_fatal);
	signal(SIGTERM, bench_on_fatal);
	signal(SIGABRT, bench_on_fatal);
	signal(SIGSEGV, bench_on_fatal);
}

static inline char *bench_read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	STRATA_ASSERT(buf);
	size_t got;
	while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += got;
		if (len + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			STRATA_ASSERT(buf);
		}
	}
	fclose(f);
	buf[len] = 0;
	return buf;
}

/* Starts an n-node cluster of `model` in a fresh temporary directory with scripts/cluster
 * (which waits until every node answers status). The script's output goes to `log`. */
static inline int bench_cluster_start(struct bench_cluster *c, uint32_t n, const char *model,
				      const char *log)
{
	memset(c, 0, sizeof(*c));
	bench_top(c->top, sizeof(c->top));
	snprintf(c->log, sizeof(c->log), "%s", log);
	snprintf(c->dir, sizeof(c->dir), "/tmp/strata-bench.XXXXXX");
	if (!mkdtemp(c->dir)) {
		fprintf(stderr, "bench: mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	char cmd[4096];
	/* The benchmarks speak the plain client protocol: client authentication off (loopback).
	 * A tree from before client authentication (an old-vs-new baseline under BENCH_TOP) has a
	 * scripts/cluster without --client-auth, and its daemon speaks only the plain protocol:
	 * pass the option only when the script knows it. */
	char script[1100];
	snprintf(script, sizeof(script), "%s/scripts/cluster", c->top);
	char *text0 = bench_read_file(script);
	bool has_auth_opt = text0 && strstr(text0, "--client-auth") != NULL;
	free(text0);
	snprintf(cmd, sizeof(cmd), "'%s' start -n %u --model %s%s --dir '%s' >>'%s' 2>&1", script, n,
		 model, has_auth_opt ? " --client-auth off" : "", c->dir, c->log);
	int rc = system(cmd);
	/* Whatever happened, record the PIDs that were started so that stop can reach them. */
	c->n = n;
	for (uint32_t i = 1; i <= n; i++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/pids/node-%u.pid", c->dir, i);
		char *s = bench_read_file(path);
		c->pids[i] = s ? (pid_t)atoi(s) : 0;
		free(s);
	}
	bench_pids_set(c, true);
	c->up = true;
	if (rc != 0) {
		fprintf(stderr, "bench: scripts/cluster start -n %u --model %s failed (see %s)\n", n,
			model, c->log);
		return -1;
	}
	char path[512], err[512];
	snprintf(path, sizeof(path), "%s/cluster.ini", c->dir);
	char *text = bench_read_file(path);
	if (!text || strata_config_parse(&c->cfg, text, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench: %s: %s\n", path, text ? err : "cannot read");
		free(text);
		return -1;
	}
	free(text);
	return 0;
}

/* Stops the cluster (scripts/cluster stop: SIGTERM by PID, SIGKILL after 5 s), then makes sure
 * by PID that nothing is left, and removes the directory. Idempotent. */
static inline void bench_cluster_stop(struct bench_cluster *c)
{
	if (!c->up)
		return;
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "'%s/scripts/cluster' stop --dir '%s' >>'%s' 2>&1", c->top, c->dir,
		 c->log);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: scripts/cluster stop --dir %s failed\n", c->dir);
	for (uint32_t i = 1; i <= c->n; i++) {
		/* The script only signals PIDs that are still this cluster's stratad; a leftover
		 * would be one of ours that it could not identify, so SIGKILL it by PID. */
		if (c->pids[i] > 0 && kill(c->pids[i], 0) == 0) {
			char path[64], *st;
			snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)c->pids[i]);
			st = bench_read_file(path);
			if (st && strstr(st, "stratad"))
				kill(c->pids[i], SIGKILL);
			free(st);
		}
	}
	bench_pids_set(c, false);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", c->dir);
	c->up = false;
}

/* ---- client connections ---- */

struct bench_conn {
	int fd;
	uint8_t *buf;
	size_t len, cap;
};

static inline int bench_connect(struct bench_conn *k, uint16_t port)
{
	memset(k, 0, sizeof(*k));
	k->fd = loopback_connect(port);
	if (k->fd < 0)
		return -1;
	int one = 1;
	setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	k->cap = 1 << 16;
	k->buf = malloc(k->cap);
	STRATA_ASSERT(k->buf);
	return 0;
}

static inline void bench_close(struct bench_conn *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	free(k->buf);
	k->buf = NULL;
}


static inline int bench_send(struct bench_conn *k, const Strata__Client__Request *req)
{
	size_t len = strata__client__request__get_packed_size(req);
	uint8_t stackbuf[4096];
	uint8_t *b = len + 4 <= sizeof(stackbuf) ? stackbuf : malloc(len + 4);
	STRATA_ASSERT(b);
	strata_be32_put(b, (uint32_t)len);
	strata__client__request__pack(req, b + 4);
	int rc = loopback_write_all(k->fd, b, len + 4);
	if (b != stackbuf)
		free(b);
	return rc;
}

/* Takes one complete frame out of the buffer: 1 with *out (free with
 * strata__client__response__free_unpacked), 0 if incomplete, -1 on garbage. */
static inline int bench_take(struct bench_conn *k, Strata__Client__Response **out)
{
	if (k->len < 4)
		return 0;
	size_t flen = strata_be32_get(k->buf);
	if (flen > BENCH_FRAME_MAX)
		return -1;
	if (k->len < 4 + flen) {
		if (4 + flen > k->cap) {
			k->cap = 4 + flen;
			k->buf = realloc(k->buf, k->cap);
			STRATA_ASSERT(k->buf);
		}
		return 0;
	}
	*out = strata__client__response__unpack(NULL, flen, k->buf + 4);
	memmove(k->buf, k->buf + 4 + flen, k->len - 4 - flen);
	k->len -= 4 + flen;
	return *out ? 1 : -1;
}

/* One read() into the buffer (call when poll says readable): 0, or -1 on EOF or error. */
static inline int bench_fill(struct bench_conn *k)
{
	if (k->len == k->cap) {
		k->cap *= 2;
		k->buf = realloc(k->buf, k->cap);
		STRATA_ASSERT(k->buf);
	}
	ssize_t r = read(k->fd, k->buf + k->len, k->cap - k->len);
	if (r < 0 && errno == EINTR)
		return 0;
	if (r <= 0)
		return -1;
	k->len += (size_t)r;
	return 0;
}

/* Blocks (at most timeout_ms) for the next frame. */
static inline Strata__Client__Response *bench_recv(struct bench_conn *k, int timeout_ms)
{
	uint64_t deadline = bench_now_ns() + (uint64_t)timeout_ms * UINT64_C(1000000);
	for (;;) {
		Strata__Client__Response *r = NULL;
		int t = bench_take(k, &r);
		if (t == 1)
			return r;
		if (t < 0)
			return NULL;
		uint64_t now = bench_now_ns();
		if (now >= deadline)
			return NULL;
		struct pollfd p = { .fd = k->fd, .events = POLLIN };
		if (poll(&p, 1, (int)((deadline - now) / 1000000ull) + 1) <= 0)
			continue;
		if (bench_fill(k) != 0)
			return NULL;
	}
}

/* One operation, waited for: returns the response status (0 ok), or STRATA_ETIMEDOUT. *found and
 * the value (truncated to vlen) are filled when given. */
static inline int bench_op(struct bench_conn *k, uint64_t id, const char *module, uint32_t op,
			   const char *key, const char *value, int timeout_ms)
{
	Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
	Strata__Client__OpRequest o = STRATA__CLIENT__OP_REQUEST__INIT;
	o.module = (char *)(uintptr_t)module;
	o.op = op;
	o.key.data = (uint8_t *)(uintptr_t)key;
	o.key.len = key ? strlen(key) : 0;
	o.value.data = (uint8_t *)(uintptr_t)value;
	o.value.len = value ? strlen(value) : 0;
	req.id = id;
	req.body_case = STRATA__CLIENT__REQUEST__BODY_OP;
	req.op = &o;
	if (bench_send(k, &req) != 0)
		return STRATA_EIO;
	for (;;) {
		Strata__Client__Response *r = bench_recv(k, timeout_ms);
		if (!r)
			return STRATA_ETIMEDOUT;
		bool mine = r->id == id;
		int st = r->status;
		strata__client__response__free_unpacked(r, NULL);
		if (mine)
			return st;
	}
}

/* ---- counters ---- */

/* The link counters the benchmarks use, summed over nodes. */
struct bench_ctr {
	uint64_t frames_out, retransmits, acks_out, dgram_out;
	uint64_t stores, syncs, batches; /* 0 on builds without turn-batch counters */
};

static inline int bench_status_ctr(uint16_t port, struct bench_ctr *sum)
{
	struct bench_conn k;
	if (bench_connect(&k, port) != 0)
		return -1;
	Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
	Strata__Client__StatusRequest st = STRATA__CLIENT__STATUS_REQUEST__INIT;
	req.id = 1;
	req.body_case = STRATA__CLIENT__REQUEST__BODY_STATUS;
	req.status = &st;
	int rc = -1;
	Strata__Client__Response *r = bench_send(&k, &req) == 0 ? bench_recv(&k, 3000) : NULL;
	if (r && r->body_case == STRATA__CLIENT__RESPONSE__BODY_STATUS_REPLY) {
		for (size_t i = 0; i < r->status_reply->n_counters; i++) {
			const Strata__Client__Counter *x = r->status_reply->counters[i];
			if (!strcmp(x->name, "frames_out"))
				sum->frames_out += x->value;
			else if (!strcmp(x->name, "retransmits"))
				sum->retransmits += x->value;
			else if (!strcmp(x->name, "acks_out"))
				sum->acks_out += x->value;
			else if (!strcmp(x->name, "dgram_out"))
				sum->dgram_out += x->value;
			else if (!strcmp(x->name, "stores"))
				sum->stores += x->value;
			else if (!strcmp(x->name, "syncs"))
				sum->syncs += x->value;
			else if (!strcmp(x->name, "batches"))
				sum->batches += x->value;
		}
		rc = 0;
	}
	if (r)
		strata__client__response__free_unpacked(r, NULL);
	bench_close(&k);
	return rc;
}

/* CPU time (user + system, microseconds) the cluster's node processes used so far (from
 * /proc/<pid>/stat); 0 for a node that is gone. */
static inline double bench_cluster_cpu_us(const struct bench_cluster *c)
{
	double us = 0;
	long hz = sysconf(_SC_CLK_TCK);
	for (uint32_t i = 1; i <= c->n; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)c->pids[i]);
		char *st = c->pids[i] > 0 ? bench_read_file(path) : NULL;
		char *p = st ? strrchr(st, ')') : NULL;
		unsigned long ut = 0, stt = 0;
		/* after ") ": state, then fields 4..; utime and stime are fields 14 and 15 */
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
				&stt) == 2)
			us += (double)(ut + stt) * 1e6 / (double)hz;
		free(st);
	}
	return us;
}

/* Counters summed over every node of the cluster; with the time of the snapshot. */
static inline int bench_cluster_ctr(const struct bench_cluster *c, struct bench_ctr *sum,
				    uint64_t *t_ns)
{
	memset(sum, 0, sizeof(*sum));
	*t_ns = bench_now_ns();
	for (uint32_t i = 1; i <= c->n; i++)
		if (bench_status_ctr(c->cfg.nodes[i].client_port, sum) != 0)
			return -1;
	return 0;
}

/* Background frames per second of an idle cluster (heartbeats, gossip timers): subtracted from
 * every measurement, so that messages per operation count only what the operations caused. */
static inline double bench_idle_frames_per_s(const struct bench_cluster *c, unsigned ms)
{
	struct bench_ctr a, b;
	uint64_t ta, tb;
	if (bench_cluster_ctr(c, &a, &ta) != 0)
		return NAN;
	bench_sleep_ms(ms);
	if (bench_cluster_ctr(c, &b, &tb) != 0)
		return NAN;
	return (double)(b.frames_out - a.frames_out) * 1e9 / (double)(tb - ta);
}

/* ---- raw UDP round trip ---- */

/* Median round trip (µs) of `count` 64-byte datagrams ping-ponged between this process and a
 * forked echo process on loopback: the floor any message exchange between two nodes pays. */
static inline double bench_udp_rtt_us(int count)
{
	uint16_t eport = 0;
	int efd = loopback_bind(SOCK_DGRAM, &eport), cfd = socket(AF_INET, SOCK_DGRAM, 0);
	STRATA_ASSERT(efd >= 0 && cfd >= 0);
	struct sockaddr_in ea = loopback_addr(eport);
	pid_t pid = fork();
	STRATA_ASSERT(pid >= 0);
	if (pid == 0) {
		uint8_t b[256];
		struct sockaddr_in from;
		for (;;) {
			socklen_t fl = sizeof(from);
			ssize_t r = recvfrom(efd, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
			if (r == 1)
				_exit(0);
			if (r > 0)
				sendto(efd, b, (size_t)r, 0, (struct sockaddr *)&from, fl);
		}
	}
	close(efd);
	double *v = calloc((size_t)count, sizeof(double));
	STRATA_ASSERT(v);
	uint8_t msg[64] = { 1 }, in[256];
	int got = 0;
	for (int i = 0; i < count + 100; i++) { /* the first 100 warm up */
		uint64_t t0 = bench_now_ns();
		sendto(cfd, msg, sizeof(msg), 0, (struct sockaddr *)&ea, sizeof(ea));
		struct pollfd p = { .fd = cfd, .events = POLLIN };
		if (poll(&p, 1, 1000) <= 0 || recv(cfd, in, sizeof(in), 0) != (ssize_t)sizeof(msg))
			continue;
		if (i >= 100)
			v[got++] = (double)(bench_now_ns() - t0) / 1000.0;
	}
	sendto(cfd, msg, 1, 0, (struct sockaddr *)&ea, sizeof(ea));
	waitpid(pid, NULL, 0);
	close(cfd);
	double m = bench_quantile(v, (size_t)got, 0.5);
	free(v);
	return m;
}

/* ---- the book's message counts ---- */

/* Evaluates the count the algorithm table gives for one operation at n processes: `spec` is the
 * table's messages string, `op` "write"/"read" for registers or NULL for a single formula. Reads
 * terms like 4N, 2N^2, N, O(N^2) joined by '+', stopping at the first thing that is not one (a
 * comment such as "(+ retransmissions)"). NAN when nothing parses (e.g. epb's gossip bound). */
static inline double bench_book_count(const char *spec, const char *op, uint32_t n)
{
	const char *p = spec;
	if (op) {
		size_t ol = strlen(op);
		for (p = spec; (p = strstr(p, op)) != NULL; p += ol)
			if ((p == spec || p[-1] == ' ' || p[-1] == ',') && p[ol] == ' ')
				break;
		if (!p)
			return NAN;
		p += ol;
	}
	while (*p == ' ')
		p++;
	if (p[0] == 'O' && p[1] == '(')
		p += 2;
	double total = 0;
	bool any = false;
	for (;;) {
		double coef = 1, term;
		bool digits = false;
		if (isdigit((unsigned char)*p)) {
			coef = strtod(p, (char **)&p);
			digits = true;
		}
		if (*p == 'N') {
			p++;
			double e = 1;
			if (*p == '^') {
				p++;
				e = strtod(p, (char **)&p);
			}
			term = coef * pow((double)n, e);
		} else if (digits) {
			term = coef;
		} else {
			break;
		}
		total += term;
		any = true;
		const char *q = p;
		while (*q == ' ')
			q++;
		if (*q != '+')
			break;
		q++;
		while (*q == ' ')
			q++;
		if (!isdigit((unsigned char)*q) && *q != 'N')
			break;
		p = q;
	}
	return any ? total : NAN;
}

#endif
