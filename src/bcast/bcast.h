/* Stacking on a broadcast: the broadcast family's interface for upper modules.
 *
 * The book stacks algorithms: eager reliable broadcast is "uses BestEffortBroadcast, instance
 * beb", consensus "uses BestEffortBroadcast, instance beb; PerfectFailureDetector, instance P".
 * Here an upper module gets its own instance of a lower broadcast module, requests go down as a
 * call, and the lower module's Deliver indications come up to it as typed events:
 *
 *   struct bcast_lower beb;                                  in the upper's state
 *   bcast_open(node, "beb", &me->m, 0, &beb, err, errlen);   at creation: "uses beb"
 *   bcast_broadcast(&beb, bytes, len);                       trigger <beb, Broadcast | m>
 *   upon STRATA_EV_DELIVER with ev->src == beb.m and ev->instance == beb.inst:
 *       const struct strata_deliver *d = ev->body;           <beb, Deliver | d->origin, m>
 *
 * Instances and the wire. A lower module keeps one instance per user (its own delivered
 * windows, sequence numbers, pending tables) and sends its frames under its own wire id with
 * the instance id in the frame's instance field. Instance ids are BCAST_INST(upper wire id,
 * sub): the upper's wire id comes from the catalog, so every node computes the same id whatever
 * order it created its modules in, and frames of two uppers using one beb never mix. Instance 0
 * is the client-facing one (`strata bcast send --algo beb`), whose deliveries go to the client
 * adapter (strata_client_adapter). An upper that needs several instances (one per consensus
 * round, say) numbers them with `sub` (< 2^48).
 *
 * Lazy creation: a lower module creates an instance on first use, by its upper's broadcast or
 * by a peer's message for it. A peer's message for an instance whose upper module does not
 * exist on this node is dropped and counted (rej_module). Subscribers: the module whose wire id
 * the instance id carries, plus every module that bcast_open()ed the same instance (sharing).
 *
 * Ownership: bcast_broadcast copies the bytes (the caller keeps its buffer). A Deliver body's
 * data points into ev->msg and is borrowed for the handler (node.h). */
#ifndef STRATA_BCAST_BCAST_H
#define STRATA_BCAST_BCAST_H

#include <stddef.h>
#include <stdint.h>

#include "core/node.h"

#define BCAST_SUB_BITS 48
#define BCAST_INST(wire, sub) (((uint64_t)(wire) << BCAST_SUB_BITS) | (uint64_t)(sub))
#define BCAST_INST_WIRE(inst) ((uint16_t)((inst) >> BCAST_SUB_BITS))

/* What a stackable broadcast module provides (its strata_module_ops.iface). */
struct bcast_iface {
	/* Adds `upper` as a subscriber of instance inst (creating the instance). 0, STRATA_EFULL
	 * (instance table full) or STRATA_ENOMEM. */
	int (*open)(struct strata_module *m, uint64_t inst, struct strata_module *upper);
	/* <Broadcast | data> on instance inst. 0, STRATA_ETOOBIG, STRATA_EFULL, STRATA_ENOMEM or
	 * STRATA_EIO (fail-recovery algorithms that could not store). */
	int (*broadcast)(struct strata_module *m, uint64_t inst, const uint8_t *data, size_t len);
	/* Largest payload broadcast accepts. */
	size_t (*payload_max)(const struct strata_module *m);
};

/* An upper module's handle on its lower broadcast instance. */
struct bcast_lower {
	struct strata_module *m;          /* the lower module */
	const struct bcast_iface *iface;
	uint64_t inst;
};

/* "uses <algo>": finds the node's `algo` broadcast module, creating it from the catalog if the
 * node has none yet, and opens instance BCAST_INST(upper->wire_id, sub) for upper. Returns 0,
 * or STRATA_ENOENT / STRATA_EINVAL / STRATA_EMODEL / STRATA_EFULL with the reason in err. */
int bcast_open(struct strata_node *n, const char *algo, struct strata_module *upper, uint64_t sub,
	       struct bcast_lower *out, char *err, size_t errlen);
/* The same for a fail-recovery algorithm that stacks on beb over perfect links (lmv, lldc, lec).
 * The catalog refuses beb to a fail-recovery cluster's clients (BEB1 speaks of processes that
 * never crash), so this skips the cluster-model check for the lower module only; beb's
 * client-facing instance stays refused there (beb_request checks the model). Why beb + pl and
 * not the book's sbeb + sl: docs/architecture.md, "Where we departed". */
int bcast_open_under_recovery(struct strata_node *n, const char *algo,
			      struct strata_module *upper, uint64_t sub, struct bcast_lower *out,
			      char *err, size_t errlen);
/* trigger <Broadcast | data> on the lower instance. */
int bcast_broadcast(const struct bcast_lower *l, const uint8_t *data, size_t len);
size_t bcast_payload_max(const struct bcast_lower *l);
/* Whether ev is a Deliver indication of l (source module and instance match). */
bool bcast_is_deliver(const struct bcast_lower *l, const struct strata_event *ev);

#endif
