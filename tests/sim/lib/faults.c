/* Fault steps shared by the crash-model simulation suites; see faults.h. */
#include "faults.h"

#include "core/assert.h"
#include "oracle.h"

uint32_t simf_pick_up(struct sim *s, uint32_t n, const bool *down)
{
	STRATA_ASSERT(n <= 64);
	uint32_t up[64], k = 0;
	for (uint32_t q = 1; q <= n; q++)
		if (!down[q])
			up[k++] = q;
	return k ? up[sim_random_below(s, k)] : 0;
}

void simf_partition_step(struct sim *s, uint32_t n, bool *parted, double part_p, bool cuts)
{
	if (!*parted && part_p > 0 && sim_random_unit(s) < part_p) {
		if (!cuts || sim_random_below(s, 2)) {
			uint64_t a = 0;
			for (uint32_t q = 1; q <= n; q++)
				if (sim_random_below(s, 2))
					a |= 1ull << q;
			sim_partition(s, a, ((1ull << (n + 1)) - 2) & ~a);
		} else {
			uint32_t a = 1 + (uint32_t)sim_random_below(s, n);
			uint32_t b = 1 + (uint32_t)sim_random_below(s, n);
			if (a != b)
				sim_link(s, a, b, false);
		}
		*parted = true;
	} else if (*parted && sim_random_unit(s) < 0.15) {
		sim_heal(s);
		*parted = false;
	}
}

void simf_crash(struct sim *s, uint32_t n, bool *down, const uint32_t *ids, unsigned k,
		simf_req_fn req, void *arg)
{
	STRATA_ASSERT(k == 1 || k == 2);
	for (unsigned i = 0; i < k; i++) {
		STRATA_ASSERT(ids[i] >= 1 && ids[i] <= n);
		sim_crash(s, ids[i]);
		down[ids[i]] = true;
	}
	if (!req)
		return;
	for (uint32_t q = 1; q <= n; q++) {
		if (down[q])
			continue;
		bool swap = k == 2 && sim_random_below(s, 2) == 1;
		sim_oracle_tell(s, q, req(arg, q), ids[swap ? 1 : 0]);
		if (k == 2)
			sim_oracle_tell(s, q, req(arg, q), ids[swap ? 0 : 1]);
	}
}
