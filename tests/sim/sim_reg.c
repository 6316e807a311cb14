/* Simulation suite of the register family (src/reg/).
 *
 * Every run: n = 3 or 5 nodes, a few logical clients bound to nodes issue reads and writes on
 * two keys with sim_request, one operation at a time each, recording a Jepsen-shaped history
 * (invoke / ok / info, virtual times). Meanwhile the network drops, duplicates, delays and
 * reorders datagrams, a partition comes and heals, and up to f nodes crash (fail-recovery: crash
 * and restart). An operation whose node crashed before it returned is recorded as info. Then the
 * network heals and every operation invoked on a node that is still up must complete (liveness).
 * The 800 ms operation phase runs on while fewer than 5 operations completed and a client is
 * left, up to 3 times its length (SIM_OPS_EXTEND); a run still short then fails.
 * The history is judged by src/check: atomic registers must be linearizable, regular ones
 * regular.
 *
 * Storage faults (lmv-disk-*): syncs take 1-15 ms (the node keeps working meanwhile and holds
 * the replies and messages of the batches waiting for a sync), crash storms (every node at
 * once, twice per run) on top of the usual crashes, and per case: unsynced writes lost at a
 * crash, the last write torn (a prefix of the unsynced writes survives), or syncs that fail (the
 * node stops; the driver restarts it). lmv must stay atomic and live.
 *
 * Client deadlines (*-client-deadline): half the requests carry strata_request.timeout_ms; a
 * STRATA_ETIMEDOUT answer is an unknown outcome (info, the client becomes a new process), its
 * text must name a quorum, and no request may be answered twice. broken-deadline-taken-as-fail
 * records those answers as failures and must be caught by the atomic checker.
 *
 * Broken variants (expect_violation): Majority Voting judged as atomic must be caught (regular
 * is weaker than atomic: the atomic checker is not vacuous), the lecture notes' multi-valued
 * register assembled from binary registers must be caught by the regular checker, and lmv on a
 * runtime that acknowledges before its sync (sim_disk.ack_before_sync) must be caught, and
 * nnar (and the fail-recovery lmv) over a beb that loses messages (a test module put in beb's
 * place) must be caught by the liveness check: the registers stand on beb (+ pl for replies), as
 * the book stacks the crash-stop ones (lmv too, see docs/architecture.md).
 *
 * Sends the links refuse (core.c, reg_send): nnar-backlog (N = 3, `[links] backlog_bytes`
 * small, a calm network): node 1 writes once (the link sessions open), then the links from 2
 * and 3 to 1 are cut and their backlogs toward 1 filled to the last byte (lib/filler.h: the
 * node's other traffic), and node 1 writes again: the VALUE answers of 2 and 3 are refused by
 * the links, owed, and sent when the links heal (after 200 ms); the write must complete (it has
 * no deadline: nothing else would end it). A seed where 2 and 3 owed nothing is vacuous.
 * broken-nnar-backlog-no-owed (reg_test_no_owed: a refused answer is lost) must not complete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/check.h"
#include "core/error.h"
#include "core/stack.h"
#include "fd/fd.h"
#include "lib/model.h"
#include "lib/reg_sim.h"
#include "links/links.h"
#include "reg/reg.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#include "lib/filler.h"
#include "lib/history_verdict.h"

#define MAX_CLIENTS 6
#define MS 1000ull
/* Virtual time allowed after healing. Perfect links back off to retransmit_max_ms (1 s) while
 * a partition lasts and drain the backlog it left at that pace, so the compositions, which send
 * N^2 messages per operation, need seconds to catch up after a long partition. */
#define LIVENESS_MS 30000ull

struct client {
	uint32_t node;
	int64_t proc;
	bool busy, dead, writer_only, reader;
	uint64_t req_id, seq, next_at;
	uint8_t kind;
	const char *key;
	char val[24];
};

enum variant { V_NORMAL, V_TOTAL_RESTART, V_BINMVR, V_MV_AS_ATOMIC, V_GARBAGE, V_LOSSY_BEB,
	       V_DEADLINE, V_DEADLINE_AS_FAIL, V_BACKLOG, V_BACKLOG_NO_OWED, V_DISK_LOST,
	       V_DISK_TORN, V_DISK_FAIL, V_DISK_ACK_EARLY };

static bool disk_variant(enum variant v)
{
	return v >= V_DISK_LOST;
}

/* Client deadlines (strata_request.timeout_ms): half the requests carry 1..30 ms, so the node
 * answers many with STRATA_ETIMEDOUT while the operation runs on. V_DEADLINE records those as unknown
 * outcomes (Jepsen's info) and moves the client to a new process, as a client that gave up
 * must be; V_DEADLINE_AS_FAIL is the broken harness that takes a timeout for "did not
 * happen": the checker must catch a timed-out write that took effect. */
static bool deadline_variant(enum variant v)
{
	return v == V_DEADLINE || v == V_DEADLINE_AS_FAIL;
}

#define TIMED_OUT_MAX 4096 /* timed-out request ids remembered to catch a second reply */

