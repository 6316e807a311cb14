/* Unit tests for the history checkers (src/check/linearizable.c, regular.c, history_check.c):
 *   - every file in tests/data/ gets the exact verdict its name announces
 *     (<lin|regular|safe>-<ok|bad>-*.jsonl; malformed-lineN*.jsonl must be refused at line N),
 *     and the implications atomic => regular => safe hold on all of them;
 *   - the WGL search agrees with a brute-force enumeration of linearizations on thousands of
 *     small random histories, and the regular/safe checkers with a literal O(R*W) reading of
 *     their definitions;
 *   - histories generated from a sequential execution with random overlaps are OK under every
 *     model, and mutating one read usually makes them a VIOLATION;
 *   - a large history (10 processes x 2000 ops on 5 keys) finishes well within its budget;
 *   - an exponential history gives UNKNOWN within the time budget or the memory cap, never hangs;
 *   - reports name the smallest violating key, the stuck op and its line. */
#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check/check.h"
#include "check/history.h"
#include "core/error.h"

/* ---- a tiny deterministic PRNG (tests only) ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = (rng_state += 0x9e3779b97f4a7c15ull);
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static unsigned rndn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* ---- data files ---- */

static const char *data_dir(void)
{
	static char dir[1024];
	const char *env = getenv("STRATA_TEST_DATA");
	if (env)
		return env;
	struct stat st;
	if (stat("tests/data", &st) == 0)
		return "tests/data";
	/* Run from elsewhere: find the directory next to this source file. */
	snprintf(dir, sizeof(dir), "%s", __FILE__);
	char *slash = strrchr(dir, '/');
	if (slash)
		snprintf(slash, sizeof(dir) - (size_t)(slash - dir), "/../data");
	return dir;
}

static enum strata_check_verdict check_file(const char *path, enum strata_check_model m)
{
	struct strata_history *h;
	char err[512];
	int rc = strata_history_load(path, &h, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	struct strata_check_result res;
	ck_assert_int_eq(strata_check_history(h, m, 5000, &res), 0);
	enum strata_check_verdict v = res.verdict;
	/* The reports must print without error for every file. */
	FILE *null = fopen("/dev/null", "w");
	ck_assert_int_eq(strata_check_print_text(null, h, &res), 0);
	ck_assert_int_eq(strata_check_print_json(null, h, &res), 0);
	fclose(null);
	strata_check_result_free(&res);
	strata_history_free(h);
	return v;
}

static int has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && strcmp(s + a - b, suf) == 0;
}

START_TEST(test_data_files)
{
	const char *dir = data_dir();
	DIR *d = opendir(dir);
	ck_assert_msg(d != NULL, "cannot open %s", dir);
	struct dirent *de;
	unsigned seen[3][2] = {{0}}, malformed = 0;
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		if (!has_suffix(name, ".jsonl"))
			continue;
		char path[2048];
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (strncmp(name, "malformed-line", 14) == 0) {
			unsigned line = (unsigned)atoi(name + 14);
			struct strata_history *h;
			char err[4096], want[2100];
			ck_assert_int_lt(strata_history_load(path, &h, err, sizeof(err)), 0);
			snprintf(want, sizeof(want), "%s:%u: ", path, line);
			ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s: got '%s'", name, err);
			malformed++;
			continue;
		}
		int model;
		const char *rest;
		if (strncmp(name, "lin-", 4) == 0) {
			model = STRATA_CHECK_ATOMIC;
			rest = name + 4;
		} else if (strncmp(name, "regular-", 8) == 0) {
			model = STRATA_CHECK_REGULAR;
			rest = name + 8;
		} else if (strncmp(name, "safe-", 5) == 0) {
			model = STRATA_CHECK_SAFE;
			rest = name + 5;
		} else {
			ck_abort_msg("data file %s has no model prefix", name);
			continue;
		}
		int ok = strncmp(rest, "ok-", 3) == 0;
		ck_assert_msg(ok || strncmp(rest, "bad-", 4) == 0, "%s: need ok- or bad-", name);
		enum strata_check_verdict v = check_file(path, (enum strata_check_model)model);
		ck_assert_msg(v == (ok ? STRATA_CHECK_OK : STRATA_CHECK_VIOLATION),
			      "%s: verdict %s", name, strata_check_verdict_name(v));
		seen[model][ok]++;
		/* atomic => regular => safe, so OK propagates down and VIOLATION up. */
		for (int m = model + 1; ok && m <= STRATA_CHECK_SAFE; m++)
			ck_assert_msg(check_file(path, (enum strata_check_model)m) == STRATA_CHECK_OK,
				      "%s: ok under %s but not under %s", name,
				      strata_check_model_name((enum strata_check_model)model),
				      strata_check_model_name((enum strata_check_model)m));
		for (int m = model - 1; !ok && m >= STRATA_CHECK_ATOMIC; m--)
			ck_assert_msg(check_file(path, (enum strata_check_model)m) ==
					      STRATA_CHECK_VIOLATION,
				      "%s: violates %s but not %s", name,
				      strata_check_model_name((enum strata_check_model)model),
				      strata_check_model_name((enum strata_check_model)m));
	}
	closedir(d);
	for (int m = 0; m < 3; m++)
		ck_assert_msg(seen[m][0] >= 2 && seen[m][1] >= 2, "too few data files for model %d", m);
	ck_assert_uint_ge(malformed, 1);
}
END_TEST

