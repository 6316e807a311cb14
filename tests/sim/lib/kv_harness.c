/* The KV client and history harness of the KV simulation suites; see kv_harness.h. */
#include "kv_harness.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "check/check.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "rt/sim/harness.h"

#include "history_verdict.h"

#define MS KVH_MS

const char *const kvh_keys[KVH_QUOTA_KEYS] = { "a", "b", "c", "d", "e", "f", "g", "h" };

/* The quota workload's value of an absent key in the history: every key starts so (a write
 * of it by a setup process, before any client's operation), a delete writes it, a get that
 * finds no key reads it. No put writes it ("proc.seq"). */
#define ABSENT "(absent)"
#define SETUP_PROC 99

/* Keys of the workload. */
static unsigned nkeys(const struct kvh *h)
{
	return h->quota ? KVH_QUOTA_KEYS : KVH_NKEYS;
}

void kvh_init(struct kvh *h, uint32_t n, unsigned ncl)
{
	STRATA_ASSERT(ncl <= KVH_MAX_CL);
	memset(h, 0, sizeof(*h));
	h->n = n;
	h->ncl = ncl;
	h->hist = open_memstream(&h->hbuf, &h->hlen);
	STRATA_ASSERT(h->hist);
}

void kvh_fini(struct kvh *h)
{
	if (h->hist)
		fclose(h->hist);
	free(h->hbuf);
	free(h->wchange);
	h->hist = NULL;
	h->hbuf = NULL;
	h->wchange = NULL;
}

/* ---- watch events ---- */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

uint64_t kvh_unwatched(uint64_t seed, uint32_t n)
{
	STRATA_ASSERT(n >= 1 && n <= 64);
	uint64_t all = n == 64 ? ~0ull : (1ull << n) - 1;
	return mix(seed ^ 0x77a7c4e5u) & all;
}

static uint64_t bytes_digest(uint64_t d, const uint8_t *p, size_t len)
{
	d = mix(d ^ len);
	for (size_t i = 0; i < len; i++)
		d = (d ^ p[i]) * 0x100000001b3ull;
	return d;
}

