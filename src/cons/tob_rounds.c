/* The rounds of a consensus-based total-order broadcast (tob, ltob); see tob_rounds.h. */
#include "cons/tob_rounds.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/assert.h"
#include "core/error.h"

int tobr_find(const struct tobr_msg *u, size_t n, uint32_t origin, uint64_t inc, uint64_t seq)
{
	for (size_t k = 0; k < n; k++)
		if (u[k].origin == origin && u[k].inc == inc && u[k].seq == seq)
			return (int)k;
	return -1;
}

void tobr_remove(struct tobr_msg *u, size_t *n, uint32_t origin, uint64_t inc, uint64_t seq)
{
	int at = tobr_find(u, *n, origin, inc, seq);
	if (at >= 0) {
		strata_msg_unref(u[at].payload);
		u[at] = u[--*n];
	}
}

size_t tobr_encode(struct strata_wr *w, size_t max, const struct tobr_msg *u, size_t n,
		   bool with_inc)
{
	size_t fits = 0, total = 16;
	for (size_t k = 0; k < n; k++) {
		total += u[k].payload->len + TOBR_ENTRY_OVERHEAD;
		if (total > max)
			break;
		fits++;
	}
	strata_wr_u64(w, fits);
	for (size_t k = 0; k < fits; k++) {
		strata_wr_u64(w, u[k].origin);
		if (with_inc)
			strata_wr_u64(w, u[k].inc);
		strata_wr_u64(w, u[k].seq);
		strata_wr_bytes(w, u[k].payload->data, u[k].payload->len);
	}
	return fits;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct tobr_entry *x = a, *y = b;
	if (x->origin != y->origin)
		return x->origin < y->origin ? -1 : 1;
	if (x->inc != y->inc)
		return x->inc < y->inc ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 : 0;
}

struct tobr_entry *tobr_parse(struct strata_module *m, const char *what,
			      const struct strata_msg *batch, bool with_inc, size_t *count)
{
	struct strata_node *n = m->node;
	struct strata_rd r;
	strata_rd_init(&r, batch->data, batch->len);
	uint64_t c = strata_rd_u64_max(&r, batch->len);
	struct tobr_entry *e = c ? calloc(c, sizeof(*e)) : NULL;
	STRATA_ASSERT(!c || e); /* running out of memory mid-handler cannot be recovered */
	for (uint64_t k = 0; k < c; k++) {
		e[k].origin = (uint32_t)strata_rd_u64_max(&r, strata_node_n(n));
		e[k].inc = with_inc ? strata_rd_u64(&r) : 0;
		e[k].seq = strata_rd_u64(&r);
		e[k].len = strata_rd_bytes(&r, &e[k].p, SIZE_MAX);
		if (e[k].origin == 0 || e[k].seq == 0)
			r.err = STRATA_EPROTO;
	}
	if (strata_rd_done(&r) != 0) {
		char why[64];
		snprintf(why, sizeof(why), "%s: malformed decided batch", what);
		strata_node_bad_payload(n, m, 0, why);
		free(e);
		*count = 0;
		return NULL;
	}
	qsort(e, c, sizeof(*e), entry_cmp);
	*count = c;
	return e;
}

bool tobr_ahead_has(const struct tobr_ahead *a, uint64_t round)
{
	for (unsigned k = 0; k < a->n; k++)
		if (a->e[k].round == round)
			return true;
	return false;
}

bool tobr_ahead_add(struct tobr_ahead *a, uint64_t round, struct strata_msg *batch)
{
	if (a->n == TOBR_AHEAD_MAX)
		return false;
	a->e[a->n].round = round;
	a->e[a->n].batch = strata_msg_ref(batch);
	a->n++;
	return true;
}

void tobr_ahead_drain(struct tobr_ahead *a, const uint64_t *round,
		      void (*apply)(void *arg, const struct strata_msg *batch), void *arg)
{
	for (bool again = true; again;) {
		again = false;
		for (unsigned k = 0; k < a->n; k++)
			if (a->e[k].round <= *round) {
				struct strata_msg *b = a->e[k].batch;
				bool now = a->e[k].round == *round;
				a->e[k] = a->e[--a->n];
				if (now)
					apply(arg, b);
				strata_msg_unref(b);
				again = true;
				break;
			}
	}
}

void tobr_ahead_free(struct tobr_ahead *a)
{
	for (unsigned k = 0; k < a->n; k++)
		strata_msg_unref(a->e[k].batch);
	a->n = 0;
}
