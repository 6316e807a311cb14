/* The deterministic simulator runtime; see sim.h. */
#include "rt/sim/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "crypto/crypto.h"
#include "links/links.h"
#include "store/rlog.h"

enum sim_ev_kind { SIM_DELIVER = 1, SIM_WAKE, SIM_SYNCED };

struct sim_ev {
	uint64_t t;
	uint64_t seq; /* tie-break: scheduling order, which is deterministic */
	enum sim_ev_kind kind;
	uint32_t node;
	uint64_t gen;  /* SIM_WAKE: the node's wake generation when scheduled; SIM_SYNCED: life */
	bool twin;     /* SIM_WAKE: for the node's twin */
	uint8_t *buf;  /* SIM_DELIVER: owned */
	size_t len;
};

struct kv {
	char *key;
	struct strata_msg *val;
};

struct kvmap {
	struct kv *e;
	size_t len, cap;
};

/* One unsynced write, in write order. A key-value write (key set; val NULL = remove) or an
 * operation on a record log segment (key NULL): create, write (val = the bytes), remove. */
enum wop_file { WF_NONE = 0, WF_CREATE, WF_WRITE, WF_REMOVE };
struct wop {
	char *key;
	struct strata_msg *val;
	enum wop_file file;
	uint64_t seq, off, size;
};

/* A record log segment on the simulated disk: the durable image and the current one (what the
 * node reads: durable + its unsynced operations). */
struct sfile {
	uint64_t seq;
	uint8_t *dur, *cur;
	size_t dsize, csize;
	bool dexists, cexists;
};

/* The KV's record log in the simulator: small segments, so that rolls and removals happen. */
#define SIM_WAL_SEGMENT (32u * 1024)

struct sim_node {
	struct sim *s;
	uint32_t id;
	struct strata_node *node; /* NULL when crashed */
	bool paused;
	uint64_t incarnation;
	uint64_t wake_at;
	uint64_t wake_gen;
	struct kvmap durable;
	struct sfile *files; /* the record log's segments, durable or not */
	size_t nfiles, capfiles;
	struct strata_rlog *wal; /* open while the node is up */
	struct wop *ops; /* unsynced writes in order: [0, inflight) are being synced */
	size_t nops, capops, inflight;
	bool syncing;
	uint64_t sync_ticket, want_ticket; /* ticket of the running sync; latest asked for */
	uint64_t life; /* incremented at every boot: a sync of an earlier life is void */
	struct sim_ev *held; /* deliveries that arrived while paused */
	size_t nheld, capheld;
	struct strata_env env;
	uint8_t pk[STRATA_PK_LEN];
	uint8_t sk[STRATA_SK_LEN];
	enum strata_byz byz;
	bool is_twin;
	struct sim_node *twin; /* a second copy of this identity, or NULL */
};

struct sim {
	struct sim_opts o;
	uint64_t now;
	uint64_t rng[4];
	uint64_t seq;
	struct sim_ev *heap;
	size_t hlen, hcap;
	struct sim_node nodes[STRATA_MAX_NODES + 1];
	bool cut[STRATA_MAX_NODES + 1][STRATA_MAX_NODES + 1];
	uint64_t sent;
	struct sim_disk_stats dstats;
	uint64_t nsyncs; /* syncs attempted */
	/* Pairwise link keys, [i * (n + 1) + j] for nodes i and j, derived once in sim_new: the
	 * identities are fixed, so every boot and restart reuses them (strata_node_opts.link_keys)
	 * instead of an X25519 multiplication per peer. */
	uint8_t (*link_keys)[STRATA_LINK_KEY_LEN];
	/* recent datagrams kept for the replay fault */
	struct { uint32_t to; uint8_t *buf; size_t len; } old[32];
	size_t nold;
};

/* ---- PRNG: xoshiro256** seeded through splitmix64 ---- */

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t sim_random(struct sim *s)
{
	uint64_t *r = s->rng;
	uint64_t result = rotl(r[1] * 5, 7) * 9;
	uint64_t t = r[1] << 17;
	r[2] ^= r[0];
	r[3] ^= r[1];
	r[1] ^= r[2];
	r[0] ^= r[3];
	r[2] ^= t;
	r[3] = rotl(r[3], 45);
	return result;
}

uint64_t sim_random_below(struct sim *s, uint64_t bound)
{
	STRATA_ASSERT(bound > 0);
	uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
	uint64_t r;
	do
		r = sim_random(s);
	while (r >= limit);
	return r % bound;
}

