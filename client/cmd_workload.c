/* `strata workload`: concurrent logical clients doing random reads and writes against a register
 * or the leaderless store, recording a history in Jepsen's shape for `strata check`.
 *
 *   strata workload [--algo NAME] [--clients C] [--keys K] [--duration SEC] [--nodes LIST]
 *                   [--read-ratio R] [--op-timeout MS] [--out FILE] [--r R] [--w W] [--prefix P]
 *
 * Each logical client keeps one connection to one node (clients are spread round-robin over the
 * chosen nodes) and has at most one operation outstanding. Every operation is recorded as an
 * invoke line and then ok (the node answered), fail (the node definitely refused) or info (no
 * answer in time, the connection broke, or the node reported a timeout: the outcome is unknown).
 * After an info the process is considered crashed, as Jepsen does: the client continues as a new
 * process (id + C) on the next node. Written values are unique ("p<process>-<n>"), so the checker
 * can tell every write apart. Times are CLOCK_MONOTONIC nanoseconds from the start. --r/--w
 * (leaderless store only) override the cluster's [lkv] quorums in every request, as `strata lkv`
 * does: with R + W <= replicas the history is not expected to be linearizable.
 *
 * --kv runs against the replicated KV store (module kv): a fifth of the writes are cas
 * operations expecting the last value this workload saw acknowledged for the key (recorded as
 * f "cas" with [old, new]; "compare failed" is a definite failure), and every write carries the
 * client's session and a sequence number, so a resend is applied once.
 *
 * On a BFT KV cluster (`[smr] log = bft-tob` or `btob`, client/bft.c) every logical client
 * keeps one connection to every chosen node, sends each operation (reads too, in its session
 * with the next sequence number) to all of them, and takes the outcome f + 1 replicas returned
 * signed alike; a reply whose signature does not verify counts for nothing. An operation with
 * no f + 1 equal outcomes by --op-timeout (or once every node answered or failed) is info.
 *
 * --nemesis kill,pause,partition [--interval S] injects faults while the clients run and ends
 * them all before returning; each fault is a {"process":"nemesis",...} line of the history
 * (client/wl_nemesis.c). */
#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check/check.h"
#include "cli.h"
#include "core/error.h"
#include "core/stack.h"
#include "smr/smr.h"
#include "wl_nemesis.h"

#define WL_MAX_CLIENTS 256
#define WL_PREFIX_MAX 16

static const char workload_help[] =
	"usage: strata workload [--kv | --algo NAME] [--clients C] [--keys K] [--duration SEC]\n"
	"                       [--nodes LIST] [--read-ratio R] [--op-timeout MS] [--out FILE]\n"
	"                       [--r R] [--w W] [--nemesis KINDS [--interval S]] [--prefix P]\n"
	"\n"
	"Runs C concurrent logical clients (default 8) doing random reads and writes on K keys\n"
	"(default 3) for SEC seconds (default 10) against the nodes in LIST (default: all), with a\n"
	"register algorithm or the leaderless store (--algo, default nnar; e.g. lkv), and records a\n"
	"history as JSON lines (default history.jsonl) for `strata check --model atomic FILE`.\n"
	"The keys are P + \"k0\" .. P + \"k<K-1>\": P is --prefix (at most 16 printable bytes, no\n"
	"blanks; \"\" gives k0, k1, ...), by default a fresh run id (\"w\" and 6 hex digits and \"-\"),\n"
	"because the checker takes every key to start empty: a run on keys an earlier run wrote\n"
	"reads that run's values and is reported as a violation.\n"
	"An operation without an answer within MS ms (default: --timeout) is recorded as info.\n"
	"--r/--w (--algo lkv only) override the cluster's [lkv] r and w in every request.\n"
	"--kv: the replicated KV store (--algo kv) with put, get and cas (a fifth of the writes),\n"
	"each write in the client's session (exactly-once).\n"
	"--nemesis KINDS: faults during the run, from kill, pause, partition (comma-separated,\n"
	"taking turns): every S seconds (default 5, decimals allowed) one starts or the one in\n"
	"force ends (a random node SIGKILLed then restarted, SIGSTOPped then resumed; a random\n"
	"split into halves then healed). Everything is restored before the workload ends, and each fault is written into\n"
	"the history as a \"nemesis\" event, which `strata check` prints and does not check.\n"
	"kill and pause need a cluster run by scripts/cluster, partition [cluster] nemesis = on.\n"
	"On a terminal a progress line (elapsed time, ok/fail/info so far) is redrawn on stderr;\n"
	"piped or redirected, nothing but the summary is printed.\n"
	"Exit: 0 when at least one operation succeeded; 1 when none did and the nodes refused\n"
	"them or a nemesis action failed, 3 when none did and none were answered (the reason is\n"
	"printed).\n";

