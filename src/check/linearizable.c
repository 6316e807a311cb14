/* Linearizability of one key's history against a read/write/cas register (initial value null).
 *
 * The search is Wing & Gong's, with Lowe's memoisation ("Testing for linearizability", 2017), as
 * also used by Knossos (wgl) and Porcupine:
 *   - every op becomes a call entry and a return entry in a doubly linked list sorted by time
 *     (calls before returns at equal times: intervals are closed, so ops touching at an instant
 *     are concurrent);
 *   - walking the list, a call entry whose op the register model accepts in the current state is
 *     "lifted" (both entries unlinked, op pushed on a stack, state advanced) and the walk restarts
 *     at the head; reaching a return entry means its op was not linearized before it returned,
 *     so the last lift is undone ("unlift", in reverse order, dancing-links style) and the walk
 *     resumes after it;
 *   - a lift is only taken if the configuration (set of linearized ops, register state) was never
 *     seen: the cache of seen configurations is a hash table keyed by an incremental (Zobrist)
 *     hash of the op bitset and the state, bitsets compared in full on collision.
 * The history is linearizable iff the list empties.
 *
 * Partial histories: fail ops did not take effect and are removed; reads that did not return ok
 * constrain nothing and are removed; info ops (and invokes still pending at the end) return at
 * +infinity, so they may take effect at any point after their invoke, or never (placed last). An
 * info cas whose expected value does not match leaves the register unchanged. An info write or
 * cas whose new value no op observes is dropped: it can always be placed last.
 *
 * Bounds: the search stops with UNKNOWN when the deadline passes (checked every 1024 steps) or
 * when its memory (lists, stack, cache) would exceed the cap. Memory is freed before returning. */
#include "check/history.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

struct node {
	uint32_t prev, next;
	uint32_t op;    /* local op index */
	uint32_t match; /* call entry: its return entry; return entry: NIL */
};

/* A cached configuration. Its bitset is stored exactly but compactly: the ops are numbered in
 * call order and a configuration holds almost every op invoked well before its frontier and
 * almost none after it, so only the words between the first word that is not all ones (w0) and
 * the last word that is not zero are kept (nw words at arena offset off). */
struct centry {
	uint64_t hash;
	uint64_t off;
	uint32_t state;
	uint32_t next; /* chain in the bucket */
	uint32_t w0, nw;
};

struct lin {
	const struct strata_history *h;
	const struct strata_hist_op **op; /* local index -> op */
	uint32_t *op_index;               /* local index -> history op index */
	uint32_t n;
	struct node *nodes;               /* 2n entries in time order, then the head at 2n */
	uint32_t head;
	uint64_t *bits;                   /* linearized ops */
	size_t nwords;
	uint64_t *zob;                    /* per-op random word: hash of a set = XOR of its ops' */
	uint32_t *st_node, *st_state;     /* lifted call entries and the state before each */
	uint32_t depth;
	struct centry *ce;
	uint64_t *arena; /* bitset windows of cached configurations */
	size_t arena_len, arena_cap;
	size_t nce, cap_ce;
	uint32_t *bucket;
	size_t nbucket;
	size_t mem_used, mem_limit;
	int have_best;
	uint32_t best_depth, best_op, best_state;
	uint32_t *best_prefix;            /* local op indices */
};

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t config_hash(uint64_t set_hash, uint32_t state)
{
	return set_hash ^ splitmix64(0x5eed000000000000ull + state);
}

/* The sequential register. Returns 1 and sets *next if op may take effect in state. */
static int step(const struct strata_hist_op *op, uint32_t state, uint32_t *next)
{
	switch (op->f) {
	case STRATA_HIST_READ:
		*next = state;
		return op->result == state;
	case STRATA_HIST_WRITE:
		*next = op->arg;
		return 1;
	default:
		if (state == op->arg) {
			*next = op->arg2;
			return 1;
		}
		/* A cas with an unknown outcome may have run and found another value. */
		*next = state;
		return op->outcome == STRATA_HIST_OUT_INFO;
	}
}