double sim_random_unit(struct sim *s)
{
	return (double)(sim_random(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- event heap ---- */

static bool ev_less(const struct sim_ev *a, const struct sim_ev *b)
{
	return a->t != b->t ? a->t < b->t : a->seq < b->seq;
}

static void heap_push(struct sim *s, struct sim_ev e)
{
	if (s->hlen == s->hcap) {
		s->hcap = s->hcap ? s->hcap * 2 : 1024;
		s->heap = realloc(s->heap, s->hcap * sizeof(*s->heap));
		STRATA_ASSERT(s->heap);
	}
	e.seq = s->seq++;
	size_t i = s->hlen++;
	s->heap[i] = e;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!ev_less(&s->heap[i], &s->heap[p]))
			break;
		struct sim_ev t = s->heap[i];
		s->heap[i] = s->heap[p];
		s->heap[p] = t;
		i = p;
	}
}

static struct sim_ev heap_pop(struct sim *s)
{
	STRATA_ASSERT(s->hlen);
	struct sim_ev top = s->heap[0];
	s->heap[0] = s->heap[--s->hlen];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->hlen && ev_less(&s->heap[l], &s->heap[m]))
			m = l;
		if (r < s->hlen && ev_less(&s->heap[r], &s->heap[m]))
			m = r;
		if (m == i)
			break;
		struct sim_ev t = s->heap[i];
		s->heap[i] = s->heap[m];
		s->heap[m] = t;
		i = m;
	}
	return top;
}

/* ---- stable storage ---- */

static struct kv *kv_find(struct kvmap *m, const char *key)
{
	for (size_t i = 0; i < m->len; i++)
		if (strcmp(m->e[i].key, key) == 0)
			return &m->e[i];
	return NULL;
}

static void kv_put(struct kvmap *m, const char *key, struct strata_msg *val)
{
	struct kv *e = kv_find(m, key);
	if (e) {
		strata_msg_unref(e->val);
		e->val = strata_msg_ref(val);
		return;
	}
	if (m->len == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		m->e = realloc(m->e, m->cap * sizeof(*m->e));
		STRATA_ASSERT(m->e);
	}
	m->e[m->len].key = strdup(key);
	STRATA_ASSERT(m->e[m->len].key);
	m->e[m->len].val = strata_msg_ref(val);
	m->len++;
}

static void kv_clear(struct kvmap *m)
{
	for (size_t i = 0; i < m->len; i++) {
		free(m->e[i].key);
		strata_msg_unref(m->e[i].val);
	}
	free(m->e);
	memset(m, 0, sizeof(*m));
}

/* ---- environment callbacks ---- */

static uint64_t env_now(void *ctx)
{
	return ((struct sim_node *)ctx)->s->now;
}

static void env_send(void *ctx, uint32_t to, const uint8_t *buf, size_t len)
{
	struct sim_node *sn = ctx;
	struct sim *s = sn->s;
	const struct sim_net *net = &s->o.net;
	s->sent++;
	if (to < 1 || to > s->o.cfg->n || s->cut[sn->id][to])
		return;
	if (sim_random_unit(s) < net->drop)
		return;
	int copies = sim_random_unit(s) < net->dup ? 2 : 1;
	for (int i = 0; i < copies; i++) {
		uint64_t d = net->delay_min_us;
		if (net->delay_max_us > net->delay_min_us)
			d += sim_random_below(s, net->delay_max_us - net->delay_min_us + 1);
		if (net->tail > 0 && net->tail_us && sim_random_unit(s) < net->tail)
			d += sim_random_below(s, net->tail_us);
		sim_inject(s, to, buf, len, d);
	}
	if (net->corrupt > 0 && len && sim_random_unit(s) < net->corrupt) {
		uint8_t *copy = malloc(len);
		STRATA_ASSERT(copy);
		memcpy(copy, buf, len);
		copy[sim_random_below(s, len)] ^= (uint8_t)(1u << sim_random_below(s, 8));
		sim_inject(s, to, copy, len, net->delay_min_us);
		free(copy);
	}
	if (net->replay > 0) {
		/* Remember this datagram; sometimes replay an earlier one. */
		size_t slot = s->nold < 32 ? s->nold++ : (size_t)sim_random_below(s, 32);
		free(s->old[slot].buf);
		s->old[slot].to = to;
		s->old[slot].len = len;
		s->old[slot].buf = malloc(len);
		STRATA_ASSERT(s->old[slot].buf);
		memcpy(s->old[slot].buf, buf, len);
		if (sim_random_unit(s) < net->replay) {
			size_t k = (size_t)sim_random_below(s, s->nold);
			sim_inject(s, s->old[k].to, s->old[k].buf, s->old[k].len,
				   net->delay_max_us + sim_random_below(s, 1000000));
		}
	}
}

void sim_inject(struct sim *s, uint32_t to, const uint8_t *buf, size_t len, uint64_t delay_us)
{
	STRATA_ASSERT(to >= 1 && to <= s->o.cfg->n);
	struct sim_ev e = { .t = s->now + delay_us, .kind = SIM_DELIVER, .node = to, .len = len };
	e.buf = malloc(len ? len : 1);
	STRATA_ASSERT(e.buf);
	if (len)
		memcpy(e.buf, buf, len);
	heap_push(s, e);
}