enum wl_state { WL_IDLE, WL_WAITING };

struct wl_client {
	int fd;
	size_t ep;            /* index into the endpoints */
	int64_t process;
	enum wl_state state;
	uint64_t req_id;
	uint64_t deadline_ms;
	uint64_t retry_at_ms;
	bool is_read;
	bool is_cas;
	uint64_t session, seq;
	uint32_t ki;          /* the key's index: key = the run's prefix + "k" + ki */
	char key[40];
	char value[64];
	char old[64];
	struct cli_reader rd;
	unsigned long nops;
	/* BFT KV: per endpoint a connection (-1 = none), its reader and whether it answered the
	 * operation in flight; the vote over the verified replies. */
	int *bfd;
	struct cli_reader *brd;
	bool *bdone;
	struct smr_bft_vote vote;
	struct cli_bft_key bkey; /* the key pair that owns the session (signed requests) */
};

struct wl {
	struct cli *c;
	FILE *out;
	uint64_t t0_ns;
	struct cli_endpoint eps[STRATA_MAX_NODES];
	size_t neps;
	unsigned long ok, fail, info, io_errors;
	const struct strata_algo *algo;
	uint32_t writer;
	uint32_t r, w;        /* lkv quorum overrides, 0 = the cluster's */
	bool kv;              /* the replicated KV store: cas and sessions */
	bool bft;             /* kv on a BFT KV cluster: every node, f + 1 signed replies */
	const struct strata_config *cfg;
	char seen[64][64];    /* kv: last value acknowledged per key (keys < 64), for cas */
	char prefix[WL_PREFIX_MAX + 1]; /* every key's: this run's (--prefix) */
	char first_fail[256]; /* the first refusal's error text, for the summary */
	unsigned long bad_sig; /* BFT KV: replies whose signature did not verify */
	struct smr_bft_seen envs; /* BFT KV: reply envelopes verified (client/bft.c) */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t wl_time(const struct wl *w)
{
	return mono_ns() - w->t0_ns;
}

static void record(struct wl *w, const struct wl_client *k, enum strata_hist_type type,
		   const char *value)
{
	if (strata_history_append(w->out, k->process, type,
				  k->is_read ? STRATA_HIST_READ
				  : k->is_cas ? STRATA_HIST_CAS : STRATA_HIST_WRITE,
				  k->key, k->is_cas ? k->old : value, k->is_cas ? value : NULL,
				  wl_time(w)) != 0)
		w->io_errors++;
}

/* The process behind this client is over (its last op's outcome is unknown): continue as a new
 * process on the next node. */
static void crash_client(struct wl *w, struct wl_client *k, size_t nclients)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	cli_reader_free(&k->rd);
	cli_reader_init(&k->rd);
	for (size_t e = 0; w->bft && e < w->neps; e++) {
		if (k->bfd[e] >= 0)
			close(k->bfd[e]);
		k->bfd[e] = -1;
		cli_reader_free(&k->brd[e]);
		cli_reader_init(&k->brd[e]);
	}
	k->process += (int64_t)nclients;
	k->session = 0; /* a new process, a new session */
	k->ep = (k->ep + 1) % w->neps;
	k->state = WL_IDLE;
}