/* ---- building histories in memory ---- */

struct gop {
	int64_t process;
	uint32_t key;      /* key index: "k0", "k1", ... */
	int f;             /* enum strata_hist_f */
	int outcome;       /* enum strata_hist_outcome, or 3 = pending at the end */
	int arg, arg2;     /* value numbers: -1 = null, else "v<n>" */
	int result;        /* ok read: -1 null, else "v<n>" */
	uint64_t call, ret;
};

static const char *vstr(int v, char *buf)
{
	if (v < 0)
		return NULL;
	sprintf(buf, "v%d", v);
	return buf;
}

struct bev {
	uint64_t t;
	int ret;
	size_t i;
};

static int bev_cmp(const void *a, const void *b)
{
	const struct bev *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->ret != y->ret)
		return x->ret - y->ret;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Serialises ops (events sorted by time, calls first at equal times) with the writer and parses them back. */
static struct strata_history *build(const struct gop *ops, size_t n)
{
	struct bev *evs = malloc(2 * n * sizeof(*evs) + 1);
	size_t ne = 0;
	for (size_t i = 0; i < n; i++) {
		evs[ne++] = (struct bev){ops[i].call, 0, i};
		if (ops[i].outcome != 3)
			evs[ne++] = (struct bev){ops[i].ret, 1, i};
	}
	qsort(evs, ne, sizeof(*evs), bev_cmp);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	for (size_t k = 0; k < ne; k++) {
		const struct gop *o = &ops[evs[k].i];
		char key[16], a[16], b[16];
		sprintf(key, "k%u", o->key);
		enum strata_hist_type type = STRATA_HIST_INVOKE;
		const char *v1 = NULL, *v2 = NULL;
		if (!evs[k].ret) {
			if (o->f != STRATA_HIST_READ)
				v1 = vstr(o->arg, a);
			if (o->f == STRATA_HIST_CAS)
				v2 = vstr(o->arg2, b);
		} else {
			type = o->outcome == STRATA_HIST_OUT_OK	    ? STRATA_HIST_OK
			       : o->outcome == STRATA_HIST_OUT_FAIL ? STRATA_HIST_FAIL
								    : STRATA_HIST_INFO;
			if (o->f == STRATA_HIST_READ && type == STRATA_HIST_OK)
				v1 = vstr(o->result, a);
			else if (o->f != STRATA_HIST_READ)
				v1 = vstr(o->arg, a);
		}
		ck_assert_int_eq(strata_history_append(f, o->process, type, (enum strata_hist_f)o->f,
						       key, v1, v2, evs[k].t), 0);
	}
	fclose(f);
	free(evs);
	struct strata_history *h;
	char err[256];
	int rc = strata_history_parse(buf, len, "gen", NULL, &h, err, sizeof(err));
	ck_assert_msg(rc == 0, "generated history rejected: %s", err);
	free(buf);
	return h;
}

static enum strata_check_verdict verdict(const struct strata_history *h, enum strata_check_model m,
					 uint64_t budget_ms)
{
	struct strata_check_result res;
	ck_assert_int_eq(strata_check_history(h, m, budget_ms, &res), 0);
	enum strata_check_verdict v = res.verdict;
	strata_check_result_free(&res);
	return v;
}