static void env_wake_at(void *ctx, uint64_t deadline)
{
	struct sim_node *sn = ctx;
	sn->wake_at = deadline;
	sn->wake_gen++;
	if (deadline != UINT64_MAX) {
		struct sim_ev e = { .t = deadline < sn->s->now ? sn->s->now : deadline,
				    .kind = SIM_WAKE, .node = sn->id, .gen = sn->wake_gen,
				    .twin = sn->is_twin };
		heap_push(sn->s, e);
	}
}

static uint64_t env_random(void *ctx)
{
	return sim_random(((struct sim_node *)ctx)->s);
}

static void kv_del(struct kvmap *m, const char *key)
{
	struct kv *e = kv_find(m, key);
	if (!e)
		return;
	free(e->key);
	strata_msg_unref(e->val);
	*e = m->e[--m->len];
}

static void op_push(struct sim_node *sn, const char *key, struct strata_msg *val)
{
	if (sn->nops == sn->capops) {
		sn->capops = sn->capops ? sn->capops * 2 : 64;
		sn->ops = realloc(sn->ops, sn->capops * sizeof(*sn->ops));
		STRATA_ASSERT(sn->ops);
	}
	sn->ops[sn->nops] = (struct wop){ .key = strdup(key) };
	STRATA_ASSERT(sn->ops[sn->nops].key);
	sn->ops[sn->nops].val = val ? strata_msg_ref(val) : NULL;
	sn->nops++;
}

/* ---- the record log's segments on the simulated disk ---- */

static struct sfile *sfile_find(struct sim_node *sn, uint64_t seq)
{
	for (size_t i = 0; i < sn->nfiles; i++)
		if (sn->files[i].seq == seq)
			return &sn->files[i];
	return NULL;
}

static struct sfile *sfile_get(struct sim_node *sn, uint64_t seq)
{
	struct sfile *f = sfile_find(sn, seq);
	if (f)
		return f;
	if (sn->nfiles == sn->capfiles) {
		sn->capfiles = sn->capfiles ? sn->capfiles * 2 : 8;
		sn->files = realloc(sn->files, sn->capfiles * sizeof(*sn->files));
		STRATA_ASSERT(sn->files);
	}
	f = &sn->files[sn->nfiles++];
	*f = (struct sfile){ .seq = seq };
	return f;
}

static void fop_push(struct sim_node *sn, struct wop w)
{
	if (sn->nops == sn->capops) {
		sn->capops = sn->capops ? sn->capops * 2 : 64;
		sn->ops = realloc(sn->ops, sn->capops * sizeof(*sn->ops));
		STRATA_ASSERT(sn->ops);
	}
	sn->ops[sn->nops++] = w;
}

/* Applies a segment operation to the durable image; a write keeps only its first `upto` bytes
 * (all of them unless torn). */
static void fop_apply(struct sim_node *sn, const struct wop *w, size_t upto)
{
	struct sfile *f = sfile_get(sn, w->seq);
	switch (w->file) {
	case WF_CREATE:
		free(f->dur);
		f->dur = calloc(1, (size_t)w->size);
		STRATA_ASSERT(f->dur);
		f->dsize = (size_t)w->size;
		f->dexists = true;
		break;
	case WF_WRITE:
		if (f->dexists && w->off + upto <= f->dsize)
			memcpy(f->dur + w->off, w->val->data, upto);
		break;
	case WF_REMOVE:
		free(f->dur);
		f->dur = NULL;
		f->dsize = 0;
		f->dexists = false;
		break;
	case WF_NONE:
		break;
	}
}

/* After a crash the files are what reached the disk. */
static void files_reset(struct sim_node *sn)
{
	for (size_t i = 0; i < sn->nfiles; i++) {
		struct sfile *f = &sn->files[i];
		free(f->cur);
		f->cur = NULL;
		f->csize = 0;
		f->cexists = f->dexists;
		if (f->dexists) {
			f->cur = malloc(f->dsize ? f->dsize : 1);
			STRATA_ASSERT(f->cur);
			memcpy(f->cur, f->dur, f->dsize);
			f->csize = f->dsize;
		}
	}
}

static void files_free(struct sim_node *sn)
{
	for (size_t i = 0; i < sn->nfiles; i++) {
		free(sn->files[i].dur);
		free(sn->files[i].cur);
	}
	free(sn->files);
	sn->files = NULL;
	sn->nfiles = sn->capfiles = 0;
}

static int wf_list(void *ctx, uint64_t *seqs, size_t max, size_t *n)
{
	struct sim_node *sn = ctx;
	size_t k = 0;
	for (size_t i = 0; i < sn->nfiles; i++)
		if (sn->files[i].cexists) {
			if (k < max)
				seqs[k] = sn->files[i].seq;
			k++;
		}
	*n = k;
	return 0;
}