struct run {
	struct sim *s;
	struct strata_config cfg;
	const struct strata_algo *algo;
	const char *module;
	enum variant variant;
	bool fail_stop, recovery, single_writer, one_reader;
	struct client cl[MAX_CLIENTS];
	unsigned ncl;
	FILE *hist;
	char *hbuf;
	size_t hlen;
	uint64_t procs;
	int error;
	char errtxt[256];
	unsigned ops_ok;
	uint64_t timed_out[TIMED_OUT_MAX]; /* ring of request ids answered STRATA_ETIMEDOUT */
	unsigned ntimed_out;
	struct sim_model model; /* fail-stop: did P stay accurate? */
	bool bk_got;            /* V_BACKLOG*: the reply to the write, and its status */
	int bk_status;
};

#define BACKLOG_REQ (1ull << 60) /* V_BACKLOG*: the request id of the write under test */

static const char *keys[] = { "x", "y" };

/* ---- a lossy beb (test module, V_LOSSY_BEB) ----
 * Registered as "beb" before the register is created, so the register's "uses beb"
 * (reg_use_beb -> bcast_open) gets this one. It implements the broadcast interface with no
 * header of its own: a broadcast is pl-sent to itself and to each other process with
 * probability 1/2, never retried; the perfect-link sender is the origin. A register standing on
 * it loses the READs and WRITEs a quorum needs, so operations stop completing: the liveness
 * check must catch it, which shows the registers really stand on beb. */
struct lossy_beb {
	struct strata_module m;
	struct strata_module *up;
	uint64_t inst;
};

/* upon <pl, Deliver | p, m> (instance inst): trigger <beb, Deliver | p, m> */
static void lossy_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct lossy_beb *b = (struct lossy_beb *)m;
	if (ev->type != STRATA_EV_PL_DELIVER || !ev->msg || !b->up || ev->instance != b->inst)
		return;
	struct strata_deliver d = { .origin = ev->peer, .seq = 0, .data = ev->msg->data,
				    .len = ev->msg->len };
	strata_raise_body(m->node, m, b->up, STRATA_EV_DELIVER, ev->peer, b->inst, 0, ev->msg, &d,
			  sizeof(d));
}

static int lossy_open(struct strata_module *m, uint64_t inst, struct strata_module *upper)
{
	struct lossy_beb *b = (struct lossy_beb *)m;
	if (b->up && (b->up != upper || b->inst != inst))
		return STRATA_EFULL; /* one upper is all this test needs */
	b->up = upper;
	b->inst = inst;
	return 0;
}

static int lossy_broadcast(struct strata_module *m, uint64_t inst, const uint8_t *data,
			   size_t len)
{
	struct strata_node *n = m->node;
	struct strata_msg *msg = strata_msg_new(data, len);
	if (!msg)
		return STRATA_ENOMEM;
	for (uint32_t q = 1; q <= strata_node_n(n); q++)
		if (q == strata_node_id(n) || strata_random_below(n, 2) == 0)
			(void)strata_pl_send(m, q, inst, msg);
	strata_msg_unref(msg);
	return 0;
}

static size_t lossy_payload_max(const struct strata_module *m)
{
	return strata_node_config(m->node)->max_value;
}

static void lossy_destroy(struct strata_module *m) { free(m); }

static const struct bcast_iface lossy_iface = {
	.open = lossy_open, .broadcast = lossy_broadcast, .payload_max = lossy_payload_max,
};

static const struct strata_module_ops lossy_ops = {
	.name = "beb", .handle = lossy_handle, .destroy = lossy_destroy, .iface = &lossy_iface,
};

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct run *r = arg;
	char err[256];
	if (r->fail_stop && !strata_fd_p_create(n, err, sizeof(err))) {
		fprintf(stderr, "build: %s\n", err);
		abort();
	}
	/* V_GARBAGE: the last node runs a garbage source in place of the register (a faulty
	 * node, counted against f), which therefore gets no clients. */
	if (r->variant == V_GARBAGE && strata_node_id(n) == r->cfg.n) {
		if (!reg_garbage_create(n, r->algo->name, r->algo->wire_id))
			abort();
		return;
	}
	if (r->variant == V_LOSSY_BEB) {
		const struct strata_algo *beb = strata_algo_find("beb");
		struct lossy_beb *b = calloc(1, sizeof(*b));
		if (!b || !beb)
			abort();
		strata_node_add_module(n, &b->m, &lossy_ops, beb->wire_id);
	}
	if (r->variant == V_BACKLOG || r->variant == V_BACKLOG_NO_OWED)
		sim_filler_add(n);
	struct strata_module *m = r->variant == V_BINMVR ? reg_binmvr_create(n, err, sizeof(err))
							 : strata_algo_create(r->algo, n, err, sizeof(err));
	if (!m) {
		fprintf(stderr, "build: %s\n", err);
		abort();
	}
	if (r->variant == V_BACKLOG_NO_OWED)
		reg_test_no_owed(m);
}