static void complete(struct wl *w, struct wl_client *k, const Strata__Client__Response *r,
		     size_t nclients)
{
	if (r->status == 0) {
		char val[1024];
		const char *v = k->value;
		if (k->is_read) {
			v = NULL;
			if (r->body_case == STRATA__CLIENT__RESPONSE__BODY_OP && r->op->found) {
				size_t n = r->op->value.len < sizeof(val) - 1 ? r->op->value.len
									     : sizeof(val) - 1;
				memcpy(val, r->op->value.data, n);
				val[n] = 0;
				v = val;
			}
		}
		record(w, k, STRATA_HIST_OK, v);
		w->ok++;
		k->state = WL_IDLE;
		unsigned ki = k->ki;
		if (w->kv && ki < 64) {
			size_t n = v ? strlen(v) : 0;
			if (n >= sizeof(w->seen[ki]))
				n = 0; /* not a value this workload wrote: no expectation */
			memcpy(w->seen[ki], v ? v : "", n);
			w->seen[ki][n] = 0;
		}
	} else if (cli_status_unknown(r->status)) {
		record(w, k, STRATA_HIST_INFO, k->is_read ? NULL : k->value);
		w->info++;
		crash_client(w, k, nclients);
	} else {
		record(w, k, STRATA_HIST_FAIL, k->is_read ? NULL : k->value);
		if (!w->fail)
			snprintf(w->first_fail, sizeof w->first_fail, "%s",
				 r->error && r->error[0] ? r->error : "no reason given");
		w->fail++;
		k->state = WL_IDLE;
	}
}

static void start_op(struct wl *w, struct wl_client *k, uint32_t keys, double read_ratio,
		     int op_timeout_ms, size_t nclients)
{
	uint64_t now = cli_now_ms();
	char err[256];
	if (w->bft) {
		size_t up = 0;
		for (size_t e = 0; e < w->neps; e++) {
			if (k->bfd[e] < 0)
				k->bfd[e] = cli_connect(&w->eps[e], now + 300, err, sizeof err);
			up += k->bfd[e] >= 0;
		}
		if (up == 0) { /* nothing was sent: no op to record; try again later */
			k->retry_at_ms = now + 100;
			return;
		}
	} else if (k->fd < 0) {
		k->fd = cli_connect(&w->eps[k->ep], now + 300, err, sizeof err);
		if (k->fd < 0) { /* nothing was sent: no op to record; try the next node later */
			k->ep = (k->ep + 1) % w->neps;
			k->retry_at_ms = now + 100;
			return;
		}
	}
	k->is_read = (double)random() / (double)RAND_MAX < read_ratio;
	k->is_cas = w->kv && !k->is_read && random() % 5 == 0;
	/* Single-writer registers: only clients of the writer write. */
	if (w->algo && w->algo->single_writer && w->eps[k->ep].id != w->writer)
		k->is_read = true;
	k->ki = (uint32_t)(random() % (long)keys);
	snprintf(k->key, sizeof k->key, "%sk%u", w->prefix, k->ki);
	snprintf(k->value, sizeof k->value, "p%lld-%lu", (long long)k->process, ++k->nops);
	if (k->is_cas) {
		unsigned ki = k->ki;
		snprintf(k->old, sizeof k->old, "%s", ki < 64 && w->seen[ki][0] ? w->seen[ki] : "none");
	}

	Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
	Strata__Client__OpRequest op = STRATA__CLIENT__OP_REQUEST__INIT;
	op.module = (char *)(w->algo ? w->algo->name : "nnar");
	op.op = k->is_read ? CLI_OP_READ : CLI_OP_WRITE;
	op.key.data = (uint8_t *)k->key;
	op.key.len = strlen(k->key);
	op.r = w->r;
	op.w = k->is_read ? 0 : w->w;
	if (!k->is_read) {
		op.value.data = (uint8_t *)k->value;
		op.value.len = strlen(k->value);
	}
	if (k->is_cas) {
		op.op = CLI_OP_CAS;
		op.value.data = (uint8_t *)k->old;
		op.value.len = strlen(k->old);
		op.value2.data = (uint8_t *)k->value;
		op.value2.len = strlen(k->value);
	}
	uint8_t auth[SMR_BFT_AUTH_LEN];
	if (w->kv && (!k->is_read || w->bft)) {
		if (!k->session) {
			k->session = ((uint64_t)random() << 32 ^ (uint64_t)random() ^ mono_ns()) | 1;
			if (w->bft && cli_bft_key_new(&k->bkey) == 0)
				k->session = k->bkey.session; /* the session its key pair owns */
			k->seq = 0;
		}
		op.session = k->session;
		op.seq = ++k->seq;
		if (w->bft)
			cli_bft_sign(&k->bkey, &op, auth);
	}
	req.body_case = STRATA__CLIENT__REQUEST__BODY_OP;
	req.op = &op;
	req.id = k->req_id = cli_next_id(w->c);
	record(w, k, STRATA_HIST_INVOKE, k->is_read ? NULL : k->value);
	if (w->bft) {
		size_t sent = 0;
		smr_bft_vote_init(&k->vote, w->cfg->n, w->cfg->f);
		for (size_t e = 0; e < w->neps; e++) {
			k->bdone[e] = true;
			if (k->bfd[e] < 0)
				continue;
			if (cli_send(k->bfd[e], &req, now + (uint64_t)op_timeout_ms, err,
				     sizeof err) != 0) {
				close(k->bfd[e]);
				k->bfd[e] = -1;
				cli_reader_free(&k->brd[e]);
				cli_reader_init(&k->brd[e]);
				continue;
			}
			k->bdone[e] = false;
			sent++;
		}
		if (sent == 0) {
			record(w, k, STRATA_HIST_INFO, k->is_read ? NULL : k->value);
			w->info++;
			crash_client(w, k, nclients);
			return;
		}
		k->state = WL_WAITING;
		k->deadline_ms = now + (uint64_t)op_timeout_ms;
		return;
	}
	if (cli_send(k->fd, &req, now + (uint64_t)op_timeout_ms, err, sizeof err) != 0) {
		record(w, k, STRATA_HIST_INFO, k->is_read ? NULL : k->value);
		w->info++;
		crash_client(w, k, nclients);
		return;
	}
	k->state = WL_WAITING;
	k->deadline_ms = now + (uint64_t)op_timeout_ms;
}