static int wf_create(void *ctx, uint64_t seq, uint64_t size)
{
	struct sim_node *sn = ctx;
	struct sfile *f = sfile_get(sn, seq);
	if (f->cexists)
		return STRATA_EIO;
	free(f->cur);
	f->cur = calloc(1, (size_t)size);
	STRATA_ASSERT(f->cur);
	f->csize = (size_t)size;
	f->cexists = true;
	fop_push(sn, (struct wop){ .file = WF_CREATE, .seq = seq, .size = size });
	return 0;
}

static int wf_remove(void *ctx, uint64_t seq)
{
	struct sim_node *sn = ctx;
	struct sfile *f = sfile_find(sn, seq);
	if (!f || !f->cexists)
		return STRATA_ENOENT;
	free(f->cur);
	f->cur = NULL;
	f->csize = 0;
	f->cexists = false;
	fop_push(sn, (struct wop){ .file = WF_REMOVE, .seq = seq });
	return 0;
}

static int wf_size(void *ctx, uint64_t seq, uint64_t *size)
{
	struct sfile *f = sfile_find(ctx, seq);
	if (!f || !f->cexists)
		return STRATA_ENOENT;
	*size = f->csize;
	return 0;
}

static int wf_read(void *ctx, uint64_t seq, uint64_t off, void *buf, size_t len)
{
	struct sfile *f = sfile_find(ctx, seq);
	if (!f || !f->cexists || off > f->csize || len > f->csize - off)
		return STRATA_EIO;
	memcpy(buf, f->cur + off, len);
	return 0;
}

static int wf_write(void *ctx, uint64_t seq, uint64_t off, const void *buf, size_t len)
{
	struct sim_node *sn = ctx;
	struct sfile *f = sfile_find(sn, seq);
	if (!f || !f->cexists || off > f->csize || len > f->csize - off)
		return STRATA_EIO;
	memcpy(f->cur + off, buf, len);
	struct strata_msg *m = strata_msg_new(buf, len);
	STRATA_ASSERT(m);
	fop_push(sn, (struct wop){ .file = WF_WRITE, .seq = seq, .off = off, .val = m });
	return 0;
}

static struct strata_rlog *env_wal(void *ctx, const char *name)
{
	struct sim_node *sn = ctx;
	return strcmp(name, "kv") == 0 ? sn->wal : NULL;
}

/* Staged record log operations go to the disk's write queue: at the start of a sync, after the
 * key-value writes staged before it (the order the daemon's runtime uses). */
static void wal_write_staged(struct sim_node *sn)
{
	if (sn->wal)
		(void)strata_rlog_write_staged(sn->wal); /* a failure fails the node's next store */
}

static void op_apply(struct sim_node *sn, const struct wop *w)
{
	if (w->file)
		fop_apply(sn, w, w->val ? w->val->len : 0);
	else if (w->val)
		kv_put(&sn->durable, w->key, w->val);
	else
		kv_del(&sn->durable, w->key);
}

/* Makes the first k unsynced writes durable (in order) and forgets them. */
static void ops_commit(struct sim_node *sn, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		op_apply(sn, &sn->ops[i]);
		free(sn->ops[i].key);
		strata_msg_unref(sn->ops[i].val);
	}
	memmove(sn->ops, sn->ops + k, (sn->nops - k) * sizeof(*sn->ops));
	sn->nops -= k;
	sn->inflight = sn->inflight > k ? sn->inflight - k : 0;
}

static void ops_drop(struct sim_node *sn)
{
	for (size_t i = 0; i < sn->nops; i++) {
		free(sn->ops[i].key);
		strata_msg_unref(sn->ops[i].val);
	}
	sn->nops = 0;
	sn->inflight = 0;
}

static int env_store(void *ctx, const char *key, const void *val, size_t len)
{
	struct sim_node *sn = ctx;
	struct strata_msg *m = strata_msg_new(val, len);
	if (!m)
		return STRATA_ENOMEM;
	op_push(sn, key, m);
	strata_msg_unref(m);
	return 0;
}

static int env_remove(void *ctx, const char *key)
{
	op_push(ctx, key, NULL);
	return 0;
}

static int env_retrieve(void *ctx, const char *key, struct strata_msg **out)
{
	struct sim_node *sn = ctx;
	for (size_t i = sn->nops; i-- > 0;) /* the latest unsynced write wins */
		if (sn->ops[i].key && strcmp(sn->ops[i].key, key) == 0) {
			if (!sn->ops[i].val)
				return STRATA_ENOENT;
			*out = strata_msg_ref(sn->ops[i].val);
			return 0;
		}
	struct kv *e = kv_find(&sn->durable, key);
	if (!e)
		return STRATA_ENOENT;
	*out = strata_msg_ref(e->val);
	return 0;
}