static void record(struct run *r, struct client *c, enum strata_hist_type t, const char *value)
{
	strata_history_append(r->hist, c->proc, t,
			      c->kind == REG_WRITE ? STRATA_HIST_WRITE : STRATA_HIST_READ, c->key,
			      value, NULL, sim_now(r->s) * 1000);
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	sim_model_output(&r->model, s, node, o);
	if (o->kind != STRATA_OUT_REPLY)
		return;
	if (o->a == BACKLOG_REQ) {
		r->bk_got = true;
		r->bk_status = o->status;
		return;
	}
	for (unsigned k = 0; k < r->ntimed_out && k < TIMED_OUT_MAX; k++)
		if (r->timed_out[k] == o->a && !r->error) {
			r->error = 1;
			snprintf(r->errtxt, sizeof(r->errtxt),
				 "node %u: a second reply (status %d) to request %llx, already "
				 "answered STRATA_ETIMEDOUT",
				 node, o->status, (unsigned long long)o->a);
		}
	for (unsigned k = 0; k < r->ncl; k++) {
		struct client *c = &r->cl[k];
		if (!c->busy || c->req_id != o->a || c->node != node)
			continue;
		c->busy = false;
		c->next_at = sim_now(s) + sim_random_below(s, 4 * MS);
		if (deadline_variant(r->variant) && o->status == STRATA_ETIMEDOUT) {
			r->timed_out[r->ntimed_out++ % TIMED_OUT_MAX] = o->a;
			if ((!o->text || !strstr(o->text, "needs ")) && !r->error) {
				r->error = 1;
				snprintf(r->errtxt, sizeof(r->errtxt),
					 "node %u: a timeout reply that names no quorum: '%s'", node,
					 o->text ? o->text : "");
			}
			if (r->variant == V_DEADLINE_AS_FAIL) {
				record(r, c, STRATA_HIST_FAIL, c->kind == REG_WRITE ? c->val : NULL);
			} else {
				record(r, c, STRATA_HIST_INFO, c->kind == REG_WRITE ? c->val : NULL);
				c->proc = (int64_t)(++r->procs); /* its operation may still run */
			}
			return;
		}
		if (deadline_variant(r->variant) && o->status == STRATA_EFULL) {
			/* Clients that gave up issue more while their operations run on: the
			 * bounded per-key queue refuses the excess, which then did not happen. */
			record(r, c, STRATA_HIST_FAIL, c->kind == REG_WRITE ? c->val : NULL);
			return;
		}
		if (o->status != 0) {
			if (!r->error) {
				r->error = 1;
				snprintf(r->errtxt, sizeof(r->errtxt), "node %u: error reply %d (%s)",
					 node, o->status, o->text ? o->text : "");
			}
			record(r, c, STRATA_HIST_FAIL, c->kind == REG_WRITE ? c->val : NULL);
			return;
		}
		r->ops_ok++;
		if (c->kind == REG_WRITE) {
			record(r, c, STRATA_HIST_OK, c->val);
		} else if (o->b & STRATA_REPLY_FOUND) {
			char v[64];
			size_t len = o->len < sizeof(v) - 1 ? o->len : sizeof(v) - 1;
			memcpy(v, o->data, len);
			v[len] = 0;
			record(r, c, STRATA_HIST_OK, v);
		} else {
			record(r, c, STRATA_HIST_OK, NULL);
		}
		return;
	}
}

/* Issues the client's next operation; key != NULL forces a read of that key. */
static void issue(struct run *r, struct client *c, const char *key)
{
	struct sim *s = r->s;
	bool write;
	if (key)
		write = false;
	else if (c->writer_only)
		write = true;
	else if (!c->reader)
		write = sim_random_below(s, 100) < 70;
	else if (r->single_writer)
		write = false;
	else
		write = sim_random_below(s, 100) < 40;
	c->kind = write ? REG_WRITE : REG_READ;
	c->key = key ? key : keys[sim_random_below(s, 2)];
	c->seq++;
	if (r->variant == V_BINMVR)
		snprintf(c->val, sizeof(c->val), "%u", (unsigned)sim_random_below(s, 12));
	else
		snprintf(c->val, sizeof(c->val), "%u.%llu", (unsigned)c->proc,
			 (unsigned long long)c->seq);
	c->req_id = ((uint64_t)(c - r->cl) << 32) | c->seq;
	c->busy = true;
	record(r, c, STRATA_HIST_INVOKE, write ? c->val : NULL);
	struct strata_request q = {
		.id = c->req_id,
		.op = write ? STRATA_OP_WRITE : STRATA_OP_READ,
		.key = (const uint8_t *)c->key,
		.key_len = strlen(c->key),
		.value = write ? (const uint8_t *)c->val : NULL,
		.value_len = write ? strlen(c->val) : 0,
	};
	if (deadline_variant(r->variant) && sim_random_below(s, 2) == 0)
		q.timeout_ms = 1 + (uint32_t)sim_random_below(s, 30);
	sim_request(s, c->node, r->module, &q);
}