/* BFT KV: reads what endpoint e's connection has for client k's operation in flight and votes;
 * completes the operation at f + 1 equal signed outcomes, or as info once every endpoint that
 * got it answered or failed without them. */
static void bft_step(struct wl *w, struct wl_client *k, size_t e, size_t nclients)
{
	for (;;) {
		Strata__Client__Response *r = NULL;
		char err[256];
		int rc = cli_reader_step(&k->brd[e], k->bfd[e], &r, err, sizeof err);
		if (rc == 0)
			break;
		if (rc < 0) {
			close(k->bfd[e]);
			k->bfd[e] = -1;
			cli_reader_free(&k->brd[e]);
			cli_reader_init(&k->brd[e]);
			k->bdone[e] = true;
			break;
		}
		if (r->id != k->req_id || k->bdone[e]) {
			strata__client__response__free_unpacked(r, NULL);
			continue;
		}
		k->bdone[e] = true;
		uint8_t oc[SMR_BFT_DIGEST_LEN];
		uint32_t rep = cli_bft_check(w->cfg, &w->envs, k->session, k->seq, r, oc);
		bool fresh = rep && !((k->vote.voted >> (rep - 1)) & 1);
		if (fresh && smr_bft_vote_add(&k->vote, rep, oc) >= w->cfg->f + 1) {
			complete(w, k, r, nclients);
			strata__client__response__free_unpacked(r, NULL);
			return;
		}
		if (!rep)
			w->bad_sig++;
		strata__client__response__free_unpacked(r, NULL);
	}
	for (size_t i = 0; i < w->neps; i++)
		if (!k->bdone[i])
			return;
	record(w, k, STRATA_HIST_INFO, k->is_read ? NULL : k->value);
	w->info++;
	crash_client(w, k, nclients);
}

static bool parse_nodes(const char *s, uint32_t *mask_out)
{
	uint64_t mask = 0;
	char buf[256];
	snprintf(buf, sizeof buf, "%s", s);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		uint32_t id;
		if (!cli_parse_u32(t, 1, 32, &id))
			return false;
		mask |= 1ull << id;
	}
	*mask_out = (uint32_t)(mask >> 1);
	return mask != 0;
}

/* --prefix: at most WL_PREFIX_MAX printable bytes without blanks (empty: the keys are k0, k1...). */
static bool prefix_ok(const char *v)
{
	size_t n = strlen(v);
	if (n > WL_PREFIX_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] <= ' ' || v[i] > '~')
			return false;
	return true;
}