static bool sync_fails(struct sim_node *sn)
{
	struct sim *s = sn->s;
	s->nsyncs++;
	if (s->nsyncs == s->o.disk.fail_sync_nr ||
	    (s->o.disk.sync_fail > 0 && sim_random_unit(s) < s->o.disk.sync_fail)) {
		s->dstats.sync_failures++;
		return true;
	}
	return false;
}

static int env_sync(void *ctx)
{
	struct sim_node *sn = ctx;
	wal_write_staged(sn);
	if (!sn->nops)
		return 0;
	if (sync_fails(sn))
		return STRATA_EIO; /* the writes stay unsynced: a crash decides their fate */
	ops_commit(sn, sn->nops);
	if (sn->wal)
		strata_rlog_synced(sn->wal);
	sn->s->dstats.syncs++;
	if (sn->node)
		strata_node_counters(sn->node)->syncs++;
	return 0;
}

static void sync_schedule(struct sim_node *sn, uint64_t ticket)
{
	struct sim *s = sn->s;
	const struct sim_disk *d = &s->o.disk;
	uint64_t lat = d->sync_min_us;
	if (d->sync_max_us > d->sync_min_us)
		lat += sim_random_below(s, d->sync_max_us - d->sync_min_us + 1);
	sn->syncing = true;
	sn->inflight = sn->nops;
	sn->sync_ticket = ticket;
	struct sim_ev e = { .t = s->now + lat, .kind = SIM_SYNCED, .node = sn->id,
			    .gen = sn->life, .twin = sn->is_twin };
	heap_push(s, e);
}

static int env_sync_async(void *ctx, uint64_t ticket)
{
	struct sim_node *sn = ctx;
	sn->want_ticket = ticket;
	if (sn->syncing)
		return sn->s->o.disk.ack_before_sync ? 1 : 0; /* staged behind the running sync */
	wal_write_staged(sn);
	if (!sn->nops)
		return 1;
	sync_schedule(sn, ticket);
	return sn->s->o.disk.ack_before_sync ? 1 : 0; /* the broken variant lies */
}

/* A node's background sync completed (or failed). */
static void sync_done(struct sim *s, struct sim_node *sn)
{
	sn->syncing = false;
	if (sync_fails(sn)) {
		strata_node_synced(sn->node, sn->sync_ticket, STRATA_EIO);
		return;
	}
	ops_commit(sn, sn->inflight);
	if (sn->wal)
		strata_rlog_synced(sn->wal);
	s->dstats.syncs++;
	strata_node_counters(sn->node)->syncs++;
	uint64_t done = sn->sync_ticket;
	if (sn->want_ticket > done)
		wal_write_staged(sn);
	if (sn->want_ticket > done && sn->nops)
		sync_schedule(sn, sn->want_ticket); /* the batches staged meanwhile, as one group */
	else if (sn->want_ticket > done)
		done = sn->want_ticket; /* they stored nothing: durable with this one */
	strata_node_synced(sn->node, done, 0);
}

static void env_output(void *ctx, const struct strata_output *o)
{
	struct sim_node *sn = ctx;
	if (sn->s->o.output)
		sn->s->o.output(sn->s, sn->id, o, sn->s->o.arg);
}

/* The run's output callback takes every output: with one, every delivery is wanted, except at
 * the nodes the run says nobody watches (sim_opts.unwatched). */
static bool env_deliveries_wanted(void *ctx, const char *module)
{
	struct sim_node *sn = ctx;
	(void)module;
	return sn->s->o.output != NULL && !((sn->s->o.unwatched >> (sn->id - 1)) & 1);
}

static void env_trace(void *ctx, const char *line)
{
	struct sim_node *sn = ctx;
	fprintf(stderr, "[seed %llu] %s\n", (unsigned long long)sn->s->o.seed, line);
}

/* ---- lifecycle ---- */

static void node_boot(struct sim *s, struct sim_node *sn, bool recovering)
{
	char err[256];
	sn->incarnation++;
	struct strata_node_opts no = {
		.cfg = s->o.cfg, .id = sn->id, .incarnation = sn->incarnation,
		.secret_key = sn->sk, .env = &sn->env, .trace = s->o.trace, .byz = sn->byz,
		.transport = &strata_links_transport,
		.coin_share = s->o.coin_shares ? s->o.coin_shares[sn->id - 1] : NULL,
		.link_keys = s->link_keys[(size_t)sn->id * (s->o.cfg->n + 1)],
	};
	sn->wake_at = UINT64_MAX;
	sn->life++;
	sn->syncing = false;
	sn->sync_ticket = sn->want_ticket = 0;
	sn->env.sync_async = s->o.disk.sync_max_us > 0 ? env_sync_async : NULL;
	const struct strata_rlog_io io = {
		.ctx = sn, .list = wf_list, .create = wf_create, .remove = wf_remove,
		.size = wf_size, .read = wf_read, .write = wf_write,
	};
	if (strata_rlog_open(&io, SIM_WAL_SEGMENT, &sn->wal, err, sizeof(err)) != 0) {
		fprintf(stderr, "sim: node %u: %s\n", sn->id, err);
		abort();
	}
	s->dstats.wal_torn_cuts += strata_rlog_stats(sn->wal)->torn_cuts;
	sn->node = strata_node_new(&no, err, sizeof(err));
	if (!sn->node) {
		fprintf(stderr, "sim: node %u: %s\n", sn->id, err);
		abort();
	}
	if (s->o.build)
		s->o.build(s, sn->node, s->o.arg);
	strata_node_start(sn->node, recovering);
}