/* ---- brute force references ---- */

static int bf_ok(const struct gop *o)
{
	/* Ops the atomic model must account for. */
	if (o->outcome == STRATA_HIST_OUT_FAIL)
		return 0;
	if (o->f == STRATA_HIST_READ && o->outcome != STRATA_HIST_OUT_OK)
		return 0;
	return 1;
}

static int bf_finite(const struct gop *o)
{
	return o->outcome == STRATA_HIST_OUT_OK || o->outcome == STRATA_HIST_OUT_FAIL;
}

/* Tries every order of the remaining ops that respects real time. */
static int bf_lin(const struct gop *ops, size_t n, unsigned remaining, int state)
{
	int any_finite = 0;
	for (size_t i = 0; i < n; i++)
		if ((remaining >> i & 1) && bf_finite(&ops[i]))
			any_finite = 1;
	if (!any_finite)
		return 1; /* the rest have unknown outcomes: place them last, unobserved */
	for (size_t i = 0; i < n; i++) {
		if (!(remaining >> i & 1))
			continue;
		int blocked = 0;
		for (size_t j = 0; j < n && !blocked; j++)
			if (j != i && (remaining >> j & 1) && bf_finite(&ops[j]) &&
			    ops[j].ret < ops[i].call)
				blocked = 1;
		if (blocked)
			continue;
		const struct gop *o = &ops[i];
		int next;
		if (o->f == STRATA_HIST_READ) {
			if (o->result != state)
				continue;
			next = state;
		} else if (o->f == STRATA_HIST_WRITE) {
			next = o->arg;
		} else if (o->arg == state) {
			next = o->arg2;
		} else if (o->outcome != STRATA_HIST_OUT_OK) {
			next = state;
		} else {
			continue;
		}
		if (bf_lin(ops, n, remaining & ~(1u << i), next))
			return 1;
	}
	return 0;
}

static enum strata_check_verdict bf_atomic(const struct gop *ops, size_t n)
{
	struct gop kept[16];
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (bf_ok(&ops[i]))
			kept[k++] = ops[i];
	for (size_t i = 0; i < k; i++)
		if (!bf_finite(&kept[i]))
			kept[i].ret = UINT64_MAX;
	return bf_lin(kept, k, (1u << k) - 1, -1) ? STRATA_CHECK_OK : STRATA_CHECK_VIOLATION;
}

/* Literal reading of the regular and safe definitions in src/check/regular.c. */
static enum strata_check_verdict bf_regular(const struct gop *ops, size_t n, int safe)
{
	for (size_t r = 0; r < n; r++) {
		const struct gop *rd = &ops[r];
		if (rd->f != STRATA_HIST_READ || rd->outcome != STRATA_HIST_OUT_OK)
			continue;
		int allowed = 0, any_before = 0, any_conc = 0;
		for (size_t w = 0; w < n; w++) {
			const struct gop *wr = &ops[w];
			if (wr->f == STRATA_HIST_READ || wr->outcome == STRATA_HIST_OUT_FAIL)
				continue;
			uint64_t wret = bf_finite(wr) ? wr->ret : UINT64_MAX;
			int val = wr->f == STRATA_HIST_WRITE ? wr->arg : wr->arg2;
			int conc = wr->call <= rd->ret && wret >= rd->call;
			int before = wret < rd->call;
			any_conc |= conc;
			any_before |= before;
			int last = before;
			for (size_t x = 0; x < n && last; x++) {
				const struct gop *w2 = &ops[x];
				if (w2->f == STRATA_HIST_READ || w2->outcome == STRATA_HIST_OUT_FAIL)
					continue;
				uint64_t r2 = bf_finite(w2) ? w2->ret : UINT64_MAX;
				if (r2 < rd->call && wret < w2->call)
					last = 0;
			}
			if ((conc || last) && val == rd->result)
				allowed = 1;
		}
		if (!any_before && rd->result == -1)
			allowed = 1;
		if (safe && any_conc)
			allowed = 1;
		if (!allowed)
			return STRATA_CHECK_VIOLATION;
	}
	return STRATA_CHECK_OK;
}

