/* `strata bench`: a closed-loop load generator for the replicated KV store (module "kv").
 *
 *   strata bench put|get [--clients C] [--conns N|auto|client] [--total N] [--key-size B]
 *                        [--val-size B] [--key-space K] [--target leader|all] [--warmup N]
 *                        [--no-preload] [--serializable] [-w json]
 *
 * C clients, each with one request in flight (closed loop), the method of etcd's benchmark
 * tool (../shared/peers/etcd-baseline.md). The clients share connections as etcd's do: --conns
 * auto (the default) opens ceil(C / 10) of them, etcd's 10 clients per connection; N opens N;
 * client opens one per client (the layout before connections were shared: figures taken
 * without --conns before 2026-12-07 are reproduced with --conns client). Client i uses
 * connection i mod conns; each keeps its own session (exactly-once ids). The requests issued
 * toward one connection in one turn of the loop leave in one write (frames built into one
 * buffer, sealed in order with client auth), and replies are read in large chunks and matched
 * to their client by Request.id (client (id - 1) mod C: ids are nreq * C + i + 1); a reply
 * that names no request in flight on its connection ends the run with an error (crash KV), or
 * counts for nothing on a BFT cluster (a late replica's reply to an op that ended). Buffers are
 * sized by the clients of a connection (a frame each). With --target all the connections are
 * spread round-robin over the nodes. First the key space is preloaded
 * (keys "k" + zero-padded index, key-size bytes; values of val-size bytes), then `warmup` ops
 * are run and not counted, then `total` ops are measured. Keys are drawn uniformly from the key
 * space. Every put carries its client's session (exactly-once). The latency of each op is
 * measured around it at the client; percentiles are nearest-rank over all measured ops;
 * throughput is ops / wall time of the measured phase.
 *
 * CPU: the servers' user + system time over the measured phase from /proc/PID/stat of the node
 * PIDs in <cluster dir>/pids/node-N.pid (absent for -e: then not reported), and this process's
 * own (getrusage), each divided by the measured ops. Syncs: the store_syncs counters of every
 * node (strata status) before and after, divided by the ops. A progress line goes to stderr
 * every second; a latency histogram ends the text output.
 *
 * On a BFT KV cluster (`[smr] log = btob` or `bft-tob`, with the cluster's config) --target does
 * not apply: the conns connections go to every replica (conns x N in all; client i on its
 * connection i mod conns to each), every client sends each request (signed, in its session,
 * reads too) to all of them, and an op ends when f + 1 replicas returned the same signed outcome
 * (smr_bft_vote, as `strata kv` does, client/bft.c); the op's latency runs to that reply. A reply
 * whose signature does not verify counts for nothing; an op whose replies all came in without
 * f + 1 agreeing is an error. A connection lost to one replica counts as that replica's answer
 * for the clients on it; the other replicas still make f + 1. The client's own signature verifications are counted and reported
 * (client_sig_verified, per op: one per reply envelope root, smr_bft_seen), and its signatures
 * (client_sig_signed, per op): the requests issued in one turn of the loop are signed as one
 * request envelope (client/bft.c), the clients' sessions sharing the process's key pair.
 *
 * Exit: 0 ok (errors are counted and reported, not fatal), 2 usage, 3 a node stopped answering. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "smr/smr.h"
#include "core/error.h"

#define BENCH_MAX_CLIENTS 1024
#define STALL_MS 10000
#define CONNS_AUTO 0u          /* --conns auto: ceil(clients / 10) */
#define CONNS_CLIENT UINT_MAX  /* --conns client: one per client */

static const char bench_help[] =
	"usage: strata bench put|get [--clients C] [--conns N|auto|client] [--total N]\n"
	"                            [--key-size B] [--val-size B] [--key-space K]\n"
	"                            [--target leader|all] [--warmup N] [--no-preload]\n"
	"                            [--serializable] [-w json]\n"
	"\n"
	"Closed-loop load on the replicated KV store: C clients (default 1), one request in flight\n"
	"each, send N measured ops (default 10000) after max(500, 10 C) warm-up ops, to the leader\n"
	"(default) or spread over all nodes (on a BFT KV cluster: to every replica, the outcome\n"
	"f + 1 of them signed alike).\n"
	"The clients share connections (per replica on a BFT KV cluster), client i on connection\n"
	"i mod N: --conns auto (default) is ceil(C/10), the 10 clients per connection of etcd's\n"
	"benchmark tool, so a comparison with etcd uses one layout on both sides; --conns client is\n"
	"one connection per client (the layout of results taken before --conns existed). A turn's\n"
	"requests toward one connection leave in one write; replies are matched by request id.\n"
	"Keys of B bytes (default 16) drawn uniformly from K keys (default 10000), all preloaded\n"
	"first unless --no-preload; values of B bytes (default 100). get is linearizable unless\n"
	"--serializable.\n"
	"Prints ops/s, p50/p99/p99.9 latency, CPU microseconds per op of the servers (from\n"
	"/proc/PID/stat of <dir>/pids/node-N.pid) and of this client, syncs per op summed over the\n"
	"nodes, a latency histogram; -w json prints one object (conns, ops_per_s, p50_ms, p99_ms,\n"
	"p999_ms, server_cpu_us_per_op, client_cpu_us_per_op, syncs_per_op, errors, histogram; on\n"
	"a BFT KV cluster also client_sig_verified_per_op and client_sig_signed_per_op).\n";