static void crash(struct run *r, uint32_t id)
{
	sim_crash(r->s, id);
	for (unsigned k = 0; k < r->ncl; k++) {
		struct client *c = &r->cl[k];
		if (c->node != id)
			continue;
		if (c->busy)
			record(r, c, STRATA_HIST_INFO, c->kind == REG_WRITE ? c->val : NULL);
		c->busy = false;
		c->dead = true;
	}
}

static void restart(struct run *r, uint32_t id)
{
	sim_restart(r->s, id);
	for (unsigned k = 0; k < r->ncl; k++) {
		struct client *c = &r->cl[k];
		if (c->node == id && c->dead) {
			c->dead = false;
			c->proc = (int64_t)(++r->procs); /* a new process after an unknown outcome */
			c->next_at = sim_now(r->s) + 5 * MS;
		}
	}
}

/* Restarts id if it is down (a storage variant may have restarted it already). */
static void restart_if_down(struct run *r, uint32_t id)
{
	if (!sim_is_up(r->s, id))
		restart(r, id);
}

static int all_idle(struct sim *s, void *arg)
{
	struct run *r = arg;
	for (unsigned k = 0; k < r->ncl; k++)
		if (r->cl[k].busy)
			return 0;
	return 1;
}

/* Clients: single-writer registers get one writer client at the writer and readers elsewhere
 * ((1,1): all at the one reader); multi-writer ones get read/write clients on random nodes. */
static void setup_clients(struct run *r)
{
	struct sim *s = r->s;
	uint32_t n = r->cfg.n;
	r->ncl = n == 3 ? 4 : 5;
	for (unsigned k = 0; k < r->ncl; k++) {
		struct client *c = &r->cl[k];
		memset(c, 0, sizeof(*c));
		c->proc = (int64_t)(++r->procs);
		c->next_at = sim_random_below(s, 5 * MS);
		if (r->single_writer && k == 0) {
			c->node = r->cfg.writer;
			c->writer_only = r->one_reader || r->variant == V_BINMVR;
		} else if (r->one_reader) {
			c->node = reg_reader(&r->cfg);
			c->reader = true;
		} else {
			c->node = r->single_writer
					  ? 1 + (uint32_t)((r->cfg.writer + sim_random_below(s, n - 1)) % n)
					  : 1 + (uint32_t)sim_random_below(s, n);
			c->reader = true;
		}
		if (r->variant == V_GARBAGE && c->node == n)
			c->node = 1 + (uint32_t)sim_random_below(s, n - 1);
	}
}

static int check_history(struct run *r, enum strata_check_model model, char *why, size_t wl)
{
	return simh_check_history(r->hist, &r->hbuf, &r->hlen, model, why, wl, NULL);
}

/* The non-vacuity minimum of completed operations. */
#define MIN_OPS 5

/* Whether a client is left (crash() retires the clients of a fail-stop or fail-silent node). */
static bool clients_left(const struct run *r)
{
	for (unsigned k = 0; k < r->ncl; k++)
		if (!r->cl[k].dead)
			return true;
	return false;
}