void sim_config_loopback(struct strata_config *cfg, uint32_t n, uint16_t port_base)
{
	STRATA_ASSERT(n <= STRATA_MAX_NODES);
	for (uint32_t i = 1; i <= n; i++) {
		cfg->nodes[i].id = i;
		snprintf(cfg->nodes[i].host, sizeof(cfg->nodes[i].host), "127.0.0.1");
		cfg->nodes[i].port = (uint16_t)(port_base + i);
	}
}

struct sim *sim_new(const struct sim_opts *o)
{
	STRATA_ASSERT(o && o->cfg && o->cfg->n >= 1 && o->cfg->n <= STRATA_MAX_NODES);
	STRATA_ASSERT(strata_crypto_init() == 0);
	struct sim *s = calloc(1, sizeof(*s));
	STRATA_ASSERT(s);
	s->o = *o;
	uint64_t x = o->seed;
	for (int i = 0; i < 4; i++)
		s->rng[i] = splitmix(&x);
	for (uint32_t i = 1; i <= o->cfg->n; i++) {
		struct sim_node *sn = &s->nodes[i];
		sn->s = s;
		sn->id = i;
		sn->wake_at = UINT64_MAX;
		sn->env = (struct strata_env){
			.ctx = sn, .now_us = env_now, .send = env_send, .wake_at = env_wake_at,
			.random = env_random, .store = env_store, .retrieve = env_retrieve,
			.sync = env_sync, .remove = env_remove, .output = env_output,
			.deliveries_wanted = env_deliveries_wanted, .trace = env_trace, .wal = env_wal,
		};
		/* Identities are fixed per node id (not per seed): key generation is not what the
		 * simulator explores, and it keeps thousands of seeds cheap. */
		uint8_t seed[32] = { 0 };
		seed[0] = (uint8_t)i;
		memcpy(seed + 1, "strata-sim-identity", 19);
		STRATA_ASSERT(strata_keypair_seed(sn->pk, sn->sk, seed) == 0);
		memcpy(o->cfg->nodes[i].public_key, sn->pk, STRATA_PK_LEN);
		o->cfg->nodes[i].has_public_key = true;
	}
	/* strata_link_key gives both ends the same key, so one derivation per pair. */
	size_t w = (size_t)o->cfg->n + 1;
	s->link_keys = calloc(w * w, sizeof(*s->link_keys));
	STRATA_ASSERT(s->link_keys);
	for (uint32_t i = 1; i <= o->cfg->n; i++)
		for (uint32_t j = i + 1; j <= o->cfg->n; j++) {
			STRATA_ASSERT(strata_link_key(s->link_keys[i * w + j], s->nodes[i].pk,
						      s->nodes[i].sk, s->nodes[j].pk) == 0);
			memcpy(s->link_keys[j * w + i], s->link_keys[i * w + j], STRATA_LINK_KEY_LEN);
		}
	return s;
}

static void node_down(struct sim_node *sn)
{
	strata_node_free(sn->node);
	sn->node = NULL;
	if (sn->wal)
		sn->s->dstats.wal_segments_removed += strata_rlog_stats(sn->wal)->segments_removed;
	strata_rlog_close(sn->wal); /* what it staged and did not write is lost */
	sn->wal = NULL;
	sn->wake_gen++;
	/* Unsynced writes are lost, or (torn fault) a prefix of them reached the disk and the
	 * write after it is torn, discarded at recovery with everything after it. */
	struct sim *s = sn->s;
	if (sn->nops) {
		size_t keep = 0;
		bool torn = false;
		if (s->o.disk.torn > 0 && sim_random_unit(s) < s->o.disk.torn) {
			keep = (size_t)sim_random_below(s, sn->nops);
			s->dstats.torn_crashes++;
			torn = true;
		}
		ops_commit(sn, keep);
		/* A torn write to a record log segment: a prefix of its bytes is on the disk. (A
		 * torn key-value write is discarded: LMDB's commits are atomic.) */
		if (torn && sn->nops && sn->ops[0].file == WF_WRITE && sn->ops[0].val->len > 0) {
			fop_apply(sn, &sn->ops[0],
				  (size_t)sim_random_below(s, sn->ops[0].val->len));
			s->dstats.wal_torn_writes++;
		}
		s->dstats.writes_lost += sn->nops;
	}
	ops_drop(sn);
	files_reset(sn);
	sn->syncing = false;
	for (size_t i = 0; i < sn->nheld; i++)
		free(sn->held[i].buf);
	sn->nheld = 0;
	sn->paused = false;
}

