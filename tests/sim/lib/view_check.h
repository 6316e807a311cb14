/* Online checker of installed views for the group-membership and view-synchrony simulation
 * suites (sim_variants: gm; sim_variants_vs: uvs and vs), fail-stop, views as (id, member
 * bitmask with bit q - 1 for node q).
 *
 * Checked at every <Install | (id, M)> (vck_on_view):
 *   the first view of every node is (0, all nodes); ids and members are in range;
 *   monotonicity (GM2 / VS2) - a node's next view has a larger id (with consecutive: exactly
 *     the last id + 1: vs and uvs install every view) and a strict subset of the members;
 *   uniform agreement (GM3 / VS3) - one member set per view id, whoever installed it;
 *   accuracy (GM4 / VS5) - a view leaves out only nodes that crashed.
 * At the end (vck_complete), completeness (GM1 / VS4): every correct node's last view is the
 * set of the correct nodes.
 * A violation is written to the suite's `why` only when it is still empty (the first violation
 * of the run stands, whichever check found it). Memory: the struct (fixed arrays of VCK_MAXN). */
#ifndef STRATA_TESTS_SIM_VIEW_CHECK_H
#define STRATA_TESTS_SIM_VIEW_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VCK_MAXN 5 /* nodes, and the largest view id (one view per crash of N - 1) */

struct vck {
	uint32_t n;
	bool consecutive;
	bool has_view[VCK_MAXN + 1];
	uint64_t view_id[VCK_MAXN + 1], view_m[VCK_MAXN + 1]; /* each node's last view */
	uint64_t views[VCK_MAXN + 1]; /* members of view id (0 = not seen) */
	unsigned nviews;              /* distinct views after view 0 */
};

/* Zeroes v for n nodes (1..VCK_MAXN). */
void vck_init(struct vck *v, uint32_t n, bool consecutive);
/* node installed (id, m); down[q]: q has crashed. */
void vck_on_view(struct vck *v, uint32_t node, uint64_t id, uint64_t m, const bool *down,
		 char *why, size_t whylen);
/* Completeness after_ms after the heal: 0, or sim_fail's 1 with why. */
int vck_complete(const struct vck *v, const bool *down, uint64_t after_ms, char *why,
		 size_t whylen);

#endif