static int run_variant(const char *algo, enum variant variant, uint64_t seed, bool trace,
		       char *why, size_t wl)
{
	struct run *r = calloc(1, sizeof(*r));
	r->algo = strata_algo_find(variant == V_BINMVR ? "mv" : algo);
	if (!r->algo) {
		free(r);
		return sim_fail(why, wl, "no algorithm '%s' in the table", algo);
	}
	r->variant = variant;
	r->module = variant == V_BINMVR ? "binmvr" : r->algo->name;
	r->fail_stop = r->algo->model == STRATA_MODEL_FAIL_STOP;
	r->recovery = r->algo->model == STRATA_MODEL_FAIL_RECOVERY;
	r->single_writer = strcmp(algo, "riwca") && strcmp(algo, "nnar") && strcmp(algo, "atomic1nton");
	r->one_reader = !strcmp(algo, "reg2atomic11");

	strata_config_defaults(&r->cfg);
	snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "sim-reg");
	r->cfg.n = (seed % 4 == 3) ? 5 : 3;
	r->cfg.f = (r->cfg.n - 1) / 2;
	r->cfg.model = r->algo->model;
	r->cfg.writer = 1;
	sim_config_loopback(&r->cfg, r->cfg.n, 7000);
	r->hist = open_memstream(&r->hbuf, &r->hlen);
	sim_model_init(&r->model, r->cfg.model);

	struct sim_opts so = {
		.seed = seed, .cfg = &r->cfg, .build = build, .output = on_output, .arg = r,
		.trace = trace,
	};
	if (disk_variant(variant)) {
		so.disk.sync_min_us = 1 * MS;
		so.disk.sync_max_us = 15 * MS;
		so.disk.torn = variant == V_DISK_TORN ? 1.0 : 0;
		so.disk.sync_fail = variant == V_DISK_FAIL ? 0.003 : 0;
		so.disk.fail_sync_nr = variant == V_DISK_FAIL ? 1 + seed % 60 : 0;
		so.disk.ack_before_sync = variant == V_DISK_ACK_EARLY;
	}
	struct sim *s = r->s = sim_new(&so);
	/* Faults. Under fail-stop the model promises that P is accurate: loss stays low and a
	 * partition shorter than P's timeout, or P would rightly be wrong and so the register. */
	struct sim_net net = {
		.drop = sim_random_unit(s) * (r->fail_stop ? 0.05 : 0.2),
		.dup = sim_random_unit(s) * 0.1,
		.delay_min_us = 100,
		.delay_max_us = 100 + sim_random_below(s, 3000),
		.tail = 0.05,
		.tail_us = 20 * MS,
	};
	sim_set_net(s, &net);
	setup_clients(r);
	sim_start(s);

	const uint64_t t_ops = 800 * MS;
	uint64_t part_at = sim_random_below(s, t_ops), part_len =
		r->fail_stop ? 20 * MS + sim_random_below(s, 80 * MS) : sim_random_below(s, 250 * MS);
	uint64_t part_mask = 1ull << (1 + sim_random_below(s, r->cfg.n)); /* one node isolated */
	unsigned ncrash = (unsigned)sim_random_below(s, r->cfg.f + 1);
	if (variant == V_GARBAGE)
		ncrash = 0; /* the garbage node is the one fault */
	uint64_t crash_at[8] = { 0 };
	uint32_t crash_id[8] = { 0 };
	for (unsigned k = 0; k < ncrash; k++) {
		crash_at[k] = sim_random_below(s, t_ops);
		uint32_t id;
		bool dup;
		do {
			id = 1 + (uint32_t)sim_random_below(s, r->cfg.n);
			dup = false;
			for (unsigned j = 0; j < k; j++)
				dup |= crash_id[j] == id;
		} while (dup);
		crash_id[k] = id;
	}
	bool parted = false, healed = false;
	uint64_t restart_at[8] = { 0 };
	/* storage variants: two crash storms, and restarts of nodes stopped by a failed sync */
	uint64_t storm_at[2] = { 0 };
	uint64_t disk_restart_at[STRATA_MAX_NODES + 1] = { 0 };
	if (disk_variant(variant))
		for (unsigned k = 0; k < 2; k++)
			storm_at[k] = 1 + sim_random_below(s, t_ops);
	/* The phase runs on, faults and all, while fewer than MIN_OPS operations completed and a
	 * client is left, up to SIM_OPS_EXTEND times its length (docs/simulator.md, "A short
	 * operation phase runs on"). */
	uint64_t t = 0;
	for (; t < t_ops || (t < SIM_OPS_EXTEND * t_ops && r->ops_ok < MIN_OPS && clients_left(r));
	     t += MS) {
		sim_run_until(s, t, NULL, NULL);
		bool unsynced = false; /* a storm waits for writes it can lose */
		for (uint32_t id = 1; id <= r->cfg.n; id++)
			unsynced |= sim_is_up(s, id) && sim_unsynced(s, id) > 0;
		for (unsigned k = 0; k < 2; k++)
			if (storm_at[k] && t >= storm_at[k] && unsynced) {
				storm_at[k] = 0;
				for (uint32_t id = 1; id <= r->cfg.n; id++)
					if (sim_is_up(s, id)) {
						crash(r, id);
						disk_restart_at[id] =
							t + 2 * MS + sim_random_below(s, 20 * MS);
					}
			}
		for (uint32_t id = 1; id <= r->cfg.n && disk_variant(variant); id++) {
			if (sim_is_up(s, id) && strata_node_failed(sim_node(s, id))) {
				crash(r, id); /* it stopped on a failed sync; its next life recovers */
				disk_restart_at[id] = t + 5 * MS;
			}
			if (disk_restart_at[id] && t >= disk_restart_at[id]) {
				disk_restart_at[id] = 0;
				restart_if_down(r, id);
			}
		}
		if (!parted && t >= part_at) {
			uint64_t all = ((1ull << (r->cfg.n + 1)) - 2);
			sim_partition(s, part_mask, all & ~part_mask);
			parted = true;
		}
		if (parted && !healed && t >= part_at + part_len) {
			sim_heal(s);
			healed = true;
		}
		for (unsigned k = 0; k < ncrash; k++) {
			if (crash_at[k] && t >= crash_at[k]) {
				crash(r, crash_id[k]);
				crash_at[k] = 0;
				if (r->recovery)
					restart_at[k] = t + 10 * MS + sim_random_below(s, 80 * MS);
			}
			if (restart_at[k] && t >= restart_at[k]) {
				restart_if_down(r, crash_id[k]);
				restart_at[k] = 0;
			}
		}
		for (unsigned k = 0; k < r->ncl; k++) {
			struct client *c = &r->cl[k];
			if (!c->busy && !c->dead && t >= c->next_at)
				issue(r, c, NULL);
		}
	}
	const uint64_t ops_ms = t / MS;
	/* What the schedule allowed: did any client outlive the operation phase? */
	bool clients_all_died = true;
	for (unsigned k = 0; k < r->ncl; k++)
		clients_all_died &= r->cl[k].dead;
	/* Liveness phase: heal everything (restart who is still down in fail-recovery). */
	sim_heal(s);
	for (unsigned k = 0; k < ncrash; k++)
		if (restart_at[k])
			restart_if_down(r, crash_id[k]);
	if (disk_variant(variant)) {
		struct sim_disk calm_disk = { .sync_min_us = 1 * MS, .sync_max_us = 15 * MS,
					      .ack_before_sync = variant == V_DISK_ACK_EARLY };
		sim_set_disk(s, &calm_disk); /* no more failing syncs: liveness needs a disk */
		for (uint32_t id = 1; id <= r->cfg.n; id++) {
			if (sim_is_up(s, id) && strata_node_failed(sim_node(s, id)))
				crash(r, id);
			restart_if_down(r, id);
		}
	}
	struct sim_net calm = { .delay_min_us = 100, .delay_max_us = 2000 };
	sim_set_net(s, &calm);
	uint64_t deadline = sim_now(s) + LIVENESS_MS * MS;
	sim_run_until(s, deadline, all_idle, r);
	int rc = 0;
	for (unsigned k = 0; k < r->ncl && !rc; k++)
		if (r->cl[k].busy)
			rc = sim_fail(why, wl,
				      "liveness: client %u's %s on node %u (up) did not complete within "
				      "%llu ms after healing",
				      k, r->cl[k].kind == REG_WRITE ? "write" : "read", r->cl[k].node,
				      (unsigned long long)LIVENESS_MS);
	if (!rc && variant == V_TOTAL_RESTART) {
		/* Every node crashes and recovers; then every client reads every key once more. */
		for (uint32_t id = 1; id <= r->cfg.n; id++)
			if (sim_is_up(s, id))
				crash(r, id);
		/* Restart at once: datagrams of the old incarnations are still in flight, and
		 * perfect links carry unacknowledged frames on to the new incarnations, so stale
		 * VALUEs and ACKs meet the new phases (lmv must not count them; see "Phase ids" in
		 * src/reg/core.c). */
		for (uint32_t id = 1; id <= r->cfg.n; id++)
			restart(r, id);
		for (unsigned pass = 0; pass < 2 && !rc; pass++) {
			for (unsigned k = 0; k < r->ncl; k++)
				issue(r, &r->cl[k], keys[pass]);
			sim_run_until(s, sim_now(s) + LIVENESS_MS * MS, all_idle, r);
			for (unsigned k = 0; k < r->ncl && !rc; k++)
				if (r->cl[k].busy)
					rc = sim_fail(why, wl, "liveness after total restart: client %u", k);
		}
	}
	if (!rc && variant == V_GARBAGE) {
		uint64_t rej = 0;
		for (uint32_t id = 1; id < r->cfg.n; id++)
			rej += strata_node_counters(sim_node(s, id))->rej_payload;
		if (rej == 0)
			rc = sim_fail(why, wl, "no malformed payload was counted: the garbage is vacuous");
	}
	if (!rc && r->error)
		rc = sim_fail(why, wl, "%s", r->errtxt);
	if (!rc && deadline_variant(variant) && r->ntimed_out == 0)
		rc = sim_vacuous(why, wl, "no request reached its deadline");
	if (!rc && r->ops_ok < MIN_OPS) {
		/* Vacuity is judged on what the schedule allowed: crashes that took every
		 * client's node early leave nothing to check, which is no fault of the register. */
		if (clients_all_died)
			rc = sim_vacuous(why, wl,
					 "only %u operations completed: the nodes of all %u clients "
					 "crashed during the operation phase",
					 r->ops_ok, r->ncl);
		else if (variant == V_GARBAGE)
			/* The garbage node runs no register: every quorum is all the others, so
			 * loss between two of them stalls each phase until a retransmission gets
			 * through (seed 825533353: 4 operations, liveness held). Few operations
			 * are then the schedule's doing; a register that stalls is caught by the
			 * liveness check above, and too many such seeds fail the case. */
			rc = sim_vacuous(why, wl,
					 "only %u operations completed with every quorum needing all "
					 "the correct nodes (liveness held)",
					 r->ops_ok);
		else if (deadline_variant(variant) && r->ntimed_out > 0)
			/* Requests that gave up at their deadline leave their operations running,
			 * and the next request on that key waits behind them (seed 1239072032: 4
			 * operations, every later request on node 1 timed out behind one, liveness
			 * held). As above: a register that stalls is caught by the liveness check,
			 * and too many such seeds fail the case. */
			rc = sim_vacuous(why, wl,
					 "only %u operations completed; %u requests reached their "
					 "deadline and their operations ran on (liveness held)",
					 r->ops_ok, r->ntimed_out);
		else
			rc = sim_fail(why, wl, "only %u operations completed in a %llu ms operation "
				      "phase (%llu ms, run on while short): vacuous run", r->ops_ok,
				      (unsigned long long)ops_ms, (unsigned long long)(t_ops / MS));
	}
	if (!rc) {
		bool atomic = strstr(r->algo->title, "atomic") && variant != V_BINMVR;
		if (variant == V_MV_AS_ATOMIC)
			atomic = true;
		rc = check_history(r, atomic ? STRATA_CHECK_ATOMIC : STRATA_CHECK_REGULAR, why, wl);
	}
	if (!rc && disk_variant(variant)) {
		/* not vacuous: the faults happened */
		const struct sim_disk_stats *ds = sim_disk_stats(s);
		/* The faults are drawn (storms wait for unsynced writes, syncs fail by chance):
		 * a schedule that did not produce them is vacuous, not a failure of lmv; the
		 * harness fails the case if that happens to more than half of its seeds. */
		if (ds->writes_lost == 0)
			rc = sim_vacuous(why, wl, "no unsynced write was lost to a crash");
		else if (variant == V_DISK_TORN && ds->torn_crashes == 0)
			rc = sim_vacuous(why, wl, "no crash tore a write");
		else if (variant == V_DISK_FAIL && ds->sync_failures == 0)
			rc = sim_vacuous(why, wl, "no sync failed");
	}
	if (getenv("REG_SIM_STATS")) {
		const struct sim_disk_stats *ds = sim_disk_stats(s);
		fprintf(stderr,
			"seed %llu n=%u ops_ok=%u t=%llums syncs=%llu failed=%llu torn=%llu "
			"lost=%llu\n",
			(unsigned long long)seed, r->cfg.n, r->ops_ok,
			(unsigned long long)(sim_now(s) / MS), (unsigned long long)ds->syncs,
			(unsigned long long)ds->sync_failures, (unsigned long long)ds->torn_crashes,
			(unsigned long long)ds->writes_lost);
	}
	if (rc != SIM_VACUOUS)
		rc = sim_model_verdict(&r->model, rc, why, wl);
	sim_free(s);
	fclose(r->hist);
	free(r->hbuf);
	free(r);
	return rc;
}

