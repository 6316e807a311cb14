/* Perfect-link throughput between two real nodes on loopback, against a raw UDP baseline measured
 * in the same run.
 *
 *   bench_links [--messages M] [--size BYTES] [--runs R] [--json]
 *
 * Each run forks a receiver process; the parent is the sender. "pl": two stratad-equivalent
 * runtimes (rt/uv, a bench module on perfect links, full authentication and batching) — the
 * receiver counts deliveries from the first to the M-th. "udp": one datagram per message with
 * sendto() as fast as the kernel takes them, the receiver counts what arrives until M or 1 s of
 * silence. Reported: messages/s of each (median over runs) and their ratio.
 *
 * "udp packed": raw UDP at the packing the links use. The perfect-link sender's counters give
 * the average datagram it sent (bytes_out / dgram_out) and the messages it carried (frames_out /
 * dgram_out); raw UDP then sends datagrams of that size, each counted as that many messages. The
 * perfect-link / packed-UDP ratio compares byte rates at equal packing (the plain ratio compares
 * against one datagram per message, which flatters the links).
 *
 * --encrypt-compare: each run measures the perfect links twice back to back, with datagrams
 * MACed in clear (the default) and sealed ([cluster] encrypt = on, XChaCha20-Poly1305), and
 * reports both medians and their ratio: the cost of encryption, same run, same machine.
 *
 * --pl-only: the perfect links alone (no raw UDP runs), for profiling the links (perf record). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "core/assert.h"
#include "core/config.h"
#include "crypto/crypto.h"
#include "links/links.h"
#include "rt/uv/uv.h"

#include "../lib/loopback_cluster.h"

#define BENCH_WIRE 230

struct bench {
	struct strata_module base;
	struct strata_uv *rt;
	struct strata_timer timer;
	uint64_t target, count, sent;
	size_t size;
	uint64_t t0_ns, t1_ns;
	bool sender, done;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void bench_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct bench *b = (struct bench *)m;
	struct strata_node *n = m->node;
	if (ev->type == STRATA_EV_INIT && b->sender) {
		strata_timer_init(&b->timer, m, 1, 0);
		strata_timer_arm_in(n, &b->timer, 300000); /* let the receiver bind */
	} else if (ev->type == STRATA_EV_TIMER) {
		struct strata_msg *msg = strata_msg_alloc(b->size);
		STRATA_ASSERT(msg);
		memset(msg->data, 0xab, b->size);
		/* Keep the link busy: a few windows' worth queued, never more. */
		while (b->sent < b->target && strata_links_pending(n, 2) < 8192) {
			if (strata_pl_send(m, 2, 0, msg) != 0)
				break;
			b->sent++;
		}
		strata_msg_unref(msg);
		if (b->sent < b->target)
			strata_timer_arm_in(n, &b->timer, 200);
		else if (strata_links_pending(n, 2) > 0)
			strata_timer_arm_in(n, &b->timer, 1000);
		else
			b->done = true;
	} else if (ev->type == STRATA_EV_PL_DELIVER) {
		if (b->count == 0)
			b->t0_ns = now_ns();
		if (++b->count == b->target) {
			b->t1_ns = now_ns();
			b->done = true;
		}
	}
}

static void bench_destroy(struct strata_module *m)
{
	(void)m; /* owned by main */
}

static const struct strata_module_ops bench_ops = {
	.name = "bench", .handle = bench_handle, .destroy = bench_destroy,
};

struct poll_ctx {
	struct bench *b;
	uv_timer_t t;
	uint64_t deadline_ns;
};

static void poll_cb(uv_timer_t *t)
{
	struct poll_ctx *p = t->data;
	if (p->b->done || now_ns() > p->deadline_ns) {
		uv_timer_stop(t);
		uv_close((uv_handle_t *)t, NULL);
		strata_uv_close(p->b->rt);
	}
}

/* The sender's packing: average datagram bytes and frames per datagram. */
struct packing {
	double dgram_bytes, frames_per_dgram;
};

/* Runs one node of the pair; returns the receiver's messages/s (0 for the sender). The sender
 * fills *pk (if given). */