struct bclient {
	unsigned conn;   /* its connection (per replica on a BFT cluster): client i on i mod conns */
	uint64_t nreq;   /* requests issued: the next id is nreq * clients + i + 1 (req_id_of) */
	uint64_t req_id; /* the request in flight (0: none, or its id not assigned yet) */
	uint64_t sent_ns;
	uint64_t session, seq;
	bool busy;
	/* BFT: the f + 1 vote on the request in flight */
	unsigned answered; /* replicas that answered the request in flight, or were lost */
	int status;        /* the status of the outcome being voted on */
	struct smr_bft_vote vote;
	/* bft: the op waiting for this turn's request envelope (bft_flush) */
	bool queued;
	uint32_t qop;
	char qkey[64];
};

/* A connection shared by the clients i with i mod conns == its index (per replica on a BFT
 * cluster): the requests issued toward it in one turn of the loop leave in one write. */
struct bconn {
	int fd;           /* -1: lost (BFT: the other replicas still vote) */
	int ep;           /* index in bench.eps */
	struct cli_breader rd;
	struct cli_wbuf wb;
	bool queued;      /* in bench.dirty: frames wait in wb */
};

struct bench {
	struct cli *c;
	uint32_t op; /* CLI_OP_READ or CLI_OP_WRITE */
	unsigned clients;
	uint64_t total, warmup, key_space;
	uint32_t key_size, val_size;
	bool all, preload, serializable;
	struct cli_endpoint eps[STRATA_MAX_NODES];
	int neps;
	struct bclient *cl;
	/* Connections: conns of them (per replica on a BFT cluster: conns x neps, connection x to
	 * replica e at x * neps + e), client i on i mod conns. */
	unsigned conns;
	struct bconn *cn;
	unsigned ncn;
	unsigned *dirty, ndirty;    /* the connections with frames to write this turn */
	struct pollfd *pf;          /* one per connection */
	char *val;
	uint64_t rng;
	uint64_t *lat_ns;
	/* STRATA_TURN_TRACE=DIR: per measured op its send, the poll's return that saw its reply,
	 * and the reply read (CLOCK_MONOTONIC ns), written to DIR/client.tt for
	 * scripts/turn-breakdown (src/rt/uv/turntrace.h has the nodes' side). */
	uint64_t (*tt)[3];
	uint64_t poll_ns;
	uint64_t errors;
	char first_error[200];
	bool bft;                   /* every request to every replica, the f + 1 vote */
	const struct strata_config *cfg; /* bft: the replicas' public keys, N, f */
	struct smr_bft_seen seen;   /* bft: reply envelopes verified; seen.verified counts this
				     * client's Ed25519 verifications */
	uint64_t bad_sig;           /* bft: replies whose signature did not verify */
	/* bft: request envelopes. One key pair for the process (client i's session is the one at
	 * index i, smr_bft_session_at); the requests issued in one turn of the loop are signed as
	 * one envelope (bft_flush). */
	struct cli_bft_key pkey;
	unsigned *bq, nbq;          /* the clients whose op waits for the envelope */
	uint8_t (*bdig)[SMR_BFT_DIGEST_LEN];
	uint8_t *bauth;             /* SMR_BFT_ENV_MAX x SMR_BFT_AUTH_MAX */
	size_t *blen;
	uint32_t *bidx;
	uint64_t envelopes;         /* request envelopes signed */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(struct bench *b)
{
	/* xorshift64*: the key choice needs speed, not quality. */
	b->rng ^= b->rng >> 12;
	b->rng ^= b->rng << 25;
	b->rng ^= b->rng >> 27;
	return b->rng * 2685821657736338717ull;
}

static void key_of(const struct bench *b, uint64_t i, char *key)
{
	/* "k" + index zero-padded to key_size - 1 digits (etcd's k%015d for 16 bytes). */
	key[0] = 'k';
	for (uint32_t p = b->key_size - 1; p >= 1; p--) {
		key[p] = (char)('0' + i % 10);
		i /= 10;
	}
	key[b->key_size] = 0;
}

/* Client i's next request id: unique in the run, and the client it belongs to is (id - 1) mod
 * clients (client_of_id), so a reply on a shared connection finds its client in O(1). */
static uint64_t req_id_next(struct bench *b, struct bclient *k)
{
	return k->nreq++ * (uint64_t)b->clients + (uint64_t)(k - b->cl) + 1;
}

/* The client a reply's id names, or NULL if it names none on connection x (not one of ours). */
static struct bclient *client_of_id(struct bench *b, uint64_t id, unsigned x)
{
	if (id == 0)
		return NULL;
	uint64_t i = (id - 1) % b->clients;
	struct bclient *k = &b->cl[i];
	return k->conn == x ? k : NULL;
}

/* Appends req to connection cn's frames of this turn (written by flush_conns). */
static int conn_queue(struct bench *b, unsigned cn, const Strata__Client__Request *req)
{
	struct bconn *n = &b->cn[cn];
	if (n->fd < 0)
		return 0; /* lost: BFT only (crash KV: the run ended there) */
	char err[200];
	if (cli_wbuf_append(&n->wb, n->fd, req, cli_now_ms() + STALL_MS, err, sizeof err) != 0) {
		cli_err(b->c, "bench: connection %u: %s", cn, err);
		return -1;
	}
	if (!n->queued) {
		n->queued = true;
		b->dirty[b->ndirty++] = cn;
	}
	return 0;
}

static int conn_lost(struct bench *b, unsigned cn, const char *err);

/* Every connection's frames of this turn, one write each. A connection that fails ends the run
 * (crash KV) or is lost to its replica alone (BFT, conn_lost). */
static int flush_conns(struct bench *b)
{
	int rc = 0;
	for (unsigned d = 0; d < b->ndirty; d++) {
		struct bconn *n = &b->cn[b->dirty[d]];
		char err[200];
		n->queued = false;
		if (rc == 0 && n->fd >= 0 &&
		    cli_wbuf_flush(&n->wb, n->fd, cli_now_ms() + STALL_MS, err, sizeof err) != 0) {
			char why[240];
			snprintf(why, sizeof why, "send: %s", err);
			if (conn_lost(b, b->dirty[d], why) != 0)
				rc = -1;
		}
		n->wb.len = 0;
	}
	b->ndirty = 0;
	return rc;
}

static int send_op(struct bench *b, struct bclient *k, uint32_t op, uint64_t key_index)
{
	char key[64];
	key_of(b, key_index, key);
	if (b->bft) { /* signed with the turn's other requests, at the turn's end (bft_flush) */
		memcpy(k->qkey, key, sizeof(k->qkey));
		k->qop = op;
		++k->seq; /* the BFT KV takes requests in the session only, reads too */
		k->queued = true;
		b->bq[b->nbq++] = (unsigned)(k - b->cl);
		k->req_id = 0; /* no id yet: a late reply to the op before matches nothing */
		k->answered = 0;
		k->sent_ns = now_ns();
		k->busy = true;
		return 0;
	}
	Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
	Strata__Client__OpRequest o = STRATA__CLIENT__OP_REQUEST__INIT;
	o.module = (char *)"kv";
	o.op = op;
	o.key.data = (uint8_t *)key;
	o.key.len = b->key_size;
	if (op == CLI_OP_WRITE) {
		o.value.data = (uint8_t *)b->val;
		o.value.len = b->val_size;
		o.session = k->session;
		o.seq = ++k->seq;
	} else {
		o.serializable = b->serializable;
	}
	req.id = req_id_next(b, k);
	req.body_case = STRATA__CLIENT__REQUEST__BODY_OP;
	req.op = &o;
	k->req_id = req.id;
	k->sent_ns = now_ns();
	k->busy = true;
	return conn_queue(b, k->conn, &req);
}

/* bft: signs the requests queued this turn as envelopes of at most SMR_BFT_ENV_MAX (one
 * signature each) and sends each to every replica. */
static int bft_flush(struct bench *b)
{
	unsigned at = 0;
	while (at < b->nbq) {
		uint32_t n = b->nbq - at < SMR_BFT_ENV_MAX ? b->nbq - at : SMR_BFT_ENV_MAX;
		Strata__Client__OpRequest o[SMR_BFT_ENV_MAX];
		for (uint32_t i = 0; i < n; i++) {
			struct bclient *k = &b->cl[b->bq[at + i]];
			Strata__Client__OpRequest x = STRATA__CLIENT__OP_REQUEST__INIT;
			x.module = (char *)"kv";
			x.op = k->qop;
			x.key.data = (uint8_t *)k->qkey;
			x.key.len = b->key_size;
			if (k->qop == CLI_OP_WRITE) {
				x.value.data = (uint8_t *)b->val;
				x.value.len = b->val_size;
			}
			x.session = k->session;
			x.seq = k->seq;
			o[i] = x;
			cli_bft_digest(&o[i], b->bdig[i]);
			b->bidx[i] = b->bq[at + i];
		}
		smr_bft_request_env_sign(b->pkey.pk, b->pkey.sk, n,
					 (const uint8_t(*)[SMR_BFT_DIGEST_LEN])b->bdig, b->bidx,
					 b->bauth, b->blen);
		b->envelopes++;
		for (uint32_t i = 0; i < n; i++) {
			struct bclient *k = &b->cl[b->bq[at + i]];
			k->queued = false;
			o[i].client_auth.data = b->bauth + (size_t)i * SMR_BFT_AUTH_MAX;
			o[i].client_auth.len = b->blen[i];
			Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
			req.id = req_id_next(b, k);
			req.body_case = STRATA__CLIENT__REQUEST__BODY_OP;
			req.op = &o[i];
			k->req_id = req.id;
			k->answered = 0;
			smr_bft_vote_init(&k->vote, b->cfg->n, b->cfg->f);
			/* to every replica, on the client's connection to each; a replica whose
			 * connection was lost counts as answered (run_phase_bft) */
			for (int e = 0; e < b->neps; e++) {
				unsigned cn = k->conn * (unsigned)b->neps + (unsigned)e;
				if (b->cn[cn].fd < 0)
					k->answered++;
				else if (conn_queue(b, cn, &req) != 0)
					return -1;
			}
		}
		at += n;
	}
	b->nbq = 0;
	return 0;
}

/* bft: a reply on client k's connection to a replica. Returns 1 when it ends the op in flight
 * (f + 1 equal signed outcomes, or every replica answered without them), else 0. */
static int bft_reply(struct bench *b, struct bclient *k, Strata__Client__Response *resp)
{
	if (!k->busy || resp->id != k->req_id)
		return 0; /* a late reply to an op that ended already */
	k->answered++;
	uint8_t oc[SMR_BFT_DIGEST_LEN];
	uint32_t rep = 0;
	if (resp->bft_replica) {
		rep = cli_bft_check(b->cfg, &b->seen, k->session, k->seq, resp, oc);
		if (!rep)
			b->bad_sig++;
	}
	if (rep) {
		bool first = !((k->vote.voted >> (rep - 1)) & 1);
		unsigned same = smr_bft_vote_add(&k->vote, rep, oc);
		if (first && same == 1) { /* an outcome not seen before: remember its status */
			k->status = resp->status;
			if (resp->status != 0 && !b->errors)
				snprintf(b->first_error, sizeof(b->first_error), "%s",
					 resp->error ? resp->error : "");
		}
		if (same >= b->cfg->f + 1) {
			if (resp->status != 0) {
				if (!b->errors)
					snprintf(b->first_error, sizeof(b->first_error), "%s",
						 resp->error ? resp->error : "");
				b->errors++;
			}
			return 1;
		}
	}
	if (k->answered >= (unsigned)b->neps) {
		if (!b->errors)
			snprintf(b->first_error, sizeof(b->first_error),
				 "no f + 1 replicas returned the same signed outcome");
		b->errors++;
		return 1;
	}
	return 0;
}

/* An operation of client k ended at t: its latency goes to lat[*done] (lat may be NULL) and,
 * while the phase has operations left, k issues the next. Returns send_op's result. */
static int op_ended(struct bench *b, struct bclient *k, uint32_t op, uint64_t count,
		    bool sequential, uint64_t *lat, uint64_t t, uint64_t *issued, uint64_t *done)
{
	if (lat)
		lat[*done] = t - k->sent_ns;
	if (lat && b->tt) {
		b->tt[*done][0] = k->sent_ns;
		/* 0: the reply was read without a poll after the send (it was there already) */
		b->tt[*done][1] = b->poll_ns >= k->sent_ns ? b->poll_ns : 0;
		b->tt[*done][2] = t;
	}
	(*done)++;
	k->busy = false;
	if (*issued >= count)
		return 0;
	if (send_op(b, k, op, sequential ? *issued : rnd(b) % b->key_space) != 0)
		return -1;
	(*issued)++;
	return 0;
}

/* Connection cn is lost. Crash KV: the run ends (-1). BFT: its replica counts as answered for
 * the busy clients on it, the other replicas still make f + 1 (-1 only when a client has no
 * replica left). */
static int conn_lost(struct bench *b, unsigned cn, const char *err)
{
	struct bconn *n = &b->cn[cn];
	close(n->fd);
	n->fd = -1;
	n->wb.len = 0;
	if (!b->bft) {
		cli_err(b->c, "bench: connection %u: %s", cn, err);
		return -1;
	}
	unsigned x = cn / (unsigned)b->neps;
	for (unsigned i = x; i < b->clients; i += b->conns) {
		struct bclient *k = &b->cl[i];
		if (k->busy && !k->queued && ++k->answered >= (unsigned)b->neps) {
			cli_err(b->c, "bench: client %u: every replica lost (last: replica %d: %s)", i,
				n->ep + 1, err);
			return -1;
		}
	}
	return 0;
}

/* Runs `count` ops with every client busy; sequential keys when preloading, else random.
 * Latencies go to lat (may be NULL). The loop: the turn's requests leave (signed as envelopes
 * on a BFT cluster, bft_flush), one write per connection; poll; every reply read is matched to
 * its client by its id; an op that ends issues its client's next. Returns 0, -1 after printing
 * why, -2 when nothing ended for STALL_MS. */
static int run_phase(struct bench *b, uint32_t op, uint64_t count, bool sequential, uint64_t *lat,
		     const char *label)
{
	uint64_t issued = 0, done = 0;
	for (unsigned i = 0; i < b->clients && issued < count; i++, issued++)
		if (send_op(b, &b->cl[i], op, sequential ? issued : rnd(b) % b->key_space) != 0)
			return -1;
	uint64_t t0 = cli_now_ms(), last_progress = t0, last_done_ms = t0;
	bool tty = isatty(STDERR_FILENO) != 0;
	while (done < count) {
		if ((b->bft && bft_flush(b) != 0) || flush_conns(b) != 0)
			return -1;
		for (unsigned x = 0; x < b->ncn; x++) {
			b->pf[x].fd = b->cn[x].fd; /* -1 (lost): poll skips it */
			b->pf[x].events = POLLIN;
			b->pf[x].revents = 0;
		}
		int pr = poll(b->pf, b->ncn, 1000);
		if (b->tt)
			b->poll_ns = now_ns();
		if (pr < 0 && errno != EINTR) {
			cli_err(b->c, "bench: poll: %s", strerror(errno));
			return -1;
		}
		uint64_t now = cli_now_ms();
		for (unsigned cn = 0; pr > 0 && cn < b->ncn; cn++) {
			if (!(b->pf[cn].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			struct bconn *n = &b->cn[cn];
			unsigned x = b->bft ? cn / (unsigned)b->neps : cn;
			for (;;) {
				Strata__Client__Response *resp = NULL;
				char err[200];
				int rc = cli_breader_step(&n->rd, n->fd, &resp, err, sizeof(err));
				if (rc == 0)
					break;
				if (rc < 0) {
					if (conn_lost(b, cn, err) != 0)
						return -1;
					break;
				}
				uint64_t t = now_ns();
				struct bclient *k = client_of_id(b, resp->id, x);
				int end;
				if (b->bft) {
					/* a late reply to an op that ended already counts for nothing */
					end = k ? bft_reply(b, k, resp) : 0;
				} else if (!k || !k->busy || resp->id != k->req_id) {
					cli_err(b->c, "bench: connection %u: a reply (id %" PRIu64 ") to no "
						"request in flight on it", cn, resp->id);
					return -1;
				} else {
					end = 1;
					if (resp->status != 0) {
						if (!b->errors)
							snprintf(b->first_error, sizeof(b->first_error),
								 "%s", resp->error ? resp->error : "");
						b->errors++;
					}
				}
				/* resp lives in the reader's arena until its next step: not freed */
				if (!end)
					continue;
				last_done_ms = now;
				if (op_ended(b, k, op, count, sequential, lat, t, &issued, &done) != 0)
					return -1;
			}
		}
		if (now - last_done_ms > STALL_MS) {
			cli_err(b->c, "bench: no %s for %d s (%" PRIu64 " of %" PRIu64 " %s ops done)",
				b->bft ? "f + 1 replies" : "reply", STALL_MS / 1000, done, count, label);
			return -2;
		}
		/* A progress line on a terminal only (redrawn); quiet when stderr is piped. */
		if (tty && now - last_progress >= 1000) {
			fprintf(stderr, "\rbench: %s %" PRIu64 "/%" PRIu64 " ops, %.0f ops/s \033[K", label,
				done, count, (double)done * 1000.0 / (double)(now - t0 + 1));
			last_progress = now;
		}
	}
	if (tty && last_progress != t0)
		fputs("\r\033[K", stderr);
	/* Nothing is queued: the last ops issued nothing more. */
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_ms(const uint64_t *sorted, uint64_t n, double p)
{
	if (!n)
		return 0;
	uint64_t rank = (uint64_t)(p * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)sorted[rank - 1] / 1e6;
}

/* Status counter NAME of node ep (0 if unknown); false if the node does not answer. */
static bool status_counter(struct bench *b, const struct cli_endpoint *ep, const char *name,
			   uint64_t *out)
{
	char err[200];
	int fd = cli_connect(ep, cli_now_ms() + 1000, err, sizeof(err));
	if (fd < 0)
		return false;
	Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
	Strata__Client__StatusRequest sr = STRATA__CLIENT__STATUS_REQUEST__INIT;
	req.id = cli_next_id(b->c);
	req.body_case = STRATA__CLIENT__REQUEST__BODY_STATUS;
	req.status = &sr;
	Strata__Client__Response *resp = NULL;
	bool ok = cli_send(fd, &req, cli_now_ms() + 1000, err, sizeof(err)) == 0 &&
		  cli_recv(fd, &resp, cli_now_ms() + 1000, err, sizeof(err)) == 0 && resp &&
		  resp->body_case == STRATA__CLIENT__RESPONSE__BODY_STATUS_REPLY;
	*out = 0;
	if (ok)
		for (size_t i = 0; i < resp->status_reply->n_counters; i++)
			if (strcmp(resp->status_reply->counters[i]->name, name) == 0)
				*out = resp->status_reply->counters[i]->value;
	if (resp)
		strata__client__response__free_unpacked(resp, NULL);
	close(fd);
	return ok;
}

/* Every node's store_syncs into v[] (-1: the node did not answer). */
static void syncs_of(struct bench *b, long long *v)
{
	for (int i = 0; i < b->neps; i++) {
		uint64_t x;
		v[i] = status_counter(b, &b->eps[i], "store_syncs", &x) ? (long long)x : -1;
	}
}

/* The sum of b - a over the nodes known at both ends (a node lost in between, or not readable,
 * counts for nothing rather than its whole counter); -1 if there is none. */
static long long delta_sum(const long long *a, const long long *b, int n)
{
	long long sum = -1;
	for (int i = 0; i < n; i++)
		if (a[i] >= 0 && b[i] >= a[i])
			sum = (sum < 0 ? 0 : sum) + (b[i] - a[i]);
	return sum;
}

/* The endpoint of the KV leader (waits up to 5 s for one). */
static int find_leader(struct bench *b)
{
	uint64_t deadline = cli_now_ms() + 5000;
	while (cli_now_ms() < deadline) {
		for (int i = 0; i < b->neps; i++) {
			uint64_t l;
			if (!status_counter(b, &b->eps[i], "kv_leader", &l) || l == 0)
				continue;
			for (int j = 0; j < b->neps; j++)
				if (b->eps[j].id == l)
					return j;
		}
		usleep(50000);
	}
	return -1;
}

/* Server CPU ticks of every node PID listed in <dir>/pids into tk[] (-1: not readable). */
static void server_ticks(struct bench *b, long long *tk)
{
	for (int i = 0; i < b->neps; i++) {
		tk[i] = -1;
		char path[4200];
		snprintf(path, sizeof(path), "%s/pids/node-%u.pid", b->c->dir, b->eps[i].id);
		FILE *f = fopen(path, "r");
		long pid = 0;
		if (!f)
			continue;
		if (fscanf(f, "%ld", &pid) != 1)
			pid = 0;
		fclose(f);
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		f = pid > 0 ? fopen(path, "r") : NULL;
		if (!f)
			continue;
		char buf[2048];
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = 0;
		char *p = strrchr(buf, ')');
		unsigned long long ut = 0, st = 0;
		/* Fields after the command: state, ppid, ... utime is the 12th, stime the 13th. */
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
				&st) == 2)
			tk[i] = (long long)(ut + st);
	}
}

static double client_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static bool parse_u64_opt(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v > max || s[0] == '-')
		return false;
	*out = v;
	return true;
}

static void print_histogram(const uint64_t *sorted, uint64_t n)
{
	/* Log-scale buckets: 0.05 ms doubling. */
	double edge = 0.05;
	uint64_t i = 0;
	printf("latency histogram (ms):\n");
	while (i < n) {
		uint64_t cnt = 0;
		while (i < n && (double)sorted[i] / 1e6 <= edge) {
			cnt++;
			i++;
		}
		if (cnt) {
			int bar = (int)(50.0 * (double)cnt / (double)n + 0.5);
			printf("  <= %8.2f %8" PRIu64 " %5.1f%% ", edge, cnt, 100.0 * (double)cnt / (double)n);
			for (int k = 0; k < bar; k++)
				putchar('#');
			putchar('\n');
		}
		edge *= 2;
	}
}

/* The measured ops' timestamps to DIR/client.tt: "STRATATC", u32 version (1), u32 ops, then
 * per op three u64 (send, poll return, reply read; CLOCK_MONOTONIC ns, host byte order). */
static void tt_write(const struct bench *b, const char *dir)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/client.tt", dir);
	FILE *f = fopen(path, "wb");
	uint32_t hdr[2] = { 1, (uint32_t)b->total };
	if (!f || fwrite("STRATATC", 1, 8, f) != 8 || fwrite(hdr, sizeof hdr, 1, f) != 1 ||
	    fwrite(b->tt, sizeof(*b->tt), b->total, f) != b->total)
		cli_err(b->c, "bench: %s: cannot write the turn trace", path);
	if (f)
		fclose(f);
}

