/* The checker's driver and reports: groups a history's ops by key, runs the model's checker on
 * each key (smallest first, sharing the time budget fairly), combines the verdicts, and prints
 * the result as text or JSON. See check.h for the API and docs/checking.md for the semantics. */
#include "check/history.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t strata_check_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *strata_check_model_name(enum strata_check_model m)
{
	switch (m) {
	case STRATA_CHECK_ATOMIC: return "atomic";
	case STRATA_CHECK_REGULAR: return "regular";
	case STRATA_CHECK_SAFE: return "safe";
	}
	return "?";
}

int strata_check_model_parse(const char *s, enum strata_check_model *m)
{
	if (!strcmp(s, "atomic") || !strcmp(s, "linearizable"))
		*m = STRATA_CHECK_ATOMIC;
	else if (!strcmp(s, "regular"))
		*m = STRATA_CHECK_REGULAR;
	else if (!strcmp(s, "safe"))
		*m = STRATA_CHECK_SAFE;
	else
		return STRATA_EINVAL;
	return 0;
}

const char *strata_check_verdict_name(enum strata_check_verdict v)
{
	switch (v) {
	case STRATA_CHECK_OK: return "ok";
	case STRATA_CHECK_VIOLATION: return "violation";
	case STRATA_CHECK_UNKNOWN: return "unknown";
	}
	return "?";
}

int strata_check_exit_code(enum strata_check_verdict v)
{
	switch (v) {
	case STRATA_CHECK_OK: return 0;
	case STRATA_CHECK_VIOLATION: return 1;
	default: return 3;
	}
}

struct strata_check_violation *strata_check_claim_violation(struct strata_check_result *res,
							    uint32_t key, size_t n_ops)
{
	if (res->has_violation && res->keys[res->violation.key].n_ops <= n_ops)
		return NULL;
	free(res->violation.prefix);
	free(res->violation.candidates);
	memset(&res->violation, 0, sizeof(res->violation));
	res->has_violation = 1;
	res->violation.key = key;
	return &res->violation;
}

void strata_check_result_free(struct strata_check_result *res)
{
	if (!res)
		return;
	free(res->keys);
	free(res->violation.prefix);
	free(res->violation.candidates);
	memset(res, 0, sizeof(*res));
}

int strata_check_history(const struct strata_history *h, enum strata_check_model m,
			 uint64_t budget_ms, struct strata_check_result *res)
{
	struct strata_check_opts o = { .budget_ms = budget_ms };
	return strata_check_history_ex(h, m, &o, res);
}

struct korder {
	size_t n;
	uint32_t key;
};

