/* Regularity and safety of one key's history (a register whose initial value is null).
 *
 * Definitions, for a read r that returned ok (intervals are closed, [invoke, completion]):
 *   - a write w is concurrent with r if their intervals overlap; an info write never completes
 *     (its completion is +infinity), so it is concurrent with every read invoked after it;
 *   - the last writes before r are the writes completed before r was invoked that no other such
 *     write follows in real time (with one writer there is exactly one; with several writers the
 *     latest ones may overlap each other, and each is a last write); if no write completed before
 *     r, the initial null is the last value.
 *   Regular (book, (1,N) regular register, generalised to N writers): r returns the value of a last
 *   write or of a write concurrent with r.
 *   Safe: if no write is concurrent with r, r returns the value of a last write; otherwise r may
 *   return anything.
 * A successful cas counts as a write of its new value (its comparison is not checked by these
 * weaker models); fail ops did not take effect and are ignored; reads that did not return ok
 * constrain nothing.
 *
 * Cost: O((W + R) log W) per key, with W writes and R reads; no budget is needed. */
#include "check/history.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

struct w {
	uint64_t call, ret;
	uint32_t val;
	uint32_t op;
};

static int by_ret(const void *a, const void *b)
{
	const struct w *x = a, *y = b;
	if (x->ret != y->ret)
		return x->ret < y->ret ? -1 : 1;
	return x->op < y->op ? -1 : x->op > y->op;
}

static int by_call(const void *a, const void *b)
{
	const struct w *x = a, *y = b;
	if (x->call != y->call)
		return x->call < y->call ? -1 : 1;
	return x->op < y->op ? -1 : x->op > y->op;
}

static int by_val(const void *a, const void *b)
{
	const struct w *x = a, *y = b;
	if (x->val != y->val)
		return x->val < y->val ? -1 : 1;
	return x->op < y->op ? -1 : x->op > y->op;
}


struct rg {
	struct w *wret, *wcall, *wval;
	uint64_t *pmax_call; /* over wret: max call among the first i+1 */
	uint64_t *pmax_ret;  /* over wcall: max ret among the first i+1 */
	size_t nw;
};

