/* Omega, the eventual leader detector: Monarchical Eventual Leader Detection (the book's
 * Alg. 2.8), over <>P, model fail-noisy.
 *
 * Specification (module Omega, instance "omega"):
 *   Indication: <Omega, Trust | p> - p is trusted to be the leader.
 *   ELD1 Eventual accuracy: there is a time after which every correct process trusts some
 *        correct process.
 *   ELD2 Eventual agreement: there is a time after which no two correct processes trust
 *        different correct processes.
 *
 * The trusted leader is maxrank(Pi \ suspected) with node 1 ranked highest, recomputed on every
 * Suspect and Restore of <>P: once <>P stops making mistakes, every correct node trusts the
 * lowest-numbered correct node. No message beyond <>P's heartbeats. Faithful; O(n) memory
 * (fd/leader.c). Trust is raised as STRATA_EV_LEADER and shown through strata_node_set_leader;
 * the epoch is 0 (Omega has none; the fail-recovery Alg. 2.9 would add one). */
#include "core/stack.h"
#include "fd/fd.h"

static void omega_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct fd_leader *l = (struct fd_leader *)m;
	switch (ev->type) {
	case STRATA_EV_INIT:
		break; /* the initial maxrank(Pi) = node 1 */
	case STRATA_EV_SUSPECT:
	case STRATA_EV_CRASH:
		l->out[ev->peer] = true;
		break;
	case STRATA_EV_RESTORE:
		l->out[ev->peer] = false;
		break;
	case STRATA_EV_FLL_DELIVER:
	case STRATA_EV_SL_DELIVER:
	case STRATA_EV_PL_DELIVER:
		strata_node_bad_payload(m->node, m, ev->peer, "omega sends no messages");
		return;
	default:
		return;
	}
	fd_leader_update(l);
}

static const struct strata_module_ops omega_ops = {
	.name = "omega", .handle = omega_handle, .destroy = fd_leader_destroy,
};

struct strata_module *strata_fd_omega_create(struct strata_node *n, char *err, size_t errlen)
{
	struct fd_leader *l = fd_leader_new(n, &omega_ops, strata_wire_id("omega"), err, errlen);
	return l ? &l->base : NULL;
}