static int bench_run(struct bench *b)
{
	b->neps = cli_endpoints(b->c, true, b->eps, STRATA_MAX_NODES);
	if (b->neps < 0)
		return CLI_EXIT_USAGE;
	b->val = malloc(b->val_size + 1);
	b->cl = calloc(b->clients, sizeof(*b->cl));
	b->lat_ns = malloc(b->total * sizeof(*b->lat_ns));
	if (!b->val || !b->cl || !b->lat_ns) {
		cli_err(b->c, "bench: out of memory");
		return CLI_EXIT_FAIL;
	}
	const char *ttdir = getenv("STRATA_TURN_TRACE");
	if (ttdir && *ttdir && !b->bft && !(b->tt = calloc(b->total, sizeof(*b->tt)))) {
		cli_err(b->c, "bench: out of memory");
		return CLI_EXIT_FAIL;
	}
	for (uint32_t i = 0; i < b->val_size; i++)
		b->val[i] = (char)('a' + i % 26);
	randombytes_buf(&b->rng, sizeof(b->rng));
	b->rng |= 1;
	/* A BFT KV cluster: every request to every replica, the f + 1 vote (see the header). */
	b->bft = cli_bft_cluster(b->c);
	if (b->bft) {
		b->cfg = cli_config(b->c);
		b->bq = calloc(b->clients, sizeof(*b->bq));
		b->bdig = calloc(SMR_BFT_ENV_MAX, sizeof(*b->bdig));
		b->bauth = calloc(SMR_BFT_ENV_MAX, SMR_BFT_AUTH_MAX);
		b->blen = calloc(SMR_BFT_ENV_MAX, sizeof(*b->blen));
		b->bidx = calloc(SMR_BFT_ENV_MAX, sizeof(*b->bidx));
		if (!b->cfg || !b->bq || !b->bdig || !b->bauth || !b->blen || !b->bidx ||
		    cli_bft_key_new(&b->pkey) != 0) {
			cli_err(b->c, "bench: out of memory");
			return CLI_EXIT_FAIL;
		}
	}
	/* A request wakes a dormant store; then the leader is known. */
	int target = 0;
	if (!b->bft && (!b->all || b->neps == 1)) {
		char key[64];
		key_of(b, 0, key);
		struct cli_op_args a = { .module = "kv", .op = CLI_OP_READ, .key = key,
					 .key_len = b->key_size };
		int rc = cli_op(b->c, &a, NULL, NULL);
		if (rc != CLI_EXIT_OK)
			return rc;
		target = b->neps > 1 && b->eps[0].id ? find_leader(b) : 0;
		if (target < 0) {
			cli_err(b->c, "bench: no kv leader known after 5 s");
			return CLI_EXIT_UNKNOWN;
		}
	}
	/* The connections: conns of them (BFT: to every replica), spread round-robin over the nodes
	 * with --target all; client i on connection i mod conns. Each buffer is sized by the
	 * clients on the connection (one request in flight each): a frame of each. */
	if (b->conns == 0 || b->conns > b->clients)
		b->conns = b->clients;
	b->ncn = b->conns * (b->bft ? (unsigned)b->neps : 1u);
	b->cn = calloc(b->ncn, sizeof(*b->cn));
	b->pf = calloc(b->ncn, sizeof(*b->pf));
	b->dirty = calloc(b->ncn, sizeof(*b->dirty));
	if (!b->cn || !b->pf || !b->dirty) {
		cli_err(b->c, "bench: out of memory");
		return CLI_EXIT_FAIL;
	}
	for (unsigned x = 0; x < b->ncn; x++)
		b->cn[x].fd = -1;
	unsigned per = (b->clients + b->conns - 1) / b->conns;
	size_t frame = 512u + (b->op == CLI_OP_READ ? b->val_size : 0u);
	for (unsigned x = 0; x < b->ncn; x++) {
		struct bconn *n = &b->cn[x];
		n->ep = b->bft ? (int)(x % (unsigned)b->neps)
			: b->all ? (int)(x % (unsigned)b->neps) : target;
		char err[200];
		if (cli_breader_init(&n->rd, per * frame > 4096 ? per * frame : 4096) != 0) {
			cli_err(b->c, "bench: out of memory");
			return CLI_EXIT_FAIL;
		}
		n->fd = cli_connect(&b->eps[n->ep], cli_now_ms() + 2000, err, sizeof(err));
		if (n->fd < 0) {
			cli_err(b->c, "bench: connect: %s", err);
			return CLI_EXIT_UNKNOWN;
		}
	}
	for (unsigned i = 0; i < b->clients; i++) {
		struct bclient *k = &b->cl[i];
		k->conn = i % b->conns;
		if (b->bft) { /* the session at index i of the process's key pair */
			k->session = smr_bft_session_at(b->pkey.pk, i);
		} else {
			randombytes_buf(&k->session, sizeof(k->session));
			k->session |= 1;
		}
	}
	int rc = 0;
	if (b->preload)
		rc = run_phase(b, CLI_OP_WRITE, b->key_space, true, NULL, "preload");
	if (!rc && b->warmup)
		rc = run_phase(b, b->op, b->warmup, false, NULL, "warmup");
	uint64_t preload_errors = b->errors;
	b->errors = 0;
	long long sy0[STRATA_MAX_NODES], sy1[STRATA_MAX_NODES], tk0[STRATA_MAX_NODES],
		tk1[STRATA_MAX_NODES];
	if (!rc)
		syncs_of(b, sy0);
	server_ticks(b, tk0);
	double cc0 = client_cpu_s();
	uint64_t t0 = now_ns(), sv0 = b->seen.verified, env0 = b->envelopes;
	if (!rc)
		rc = run_phase(b, b->op, b->total, false, b->lat_ns, b->op == CLI_OP_WRITE ? "put" : "get");
	uint64_t t1 = now_ns();
	double sv_op = (double)(b->seen.verified - sv0) / (double)b->total;
	double ss_op = (double)(b->envelopes - env0) / (double)b->total;
	double cc1 = client_cpu_s();
	server_ticks(b, tk1);
	if (!rc)
		syncs_of(b, sy1);
	for (unsigned x = 0; x < b->ncn; x++)
		if (b->cn[x].fd >= 0) {
			close(b->cn[x].fd);
			b->cn[x].fd = -1;
		}
	if (rc)
		return rc == -2 ? CLI_EXIT_UNKNOWN : CLI_EXIT_FAIL;
	if (b->tt)
		tt_write(b, ttdir);
	qsort(b->lat_ns, b->total, sizeof(*b->lat_ns), cmp_u64);
	double secs = (double)(t1 - t0) / 1e9;
	double ops = (double)b->total / secs;
	double hz = (double)sysconf(_SC_CLK_TCK);
	/* A node that stopped during the run counts for nothing (its /proc entry is gone). */
	long long tk = delta_sum(tk0, tk1, b->neps), sy = delta_sum(sy0, sy1, b->neps);
	double srv_us = tk >= 0 ? (double)tk / hz * 1e6 / (double)b->total : -1;
	double cli_us = (cc1 - cc0) * 1e6 / (double)b->total;
	double syncs = sy >= 0 ? (double)sy / (double)b->total : 0;
	const char *name = b->op == CLI_OP_WRITE ? "put" : b->serializable ? "get-serializable" : "get";
	if (b->c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "op");
		cli_json_string(&j, name);
		cli_json_key(&j, "clients");
		cli_json_uint(&j, b->clients);
		cli_json_key(&j, "total");
		cli_json_uint(&j, b->total);
		cli_json_key(&j, "conns");
		cli_json_uint(&j, b->conns);
		char num[64];
#define JNUM(k, fmt, v)                                                                          \
	do {                                                                                     \
		cli_json_key(&j, k);                                                             \
		snprintf(num, sizeof(num), fmt, v);                                              \
		fputs(num, stdout);                                                              \
		j.after_key = false;                                                             \
		j.need_comma[j.depth] = true;                                                    \
	} while (0)
		JNUM("ops_per_s", "%.1f", ops);
		JNUM("p50_ms", "%.3f", pct_ms(b->lat_ns, b->total, 0.50));
		JNUM("p99_ms", "%.3f", pct_ms(b->lat_ns, b->total, 0.99));
		JNUM("p999_ms", "%.3f", pct_ms(b->lat_ns, b->total, 0.999));
		JNUM("server_cpu_us_per_op", "%.1f", srv_us);
		JNUM("client_cpu_us_per_op", "%.1f", cli_us);
		JNUM("syncs_per_op", "%.3f", syncs);
		if (b->bft)
			JNUM("client_sig_verified_per_op", "%.2f", sv_op);
		if (b->bft)
			JNUM("client_sig_signed_per_op", "%.2f", ss_op);
#undef JNUM
		cli_json_key(&j, "errors");
		cli_json_uint(&j, b->errors);
		cli_json_key(&j, "nodes");
		cli_json_uint(&j, (uint64_t)b->neps);
		cli_json_end_object(&j);
	} else {
		printf("strata %s c=%u conns=%u%s: %.0f ops/s p50=%.3fms p99=%.3fms p999=%.3fms | server CPU "
		       "%.1f us/op, client CPU %.1f us/op, %.3f syncs/op (sum over %d nodes), %" PRIu64
		       " errors\n",
		       name, b->clients, b->conns, b->bft ? " per replica" : "", ops, pct_ms(b->lat_ns, b->total, 0.50),
		       pct_ms(b->lat_ns, b->total, 0.99), pct_ms(b->lat_ns, b->total, 0.999), srv_us,
		       cli_us, syncs, b->neps, b->errors);
		if (b->bft)
			printf("BFT KV: every op sent to all %d replicas, ended by f + 1 = %u equal "
			       "signed replies; client sig_verified %.2f per op (%" PRIu64 " in all, "
			       "%" PRIu64 " did not verify), client sig_signed %.2f per op (request "
			       "envelopes)\n",
			       b->neps, b->cfg->f + 1, sv_op, b->seen.verified, b->bad_sig, ss_op);
		print_histogram(b->lat_ns, b->total);
	}
	if (b->errors || preload_errors)
		cli_err(b->c, "bench: %" PRIu64 " errors (first: %s)", b->errors + preload_errors,
			b->first_error);
	return CLI_EXIT_OK;
}