#define CASE(algo)                                                                 \
	static int run_##algo(uint64_t seed, bool trace, char *why, size_t wl)     \
	{                                                                          \
		return run_variant(#algo, V_NORMAL, seed, trace, why, wl);         \
	}
CASE(rowa)
CASE(mv)
CASE(lmv)
CASE(riwa)
CASE(riwm)
CASE(riwca)
CASE(nnar)
CASE(reg2atomic11)
CASE(atomic11to1n)
CASE(atomic1nton)

/* V_BACKLOG*: node 1 writes key x and waits up to 3 s for the reply (1: none). */
static int backlog_write(struct run *r, const char *v, uint64_t heal_after_us)
{
	struct strata_request q = {
		.id = BACKLOG_REQ, .op = STRATA_OP_WRITE, .key = (const uint8_t *)"x", .key_len = 1,
		.value = (const uint8_t *)v, .value_len = strlen(v),
	};
	r->bk_got = false;
	sim_request(r->s, 1, r->module, &q);
	if (heal_after_us) {
		sim_run_until(r->s, sim_now(r->s) + heal_after_us, NULL, NULL);
		sim_heal(r->s);
	}
	for (unsigned k = 0; k < 3000 && !r->bk_got; k++)
		sim_run_until(r->s, sim_now(r->s) + MS, NULL, NULL);
	return r->bk_got ? r->bk_status : 1;
}

/* What node q's register module owed (the links refused it). */
static uint64_t reg_owed(struct run *r, uint32_t q)
{
	struct strata_pl_owed_counts c;
	reg_test_owed_counts(strata_node_module_by_name(sim_node(r->s, q), r->module), &c);
	return c.refused;
}

static int run_backlog(uint64_t seed, bool trace, char *why, size_t wl, enum variant variant)
{
	struct run *r = calloc(1, sizeof(*r));
	r->algo = strata_algo_find("nnar");
	r->module = r->algo->name;
	r->variant = variant;
	strata_config_defaults(&r->cfg);
	snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "sim-reg");
	r->cfg.n = 3;
	r->cfg.f = 1;
	r->cfg.model = r->algo->model;
	r->cfg.writer = 1;
	r->cfg.backlog_bytes = 1024;
	sim_config_loopback(&r->cfg, r->cfg.n, 7000);
	r->hist = open_memstream(&r->hbuf, &r->hlen);
	struct sim_opts so = {
		.seed = seed, .cfg = &r->cfg, .build = build, .output = on_output, .arg = r,
		.trace = trace,
	};
	struct sim *s = r->s = sim_new(&so);
	struct sim_net calm = { .delay_min_us = 100,
				.delay_max_us = 100 + sim_random_below(s, 2000) };
	sim_set_net(s, &calm);
	sim_start(s);
	int rc = 0;
	int st = backlog_write(r, "v1", 0); /* the link sessions open */
	if (st != 0) {
		rc = sim_fail(why, wl, "first write: status %d", st);
		goto out;
	}
	uint64_t owed0 = 0, owed1 = 0;
	for (uint32_t q = 2; q <= 3; q++) {
		owed0 += reg_owed(r, q);
		sim_link(s, q, 1, false);
	}
	/* The acknowledgements of what 2 and 3 sent before the cut arrive (1 -> q is up) and free
	 * their backlogs; then they are filled, and nothing from them reaches 1 to be
	 * acknowledged. */
	sim_run_until(s, sim_now(s) + 50 * MS, NULL, NULL);
	for (uint32_t q = 2; q <= 3; q++)
		sim_filler_fill(s, q, 1, 1);
	sim_run_until(s, sim_now(s) + 1 * MS, NULL, NULL);
	st = backlog_write(r, "v2", 200 * MS);
	for (uint32_t q = 2; q <= 3; q++)
		owed1 += reg_owed(r, q);
	if (st != 0)
		rc = sim_fail(why, wl, "node 1's write with the answers of 2 and 3 refused by the "
			      "links: %s", st == 1 ? "no reply within 3 s" : strata_strerror(st));
	else if (owed1 == owed0 && variant == V_BACKLOG)
		rc = sim_vacuous(why, wl, "the links of 2 and 3 refused nothing");
out:
	sim_free(s);
	fclose(r->hist);
	free(r->hbuf);
	free(r);
	return rc;
}