static int korder_cmp(const void *a, const void *b)
{
	const struct korder *x = a, *y = b;
	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

int strata_check_history_ex(const struct strata_history *h, enum strata_check_model m,
			    const struct strata_check_opts *opts, struct strata_check_result *res)
{
	memset(res, 0, sizeof(*res));
	res->model = m;
	if (!h || (unsigned)m > STRATA_CHECK_SAFE)
		return STRATA_EINVAL;
	uint64_t t0 = strata_check_now_ns();
	struct strata_check_ctx c;
	memset(&c, 0, sizeof(c));
	c.h = h;
	c.mem_limit = opts && opts->mem_limit_bytes ? opts->mem_limit_bytes : STRATA_CHECK_MEM_DEFAULT;
	uint64_t budget_ms = opts ? opts->budget_ms : 0;
	c.budget_ns = budget_ms > UINT64_MAX / 2000000 ? UINT64_MAX / 2 : budget_ms * 1000000;
	c.t0_ns = t0;

	int rc = STRATA_ENOMEM;
	size_t nk = h->n_keys;
	res->keys = calloc(nk + 1, sizeof(*res->keys));
	c.key_start = calloc(nk + 2, sizeof(*c.key_start));
	c.key_ops = malloc((h->n_ops + 1) * sizeof(*c.key_ops));
	struct korder *order = malloc((nk + 1) * sizeof(*order));
	if (!res->keys || !c.key_start || !c.key_ops || !order)
		goto out;
	res->n_keys = nk;
	/* Counting sort of ops by key, keeping invoke order within a key. */
	for (size_t i = 0; i < h->n_ops; i++)
		c.key_start[h->ops[i].key + 1]++;
	for (size_t k = 0; k < nk; k++)
		c.key_start[k + 1] += c.key_start[k];
	{
		size_t *fill = calloc(nk + 1, sizeof(*fill));
		if (!fill)
			goto out;
		for (size_t i = 0; i < h->n_ops; i++) {
			uint32_t k = h->ops[i].key;
			c.key_ops[c.key_start[k] + fill[k]++] = (uint32_t)i;
		}
		free(fill);
	}
	for (size_t k = 0; k < nk; k++) {
		order[k].n = c.key_start[k + 1] - c.key_start[k];
		order[k].key = (uint32_t)k;
	}
	/* Smallest keys first: they finish fast and leave their share of the budget to the big
	 * ones; each key may use the remaining budget divided by the keys still to check. */
	qsort(order, nk, sizeof(*order), korder_cmp);
	rc = 0;
	size_t ops_done = 0;
	for (size_t i = 0; i < nk && !rc; i++) {
		uint32_t k = order[i].key;
		if (opts && opts->progress)
			opts->progress(opts->progress_arg, i, nk, ops_done, h->n_ops, k, order[i].n);
		ops_done += order[i].n;
		if (m == STRATA_CHECK_ATOMIC) {
			uint64_t deadline = STRATA_HIST_INF;
			if (c.budget_ns) {
				uint64_t now = strata_check_now_ns(), used = now - t0;
				uint64_t left = used < c.budget_ns ? c.budget_ns - used : 0;
				deadline = now + left / (nk - i);
			}
			rc = strata_check_key_atomic(&c, k, deadline, res);
		} else {
			rc = strata_check_key_regular(&c, k, m == STRATA_CHECK_SAFE, res);
		}
	}
	if (!rc && opts && opts->progress)
		opts->progress(opts->progress_arg, nk, nk, ops_done, h->n_ops, 0, 0);
	for (size_t k = 0; k < res->n_keys; k++) {
		switch (res->keys[k].verdict) {
		case STRATA_CHECK_OK: res->n_ok++; break;
		case STRATA_CHECK_VIOLATION: res->n_violation++; break;
		default: res->n_unknown++; break;
		}
		if (res->keys[k].verdict > res->verdict)
			res->verdict = res->keys[k].verdict;
	}
out:
	free(c.key_start);
	free(c.key_ops);
	free(order);
	res->elapsed_ms = (strata_check_now_ns() - t0) / 1000000;
	return rc;
}

/* ---- reports ---- */

static const char *outcome_name(const struct strata_hist_op *op)
{
	if (op->ev_complete == STRATA_HIST_NONE)
		return "pending";
	switch (op->outcome) {
	case STRATA_HIST_OUT_OK: return "ok";
	case STRATA_HIST_OUT_FAIL: return "fail";
	default: return "info";
	}
}

static void text_op(FILE *out, const struct strata_history *h, uint32_t oi)
{
	const struct strata_hist_op *op = &h->ops[oi];
	fprintf(out, "%s:%u  process %lld %s", h->name, (unsigned)h->ev[op->ev_invoke].line,
		(long long)op->process, strata_hist_f_name(op->f));
	switch (op->f) {
	case STRATA_HIST_READ:
		fputs(" -> ", out);
		if (op->outcome == STRATA_HIST_OUT_OK)
			strata_hist_put_value_json(out, h, op->result);
		else
			fputs("?", out);
		break;
	case STRATA_HIST_WRITE:
		fputc(' ', out);
		strata_hist_put_value_json(out, h, op->arg);
		break;
	default:
		fputs(" [", out);
		strata_hist_put_value_json(out, h, op->arg);
		fputc(',', out);
		strata_hist_put_value_json(out, h, op->arg2);
		fputc(']', out);
	}
	fprintf(out, "  %s, invoked %llu", outcome_name(op), (unsigned long long)op->call_ns);
	if (op->ret_ns != STRATA_HIST_INF)
		fprintf(out, ", returned %llu", (unsigned long long)op->ret_ns);
	else
		fputs(", never returned", out);
}

static const char *why_name(enum strata_check_why w)
{
	return w == STRATA_CHECK_WHY_TIME ? "time budget exhausted"
	       : w == STRATA_CHECK_WHY_MEMORY ? "memory cap reached" : "";
}

#define MAX_REPORT_LINES 400
#define PREFIX_TAIL 10

/* Which of the violating key's events the report shows: all of them for a small key, else those
 * whose op overlaps the window from the tail of the linearizable prefix to the stuck op. */
static int event_shown(const struct strata_history *h, const struct strata_check_result *res,
		       const struct strata_hist_event *e, size_t key_events, uint64_t lo, uint64_t hi)
{
	if (e->key != res->violation.key)
		return 0;
	if (key_events <= MAX_REPORT_LINES)
		return 1;
	const struct strata_hist_op *op = &h->ops[e->op];
	return op->call_ns <= hi && op->ret_ns >= lo;
}

static void window(const struct strata_history *h, const struct strata_check_result *res,
		   size_t *key_events, uint64_t *lo, uint64_t *hi)
{
	const struct strata_check_violation *v = &res->violation;
	const struct strata_hist_op *stuck = &h->ops[v->op];
	*key_events = 0;
	for (size_t i = 0; i < h->n_ev; i++)
		if (h->ev[i].key == v->key)
			(*key_events)++;
	*lo = stuck->call_ns;
	*hi = stuck->ret_ns == STRATA_HIST_INF ? stuck->call_ns : stuck->ret_ns;
	size_t from = v->n_prefix > PREFIX_TAIL ? v->n_prefix - PREFIX_TAIL : 0;
	for (size_t i = from; i < v->n_prefix; i++)
		if (h->ops[v->prefix[i]].call_ns < *lo)
			*lo = h->ops[v->prefix[i]].call_ns;
}

/* The nemesis's fault events (what was going on while the ops ran), times in seconds from the
 * history's time origin; at most NEMESIS_SHOWN lines. */
#define NEMESIS_SHOWN 40
static void print_nemesis_text(FILE *out, const struct strata_history *h)
{
	if (!h->n_nemesis)
		return;
	fprintf(out, "nemesis: %zu event(s) (not checked)\n", h->n_nemesis);
	for (size_t i = 0; i < h->n_nemesis && i < NEMESIS_SHOWN; i++) {
		const struct strata_hist_nemesis *ne = &h->nemesis[i];
		char v[120];
		if (ne->value == STRATA_HIST_NONE)
			snprintf(v, sizeof v, "-");
		else
			strata_hist_value_short(h, ne->value, v, sizeof v);
		fprintf(out, "  %9.3f s  %-10s %s  (line %u)\n", (double)ne->time_ns / 1e9, ne->f, v,
			(unsigned)ne->line);
	}
	if (h->n_nemesis > NEMESIS_SHOWN)
		fprintf(out, "  ... and %zu more\n", h->n_nemesis - NEMESIS_SHOWN);
}

int strata_check_print_text(FILE *out, const struct strata_history *h,
			    const struct strata_check_result *res)
{
	fprintf(out, "history %s: %zu events, %zu ops, %zu key(s)", h->name, h->n_ev, h->n_ops,
		h->n_keys);
	if (h->n_pending)
		fprintf(out, ", %zu invokes never completed (treated as info)", h->n_pending);
	fprintf(out, "\nmodel %s: %s (keys: %zu ok, %zu violated, %zu unknown; %llu ms)\n",
		strata_check_model_name(res->model), strata_check_verdict_name(res->verdict),
		res->n_ok, res->n_violation, res->n_unknown, (unsigned long long)res->elapsed_ms);
	print_nemesis_text(out, h);
	size_t shown = 0;
	for (size_t k = 0; k < res->n_keys; k++) {
		const struct strata_check_key *kr = &res->keys[k];
		if (kr->verdict != STRATA_CHECK_UNKNOWN)
			continue;
		if (shown++ == 10) {
			fprintf(out, "  ... and %zu more unknown keys\n", res->n_unknown - 10);
			break;
		}
		fputs("  key ", out);
		strata_hist_put_json_string(out, h->keys[k].s, h->keys[k].len);
		fprintf(out, ": unknown (%s after %llu configurations, %zu ops)\n",
			why_name(kr->why), (unsigned long long)kr->configs, kr->n_ops);
	}
	if (!res->has_violation)
		return ferror(out) ? STRATA_EIO : 0;

	const struct strata_check_violation *v = &res->violation;
	fputs("\nviolation on key ", out);
	strata_hist_put_json_string(out, h->keys[v->key].s, h->keys[v->key].len);
	fprintf(out, " (%zu op(s); the smallest of %zu violating key(s))\n", res->keys[v->key].n_ops,
		res->n_violation);
	fputs("  cannot place: ", out);
	text_op(out, h, v->op);
	fprintf(out, "\n  why: %s\n", v->message);
	if (v->n_prefix) {
		size_t from = v->n_prefix > PREFIX_TAIL ? v->n_prefix - PREFIX_TAIL : 0;
		fprintf(out, "  longest linearizable prefix (%zu op(s)%s):\n", v->n_prefix,
			from ? ", last ones shown" : "");
		for (size_t i = from; i < v->n_prefix; i++) {
			fputs("    ", out);
			text_op(out, h, v->prefix[i]);
			fputc('\n', out);
		}
		fputs("  register after the prefix: ", out);
		strata_hist_put_value_json(out, h, v->state);
		fputc('\n', out);
	}
	if (v->candidates) {
		fputs("  values the read could return:", out);
		for (size_t i = 0; i < v->n_candidates; i++) {
			fputc(' ', out);
			strata_hist_put_value_json(out, h, v->candidates[i]);
		}
		fputc('\n', out);
	}
	size_t key_events;
	uint64_t lo, hi;
	window(h, res, &key_events, &lo, &hi);
	fprintf(out, "  history of the key (%s, line: event):\n",
		key_events <= MAX_REPORT_LINES ? "all its lines" : "ops overlapping the failure");
	size_t printed = 0;
	for (size_t i = 0; i < h->n_ev; i++) {
		const struct strata_hist_event *e = &h->ev[i];
		if (!event_shown(h, res, e, key_events, lo, hi))
			continue;
		if (printed++ == MAX_REPORT_LINES) {
			fputs("    ...\n", out);
			break;
		}
		fprintf(out, "  %c %u: ", e->op == v->op ? '>' : ' ', (unsigned)e->line);
		strata_hist_put_event_json(out, h, e);
		fputc('\n', out);
	}
	return ferror(out) ? STRATA_EIO : 0;
}

static void json_op(FILE *out, const struct strata_history *h, uint32_t oi)
{
	const struct strata_hist_op *op = &h->ops[oi];
	fprintf(out, "{\"line\":%u,", (unsigned)h->ev[op->ev_invoke].line);
	if (op->ev_complete != STRATA_HIST_NONE)
		fprintf(out, "\"complete_line\":%u,", (unsigned)h->ev[op->ev_complete].line);
	fprintf(out, "\"process\":%lld,\"f\":\"%s\",\"outcome\":\"%s\",\"value\":",
		(long long)op->process, strata_hist_f_name(op->f), outcome_name(op));
	switch (op->f) {
	case STRATA_HIST_READ:
		strata_hist_put_value_json(out, h, op->result);
		break;
	case STRATA_HIST_WRITE:
		strata_hist_put_value_json(out, h, op->arg);
		break;
	default:
		fputc('[', out);
		strata_hist_put_value_json(out, h, op->arg);
		fputc(',', out);
		strata_hist_put_value_json(out, h, op->arg2);
		fputc(']', out);
	}
	fprintf(out, ",\"invoke_ns\":%llu,\"return_ns\":", (unsigned long long)op->call_ns);
	if (op->ret_ns == STRATA_HIST_INF)
		fputs("null}", out);
	else
		fprintf(out, "%llu}", (unsigned long long)op->ret_ns);
}

int strata_check_print_json(FILE *out, const struct strata_history *h,
			    const struct strata_check_result *res)
{
	fputs("{\"history\":", out);
	strata_hist_put_json_string(out, h->name, strlen(h->name));
	fprintf(out,
		",\"model\":\"%s\",\"verdict\":\"%s\",\"exit_code\":%d,\"elapsed_ms\":%llu,"
		"\"events\":%zu,\"ops\":%zu,\"keys\":%zu,\"pending\":%zu,"
		"\"keys_ok\":%zu,\"keys_violated\":%zu,\"keys_unknown\":%zu,\"unknown\":[",
		strata_check_model_name(res->model), strata_check_verdict_name(res->verdict),
		strata_check_exit_code(res->verdict), (unsigned long long)res->elapsed_ms, h->n_ev,
		h->n_ops, h->n_keys, h->n_pending, res->n_ok, res->n_violation, res->n_unknown);
	int first = 1;
	for (size_t k = 0; k < res->n_keys; k++) {
		const struct strata_check_key *kr = &res->keys[k];
		if (kr->verdict != STRATA_CHECK_UNKNOWN)
			continue;
		fputs(first ? "{\"key\":" : ",{\"key\":", out);
		first = 0;
		strata_hist_put_json_string(out, h->keys[k].s, h->keys[k].len);
		fprintf(out, ",\"reason\":\"%s\",\"ops\":%zu,\"configurations\":%llu}",
			kr->why == STRATA_CHECK_WHY_TIME ? "time" : "memory", kr->n_ops,
			(unsigned long long)kr->configs);
	}
	fputs("],\"nemesis\":[", out);
	for (size_t i = 0; i < h->n_nemesis; i++) {
		const struct strata_hist_nemesis *ne = &h->nemesis[i];
		fprintf(out, "%s{\"time\":%llu,\"line\":%u,\"f\":", i ? "," : "",
			(unsigned long long)ne->time_ns, (unsigned)ne->line);
		strata_hist_put_json_string(out, ne->f, strlen(ne->f));
		fputs(",\"value\":", out);
		if (ne->value == STRATA_HIST_NONE)
			fputs("null", out);
		else
			strata_hist_put_value_json(out, h, ne->value);
		fputc('}', out);
	}
	fputs("],\"violation\":", out);
	if (!res->has_violation) {
		fputs("null}\n", out);
		return ferror(out) ? STRATA_EIO : 0;
	}
	const struct strata_check_violation *v = &res->violation;
	fputs("{\"key\":", out);
	strata_hist_put_json_string(out, h->keys[v->key].s, h->keys[v->key].len);
	fprintf(out, ",\"key_ops\":%zu,\"op\":", res->keys[v->key].n_ops);
	json_op(out, h, v->op);
	fputs(",\"message\":", out);
	strata_hist_put_json_string(out, v->message, strlen(v->message));
	fputs(",\"state\":", out);
	if (v->state == STRATA_HIST_NONE)
		fputs("null", out);
	else
		strata_hist_put_value_json(out, h, v->state);
	fputs(",\"previous_ok\":[", out);
	for (size_t i = 0; i < v->n_prefix; i++) {
		if (i)
			fputc(',', out);
		json_op(out, h, v->prefix[i]);
	}
	fputs("],\"candidates\":", out);
	if (!v->candidates) {
		fputs("null", out);
	} else {
		fputc('[', out);
		for (size_t i = 0; i < v->n_candidates; i++) {
			if (i)
				fputc(',', out);
			strata_hist_put_value_json(out, h, v->candidates[i]);
		}
		fputc(']', out);
	}
	fputs(",\"history\":[", out);
	size_t key_events;
	uint64_t lo, hi;
	window(h, res, &key_events, &lo, &hi);
	size_t printed = 0;
	for (size_t i = 0; i < h->n_ev; i++) {
		const struct strata_hist_event *e = &h->ev[i];
		if (!event_shown(h, res, e, key_events, lo, hi))
			continue;
		if (printed++ == MAX_REPORT_LINES)
			break;
		fprintf(out, "%s{\"line\":%u,\"event\":", printed > 1 ? "," : "", (unsigned)e->line);
		strata_hist_put_event_json(out, h, e);
		fputc('}', out);
	}
	fputs("]}}\n", out);
	return ferror(out) ? STRATA_EIO : 0;
}