/* calloc charged against the memory cap; NULL when the cap (or malloc) says no. */
static void *charge(struct lin *l, size_t count, size_t size)
{
	if (count && size > SIZE_MAX / count)
		return NULL;
	size_t bytes = count * size;
	if (l->mem_used + bytes > l->mem_limit)
		return NULL;
	void *p = calloc(count ? count : 1, size);
	if (p)
		l->mem_used += bytes;
	return p;
}

struct ev {
	uint64_t t;
	uint32_t ret; /* 0 call, 1 return: calls first at equal times */
	uint32_t op;
};

static int ev_cmp(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->ret != y->ret)
		return x->ret < y->ret ? -1 : 1;
	return x->op < y->op ? -1 : x->op > y->op;
}

/* Returns 0, or 1 when the memory cap was hit (the answer is UNKNOWN). */
static int lin_setup(struct lin *l)
{
	uint32_t n = l->n;
	l->head = 2 * n;
	l->nwords = n ? (n + 63) / 64 : 1;
	l->nodes = charge(l, (size_t)2 * n + 1, sizeof(*l->nodes));
	l->bits = charge(l, l->nwords, sizeof(uint64_t));
	l->zob = charge(l, n, sizeof(uint64_t));
	l->st_node = charge(l, n, sizeof(uint32_t));
	l->st_state = charge(l, n, sizeof(uint32_t));
	l->best_prefix = charge(l, n, sizeof(uint32_t));
	l->nbucket = 1024;
	l->bucket = charge(l, l->nbucket, sizeof(uint32_t));
	struct ev *evs = charge(l, (size_t)2 * n, sizeof(*evs));
	if (!l->nodes || !l->bits || !l->zob || !l->st_node || !l->st_state || !l->best_prefix ||
	    !l->bucket || !evs) {
		free(evs);
		return 1;
	}
	for (size_t i = 0; i < l->nbucket; i++)
		l->bucket[i] = NIL;
	for (uint32_t i = 0; i < n; i++) {
		evs[2 * i] = (struct ev){l->op[i]->call_ns, 0, i};
		evs[2 * i + 1] = (struct ev){l->op[i]->ret_ns, 1, i};
		l->zob[i] = splitmix64(((uint64_t)i << 1) | 1);
	}
	qsort(evs, (size_t)2 * n, sizeof(*evs), ev_cmp);
	/* Each op's call entry is reached before its return entry: remember where the call is. */
	uint32_t prev = l->head;
	for (uint32_t i = 0; i < 2 * n; i++) {
		struct node *nd = &l->nodes[i];
		nd->op = evs[i].op;
		nd->match = NIL;
		nd->prev = prev;
		nd->next = i + 1 < 2 * n ? i + 1 : NIL;
		prev = i;
		/* st_node is free before the search: use it as op -> call entry. */
		if (!evs[i].ret)
			l->st_node[evs[i].op] = i;
		else
			l->nodes[l->st_node[evs[i].op]].match = i;
	}
	l->nodes[l->head].next = n ? 0 : NIL;
	l->nodes[l->head].prev = NIL;
	l->mem_used -= (size_t)2 * n * sizeof(*evs);
	free(evs);
	return 0;
}

static void unlink_node(struct lin *l, uint32_t i)
{
	struct node *nd = &l->nodes[i];
	l->nodes[nd->prev].next = nd->next;
	if (nd->next != NIL)
		l->nodes[nd->next].prev = nd->prev;
}

static void relink_node(struct lin *l, uint32_t i)
{
	struct node *nd = &l->nodes[i];
	l->nodes[nd->prev].next = i;
	if (nd->next != NIL)
		l->nodes[nd->next].prev = i;
}

static void lift(struct lin *l, uint32_t call)
{
	unlink_node(l, call);
	unlink_node(l, l->nodes[call].match);
}

static void unlift(struct lin *l, uint32_t call)
{
	relink_node(l, l->nodes[call].match);
	relink_node(l, call);
}

/* The window of l->bits to store: words [*w0, *w0 + *nw). */
static void bits_window(const struct lin *l, uint32_t *w0, uint32_t *nw)
{
	size_t a = 0, b = l->nwords;
	while (a < b && l->bits[a] == UINT64_MAX)
		a++;
	while (b > a && l->bits[b - 1] == 0)
		b--;
	*w0 = (uint32_t)a;
	*nw = (uint32_t)(b - a);
}