static int run_nnar_backlog(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_backlog(seed, trace, why, wl, V_BACKLOG);
}

static int run_nnar_backlog_no_owed(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_backlog(seed, trace, why, wl, V_BACKLOG_NO_OWED);
}

static int run_lmv_disk_lost(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_variant("lmv", V_DISK_LOST, seed, trace, why, wl);
}

static int run_lmv_disk_torn(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_variant("lmv", V_DISK_TORN, seed, trace, why, wl);
}

static int run_lmv_disk_fail(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_variant("lmv", V_DISK_FAIL, seed, trace, why, wl);
}

static int run_lmv_ack_early(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_variant("lmv", V_DISK_ACK_EARLY, seed, trace, why, wl);
}

static int run_lmv_restart(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_variant("lmv", V_TOTAL_RESTART, seed, trace, why, wl);
}

static int run_mv_atomic(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_variant("mv", V_MV_AS_ATOMIC, seed, trace, why, wl);
}

static int run_binmvr(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_variant("mv", V_BINMVR, seed, trace, why, wl);
}

static int run_garbage_nnar(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_variant("nnar", V_GARBAGE, seed, trace, why, wl);
}

static int run_garbage_lmv(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_variant("lmv", V_GARBAGE, seed, trace, why, wl);
}

static int run_nnar_lossy_beb(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_variant("nnar", V_LOSSY_BEB, seed, trace, why, wl);
}