void sim_free(struct sim *s)
{
	if (!s)
		return;
	for (uint32_t i = 1; i <= s->o.cfg->n; i++) {
		struct sim_node *sn = &s->nodes[i];
		if (sn->node)
			node_down(sn);
		kv_clear(&sn->durable);
		files_free(sn);
		free(sn->held);
		free(sn->ops);
		if (sn->twin) {
			if (sn->twin->node)
				node_down(sn->twin);
			kv_clear(&sn->twin->durable);
			files_free(sn->twin);
			free(sn->twin->ops);
			free(sn->twin->held);
			free(sn->twin);
		}
	}
	for (size_t i = 0; i < s->hlen; i++)
		free(s->heap[i].buf);
	for (size_t i = 0; i < s->nold; i++)
		free(s->old[i].buf);
	free(s->heap);
	free(s->link_keys);
	free(s);
}

void sim_start(struct sim *s)
{
	for (uint32_t i = 1; i <= s->o.cfg->n; i++)
		node_boot(s, &s->nodes[i], false);
}

static void deliver_to(struct sim *s, struct sim_node *sn, struct sim_ev *e);

static void deliver(struct sim *s, struct sim_ev *e)
{
	struct sim_node *tw = s->nodes[e->node].twin;
	if (tw && tw->node) {
		struct sim_ev copy = *e;
		copy.buf = malloc(e->len ? e->len : 1);
		STRATA_ASSERT(copy.buf);
		memcpy(copy.buf, e->buf, e->len);
		deliver_to(s, tw, &copy);
	}
	deliver_to(s, &s->nodes[e->node], e);
}

static void deliver_to(struct sim *s, struct sim_node *sn, struct sim_ev *e)
{
	if (!sn->node) {
		free(e->buf);
		return;
	}
	if (sn->paused) {
		if (sn->nheld == sn->capheld) {
			sn->capheld = sn->capheld ? sn->capheld * 2 : 64;
			sn->held = realloc(sn->held, sn->capheld * sizeof(*sn->held));
			STRATA_ASSERT(sn->held);
		}
		sn->held[sn->nheld++] = *e;
		return;
	}
	strata_node_recv(sn->node, e->buf, e->len);
	free(e->buf);
}

bool sim_step(struct sim *s)
{
	while (s->hlen) {
		struct sim_ev e = heap_pop(s);
		STRATA_ASSERT(e.t >= s->now);
		s->now = e.t;
		if (e.kind == SIM_DELIVER) {
			deliver(s, &e);
			return true;
		}
		struct sim_node *sn = e.twin ? s->nodes[e.node].twin : &s->nodes[e.node];
		if (e.kind == SIM_SYNCED) {
			if (!sn || !sn->node || e.gen != sn->life || !sn->syncing)
				continue; /* the node crashed meanwhile: that sync never finished */
			if (sn->paused) { /* a stopped process learns of it when resumed */
				e.t = s->now + 1000;
				heap_push(s, e);
				continue;
			}
			sync_done(s, sn);
			return true;
		}
		if (!sn || !sn->node || sn->paused || e.gen != sn->wake_gen)
			continue; /* stale or suppressed wake-up */
		sn->wake_at = UINT64_MAX;
		sn->wake_gen++;
		strata_node_tick(sn->node);
		return true;
	}
	return false;
}

/* Whether the top of the heap is a wake-up nobody waits for any more. */
static bool top_is_stale(struct sim *s)
{
	const struct sim_ev *e = &s->heap[0];
	if (e->kind == SIM_SYNCED) {
		const struct sim_node *sn = e->twin ? s->nodes[e->node].twin : &s->nodes[e->node];
		return !sn || !sn->node || e->gen != sn->life || !sn->syncing;
	}
	if (e->kind != SIM_WAKE)
		return false;
	const struct sim_node *sn = e->twin ? s->nodes[e->node].twin : &s->nodes[e->node];
	return !sn || !sn->node || sn->paused || e->gen != sn->wake_gen;
}

int sim_run_until(struct sim *s, uint64_t t_us, sim_check_fn check, void *arg)
{
	for (;;) {
		/* Drop stale wake-ups first, so that the next real event decides whether the run
		 * goes on: the clock never passes t_us. */
		while (s->hlen && top_is_stale(s))
			(void)heap_pop(s);
		if (!s->hlen || s->heap[0].t > t_us)
			break;
		sim_step(s);
		if (check) {
			int rc = check(s, arg);
			if (rc)
				return rc;
		}
	}
	if (s->now < t_us)
		s->now = t_us;
	return 0;
}