static double run_node(struct strata_config *cfg, uint32_t id, const uint8_t *sk, uint64_t m,
		       size_t size, struct packing *pk)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	char err[256];
	struct strata_uv_opts o = { .cfg = cfg, .id = id, .incarnation = (uint64_t)time(NULL) + id,
				    .secret_key = sk, .log_level = getenv("BENCH_TRACE") ? STRATA_LOG_TRACE : STRATA_LOG_ERROR };
	struct strata_uv *rt = strata_uv_new(&loop, &o, err, sizeof(err));
	if (!rt) {
		fprintf(stderr, "bench: %s\n", err);
		exit(1);
	}
	struct bench *b = calloc(1, sizeof(*b));
	b->rt = rt;
	b->target = m;
	b->size = size;
	b->sender = id == 1;
	strata_node_add_module(strata_uv_node(rt), &b->base, &bench_ops, BENCH_WIRE);
	if (strata_uv_start(rt, false, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench: %s\n", err);
		exit(1);
	}
	struct poll_ctx pc = { .b = b, .deadline_ns = now_ns() + 60000000000ull };
	uv_timer_init(&loop, &pc.t);
	pc.t.data = &pc;
	uv_timer_start(&pc.t, poll_cb, 10, 10);
	uv_run(&loop, UV_RUN_DEFAULT);
	double rate = 0;
	if (!b->sender && b->count == b->target && b->t1_ns > b->t0_ns)
		rate = (double)(b->count - 1) * 1e9 / (double)(b->t1_ns - b->t0_ns);
	if (!b->sender && b->count != b->target)
		fprintf(stderr, "bench: receiver got %llu of %llu\n", (unsigned long long)b->count,
			(unsigned long long)b->target);
	if (getenv("BENCH_COUNTERS")) { /* for profiling: what each side sent and received */
		const struct strata_counters *c = strata_node_counters(strata_uv_node(rt));
		fprintf(stderr,
			"node %u: datagrams out %llu in %llu, frames out %llu in %llu, acks out %llu, "
			"retransmits %llu, batches %llu\n",
			id, (unsigned long long)c->dgram_out, (unsigned long long)c->dgram_in,
			(unsigned long long)c->frames_out, (unsigned long long)c->frames_in,
			(unsigned long long)c->acks_out, (unsigned long long)c->retransmits,
			(unsigned long long)c->batches);
	}
	if (pk) {
		const struct strata_counters *c = strata_node_counters(strata_uv_node(rt));
		pk->dgram_bytes = c->dgram_out ? (double)c->bytes_out / (double)c->dgram_out : 0;
		pk->frames_per_dgram = c->dgram_out ? (double)c->frames_out / (double)c->dgram_out : 0;
	}
	strata_uv_free(rt);
	uv_loop_close(&loop);
	free(b);
	return rate;
}

static double bench_pl(uint64_t m, size_t size, struct packing *pk, bool encrypt)
{
	struct strata_config cfg;
	uint8_t sk[3][STRATA_SK_LEN];
	loopback_cluster(&cfg, "bench", 0xbe7c4, 2, sk);
	cfg.encrypt = encrypt;
	int pfd[2];
	STRATA_ASSERT(pipe(pfd) == 0);
	pid_t pid = fork();
	STRATA_ASSERT(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		double r = run_node(&cfg, 2, sk[2], m, size, NULL);
		STRATA_ASSERT(write(pfd[1], &r, sizeof(r)) == (ssize_t)sizeof(r));
		_exit(0);
	}
	close(pfd[1]);
	run_node(&cfg, 1, sk[1], m, size, pk);
	double r = 0;
	if (read(pfd[0], &r, sizeof(r)) != (ssize_t)sizeof(r))
		r = 0;
	close(pfd[0]);
	waitpid(pid, NULL, 0);
	return r;
}