static int run_lmv_lossy_beb(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_variant("lmv", V_LOSSY_BEB, seed, trace, why, wl);
}

static int run_nnar_deadline(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_variant("nnar", V_DEADLINE, seed, trace, why, wl);
}

static int run_atomic1nton_deadline(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_variant("atomic1nton", V_DEADLINE, seed, trace, why, wl);
}

static int run_deadline_as_fail(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_variant("nnar", V_DEADLINE_AS_FAIL, seed, trace, why, wl);
}

static const struct sim_case cases[] = {
	{ "rowa", run_rowa, 500, false },
	{ "mv", run_mv, 500, false },
	{ "lmv", run_lmv, 500, false },
	{ "lmv-total-restart", run_lmv_restart, 200, false },
	{ "riwa", run_riwa, 500, false },
	{ "riwm", run_riwm, 500, false },
	{ "riwca", run_riwca, 500, false },
	{ "nnar", run_nnar, 500, false },
	{ "reg2atomic11", run_reg2atomic11, 500, false },
	{ "atomic11to1n", run_atomic11to1n, 500, false },
	{ "atomic1nton", run_atomic1nton, 500, false },
	{ "nnar-malformed-peer", run_garbage_nnar, 100, false },
	{ "lmv-malformed-peer", run_garbage_lmv, 100, false },
	{ "mv-judged-atomic", run_mv_atomic, 500, true },
	{ "binmvr-unsafe", run_binmvr, 500, true },
	{ "lmv-disk-lost", run_lmv_disk_lost, 200, false },
	{ "lmv-disk-torn", run_lmv_disk_torn, 200, false },
	{ "lmv-disk-fail", run_lmv_disk_fail, 200, false },
	{ "lmv-ack-before-sync", run_lmv_ack_early, 200, true },
	{ "broken-nnar-over-lossy-beb", run_nnar_lossy_beb, 50, true },
	{ "broken-lmv-over-lossy-beb", run_lmv_lossy_beb, 50, true },
	{ "nnar-client-deadline", run_nnar_deadline, 200, false },
	{ "atomic1nton-client-deadline", run_atomic1nton_deadline, 100, false },
	{ "broken-deadline-taken-as-fail", run_deadline_as_fail, 200, true },
	{ "nnar-backlog", run_nnar_backlog, 50, false },
	{ "broken-nnar-backlog-no-owed", run_nnar_backlog_no_owed, 20, true },
};

int main(int argc, char **argv)
{
	return sim_main(argc, argv, "sim_reg", cases, sizeof(cases) / sizeof(cases[0]));
}