static int grow_charged(struct lin *l, void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t cap2 = *cap ? *cap * 2 : 256;
	while (cap2 < need)
		cap2 *= 2;
	size_t add = (cap2 - *cap) * elem;
	if (l->mem_used + add > l->mem_limit)
		return -1;
	void *n = realloc(*p, cap2 * elem);
	if (!n)
		return -1;
	*p = n;
	*cap = cap2;
	l->mem_used += add;
	return 0;
}

/* Adds the configuration (bits, state) to the cache. Returns 1 if it is new, 0 if it was seen,
 * -1 when the memory cap forbids growing the cache. */
static int cache_add(struct lin *l, uint64_t set_hash, uint32_t state)
{
	uint64_t hash = config_hash(set_hash, state);
	uint32_t w0, nw;
	bits_window(l, &w0, &nw);
	size_t b = (size_t)hash & (l->nbucket - 1);
	for (uint32_t i = l->bucket[b]; i != NIL; i = l->ce[i].next) {
		const struct centry *c = &l->ce[i];
		if (c->hash == hash && c->state == state && c->w0 == w0 && c->nw == nw &&
		    (nw == 0 || memcmp(&l->arena[c->off], &l->bits[w0], nw * sizeof(uint64_t)) == 0))
			return 0;
	}
	if (l->nce + 1 >= NIL ||
	    grow_charged(l, (void **)&l->ce, &l->cap_ce, l->nce + 1, sizeof(*l->ce)) ||
	    grow_charged(l, (void **)&l->arena, &l->arena_cap, l->arena_len + nw + 1,
			 sizeof(uint64_t)))
		return -1;
	if (l->nce >= l->nbucket) {
		/* Keep chains short: double the buckets and rehash from the stored hashes. */
		size_t nb = l->nbucket * 2;
		size_t add = (nb - l->nbucket) * sizeof(uint32_t);
		uint32_t *bk = l->mem_used + add <= l->mem_limit ? malloc(nb * sizeof(*bk)) : NULL;
		if (bk) {
			for (size_t i = 0; i < nb; i++)
				bk[i] = NIL;
			for (uint32_t i = 0; i < l->nce; i++) {
				size_t j = (size_t)l->ce[i].hash & (nb - 1);
				l->ce[i].next = bk[j];
				bk[j] = i;
			}
			free(l->bucket);
			l->bucket = bk;
			l->nbucket = nb;
			l->mem_used += add;
			b = (size_t)hash & (nb - 1);
		}
	}
	uint32_t i = (uint32_t)l->nce++;
	struct centry *c = &l->ce[i];
	c->hash = hash;
	c->state = state;
	c->w0 = w0;
	c->nw = nw;
	c->off = l->arena_len;
	if (nw)
		memcpy(&l->arena[l->arena_len], &l->bits[w0], nw * sizeof(uint64_t));
	l->arena_len += nw;
	c->next = l->bucket[b];
	l->bucket[b] = i;
	return 1;
}

static void note_stuck(struct lin *l, uint32_t op, uint32_t state)
{
	if (l->have_best && l->depth <= l->best_depth)
		return;
	l->have_best = 1;
	l->best_depth = l->depth;
	l->best_op = op;
	l->best_state = state;
	for (uint32_t i = 0; i < l->depth; i++)
		l->best_prefix[i] = l->nodes[l->st_node[i]].op;
}

enum { SEARCH_OK, SEARCH_VIOLATION, SEARCH_TIME, SEARCH_MEMORY };

