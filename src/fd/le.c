/* Leader election: Monarchical Leader Election (the book's Alg. 2.6), over P, model fail-stop.
 *
 * Specification (module LE, instance "le"):
 *   Indication: <le, Leader | p> - p is elected as the leader.
 *   LE1 Eventual detection: either there is no correct process, or some correct process is
 *       eventually elected as the leader.
 *   LE2 Accuracy: if a process is leader, then all previously elected leaders have crashed.
 *
 * The leader is maxrank(Pi \ crashed) with node 1 ranked highest (then 2, 3, ...), so every node
 * computes the same leader from the same detections: node 1 leads while it lives. It costs no
 * message beyond P's heartbeats. Faithful; O(n) memory (fd/leader.c).
 *
 * Departure: restarts. The book's processes never recover. When P restores a peer that came
 * back with a new incarnation, that peer is a new process and takes its rank again, so a
 * restarted node 1 becomes leader again even though the leader it replaces is alive. LE2 holds
 * for the processes (incarnations) of a run without restarts; with restarts it holds between
 * restorations, which is what the fail-stop reading of "new process" gives. */
#include "core/stack.h"
#include "fd/fd.h"

static void le_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct fd_leader *l = (struct fd_leader *)m;
	switch (ev->type) {
	case STRATA_EV_INIT:
		break; /* the initial maxrank(Pi) = node 1 */
	case STRATA_EV_CRASH:
		l->out[ev->peer] = true;
		break;
	case STRATA_EV_RESTORE:
		l->out[ev->peer] = false;
		break;
	case STRATA_EV_FLL_DELIVER:
	case STRATA_EV_SL_DELIVER:
	case STRATA_EV_PL_DELIVER:
		strata_node_bad_payload(m->node, m, ev->peer, "le sends no messages");
		return;
	default:
		return;
	}
	fd_leader_update(l);
}

static const struct strata_module_ops le_ops = {
	.name = "le", .handle = le_handle, .destroy = fd_leader_destroy,
};

struct strata_module *strata_fd_le_create(struct strata_node *n, char *err, size_t errlen)
{
	struct fd_leader *l = fd_leader_new(n, &le_ops, strata_wire_id("le"), err, errlen);
	return l ? &l->base : NULL;
}
