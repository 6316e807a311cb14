/* The monarchical leader core shared by LE (fd/le.c, over P) and Omega (fd/omega.c, over <>P):
 * the leader is maxrank(Pi \ out), where out is the set of processes the detector currently
 * excludes (crashed for P, suspected for <>P). Rank: node 1 is highest, then 2, 3, ...
 * O(n) memory: one flag per process. */
#include <stdio.h>
#include <stdlib.h>

#include "core/assert.h"
#include "fd/fd.h"

struct fd_leader *fd_leader_new(struct strata_node *n, const struct strata_module_ops *ops,
				uint16_t wire_id, char *err, size_t errlen)
{
	struct strata_module *fd = strata_node_role(n, STRATA_ROLE_FD);
	if (!fd) {
		snprintf(err, errlen, "%s needs a failure detector: create it first", ops->name);
		return NULL;
	}
	struct fd_leader *l = calloc(1, sizeof(*l));
	bool *out = calloc(strata_node_n(n) + 1, sizeof(*out));
	if (!l || !out) {
		free(l);
		free(out);
		snprintf(err, errlen, "%s: out of memory", ops->name);
		return NULL;
	}
	l->out = out;
	strata_node_add_module(n, &l->base, ops, wire_id);
	strata_module_subscribe(fd, &l->base);
	strata_node_set_role(n, STRATA_ROLE_LEADER, &l->base);
	return l;
}

void fd_leader_update(struct fd_leader *l)
{
	struct strata_node *n = l->base.node;
	uint32_t leader = 0;
	for (uint32_t p = 1; p <= strata_node_n(n) && !leader; p++)
		if (l->ignore_detector || !l->out[p])
			leader = p;
	if (leader == l->leader)
		return;
	strata_trace(n, l->base.ops->name, "maxrank of the trusted changed -> leader %u (was %u)",
		     leader, l->leader);
	l->leader = leader;
	strata_node_set_leader(n, &l->base, leader);
	strata_indicate(&l->base, STRATA_EV_LEADER, leader, 0, 0, NULL);
}

void fd_leader_destroy(struct strata_module *m)
{
	struct fd_leader *l = (struct fd_leader *)m;
	free(l->out);
	free(l);
}

void strata_fd_leader_test_ignore_detector(struct strata_module *m, bool on)
{
	STRATA_ASSERT(m && m->ops->destroy == fd_leader_destroy);
	struct fd_leader *l = (struct fd_leader *)m;
	l->ignore_detector = on;
	fd_leader_update(l);
}