/* Random small history on one key: arbitrary values, so both verdicts are common. */
static size_t random_small(struct gop *ops)
{
	size_t n = 1 + rndn(7);
	unsigned nproc = 1 + rndn(4);
	uint64_t tproc[4] = {0};
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned p = rndn(nproc);
		struct gop *o = &ops[k++];
		memset(o, 0, sizeof(*o));
		o->process = p;
		o->f = (int)rndn(3);
		o->call = tproc[p] + rndn(4);
		o->ret = o->call + rndn(6);
		tproc[p] = o->ret + 1;
		unsigned out = rndn(10);
		o->outcome = out < 7 ? STRATA_HIST_OUT_OK : out < 8 ? STRATA_HIST_OUT_FAIL
						: STRATA_HIST_OUT_INFO;
		o->arg = (int)rndn(3);
		o->arg2 = (int)rndn(3);
		o->result = (int)rndn(4) - 1;
		if (o->f == STRATA_HIST_CAS && rndn(4) == 0)
			o->arg = -1;
		if (o->outcome == STRATA_HIST_OUT_INFO)
			tproc[p] = o->ret + 1; /* the process may go on, as a new logical one */
	}
	return k;
}

START_TEST(test_against_brute_force)
{
	rng_state = 42;
	unsigned counts[3][2] = {{0}};
	for (int iter = 0; iter < 4000; iter++) {
		struct gop ops[16];
		size_t n = random_small(ops);
		struct strata_history *h = build(ops, n);
		enum strata_check_verdict want[3] = {bf_atomic(ops, n), bf_regular(ops, n, 0),
						     bf_regular(ops, n, 1)};
		for (int m = 0; m < 3; m++) {
			enum strata_check_verdict got = verdict(h, (enum strata_check_model)m, 0);
			if (got != want[m]) {
				for (size_t e = 0; e < h->n_ev; e++) {
					strata_hist_put_event_json(stderr, h, &h->ev[e]);
					fputc('\n', stderr);
				}
			}
			ck_assert_msg(got == want[m], "iteration %d model %s: got %s, brute force %s",
				      iter, strata_check_model_name((enum strata_check_model)m),
				      strata_check_verdict_name(got), strata_check_verdict_name(want[m]));
			counts[m][got == STRATA_CHECK_OK]++;
		}
		strata_history_free(h);
	}
	/* Non-vacuity: both verdicts occur often for each model. */
	for (int m = 0; m < 3; m++) {
		ck_assert_uint_gt(counts[m][0], 200);
		ck_assert_uint_gt(counts[m][1], 200);
	}
}
END_TEST

/* ---- histories generated from a sequential execution ---- */

static const uint64_t *sort_lin;

static int lin_cmp(const void *a, const void *b)
{
	uint64_t x = sort_lin[*(const size_t *)a], y = sort_lin[*(const size_t *)b];
	return x < y ? -1 : x > y;
}

/* P processes each run `per` ops on `keys` keys. Each op takes effect at a distinct instant
 * inside its interval; applying them in that order to registers gives read results and cas
 * outcomes, so the history is linearizable by construction. About 3% of ops time out (info),
 * half of them without taking effect. Returns the ops in *out (caller frees). */