static double bench_udp(uint64_t m, size_t size)
{
	uint16_t rport = 0;
	int rfd = loopback_bind(SOCK_DGRAM, &rport);
	STRATA_ASSERT(rfd >= 0);
	struct sockaddr_in a = loopback_addr(rport);
	/* The same kernel receive buffer the runtime asks for (rt/uv: 4 MiB, best effort), so
	 * that the baseline is not limited by drops the links' receiver would not suffer. */
	int rb = 4 << 20;
	(void)setsockopt(rfd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof(rb));
	int pfd[2];
	STRATA_ASSERT(pipe(pfd) == 0);
	pid_t pid = fork();
	STRATA_ASSERT(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		uint8_t buf[65536];
		uint64_t count = 0, t0 = 0, t1 = 0;
		struct pollfd p = { .fd = rfd, .events = POLLIN };
		while (count < m && poll(&p, 1, 1000) > 0) {
			if (recv(rfd, buf, sizeof(buf), 0) > 0) {
				if (count++ == 0)
					t0 = now_ns();
				t1 = now_ns();
			}
		}
		double r = count > 1 && t1 > t0 ? (double)(count - 1) * 1e9 / (double)(t1 - t0) : 0;
		STRATA_ASSERT(write(pfd[1], &r, sizeof(r)) == (ssize_t)sizeof(r));
		_exit(0);
	}
	close(pfd[1]);
	int sfd = socket(AF_INET, SOCK_DGRAM, 0);
	uint8_t *msg = calloc(1, size);
	usleep(100000);
	for (uint64_t i = 0; i < m; i++)
		while (sendto(sfd, msg, size, 0, (struct sockaddr *)&a, sizeof(a)) < 0 &&
		       (errno == ENOBUFS || errno == EAGAIN))
			;
	free(msg);
	close(sfd);
	double r = 0;
	if (read(pfd[0], &r, sizeof(r)) != (ssize_t)sizeof(r))
		r = 0;
	close(pfd[0]);
	close(rfd);
	waitpid(pid, NULL, 0);
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	uint64_t m = 200000;
	size_t size = 64;
	int runs = 3;
	bool json = false, enc_cmp = false, pl_only = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--messages") && i + 1 < argc)
			m = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--size") && i + 1 < argc)
			size = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--encrypt-compare"))
			enc_cmp = true;
		else if (!strcmp(argv[i], "--pl-only"))
			pl_only = true;
		else {
			fprintf(stderr,
				"usage: %s [--messages M] [--size BYTES] [--runs R] [--json] "
				"[--encrypt-compare] [--pl-only]\n",
				argv[0]);
			return 2;
		}
	}
	if (runs < 1 || runs > 50 || size < 1 || size > 60000 || m < 2) {
		fprintf(stderr, "bench_links: bad arguments\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	STRATA_ASSERT(strata_crypto_init() == 0);
	double pl[50], udp[50], packed[50], dgb[50], fpd[50];
	if (enc_cmp) {
		double sealed[50];
		for (int r = 0; r < runs; r++) {
			struct packing pk = { 0, 0 };
			pl[r] = bench_pl(m, size, &pk, false);
			sealed[r] = bench_pl(m, size, &pk, true);
			if (!json)
				fprintf(stderr, "run %d: MACed %.0f msg/s, sealed %.0f msg/s\n", r + 1,
					pl[r], sealed[r]);
		}
		qsort(pl, (size_t)runs, sizeof(double), cmp_double);
		qsort(sealed, (size_t)runs, sizeof(double), cmp_double);
		double a = pl[runs / 2], e = sealed[runs / 2];
		if (json)
			printf("{\"bench\": \"links-encrypt\", \"messages\": %llu, \"size\": %zu, "
			       "\"runs\": %d, \"mac_msgs_per_s_median\": %.0f, "
			       "\"sealed_msgs_per_s_median\": %.0f, \"ratio\": %.3f}\n",
			       (unsigned long long)m, size, runs, a, e, a > 0 ? e / a : 0);
		else
			printf("perfect links, MACed: %.0f msg/s   sealed (encrypt = on): %.0f msg/s   "
			       "ratio %.2f   (median of %d, %llu x %zu-byte messages)\n",
			       a, e, a > 0 ? e / a : 0, runs, (unsigned long long)m, size);
		return a > 0 && e > 0 ? 0 : 1;
	}
	for (int r = 0; r < runs; r++) {
		struct packing pk = { 0, 0 };
		udp[r] = pl_only ? 0 : bench_udp(m, size);
		pl[r] = bench_pl(m, size, &pk, false);
		dgb[r] = pk.dgram_bytes;
		fpd[r] = pk.frames_per_dgram;
		/* raw UDP with datagrams of the links' average size, each carrying as many messages */
		packed[r] = 0;
		if (!pl_only && pk.frames_per_dgram >= 1 && pk.dgram_bytes >= 1) {
			uint64_t nd = (uint64_t)((double)m / pk.frames_per_dgram);
			size_t ds = (size_t)(pk.dgram_bytes + 0.5);
			if (nd >= 2 && ds <= 60000)
				packed[r] = bench_udp(nd, ds) * pk.frames_per_dgram;
		}
		if (!json)
			fprintf(stderr,
				"run %d: udp %.0f msg/s, pl %.0f msg/s (%.0f-byte datagrams, %.1f "
				"msgs each), udp packed %.0f msg/s\n",
				r + 1, udp[r], pl[r], dgb[r], fpd[r], packed[r]);
	}
	qsort(pl, (size_t)runs, sizeof(double), cmp_double);
	qsort(udp, (size_t)runs, sizeof(double), cmp_double);
	qsort(packed, (size_t)runs, sizeof(double), cmp_double);
	qsort(dgb, (size_t)runs, sizeof(double), cmp_double);
	qsort(fpd, (size_t)runs, sizeof(double), cmp_double);
	double mp = pl[runs / 2], mu = udp[runs / 2], mk = packed[runs / 2];
	double ratio = mu > 0 ? mp / mu : 0;
	double pratio = mk > 0 ? mp / mk : 0;
	if (json)
		printf("{\"bench\": \"links\", \"messages\": %llu, \"size\": %zu, \"runs\": %d, "
		       "\"pl_msgs_per_s_median\": %.0f, \"udp_msgs_per_s_median\": %.0f, "
		       "\"ratio\": %.3f, \"pl_dgram_bytes_median\": %.0f, "
		       "\"pl_msgs_per_dgram_median\": %.2f, \"udp_packed_msgs_per_s_median\": %.0f, "
		       "\"packed_ratio\": %.3f}\n",
		       (unsigned long long)m, size, runs, mp, mu, ratio, dgb[runs / 2], fpd[runs / 2],
		       mk, pratio);
	else
		printf("perfect links: %.0f msg/s   raw UDP: %.0f msg/s   ratio %.2f   raw UDP packed "
		       "like the links (%.0f-byte datagrams, %.1f msgs each): %.0f msg/s   ratio "
		       "%.2f   (median of %d, %llu x %zu-byte messages)\n",
		       mp, mu, ratio, dgb[runs / 2], fpd[runs / 2], mk, pratio, runs,
		       (unsigned long long)m, size);
	return mp > 0 ? 0 : 1;
}