int cmd_bench(struct cli *c, int argc, char **argv)
{
	if (argc < 2 || cli_is_help(argv[1])) {
		fputs(bench_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	struct bench b = { .c = c, .clients = 1, .total = 10000, .warmup = UINT64_MAX,
			   .key_space = 10000, .key_size = 16, .val_size = 100, .preload = true };
	if (strcmp(argv[1], "put") == 0)
		b.op = CLI_OP_WRITE;
	else if (strcmp(argv[1], "get") == 0)
		b.op = CLI_OP_READ;
	else
		return cli_usage_err(c, "bench", "bench: unknown workload '%s' (put, get)", argv[1]);
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i];
		if (cli_is_help(o)) {
			fputs(bench_help, stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(o, "--no-preload") == 0) {
			b.preload = false;
			continue;
		}
		if (strcmp(o, "--serializable") == 0) {
			b.serializable = true;
			continue;
		}
		if (i + 1 >= argc)
			return cli_usage_err(c, "bench", "bench: %s needs a value", o);
		const char *v = argv[++i];
		uint64_t x = 0;
		if (strcmp(o, "--conns") == 0) {
			if (strcmp(v, "auto") == 0)
				b.conns = CONNS_AUTO;
			else if (strcmp(v, "client") == 0)
				b.conns = CONNS_CLIENT;
			else if (parse_u64_opt(v, BENCH_MAX_CLIENTS, &x) && x)
				b.conns = (unsigned)x;
			else
				return cli_usage_err(c, "bench", "bench: --conns N (1 to %d), auto or "
						     "client, not '%s'", BENCH_MAX_CLIENTS, v);
		} else if (strcmp(o, "--target") == 0) {
			if (strcmp(v, "leader") != 0 && strcmp(v, "all") != 0)
				return cli_usage_err(c, "bench", "bench: --target leader or all, not '%s'", v);
			b.all = strcmp(v, "all") == 0;
		} else if (strcmp(o, "--clients") == 0 && parse_u64_opt(v, BENCH_MAX_CLIENTS, &x) && x) {
			b.clients = (unsigned)x;
		} else if (strcmp(o, "--total") == 0 && parse_u64_opt(v, 100000000, &x) && x) {
			b.total = x;
		} else if (strcmp(o, "--warmup") == 0 && parse_u64_opt(v, 100000000, &x)) {
			b.warmup = x;
		} else if (strcmp(o, "--key-space") == 0 && parse_u64_opt(v, 100000000, &x) && x) {
			b.key_space = x;
		} else if (strcmp(o, "--key-size") == 0 && parse_u64_opt(v, 32, &x) && x >= 2) {
			b.key_size = (uint32_t)x;
		} else if (strcmp(o, "--val-size") == 0 && parse_u64_opt(v, 1u << 20, &x)) {
			b.val_size = (uint32_t)x;
		} else {
			return cli_usage_err(c, "bench", "bench: bad option or value '%s'", o);
		}
	}
	/* auto: etcd's benchmark tool's 10 clients per connection (ceil(C / 10)); never more
	 * connections than clients */
	if (b.conns == CONNS_AUTO)
		b.conns = (b.clients + 9) / 10;
	if (b.conns > b.clients)
		b.conns = b.clients;
	if (b.warmup == UINT64_MAX) /* etcd's method: max(500, 10 c) unmeasured ops first */
		b.warmup = b.clients * 10u > 500 ? b.clients * 10u : 500;
	/* key_size - 1 decimal digits must hold every index. */
	uint64_t cap = 1;
	for (uint32_t d = 1; d < b.key_size && cap <= UINT64_MAX / 10; d++)
		cap *= 10;
	if (b.key_size < 20 && b.key_space > cap)
		return cli_usage_err(c, "bench", "bench: --key-space %s does not fit in the key size",
				     "K");
	int rc = bench_run(&b);
	free(b.val);
	for (unsigned x = 0; b.cn && x < b.ncn; x++) {
		if (b.cn[x].fd >= 0)
			close(b.cn[x].fd);
		cli_breader_free(&b.cn[x].rd);
		cli_wbuf_free(&b.cn[x].wb);
	}
	free(b.cn);
	free(b.dirty);
	free(b.pf);
	cli_bft_key_wipe(&b.pkey);
	free(b.bq);
	free(b.bdig);
	free(b.bauth);
	free(b.blen);
	free(b.bidx);
	free(b.cl);
	free(b.lat_ns);
	free(b.tt);
	return rc;
}