static size_t generate(unsigned nproc, unsigned per, unsigned keys, struct gop **out)
{
	size_t n = (size_t)nproc * per;
	struct gop *ops = calloc(n, sizeof(*ops));
	uint64_t *lin = calloc(n, sizeof(*lin));
	int *effect = calloc(n, sizeof(*effect));
	size_t k = 0;
	int next_value = 0;
	for (unsigned p = 0; p < nproc; p++) {
		uint64_t t = rndn(10);
		for (unsigned i = 0; i < per; i++) {
			struct gop *o = &ops[k];
			o->process = p;
			o->key = rndn(keys);
			unsigned r = rndn(10);
			o->f = r < 5 ? STRATA_HIST_READ : r < 8 ? STRATA_HIST_WRITE : STRATA_HIST_CAS;
			uint64_t a = t, l = a + 1 + rndn(20), b = l + rndn(20);
			o->call = a * 1000;
			lin[k] = l * 1000 + p; /* distinct across processes */
			o->ret = b * 1000 + 999;
			o->arg = next_value++;
			o->arg2 = next_value++;
			o->outcome = STRATA_HIST_OUT_OK;
			effect[k] = 1;
			if (rndn(100) < 3) {
				o->outcome = STRATA_HIST_OUT_INFO;
				effect[k] = (int)rndn(2);
			}
			t = b + 1 + rndn(5);
			k++;
		}
	}
	/* Apply in linearization order. */
	size_t *order = malloc(n * sizeof(*order));
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	sort_lin = lin;
	qsort(order, n, sizeof(*order), lin_cmp);
	int *state = malloc(keys * sizeof(*state));
	int *prev_written = malloc(keys * sizeof(*prev_written));
	for (unsigned i = 0; i < keys; i++)
		state[i] = prev_written[i] = -1;
	for (size_t i = 0; i < n; i++) {
		struct gop *o = &ops[order[i]];
		int *s = &state[o->key];
		if (o->f == STRATA_HIST_READ) {
			o->result = *s;
		} else if (o->f == STRATA_HIST_WRITE) {
			if (effect[order[i]]) {
				prev_written[o->key] = *s;
				*s = o->arg;
			}
		} else {
			/* Expect the current value most of the time, else an older one. */
			o->arg = rndn(3) ? *s : prev_written[o->key];
			if (o->arg == *s) {
				if (effect[order[i]]) {
					prev_written[o->key] = *s;
					*s = o->arg2;
				}
			} else if (o->outcome == STRATA_HIST_OUT_OK) {
				o->outcome = STRATA_HIST_OUT_FAIL;
			}
		}
	}
	free(order);
	free(state);
	free(prev_written);
	free(lin);
	free(effect);
	*out = ops;
	return n;
}

START_TEST(test_generated_ok_and_mutated)
{
	rng_state = 7;
	unsigned mutated = 0, violations = 0;
	for (int iter = 0; iter < 200; iter++) {
		struct gop *ops;
		size_t n = generate(1 + rndn(6), 2 + rndn(20), 1 + rndn(3), &ops);
		struct strata_history *h = build(ops, n);
		for (int m = 0; m < 3; m++)
			ck_assert_msg(verdict(h, (enum strata_check_model)m, 5000) == STRATA_CHECK_OK,
				      "iteration %d: generated history not ok under %s", iter,
				      strata_check_model_name((enum strata_check_model)m));
		strata_history_free(h);
		/* Change one ok read to another value of its key (or null). */
		size_t reads[1024], nr = 0;
		for (size_t i = 0; i < n && nr < 1024; i++)
			if (ops[i].f == STRATA_HIST_READ && ops[i].outcome == STRATA_HIST_OUT_OK)
				reads[nr++] = i;
		if (nr) {
			struct gop *r = &ops[reads[rndn((unsigned)nr)]];
			int cand[64], nc = 0;
			cand[nc++] = -1;
			for (size_t i = 0; i < n && nc < 64; i++)
				if (ops[i].key == r->key && ops[i].f == STRATA_HIST_WRITE)
					cand[nc++] = ops[i].arg;
			int v = cand[rndn((unsigned)nc)];
			if (v != r->result) {
				r->result = v;
				h = build(ops, n);
				enum strata_check_verdict got = verdict(h, STRATA_CHECK_ATOMIC, 5000);
				ck_assert_int_ne(got, STRATA_CHECK_UNKNOWN);
				mutated++;
				violations += got == STRATA_CHECK_VIOLATION;
				/* A regular violation is always an atomic one. */
				if (verdict(h, STRATA_CHECK_REGULAR, 0) == STRATA_CHECK_VIOLATION)
					ck_assert_int_eq(got, STRATA_CHECK_VIOLATION);
				strata_history_free(h);
			}
		}
		free(ops);
	}
	ck_assert_uint_gt(mutated, 100);
	ck_assert_uint_gt(violations, mutated / 2);
}
END_TEST