static int search(struct lin *l, uint64_t deadline_ns)
{
	uint32_t state = STRATA_HIST_NULL;
	uint64_t set_hash = 0;
	uint32_t e = l->nodes[l->head].next;
	uint64_t iter = 0;
	while (e != NIL) {
		if ((++iter & 1023) == 0 && deadline_ns != STRATA_HIST_INF &&
		    strata_check_now_ns() >= deadline_ns)
			return SEARCH_TIME;
		const struct node *nd = &l->nodes[e];
		uint32_t o = nd->op;
		if (nd->match != NIL) {
			uint32_t next_state;
			if (step(l->op[o], state, &next_state)) {
				l->bits[o / 64] |= (uint64_t)1 << (o % 64);
				int added = cache_add(l, set_hash ^ l->zob[o], next_state);
				if (added < 0)
					return SEARCH_MEMORY;
				if (added) {
					l->st_node[l->depth] = e;
					l->st_state[l->depth] = state;
					l->depth++;
					state = next_state;
					set_hash ^= l->zob[o];
					lift(l, e);
					e = l->nodes[l->head].next;
					continue;
				}
				l->bits[o / 64] &= ~((uint64_t)1 << (o % 64));
			}
			e = nd->next;
			continue;
		}
		/* The op returning here was not linearized before its return: backtrack. */
		note_stuck(l, o, state);
		if (l->depth == 0)
			return SEARCH_VIOLATION;
		l->depth--;
		uint32_t call = l->st_node[l->depth];
		uint32_t co = l->nodes[call].op;
		state = l->st_state[l->depth];
		l->bits[co / 64] &= ~((uint64_t)1 << (co % 64));
		set_hash ^= l->zob[co];
		unlift(l, call);
		e = l->nodes[call].next;
	}
	return SEARCH_OK;
}

static void lin_free(struct lin *l)
{
	free(l->op);
	free(l->op_index);
	free(l->nodes);
	free(l->bits);
	free(l->zob);
	free(l->st_node);
	free(l->st_state);
	free(l->ce);
	free(l->arena);
	free(l->bucket);
	free(l->best_prefix);
}

static void explain(const struct strata_history *h, const struct strata_hist_op *op,
		    uint32_t state, uint32_t prefix, char *msg, size_t n)
{
	char a[40], b[40], s[40];
	strata_hist_value_short(h, state, s, sizeof(s));
	switch (op->f) {
	case STRATA_HIST_READ:
		strata_hist_value_short(h, op->result, a, sizeof(a));
		snprintf(msg, n,
			 "read returned %s, but after the longest linearizable prefix of %u op(s) the "
			 "register holds %s and no order of the concurrent ops makes it %s",
			 a, prefix, s, a);
		break;
	case STRATA_HIST_CAS:
		strata_hist_value_short(h, op->arg, a, sizeof(a));
		strata_hist_value_short(h, op->arg2, b, sizeof(b));
		snprintf(msg, n,
			 "cas %s -> %s succeeded, but after the longest linearizable prefix of %u op(s) "
			 "the register holds %s and no order of the concurrent ops makes it %s",
			 a, b, prefix, s, a);
		break;
	default:
		strata_hist_value_short(h, op->arg, a, sizeof(a));
		snprintf(msg, n,
			 "write %s returned, but no order of the ops before its return is "
			 "linearizable with it (longest prefix: %u op(s), register holds %s)",
			 a, prefix, s);
		break;
	}
}

/* A read or a successful cas that expects a value nobody ever wrote cannot be linearized; finding
 * it up front gives a precise report without a search. Returns the local op index or NIL. */
static uint32_t unwritten_value(struct lin *l, uint8_t *written)
{
	for (uint32_t i = 0; i < l->n; i++) {
		const struct strata_hist_op *op = l->op[i];
		if (op->f == STRATA_HIST_WRITE)
			written[op->arg] = 1;
		else if (op->f == STRATA_HIST_CAS)
			written[op->arg2] = 1;
	}
	written[STRATA_HIST_NULL] = 1;
	for (uint32_t i = 0; i < l->n; i++) {
		const struct strata_hist_op *op = l->op[i];
		if (op->f == STRATA_HIST_READ && !written[op->result])
			return i;
		if (op->f == STRATA_HIST_CAS && op->outcome == STRATA_HIST_OUT_OK &&
		    !written[op->arg])
			return i;
	}
	return NIL;
}

