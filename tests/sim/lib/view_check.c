/* Online checker of installed views; see view_check.h. */
#include "view_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/assert.h"
#include "rt/sim/harness.h"

static void vck_fail(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void vck_fail(char *why, size_t whylen, const char *fmt, ...)
{
	if (why[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

void vck_init(struct vck *v, uint32_t n, bool consecutive)
{
	STRATA_ASSERT(n >= 1 && n <= VCK_MAXN);
	memset(v, 0, sizeof(*v));
	v->n = n;
	v->consecutive = consecutive;
}

void vck_on_view(struct vck *v, uint32_t node, uint64_t id, uint64_t m, const bool *down,
		 char *why, size_t whylen)
{
	uint64_t all = (1ull << v->n) - 1;
	if (id > VCK_MAXN || m == 0 || (m & ~all)) {
		vck_fail(why, whylen, "node %u installed view %llu with members %#llx: out of range",
			 node, (unsigned long long)id, (unsigned long long)m);
		return;
	}
	if (!v->has_view[node]) {
		if (id != 0 || m != all)
			vck_fail(why, whylen, "node %u's first view is (%llu, %#llx), not (0, all)",
				 node, (unsigned long long)id, (unsigned long long)m);
	} else if ((v->consecutive ? id != v->view_id[node] + 1 : id <= v->view_id[node]) ||
		   (m & ~v->view_m[node]) || m == v->view_m[node]) {
		vck_fail(why, whylen, "monotonicity: node %u installed (%llu, %#llx) after (%llu, %#llx)",
			 node, (unsigned long long)id, (unsigned long long)m,
			 (unsigned long long)v->view_id[node], (unsigned long long)v->view_m[node]);
		return;
	}
	v->has_view[node] = true;
	v->view_id[node] = id;
	v->view_m[node] = m;
	if (v->views[id] && v->views[id] != m) {
		vck_fail(why, whylen,
			 "uniform agreement: node %u installed view %llu as %#llx, another node as "
			 "%#llx",
			 node, (unsigned long long)id, (unsigned long long)m,
			 (unsigned long long)v->views[id]);
		return;
	}
	if (!v->views[id] && id > 0)
		v->nviews++;
	v->views[id] = m;
	for (uint32_t q = 1; q <= v->n; q++)
		if (!(m & (1ull << (q - 1))) && !down[q])
			vck_fail(why, whylen,
				 "accuracy: node %u installed view %llu without node %u, which has not "
				 "crashed",
				 node, (unsigned long long)id, q);
}

int vck_complete(const struct vck *v, const bool *down, uint64_t after_ms, char *why,
		 size_t whylen)
{
	uint64_t correct = 0;
	for (uint32_t q = 1; q <= v->n; q++)
		if (!down[q])
			correct |= 1ull << (q - 1);
	for (uint32_t q = 1; q <= v->n; q++)
		if (!down[q] && (!v->has_view[q] || v->view_m[q] != correct))
			return sim_fail(why, whylen,
					"completeness: correct node %u's last view is %#llx, the correct "
					"nodes are %#llx (%llu ms after the heal)",
					q, (unsigned long long)v->view_m[q],
					(unsigned long long)correct, (unsigned long long)after_ms);
	return 0;
}