START_TEST(test_large_history)
{
	rng_state = 2024;
	struct gop *ops;
	size_t n = generate(10, 2000, 5, &ops);
	struct strata_history *h = build(ops, n);
	ck_assert_uint_eq(h->n_ops, 20000);
	struct strata_check_result res;
	uint64_t budget_ms = 20000;
	ck_assert_int_eq(strata_check_history(h, STRATA_CHECK_ATOMIC, budget_ms, &res), 0);
	ck_assert_str_eq(strata_check_verdict_name(res.verdict), "ok");
	ck_assert_uint_eq(res.n_ok, 5);
	/* Generous for sanitizer builds on a shared machine; a release build takes tens of ms. */
	ck_assert_uint_lt(res.elapsed_ms, budget_ms / 4);
	strata_check_result_free(&res);
	strata_history_free(h);

	/* A stale read late in one key is found without the search getting lost. */
	for (size_t i = n; i-- > 0;) {
		if (ops[i].f == STRATA_HIST_READ && ops[i].outcome == STRATA_HIST_OUT_OK &&
		    ops[i].key == 2 && ops[i].result >= 0 && i % 2000 > 1000) {
			ops[i].result = -1; /* null after many completed writes */
			break;
		}
	}
	h = build(ops, n);
	ck_assert_int_eq(strata_check_history(h, STRATA_CHECK_ATOMIC, budget_ms, &res), 0);
	ck_assert_str_eq(strata_check_verdict_name(res.verdict), "violation");
	ck_assert_uint_eq(res.n_violation, 1);
	ck_assert_str_eq(h->keys[res.violation.key].s, "k2");
	ck_assert_uint_eq(h->ops[res.violation.op].result, STRATA_HIST_NULL);
	strata_check_result_free(&res);
	ck_assert_int_eq(verdict(h, STRATA_CHECK_REGULAR, 0), STRATA_CHECK_VIOLATION);
	strata_history_free(h);
	free(ops);
}
END_TEST

/* n concurrent writes of distinct values, then two sequential reads that see different ones:
 * not linearizable, but proving it means visiting every subset of the writes. */
static struct gop *hard_history(unsigned n, size_t *count)
{
	struct gop *ops = calloc(n + 2, sizeof(*ops));
	for (unsigned i = 0; i < n; i++)
		ops[i] = (struct gop){.process = i, .f = STRATA_HIST_WRITE, .arg = (int)i,
				      .outcome = STRATA_HIST_OUT_OK, .call = i, .ret = 1000 + i};
	ops[n] = (struct gop){.process = n, .f = STRATA_HIST_READ, .result = 0,
			      .outcome = STRATA_HIST_OUT_OK, .call = 2000, .ret = 2001};
	ops[n + 1] = (struct gop){.process = n, .f = STRATA_HIST_READ, .result = 1,
				  .outcome = STRATA_HIST_OUT_OK, .call = 2002, .ret = 2003};
	*count = n + 2;
	return ops;
}

START_TEST(test_budget_gives_unknown)
{
	size_t n;
	struct gop *ops = hard_history(40, &n);
	struct strata_history *h = build(ops, n);
	struct strata_check_result res;
	ck_assert_int_eq(strata_check_history(h, STRATA_CHECK_ATOMIC, 100, &res), 0);
	ck_assert_int_eq(res.verdict, STRATA_CHECK_UNKNOWN);
	ck_assert_int_eq(res.keys[0].why, STRATA_CHECK_WHY_TIME);
	ck_assert_uint_lt(res.elapsed_ms, 1000);
	ck_assert_int_eq(strata_check_exit_code(res.verdict), 3);
	strata_check_result_free(&res);

	struct strata_check_opts o = { .budget_ms = 0, .mem_limit_bytes = 1 << 20 };
	ck_assert_int_eq(strata_check_history_ex(h, STRATA_CHECK_ATOMIC, &o, &res), 0);
	ck_assert_int_eq(res.verdict, STRATA_CHECK_UNKNOWN);
	ck_assert_int_eq(res.keys[0].why, STRATA_CHECK_WHY_MEMORY);
	strata_check_result_free(&res);
	strata_history_free(h);

	/* The same shape with 8 writes is small enough to decide: a violation. */
	free(ops);
	ops = hard_history(8, &n);
	h = build(ops, n);
	ck_assert_int_eq(verdict(h, STRATA_CHECK_ATOMIC, 5000), STRATA_CHECK_VIOLATION);
	ck_assert_int_eq(verdict(h, STRATA_CHECK_REGULAR, 0), STRATA_CHECK_OK);
	strata_history_free(h);

	/* An unknown key and a violating key: the violation wins, the unknown is counted. */
	free(ops);
	ops = hard_history(40, &n);
	ops = realloc(ops, (n + 2) * sizeof(*ops));
	ops[n] = (struct gop){.process = 100, .key = 1, .f = STRATA_HIST_WRITE, .arg = 5,
			      .outcome = STRATA_HIST_OUT_OK, .call = 0, .ret = 10};
	ops[n + 1] = (struct gop){.process = 101, .key = 1, .f = STRATA_HIST_READ, .result = -1,
				  .outcome = STRATA_HIST_OUT_OK, .call = 20, .ret = 30};
	h = build(ops, n + 2);
	ck_assert_int_eq(strata_check_history(h, STRATA_CHECK_ATOMIC, 200, &res), 0);
	ck_assert_int_eq(res.verdict, STRATA_CHECK_VIOLATION);
	ck_assert_uint_eq(res.n_unknown, 1);
	ck_assert_uint_eq(res.n_violation, 1);
	ck_assert_int_eq(strata_check_exit_code(res.verdict), 1);
	strata_check_result_free(&res);
	strata_history_free(h);
	free(ops);
}
END_TEST