static void watch_bad(struct kvh *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void watch_bad(struct kvh *h, const char *fmt, ...)
{
	if (h->wbad[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(h->wbad, sizeof(h->wbad), fmt, ap);
	va_end(ap);
}

bool kvh_watch(struct kvh *h, uint32_t node, const struct strata_output *o)
{
	if (o->kind != STRATA_OUT_DELIVER || !o->module_name || strcmp(o->module_name, "kv") != 0)
		return false;
	if ((h->unwatched >> (node - 1)) & 1) {
		watch_bad(h, "watch: node %u, which nobody watches, built a watch event (revision "
			  "%llu)", node, (unsigned long long)o->a);
		return true;
	}
	/* A new life tells its revisions from its restored state on. */
	uint64_t inc = strata_node_incarnation(sim_node(h->s, node));
	if (inc != h->winc[node]) {
		h->winc[node] = inc;
		h->wlast[node] = 0;
	}
	struct strata_rd r;
	strata_rd_init(&r, o->data, o->len);
	uint64_t count = strata_rd_u64(&r);
	for (uint64_t i = 0; i < count && strata_rd_ok(&r); i++) {
		const uint8_t *key, *val;
		size_t klen = strata_rd_bytes(&r, &key, SIZE_MAX);
		size_t vlen = strata_rd_bytes(&r, &val, SIZE_MAX);
		uint64_t rev = strata_rd_u64(&r), create = strata_rd_u64(&r), ver = strata_rd_u64(&r);
		if (!strata_rd_ok(&r))
			break;
		if (i == 0 && rev != o->a)
			watch_bad(h, "watch: node %u: a piece named revision %llu, its first change "
				  "is %llu", node, (unsigned long long)o->a, (unsigned long long)rev);
		if (rev == 0 || rev <= h->wlast[node])
			watch_bad(h, "watch: node %u told revision %llu after %llu", node,
				  (unsigned long long)rev, (unsigned long long)h->wlast[node]);
		h->wlast[node] = rev;
		uint64_t d = bytes_digest(bytes_digest(mix(create) ^ mix(ver + 1), key, klen), val,
					  vlen) | 1; /* never 0 (none yet) */
		if (rev >= h->wcap) {
			size_t cap = h->wcap ? h->wcap : 1024;
			while (cap <= rev)
				cap *= 2;
			uint64_t *w = realloc(h->wchange, cap * sizeof(*w));
			STRATA_ASSERT(w);
			memset(w + h->wcap, 0, (cap - h->wcap) * sizeof(*w));
			h->wchange = w;
			h->wcap = cap;
		}
		if (h->wchange[rev] && h->wchange[rev] != d)
			watch_bad(h, "watch: node %u told another change for revision %llu than an "
				  "earlier event did", node, (unsigned long long)rev);
		h->wchange[rev] = d;
		h->wevents++;
	}
	if (strata_rd_u8(&r) != 0 || strata_rd_done(&r) != 0)
		watch_bad(h, "watch: node %u: a malformed event piece (%zu bytes)", node, o->len);
	return true;
}

int kvh_check_watch(struct kvh *h, char *why, size_t wl, bool *violation)
{
	if (!h->wbad[0])
		return 0;
	*violation = true;
	return sim_fail(why, wl, "%s", h->wbad);
}

void kvh_start(struct kvh *h)
{
	for (unsigned i = 0; h->quota && i < KVH_QUOTA_KEYS; i++) {
		strata_history_append(h->hist, SETUP_PROC, STRATA_HIST_INVOKE, STRATA_HIST_WRITE,
				      kvh_keys[i], ABSENT, NULL, sim_now(h->s) * 1000);
		strata_history_append(h->hist, SETUP_PROC, STRATA_HIST_OK, STRATA_HIST_WRITE,
				      kvh_keys[i], ABSENT, NULL, sim_now(h->s) * 1000);
	}
	for (unsigned k = 0; k < h->ncl; k++) {
		h->cl[k].proc = k + 1;
		h->cl[k].session = 1000 + k;
		h->cl[k].next_at = sim_now(h->s) + sim_random_below(h->s, 3 * MS);
	}
}

static void record(struct kvh *h, const struct kvh_client *c, enum strata_hist_type t,
		   const char *value, const char *value2)
{
	strata_history_append(h->hist, c->proc, t,
			      c->kind == KVH_GET ? STRATA_HIST_READ
			      : c->kind == KVH_PUT || c->kind == KVH_DEL ? STRATA_HIST_WRITE
			      : STRATA_HIST_CAS,
			      c->key, value, value2, sim_now(h->s) * 1000);
}

/* The operation's invocation or end with its own values (a get's read value aside). */
static void record_op(struct kvh *h, const struct kvh_client *c, enum strata_hist_type t)
{
	if (c->kind == KVH_GET)
		record(h, c, t, NULL, NULL);
	else if (c->kind == KVH_DEL)
		record(h, c, t, ABSENT, NULL);
	else if (c->kind == KVH_PUT)
		record(h, c, t, c->val, NULL);
	else
		record(h, c, t, c->old, c->val);
}

static unsigned key_index(const char *key)
{
	for (unsigned i = 0; i < KVH_QUOTA_KEYS; i++)
		if (kvh_keys[i] == key)
			return i;
	return 0;
}

/* The last value seen acknowledged for key (a cas expects it). */
static void remember(struct kvh *h, const char *key, const char *v)
{
	char *dst = h->seen[key_index(key)];
	size_t len = strlen(v);
	if (len >= sizeof(h->seen[0]))
		len = sizeof(h->seen[0]) - 1;
	memmove(dst, v, len);
	dst[len] = 0;
}

static void end_op(struct kvh *h, struct kvh_client *c)
{
	c->busy = false;
	c->next_at = sim_now(h->s) + sim_random_below(h->s, 5 * MS);
}

bool kvh_reply(struct kvh *h, uint32_t node, const struct strata_output *o)
{
	if (o->kind != STRATA_OUT_REPLY || (o->a & KVH_DUP_BIT))
		return false;
	for (unsigned k = 0; k < h->ncl; k++) {
		struct kvh_client *c = &h->cl[k];
		if (!c->busy || c->req_id != o->a || c->node != node)
			continue;
		end_op(h, c);
		if (o->status == STRATA_ETIMEDOUT) {
			h->info++;
			record_op(h, c, STRATA_HIST_INFO);
			return true;
		}
		if (o->status == STRATA_EFULL || (o->status == STRATA_ESTATE && c->kind == KVH_CAS)) {
			record_op(h, c, STRATA_HIST_FAIL);
			return true;
		}
		if (o->status == STRATA_ENOSPACE && h->quota && c->kind != KVH_DEL &&
		    c->kind != KVH_GET) {
			h->quota_refused++;
			record_op(h, c, STRATA_HIST_FAIL);
			return true;
		}
		if (o->status != 0) {
			if (!h->error) {
				h->error = 1;
				h->storage_lost = o->status == STRATA_EIO;
				snprintf(h->errtxt, sizeof(h->errtxt), "%snode %u: error reply %d (%s)",
					 h->storage_lost ? "durability: " : "", node, o->status,
					 o->text ? o->text : "");
			}
			record_op(h, c, STRATA_HIST_FAIL);
			return true;
		}
		h->ops_ok++;
		if (c->kind == KVH_GET) {
			h->reads_ok++;
			if (o->b & STRATA_REPLY_FOUND) {
				char v[64];
				size_t len = o->len < sizeof(v) - 1 ? o->len : sizeof(v) - 1;
				if (len)
					memcpy(v, o->data, len);
				v[len] = 0;
				record(h, c, STRATA_HIST_OK, v, NULL);
				remember(h, c->key, v);
			} else {
				record(h, c, STRATA_HIST_OK, h->quota ? ABSENT : NULL, NULL);
			}
		} else {
			if (c->kind == KVH_DEL)
				h->dels_ok++;
			else if (c->kind == KVH_PUT || h->cas_is_write)
				h->writes_ok++;
			else
				h->cas_ok++;
			record_op(h, c, STRATA_HIST_OK);
			remember(h, c->key, c->kind == KVH_DEL ? "" : c->val);
		}
		return true;
	}
	return false;
}

void kvh_crashed(struct kvh *h, uint32_t node)
{
	for (unsigned k = 0; k < h->ncl; k++) {
		struct kvh_client *c = &h->cl[k];
		if (c->busy && c->node == node) {
			h->info++;
			record_op(h, c, STRATA_HIST_INFO);
			end_op(h, c);
		}
	}
}

static void send_req(struct kvh *h, uint32_t node, const struct kvh_client *c, uint64_t id)
{
	struct strata_request q = {
		.id = id,
		.op = c->kind == KVH_GET ? STRATA_OP_READ
		      : c->kind == KVH_PUT ? STRATA_OP_WRITE
		      : c->kind == KVH_DEL ? STRATA_OP_DELETE : STRATA_OP_CAS,
		.key = (const uint8_t *)c->key,
		.key_len = strlen(c->key),
		.session = c->kind == KVH_GET ? 0 : c->session,
		.seq = c->kind == KVH_GET ? 0 : c->wseq,
	};
	if (c->kind == KVH_PUT) {
		q.value = (const uint8_t *)c->val;
		q.value_len = strlen(c->val);
	} else if (c->kind == KVH_CAS) {
		q.value = (const uint8_t *)c->old;
		q.value_len = strlen(c->old);
		q.value2 = (const uint8_t *)c->val;
		q.value2_len = strlen(c->val);
	}
	sim_request(h->s, node, "kv", &q);
}

uint32_t kvh_random_up(struct kvh *h)
{
	for (int tries = 0; tries < 64; tries++) {
		uint32_t id = 1 + (uint32_t)sim_random_below(h->s, h->n);
		/* A paused node drops requests in the simulator (sim_request); a real client's
		 * connection would wait instead, which the pause scenario covers by pausing a node
		 * that holds requests already. */
		if (sim_is_up(h->s, id) && !sim_is_paused(h->s, id) && id != h->avoid)
			return id;
	}
	return 0;
}

void kvh_issue(struct kvh *h, struct kvh_client *c, int kind, const char *key, uint32_t node)
{
	c->kind = kind;
	c->key = key;
	c->seq++;
	c->node = node;
	if (kind != KVH_GET) {
		c->wseq++;
		snprintf(c->val, sizeof(c->val), "%u.%llu", (unsigned)c->proc,
			 (unsigned long long)c->seq);
	}
	if (kind == KVH_DEL)
		c->val[0] = 0;
	if (kind == KVH_CAS) {
		const char *seen = h->seen[key_index(key)];
		snprintf(c->old, sizeof(c->old), "%s", seen[0] ? seen : "none");
	}
	c->req_id = ((uint64_t)(c - h->cl + 1) << 32) | c->seq;
	c->busy = true;
	record_op(h, c, STRATA_HIST_INVOKE);
	send_req(h, node, c, c->req_id);
	if (h->dup_writes && kind != KVH_GET && sim_random_below(h->s, 100) < 25) {
		for (unsigned i = 0; i < KVH_MAXDUP; i++) {
			struct kvh_dup *d = &h->dups[i];
			if (d->used)
				continue;
			d->used = true;
			d->at = sim_now(h->s) + sim_random_below(h->s, 50 * MS);
			d->node = 1 + (uint32_t)sim_random_below(h->s, h->n);
			d->c = *c;
			break;
		}
	}
}

static void send_dups(struct kvh *h)
{
	for (unsigned i = 0; i < KVH_MAXDUP; i++) {
		struct kvh_dup *d = &h->dups[i];
		if (!d->used || d->at > sim_now(h->s))
			continue;
		d->used = false;
		if (!sim_is_up(h->s, d->node) || sim_is_paused(h->s, d->node))
			continue;
		h->dups_sent++;
		send_req(h, d->node, &d->c, KVH_DUP_BIT | d->c.req_id);
	}
}

void kvh_tick(struct kvh *h, uint64_t t)
{
	send_dups(h);
	for (unsigned k = 0; k < h->ncl; k++) {
		struct kvh_client *c = &h->cl[k];
		if (c->busy || t < c->next_at)
			continue;
		uint32_t node = kvh_random_up(h);
		if (!node)
			continue;
		uint64_t x = sim_random_below(h->s, 100);
		int kind = h->quota ? (x < 40 ? KVH_GET : x < 80 ? KVH_PUT : KVH_DEL)
				    : (x < 45 ? KVH_GET : x < 85 ? KVH_PUT : KVH_CAS);
		kvh_issue(h, c, kind, kvh_keys[sim_random_below(h->s, nkeys(h))], node);
	}
}

int kvh_all_idle(struct sim *s, void *arg)
{
	const struct kvh *h = arg;
	(void)s;
	for (unsigned k = 0; k < h->ncl; k++)
		if (h->cl[k].busy)
			return 0;
	return 1;
}

void kvh_net_faults(struct sim *s)
{
	struct sim_net net = { .delay_min_us = 100, .tail_us = 20 * MS };
	net.drop = sim_random_unit(s) * 0.10;
	net.dup = sim_random_unit(s) * 0.05;
	net.delay_max_us = 100 + sim_random_below(s, 3000);
	net.tail = 0.02 + sim_random_unit(s) * 0.1;
	sim_set_net(s, &net);
}

void kvh_faults_init(struct kvh_faults *f, struct sim *s, uint64_t t0, uint64_t t_ops)
{
	f->part_at = t0 + sim_random_below(s, t_ops / 2);
	f->part_len = 200 * MS + sim_random_below(s, 400 * MS);
	f->pause_at = t0 + sim_random_below(s, t_ops / 2);
	f->pause_len = 100 * MS + sim_random_below(s, 600 * MS);
	f->parted = f->healed = f->paused = f->resumed = false;
	f->pause_id = 0;
}

void kvh_faults_step(struct kvh *h, struct kvh_faults *f, uint64_t t)
{
	if (f->part && !f->parted && t >= f->part_at) {
		kvh_partition(h, f->part_node(f->arg), f->isolate);
		f->parted = true;
	}
	if (f->parted && !f->healed && t >= f->part_at + f->part_len) {
		sim_heal(h->s);
		h->avoid = 0;
		f->healed = true;
	}
	if (f->pause && !f->paused && t >= f->pause_at) {
		f->pause_id = f->pause_node(f->arg);
		if (f->pause_id && sim_is_up(h->s, f->pause_id))
			sim_pause(h->s, f->pause_id);
		f->paused = true;
	}
	if (f->paused && !f->resumed && t >= f->pause_at + f->pause_len) {
		if (f->pause_id && sim_is_paused(h->s, f->pause_id))
			sim_resume(h->s, f->pause_id);
		f->resumed = true;
	}
}

void kvh_partition(struct kvh *h, uint32_t l, bool isolate)
{
	struct sim *s = h->s;
	uint64_t all = (1ull << (h->n + 1)) - 2, lb = 1ull << l;
	unsigned kind = isolate ? 0 : (unsigned)sim_random_below(s, 4);
	if (kind == 0) {
		sim_partition(s, lb, all & ~lb);
	} else if (kind == 1) {
		uint64_t side = lb | 1ull << (1 + sim_random_below(s, h->n));
		sim_partition(s, side, all & ~side);
	} else {
		for (uint32_t p = 1; p <= h->n; p++)
			if (p != l)
				sim_link(s, kind == 2 ? l : p, kind == 2 ? p : l, false);
	}
}

int kvh_finish(struct kvh *h, char *why, size_t wl)
{
	struct sim *s = h->s;
	sim_run_until(s, sim_now(s) + 5000 * MS, kvh_all_idle, h);
	int rc = 0;
	for (unsigned k = 0; k < h->ncl && !rc; k++)
		if (h->cl[k].busy)
			rc = sim_fail(why, wl, "liveness: client %u on node %u got no reply within 5 s "
				      "after healing", k, h->cl[k].node);
	/* Every key read once more by every client (through random nodes). */
	for (unsigned key = 0; key < nkeys(h) && !rc; key++) {
		for (unsigned k = 0; k < h->ncl && !rc; k++) {
			kvh_issue(h, &h->cl[k], KVH_GET, kvh_keys[key], kvh_random_up(h));
			sim_run_until(s, sim_now(s) + 5000 * MS, kvh_all_idle, h);
			if (h->cl[k].busy)
				rc = sim_fail(why, wl, "liveness: final read of %s unanswered",
					      kvh_keys[key]);
		}
	}
	if (!rc && h->error)
		rc = sim_fail(why, wl, "%s", h->errtxt);
	if (!rc && (h->writes_ok < KVH_MIN_OPS || h->reads_ok < KVH_MIN_OPS))
		rc = sim_fail(why, wl, "only %u writes and %u reads completed in a %llu ms operation "
			      "phase (%llu ms, run on while short): vacuous run", h->writes_ok,
			      h->reads_ok, (unsigned long long)(h->phase_us / 1000),
			      (unsigned long long)(h->phase_drawn_us / 1000));
	return rc;
}

bool kvh_short(const struct kvh *h)
{
	return h->writes_ok < KVH_MIN_OPS || h->reads_ok < KVH_MIN_OPS;
}

int kvh_check_agreement(struct kvh *h, char *why, size_t wl, bool *violation,
			bool (*state)(void *arg, uint32_t id, uint64_t *applied, uint64_t *digest),
			void *arg, const char *what)
{
	sim_run_until(h->s, sim_now(h->s) + 300 * MS, NULL, NULL);
	uint64_t applied[STRATA_MAX_NODES + 1] = { 0 }, digest[STRATA_MAX_NODES + 1] = { 0 };
	STRATA_ASSERT(h->n <= STRATA_MAX_NODES);
	for (uint32_t id = 1; id <= h->n; id++)
		if (!state(arg, id, &applied[id], &digest[id]))
			applied[id] = digest[id] = 0;
	for (uint32_t a = 1; a <= h->n; a++)
		for (uint32_t b = a + 1; b <= h->n; b++) {
			if (!applied[a] || applied[a] != applied[b] || digest[a] == digest[b])
				continue;
			*violation = true;
			return sim_fail(why, wl, "agreement: nodes %u and %u both applied %llu %s but "
					"hold different states", a, b, (unsigned long long)applied[a],
					what);
		}
	return 0;
}

int kvh_check_history(struct kvh *h, char *why, size_t wl, bool *violation)
{
	return simh_check_history(h->hist, &h->hbuf, &h->hlen, STRATA_CHECK_ATOMIC, why, wl,
				  violation);
}

int kvh_quota_tally(const struct kvh *h, int rc, char *why, size_t wl)
{
	static unsigned seeds;
	static unsigned long long refused, dels;
	if (!h->quota)
		return rc;
	seeds++;
	refused += h->quota_refused;
	dels += h->dels_ok;
	if (!rc && seeds >= 5 && (refused == 0 || dels == 0))
		rc = sim_fail(why, wl, "%llu writes refused and %llu deletes in %u seeds of the quota "
			      "case: vacuous", refused, dels, seeds);
	return rc;
}