int strata_check_key_atomic(const struct strata_check_ctx *c, uint32_t key, uint64_t deadline_ns,
			    struct strata_check_result *res)
{
	const struct strata_history *h = c->h;
	struct strata_check_key *kr = &res->keys[key];
	struct lin l;
	memset(&l, 0, sizeof(l));
	l.h = h;
	l.mem_limit = c->mem_limit;
	size_t begin = c->key_start[key], end = c->key_start[key + 1];
	l.op = malloc((end - begin + 1) * sizeof(*l.op));
	l.op_index = malloc((end - begin + 1) * sizeof(*l.op_index));
	if (!l.op || !l.op_index) {
		lin_free(&l);
		return STRATA_ENOMEM;
	}
	/* Values some op observes: read by an ok read, or expected by a cas. */
	uint8_t *observed = calloc(h->n_vals + 1, 1);
	if (!observed) {
		lin_free(&l);
		return STRATA_ENOMEM;
	}
	for (size_t i = begin; i < end; i++) {
		const struct strata_hist_op *op = &h->ops[c->key_ops[i]];
		if (op->f == STRATA_HIST_READ && op->outcome == STRATA_HIST_OUT_OK)
			observed[op->result] = 1;
		else if (op->f == STRATA_HIST_CAS && op->outcome != STRATA_HIST_OUT_FAIL)
			observed[op->arg] = 1;
	}
	for (size_t i = begin; i < end; i++) {
		const struct strata_hist_op *op = &h->ops[c->key_ops[i]];
		if (op->outcome == STRATA_HIST_OUT_FAIL)
			continue; /* did not take effect */
		if (op->f == STRATA_HIST_READ && op->outcome != STRATA_HIST_OUT_OK)
			continue; /* a read without a result constrains nothing */
		/* An info write or cas whose new value nobody observes can always be placed after
		 * every other op, where it changes nothing anyone sees; and any linearization that
		 * contains it stays one without it (no op reads its value; an info cas that found
		 * it moves to the end too). Dropping it keeps the search from trying it at every
		 * position of the rest of the history. */
		if (op->outcome == STRATA_HIST_OUT_INFO && op->f != STRATA_HIST_READ &&
		    !observed[op->f == STRATA_HIST_WRITE ? op->arg : op->arg2])
			continue;
		l.op_index[l.n] = c->key_ops[i];
		l.op[l.n++] = op;
	}
	free(observed);
	kr->key = key;
	kr->n_ops = l.n;

	uint8_t *written = calloc(h->n_vals + 1, 1);
	if (!written) {
		lin_free(&l);
		return STRATA_ENOMEM;
	}
	uint32_t bad = unwritten_value(&l, written);
	free(written);
	if (bad != NIL) {
		kr->verdict = STRATA_CHECK_VIOLATION;
		struct strata_check_violation *v = strata_check_claim_violation(res, key, l.n);
		if (v) {
			char a[40];
			const struct strata_hist_op *op = l.op[bad];
			v->op = l.op_index[bad];
			v->state = STRATA_HIST_NONE;
			strata_hist_value_short(h, op->f == STRATA_HIST_READ ? op->result : op->arg, a, sizeof(a));
			snprintf(v->message, sizeof(v->message),
				 "%s expects %s, a value no write or cas on this key ever wrote",
				 op->f == STRATA_HIST_READ ? "read" : "cas", a);
		}
		lin_free(&l);
		return 0;
	}

	int r = lin_setup(&l) ? SEARCH_MEMORY : search(&l, deadline_ns);
	kr->configs = l.nce;
	switch (r) {
	case SEARCH_OK:
		kr->verdict = STRATA_CHECK_OK;
		break;
	case SEARCH_TIME:
	case SEARCH_MEMORY:
		kr->verdict = STRATA_CHECK_UNKNOWN;
		kr->why = r == SEARCH_TIME ? STRATA_CHECK_WHY_TIME : STRATA_CHECK_WHY_MEMORY;
		break;
	default: {
		kr->verdict = STRATA_CHECK_VIOLATION;
		struct strata_check_violation *v = strata_check_claim_violation(res, key, l.n);
		if (!v)
			break;
		v->op = l.op_index[l.best_op];
		v->state = l.best_state;
		v->prefix = malloc(((size_t)l.best_depth + 1) * sizeof(*v->prefix));
		if (!v->prefix) {
			lin_free(&l);
			return STRATA_ENOMEM;
		}
		for (uint32_t i = 0; i < l.best_depth; i++)
			v->prefix[i] = l.op_index[l.best_prefix[i]];
		v->n_prefix = l.best_depth;
		explain(h, l.op[l.best_op], l.best_state, l.best_depth, v->message,
			sizeof(v->message));
		break;
	}
	}
	lin_free(&l);
	return 0;
}