int cmd_workload(struct cli *c, int argc, char **argv)
{
	uint32_t clients = 8, keys = 3, duration = 10, op_timeout = 0, node_mask = 0, qr = 0, qw = 0;
	double interval = 5;
	int nem_kinds[3], nem_n = 0;
	const char *nem_list = NULL;
	double read_ratio = 0.5;
	const char *algo_name = "nnar", *out_path = "history.jsonl", *prefix = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (cli_is_help(a)) {
			fputs(workload_help, stdout);
			return CLI_EXIT_OK;
		}
		bool ok = v != NULL;
		if (!strcmp(a, "--kv")) {
			algo_name = "kv";
			continue;
		}
		if (!strcmp(a, "--algo"))
			algo_name = v;
		else if (!strcmp(a, "--clients"))
			ok = ok && cli_parse_u32(v, 1, WL_MAX_CLIENTS, &clients);
		else if (!strcmp(a, "--keys"))
			ok = ok && cli_parse_u32(v, 1, 100000, &keys);
		else if (!strcmp(a, "--duration"))
			ok = ok && cli_parse_u32(v, 1, 86400, &duration);
		else if (!strcmp(a, "--op-timeout"))
			ok = ok && cli_parse_u32(v, 1, 600000, &op_timeout);
		else if (!strcmp(a, "--nodes"))
			ok = ok && parse_nodes(v, &node_mask);
		else if (!strcmp(a, "--out"))
			out_path = v;
		else if (!strcmp(a, "--prefix"))
			ok = ok && prefix_ok(prefix = v);
		else if (!strcmp(a, "--nemesis"))
			ok = ok && wl_nemesis_parse(nem_list = v, nem_kinds, &nem_n) == 0;
		else if (!strcmp(a, "--interval")) {
			char *end = NULL;
			interval = ok ? strtod(v, &end) : -1;
			ok = ok && end && end != v && !*end && interval >= 0.1 && interval <= 3600;
		}
		else if (!strcmp(a, "--r"))
			ok = ok && cli_parse_u32(v, 1, STRATA_MAX_NODES, &qr);
		else if (!strcmp(a, "--w"))
			ok = ok && cli_parse_u32(v, 1, STRATA_MAX_NODES, &qw);
		else if (!strcmp(a, "--read-ratio")) {
			char *end = NULL;
			read_ratio = ok ? strtod(v, &end) : -1;
			ok = ok && end && !*end && read_ratio >= 0 && read_ratio <= 1;
		} else
			return cli_usage_err(c, "workload", "workload: unknown option '%s'", a);
		if (!ok)
			return cli_usage_err(c, "workload", "workload: bad or missing value for %s", a);
		i++;
	}
	struct wl w = { .c = c };
	w.algo = strata_algo_find(algo_name);
	if (!w.algo || (strcmp(w.algo->family, "reg") && strcmp(w.algo->family, "lkv") &&
			strcmp(w.algo->family, "smr")))
		return cli_usage_err(c, "workload",
				     "workload: '%s' is not a register or key-value algorithm "
				     "(see `strata algos`)",
				     algo_name);
	if ((qr || qw) && strcmp(w.algo->family, "lkv"))
		return cli_usage_err(c, "workload",
				     "workload: --r/--w apply to the leaderless store (--algo lkv), "
				     "not to '%s'",
				     algo_name);
	if (!nem_list && interval != 5.0)
		return cli_usage_err(c, "workload", "workload: --interval goes with --nemesis");
	if (prefix)
		snprintf(w.prefix, sizeof w.prefix, "%s", prefix);
	else { /* a fresh run id: the checker takes every key to start empty */
		uint8_t id[3];
		randombytes_buf(id, sizeof id);
		snprintf(w.prefix, sizeof w.prefix, "w%02x%02x%02x-", id[0], id[1], id[2]);
	}
	w.r = qr;
	w.w = qw;
	w.kv = strcmp(w.algo->family, "smr") == 0;
	struct cli_endpoint all[STRATA_MAX_NODES];
	int n = cli_endpoints(c, true, all, STRATA_MAX_NODES);
	if (n < 0)
		return CLI_EXIT_USAGE;
	for (int i = 0; i < n; i++)
		if (!node_mask || all[i].id == 0 || (node_mask >> (all[i].id - 1)) & 1)
			w.eps[w.neps++] = all[i];
	if (!w.neps)
		return cli_usage_err(c, "workload", "workload: --nodes names no node of the cluster");
	const struct strata_config *cfg = c->endpoint[0] ? NULL : cli_config(c);
	w.writer = cfg ? cfg->writer : 1;
	w.cfg = cfg;
	w.bft = w.kv && cfg && smr_log_is_bft(cfg);
	if (!op_timeout)
		op_timeout = (uint32_t)c->timeout_ms;
	w.out = fopen(out_path, "w");
	if (!w.out) {
		cli_err(c, "workload: %s: %s", out_path, strerror(errno));
		return CLI_EXIT_USAGE;
	}
	srandom((unsigned)mono_ns());
	struct wl_client *k = calloc(clients, sizeof(*k));
	size_t per = w.bft ? w.neps : 1; /* connections per client */
	int *bfds = w.bft ? malloc(clients * per * sizeof(*bfds)) : NULL;
	struct cli_reader *brds = w.bft ? calloc(clients * per, sizeof(*brds)) : NULL;
	bool *bdones = w.bft ? calloc(clients * per, sizeof(*bdones)) : NULL;
	struct pollfd *pfd = calloc(clients * per, sizeof(*pfd));
	uint32_t *who = calloc(clients * per, sizeof(*who));
	if (!k || !pfd || !who || (w.bft && (!bfds || !brds || !bdones))) {
		free(k);
		free(bfds);
		free(brds);
		free(bdones);
		free(pfd);
		free(who);
		fclose(w.out);
		cli_err(c, "workload: out of memory");
		return CLI_EXIT_FAIL;
	}
	for (uint32_t i = 0; i < clients; i++) {
		k[i].fd = -1;
		k[i].ep = i % w.neps;
		k[i].process = i;
		cli_reader_init(&k[i].rd);
		if (w.bft) {
			k[i].bfd = bfds + i * per;
			k[i].brd = brds + i * per;
			k[i].bdone = bdones + i * per;
			for (size_t e = 0; e < per; e++) {
				k[i].bfd[e] = -1;
				cli_reader_init(&k[i].brd[e]);
			}
		}
	}
	w.t0_ns = mono_ns();
	struct wl_nemesis *nem = NULL;
	if (nem_n) {
		nem = wl_nemesis_new(c, nem_kinds, nem_n, interval, w.out, w.t0_ns);
		if (!nem) {
			free(k);
			fclose(w.out);
			return CLI_EXIT_USAGE;
		}
	}
	uint64_t end_ms = cli_now_ms() + (uint64_t)duration * 1000;
	/* A progress line on a terminal (stderr), redrawn every 250 ms; nothing when piped. */
	bool progress = isatty(STDERR_FILENO) != 0;
	uint64_t start_ms = cli_now_ms(), progress_at = start_ms;
	for (;;) {
		uint64_t now = cli_now_ms();
		bool running = now < end_ms, waiting = false;
		for (uint32_t i = 0; i < clients; i++) {
			if (k[i].state == WL_IDLE && running && now >= k[i].retry_at_ms)
				start_op(&w, &k[i], keys, read_ratio, (int)op_timeout, clients);
			waiting |= k[i].state == WL_WAITING;
		}
		if (progress && now >= progress_at) {
			uint64_t el = now - start_ms;
			fprintf(stderr, "\rworkload: %llu.%llu / %u s  %lu ok  %lu fail  %lu info%s ",
				(unsigned long long)(el / 1000), (unsigned long long)(el % 1000 / 100),
				duration, w.ok, w.fail, w.info, running ? "" : "  (finishing)");
			progress_at = now + 250;
		}
		if (!running && !waiting)
			break;
		if (nem && running)
			wl_nemesis_step(nem);
		nfds_t np = 0;
		uint64_t next = now + 20;
		if (nem && running && wl_nemesis_next_ms(nem) < next)
			next = wl_nemesis_next_ms(nem);
		for (uint32_t i = 0; i < clients; i++) {
			if (k[i].state != WL_WAITING)
				continue;
			for (size_t e = 0; w.bft && e < w.neps; e++) {
				if (k[i].bfd[e] < 0 || k[i].bdone[e])
					continue;
				pfd[np] = (struct pollfd){ .fd = k[i].bfd[e], .events = POLLIN };
				who[np++] = i * (uint32_t)per + (uint32_t)e;
			}
			if (!w.bft) {
				pfd[np] = (struct pollfd){ .fd = k[i].fd, .events = POLLIN };
				who[np++] = i;
			}
			if (k[i].deadline_ms < next)
				next = k[i].deadline_ms;
		}
		int timeout = next > now ? (int)(next - now) : 0;
		if (poll(pfd, np, timeout) < 0 && errno != EINTR)
			break;
		now = cli_now_ms();
		for (nfds_t p = 0; p < np; p++) {
			struct wl_client *kc = &k[who[p] / per];
			if (w.bft) {
				if (kc->state == WL_WAITING && pfd[p].revents)
					bft_step(&w, kc, who[p] % per, clients);
				if (kc->state == WL_WAITING && now >= kc->deadline_ms) {
					record(&w, kc, STRATA_HIST_INFO,
					       kc->is_read ? NULL : kc->value);
					w.info++;
					crash_client(&w, kc, clients);
				}
				continue;
			}
			if (pfd[p].revents) {
				Strata__Client__Response *r = NULL;
				char err[256];
				int rc = cli_reader_step(&kc->rd, kc->fd, &r, err, sizeof err);
				if (rc == 1) {
					if (r->id == kc->req_id)
						complete(&w, kc, r, clients);
					strata__client__response__free_unpacked(r, NULL);
					continue;
				}
				if (rc < 0) { /* connection lost mid-operation: outcome unknown */
					record(&w, kc, STRATA_HIST_INFO, kc->is_read ? NULL : kc->value);
					w.info++;
					crash_client(&w, kc, clients);
					continue;
				}
			}
			if (kc->state == WL_WAITING && now >= kc->deadline_ms) {
				record(&w, kc, STRATA_HIST_INFO, kc->is_read ? NULL : kc->value);
				w.info++;
				crash_client(&w, kc, clients);
			}
		}
	}
	for (uint32_t i = 0; i < clients; i++) {
		if (k[i].fd >= 0)
			close(k[i].fd);
		cli_reader_free(&k[i].rd);
		for (size_t e = 0; w.bft && e < w.neps; e++) {
			if (k[i].bfd[e] >= 0)
				close(k[i].bfd[e]);
			cli_reader_free(&k[i].brd[e]);
		}
		cli_bft_key_wipe(&k[i].bkey);
	}
	free(k);
	free(bfds);
	free(brds);
	free(bdones);
	free(pfd);
	free(who);
	if (progress)
		fputs("\r\033[K", stderr); /* the summary replaces the progress line */
	unsigned nem_failed = 0;

	if (nem)
		wl_nemesis_finish(nem, &nem_failed); /* every fault ended, recorded */
	int rc_close = fclose(w.out);
	if (w.io_errors || rc_close != 0) {
		cli_err(c, "workload: could not write %s completely", out_path);
		return CLI_EXIT_FAIL;
	}
	if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "history");
		cli_json_string(&j, out_path);
		cli_json_key(&j, "keys");
		char kr[64];
		snprintf(kr, sizeof kr, "%sk0..%sk%u", w.prefix, w.prefix, keys - 1);
		cli_json_string(&j, kr);
		cli_json_key(&j, "ok");
		cli_json_uint(&j, w.ok);
		cli_json_key(&j, "fail");
		cli_json_uint(&j, w.fail);
		cli_json_key(&j, "info");
		cli_json_uint(&j, w.info);
		cli_json_key(&j, "nemesis_failed");
		cli_json_uint(&j, nem_failed);
		cli_json_end_object(&j);
	} else
		printf("workload: %lu ok, %lu fail, %lu info on keys %sk0..%sk%u; history in %s\n",
		       w.ok, w.fail, w.info, w.prefix, w.prefix, keys - 1, out_path);
	if (w.bft && !c->json)
		printf("workload: BFT KV, every operation to %zu nodes, f + 1 = %u equal signed "
		       "replies accepted; %lu replies with a bad signature ignored\n",
		       w.neps, w.cfg->f + 1, w.bad_sig);
	if (w.ok == 0) {
		/* Not one operation succeeded: the run measured nothing and its history proves
		 * nothing. Say what the failures looked like. */
		if (w.fail)
			cli_err(c, "workload: no operation succeeded: the nodes refused all %lu; the "
				   "first refusal said: %s",
				w.fail, w.first_fail);
		else
			cli_err(c, "workload: no operation succeeded: %lu got no answer in time (are "
				   "the nodes up? see `strata status --all`)",
				w.info);
		return w.fail ? CLI_EXIT_FAIL : CLI_EXIT_UNKNOWN;
	}
	if (nem_failed) {
		cli_err(c, "workload: %u nemesis action(s) failed (printed above and in the history); "
			   "check `strata nemesis status` and `scripts/cluster status`",
			nem_failed);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}