static char *report(const char *file, enum strata_check_model m, int json,
		    struct strata_check_result *res_out, struct strata_history **h_out)
{
	char path[2048], err[512];
	snprintf(path, sizeof(path), "%s/%s", data_dir(), file);
	struct strata_history *h;
	ck_assert_msg(strata_history_load(path, &h, err, sizeof(err)) == 0, "%s", err);
	struct strata_check_result res;
	ck_assert_int_eq(strata_check_history(h, m, 5000, &res), 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (json)
		strata_check_print_json(f, h, &res);
	else
		strata_check_print_text(f, h, &res);
	fclose(f);
	*res_out = res;
	*h_out = h;
	return buf;
}

/* The progress callback: once before each key, smallest keys first, with the counts of what is
 * finished, then once at the end with everything finished (key_ops 0). */
struct prog_log {
	size_t calls, last_keys_done, last_ops_done, prev_key_ops, n_keys, n_ops;
	int ordered, ended;
};

static void prog_cb(void *arg, size_t keys_done, size_t n_keys, size_t ops_done, size_t n_ops,
		    uint32_t key, size_t key_ops)
{
	struct prog_log *p = arg;
	(void)key;
	ck_assert_uint_eq(keys_done, p->calls); /* one call per key, in order */
	if (key_ops && key_ops < p->prev_key_ops)
		p->ordered = 0;
	if (key_ops)
		p->prev_key_ops = key_ops;
	else
		p->ended++;
	p->calls++;
	p->last_keys_done = keys_done;
	p->last_ops_done = ops_done;
	p->n_keys = n_keys;
	p->n_ops = n_ops;
}

START_TEST(test_progress)
{
	/* Three keys of 3, 1 and 2 sequential ok writes. */
	struct gop ops[6];
	const uint32_t keys[6] = {0, 0, 0, 1, 2, 2};
	for (int i = 0; i < 6; i++)
		ops[i] = (struct gop){.process = 1, .key = keys[i], .f = STRATA_HIST_WRITE,
				      .outcome = STRATA_HIST_OUT_OK, .arg = i, .arg2 = -1,
				      .result = -1, .call = 10u * (uint64_t)i + 1,
				      .ret = 10u * (uint64_t)i + 2};
	struct strata_history *h = build(ops, 6);
	for (int m = STRATA_CHECK_ATOMIC; m <= STRATA_CHECK_SAFE; m++) {
		struct prog_log p = {.ordered = 1};
		struct strata_check_opts o = {.budget_ms = 5000, .progress = prog_cb, .progress_arg = &p};
		struct strata_check_result res;
		ck_assert_int_eq(strata_check_history_ex(h, (enum strata_check_model)m, &o, &res), 0);
		ck_assert_int_eq(res.verdict, STRATA_CHECK_OK);
		ck_assert_uint_eq(p.calls, 4);
		ck_assert_int_eq(p.ended, 1);
		ck_assert_int_eq(p.ordered, 1);
		ck_assert_uint_eq(p.last_keys_done, 3);
		ck_assert_uint_eq(p.n_keys, 3);
		ck_assert_uint_eq(p.last_ops_done, 6);
		ck_assert_uint_eq(p.n_ops, 6);
		strata_check_result_free(&res);
	}
	strata_history_free(h);
}
END_TEST

START_TEST(test_reports)
{
	struct strata_check_result res;
	struct strata_history *h;
	/* The smallest violating key is reported: y (2 ops), not z (8 ops). */
	char *t = report("lin-bad-multikey.jsonl", STRATA_CHECK_ATOMIC, 0, &res, &h);
	ck_assert_uint_eq(res.n_violation, 2);
	ck_assert_str_eq(h->keys[res.violation.key].s, "y");
	ck_assert_uint_eq(h->ev[h->ops[res.violation.op].ev_invoke].line, 17);
	ck_assert_msg(strstr(t, "violation on key \"y\"") != NULL, "%s", t);
	ck_assert_msg(strstr(t, "lin-bad-multikey.jsonl:17  process 3 read -> null") != NULL, "%s", t);
	ck_assert_msg(strstr(t, "register after the prefix: \"1\"") != NULL, "%s", t);
	free(t);
	strata_check_result_free(&res);
	strata_history_free(h);

	/* New/old inversion: stuck at the second read, after write 1, write 2 and the first read. */
	t = report("lin-bad-new-old-inversion.jsonl", STRATA_CHECK_ATOMIC, 1, &res, &h);
	ck_assert_uint_eq(res.violation.n_prefix, 3);
	ck_assert_msg(strstr(t, "\"verdict\":\"violation\",\"exit_code\":1") != NULL, "%s", t);
	ck_assert_msg(strstr(t, "\"op\":{\"line\":6,\"complete_line\":7,\"process\":2,\"f\":\"read\"") != NULL,
		      "%s", t);
	ck_assert_msg(strstr(t, "\"state\":\"2\"") != NULL, "%s", t);
	ck_assert_msg(strstr(t, "{\"line\":8,\"event\":{\"process\":0,\"type\":\"ok\"") != NULL, "%s", t);
	ck_assert_int_eq(t[strlen(t) - 1], '\n');
	free(t);
	strata_check_result_free(&res);
	strata_history_free(h);

	/* Regular: the candidate set of the stale read is exactly the last write. */
	t = report("regular-bad-multiwriter.jsonl", STRATA_CHECK_REGULAR, 1, &res, &h);
	ck_assert_uint_eq(res.violation.n_candidates, 1);
	ck_assert_str_eq(h->vals[res.violation.candidates[0]].s, "b");
	ck_assert_msg(strstr(t, "\"candidates\":[\"b\"]") != NULL, "%s", t);
	free(t);
	strata_check_result_free(&res);
	strata_history_free(h);

	t = report("lin-ok-cas.jsonl", STRATA_CHECK_ATOMIC, 1, &res, &h);
	ck_assert_msg(strstr(t, "\"verdict\":\"ok\",\"exit_code\":0") != NULL, "%s", t);
	ck_assert_msg(strstr(t, "\"violation\":null}") != NULL, "%s", t);
	free(t);
	strata_check_result_free(&res);
	strata_history_free(h);

	enum strata_check_model m;
	ck_assert_int_eq(strata_check_model_parse("linearizable", &m), 0);
	ck_assert_int_eq(m, STRATA_CHECK_ATOMIC);
	ck_assert_int_eq(strata_check_model_parse("safe", &m), 0);
	ck_assert_int_eq(m, STRATA_CHECK_SAFE);
	ck_assert_int_eq(strata_check_model_parse("sequential", &m), STRATA_EINVAL);
	ck_assert_int_eq(strata_check_exit_code(STRATA_CHECK_OK), 0);
}
END_TEST

static Suite *lin_suite(void)
{
	Suite *s = suite_create("linearizable");
	TCase *tc = tcase_create("checkers");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_data_files);
	tcase_add_test(tc, test_against_brute_force);
	tcase_add_test(tc, test_generated_ok_and_mutated);
	tcase_add_test(tc, test_large_history);
	tcase_add_test(tc, test_budget_gives_unknown);
	tcase_add_test(tc, test_reports);
	tcase_add_test(tc, test_progress);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(lin_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