int sim_run_for(struct sim *s, uint64_t dur_us, sim_check_fn check, void *arg)
{
	return sim_run_until(s, s->now + dur_us, check, arg);
}

uint64_t sim_now(const struct sim *s) { return s->now; }
uint64_t sim_seed(const struct sim *s) { return s->o.seed; }
uint32_t sim_n(const struct sim *s) { return s->o.cfg->n; }
uint64_t sim_datagrams_sent(const struct sim *s) { return s->sent; }
const struct sim_disk_stats *sim_disk_stats(const struct sim *s) { return &s->dstats; }

size_t sim_unsynced(const struct sim *s, uint32_t id)
{
	STRATA_ASSERT(id >= 1 && id <= s->o.cfg->n);
	const struct sim_node *sn = &s->nodes[id];
	return sn->nops + (sn->wal && strata_rlog_staged(sn->wal) ? 1 : 0);
}

int sim_durable_get(struct sim *s, uint32_t id, const char *key, struct strata_msg **out)
{
	STRATA_ASSERT(id >= 1 && id <= s->o.cfg->n);
	struct kv *e = kv_find(&s->nodes[id].durable, key);
	if (!e)
		return STRATA_ENOENT;
	*out = strata_msg_ref(e->val);
	return 0;
}

struct strata_node *sim_node(struct sim *s, uint32_t id)
{
	STRATA_ASSERT(id >= 1 && id <= s->o.cfg->n);
	return s->nodes[id].node;
}

bool sim_is_up(const struct sim *s, uint32_t id)
{
	return s->nodes[id].node != NULL;
}

bool sim_is_paused(const struct sim *s, uint32_t id)
{
	return s->nodes[id].paused;
}

void sim_set_net(struct sim *s, const struct sim_net *net)
{
	s->o.net = *net;
}

void sim_set_disk(struct sim *s, const struct sim_disk *d)
{
	s->o.disk = *d;
}

void sim_crash(struct sim *s, uint32_t id)
{
	STRATA_ASSERT(id >= 1 && id <= s->o.cfg->n);
	if (s->nodes[id].node)
		node_down(&s->nodes[id]);
}

void sim_restart(struct sim *s, uint32_t id)
{
	STRATA_ASSERT(id >= 1 && id <= s->o.cfg->n && !s->nodes[id].node);
	node_boot(s, &s->nodes[id], true);
}

void sim_pause(struct sim *s, uint32_t id)
{
	if (s->nodes[id].node)
		s->nodes[id].paused = true;
}

void sim_resume(struct sim *s, uint32_t id)
{
	struct sim_node *sn = &s->nodes[id];
	if (!sn->node || !sn->paused)
		return;
	sn->paused = false;
	/* What arrived meanwhile is handed over now, in arrival order, then overdue timers. */
	for (size_t i = 0; i < sn->nheld; i++) {
		struct sim_ev e = sn->held[i];
		e.t = s->now;
		heap_push(s, e);
	}
	sn->nheld = 0;
	env_wake_at(sn, sn->wake_at);
}

void sim_link(struct sim *s, uint32_t from, uint32_t to, bool up)
{
	s->cut[from][to] = !up;
}

void sim_partition(struct sim *s, uint64_t a, uint64_t b)
{
	for (uint32_t i = 1; i <= s->o.cfg->n; i++)
		for (uint32_t j = 1; j <= s->o.cfg->n; j++)
			if (((a >> i) & 1) && ((b >> j) & 1)) {
				s->cut[i][j] = true;
				s->cut[j][i] = true;
			}
}

void sim_heal(struct sim *s)
{
	memset(s->cut, 0, sizeof(s->cut));
}

void sim_request(struct sim *s, uint32_t id, const char *module, const struct strata_request *r)
{
	struct sim_node *sn = &s->nodes[id];
	if (sn->node && !sn->paused)
		strata_node_request(sn->node, module, r);
}

void sim_set_byz(struct sim *s, uint32_t id, enum strata_byz b)
{
	STRATA_ASSERT(id >= 1 && id <= s->o.cfg->n);
	s->nodes[id].byz = b;
}

void sim_twin(struct sim *s, uint32_t id)
{
	STRATA_ASSERT(id >= 1 && id <= s->o.cfg->n && !s->nodes[id].twin);
	struct sim_node *p = &s->nodes[id];
	struct sim_node *t = calloc(1, sizeof(*t));
	STRATA_ASSERT(t);
	*t = (struct sim_node){ .s = s, .id = id, .is_twin = true, .wake_at = UINT64_MAX };
	t->env = p->env;
	t->env.ctx = t;
	memcpy(t->pk, p->pk, sizeof(t->pk));
	memcpy(t->sk, p->sk, sizeof(t->sk));
	/* Same identity and incarnation: peers cannot tell the copies apart. */
	t->incarnation = p->incarnation ? p->incarnation - 1 : 0;
	p->twin = t;
	node_boot(s, t, false);
}