/* Number of writes with ret < t (wret sorted by ret). */
static size_t count_ret_before(const struct rg *g, uint64_t t)
{
	size_t lo = 0, hi = g->nw;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (g->wret[mid].ret < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Number of writes with call <= t (wcall sorted by call). */
static size_t count_call_upto(const struct rg *g, uint64_t t)
{
	size_t lo = 0, hi = g->nw;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (g->wcall[mid].call <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int any_concurrent(const struct rg *g, const struct strata_hist_op *r)
{
	size_t j = count_call_upto(g, r->ret_ns);
	return j > 0 && g->pmax_ret[j - 1] >= r->call_ns;
}

static int is_last_before(const struct w *w, uint64_t call, size_t k, uint64_t m)
{
	return k > 0 && w->ret < call && w->ret >= m;
}

static int is_concurrent(const struct w *w, const struct strata_hist_op *r)
{
	return w->call <= r->ret_ns && w->ret >= r->call_ns;
}

/* Whether the regular register allows r to return its result. */
static int regular_allows(const struct rg *g, const struct strata_hist_op *r)
{
	size_t k = count_ret_before(g, r->call_ns);
	uint64_t m = k ? g->pmax_call[k - 1] : 0;
	if (r->result == STRATA_HIST_NULL && k == 0)
		return 1;
	/* Writes of the value read are contiguous in wval. */
	size_t lo = 0, hi = g->nw;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (g->wval[mid].val < r->result)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < g->nw && g->wval[i].val == r->result; i++)
		if (is_concurrent(&g->wval[i], r) || is_last_before(&g->wval[i], r->call_ns, k, m))
			return 1;
	return 0;
}

static void add_candidate(struct strata_check_violation *v, uint32_t val, size_t cap)
{
	for (size_t i = 0; i < v->n_candidates; i++)
		if (v->candidates[i] == val)
			return;
	if (v->n_candidates < cap)
		v->candidates[v->n_candidates++] = val;
}

#define MAX_CANDIDATES 64

static int report(const struct strata_history *h, const struct rg *g, uint32_t key, size_t n_ops,
		  uint32_t op_index, int safe, struct strata_check_result *res)
{
	const struct strata_hist_op *r = &h->ops[op_index];
	struct strata_check_violation *v = strata_check_claim_violation(res, key, n_ops);
	if (!v)
		return 0;
	v->op = op_index;
	v->state = STRATA_HIST_NONE;
	v->candidates = malloc(MAX_CANDIDATES * sizeof(*v->candidates));
	if (!v->candidates)
		return STRATA_ENOMEM;
	size_t k = count_ret_before(g, r->call_ns);
	uint64_t m = k ? g->pmax_call[k - 1] : 0;
	if (k == 0)
		add_candidate(v, STRATA_HIST_NULL, MAX_CANDIDATES);
	for (size_t i = k; i-- > 0 && g->wret[i].ret >= m;)
		add_candidate(v, g->wret[i].val, MAX_CANDIDATES);
	if (!safe)
		for (size_t i = 0; i < g->nw; i++)
			if (is_concurrent(&g->wcall[i], r))
				add_candidate(v, g->wcall[i].val, MAX_CANDIDATES);
	const char *what = safe ? "no write was concurrent with this read, so it must return a "
				  "last written value"
				: "a regular register lets it return only a last write completed before "
				  "it was invoked or a write concurrent with it";
	char val[40];
	strata_hist_value_short(h, r->result, val, sizeof(val));
	snprintf(v->message, sizeof(v->message), "read returned %s; %s", val, what);
	return 0;
}

static int op_call_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b; /* packed (call, index) pairs */
	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return x[1] < y[1] ? -1 : x[1] > y[1];
}

int strata_check_key_regular(const struct strata_check_ctx *c, uint32_t key, int safe,
			     struct strata_check_result *res)
{
	const struct strata_history *h = c->h;
	struct strata_check_key *kr = &res->keys[key];
	size_t begin = c->key_start[key], end = c->key_start[key + 1], n = end - begin;
	struct rg g;
	memset(&g, 0, sizeof(g));
	int rc = STRATA_ENOMEM;
	g.wret = malloc((n + 1) * sizeof(*g.wret));
	g.wcall = malloc((n + 1) * sizeof(*g.wcall));
	g.wval = malloc((n + 1) * sizeof(*g.wval));
	g.pmax_call = malloc((n + 1) * sizeof(*g.pmax_call));
	g.pmax_ret = malloc((n + 1) * sizeof(*g.pmax_ret));
	uint64_t *reads = malloc((n + 1) * 2 * sizeof(*reads));
	size_t nr = 0, counted = 0;
	if (!g.wret || !g.wcall || !g.wval || !g.pmax_call || !g.pmax_ret || !reads)
		goto out;
	for (size_t i = begin; i < end; i++) {
		uint32_t oi = c->key_ops[i];
		const struct strata_hist_op *op = &h->ops[oi];
		if (op->outcome == STRATA_HIST_OUT_FAIL)
			continue;
		if (op->f == STRATA_HIST_READ) {
			if (op->outcome != STRATA_HIST_OUT_OK)
				continue;
			reads[2 * nr] = op->call_ns;
			reads[2 * nr + 1] = oi;
			nr++;
		} else {
			g.wret[g.nw] = (struct w){op->call_ns, op->ret_ns,
						  op->f == STRATA_HIST_WRITE ? op->arg : op->arg2, oi};
			g.nw++;
		}
		counted++;
	}
	kr->key = key;
	kr->n_ops = counted;
	memcpy(g.wcall, g.wret, g.nw * sizeof(*g.wret));
	memcpy(g.wval, g.wret, g.nw * sizeof(*g.wret));
	qsort(g.wret, g.nw, sizeof(*g.wret), by_ret);
	qsort(g.wcall, g.nw, sizeof(*g.wcall), by_call);
	qsort(g.wval, g.nw, sizeof(*g.wval), by_val);
	for (size_t i = 0; i < g.nw; i++) {
		uint64_t pc = i ? g.pmax_call[i - 1] : 0, pr = i ? g.pmax_ret[i - 1] : 0;
		g.pmax_call[i] = g.wret[i].call > pc ? g.wret[i].call : pc;
		g.pmax_ret[i] = g.wcall[i].ret > pr ? g.wcall[i].ret : pr;
	}
	/* Reads in invoke order, so the violation reported is the earliest one. */
	qsort(reads, nr, 2 * sizeof(*reads), op_call_cmp);
	kr->verdict = STRATA_CHECK_OK;
	rc = 0;
	for (size_t i = 0; i < nr; i++) {
		const struct strata_hist_op *r = &h->ops[reads[2 * i + 1]];
		if (safe && any_concurrent(&g, r))
			continue;
		if (regular_allows(&g, r))
			continue;
		kr->verdict = STRATA_CHECK_VIOLATION;
		rc = report(h, &g, key, counted, (uint32_t)reads[2 * i + 1], safe, res);
		break;
	}
out:
	free(g.wret);
	free(g.wcall);
	free(g.wval);
	free(g.pmax_call);
	free(g.pmax_ret);
	free(reads);
	return rc;
}
