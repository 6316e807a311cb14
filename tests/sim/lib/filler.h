/* The backlog filler: a test module that fills the perfect links' backlog from its node toward
 * one peer with traffic of its own, shared by the simulation suites that check what a module
 * does with a send the links refuse (tests/sim/sim_cons.c, sim_cons_ld.c).
 *
 * The links queue at most `[links] backlog_bytes` of payload toward a peer, whoever sends it,
 * and refuse (STRATA_EFULL) a message that does not fit. A small message (an ACK of 1 byte, a
 * NACK of 9) is refused only when the backlog is full to its last bytes, which a module's own
 * larger messages rarely leave it: the filler stands in for the node's other traffic toward
 * that peer and fills it exactly. A request (op READ, r = the peer; the link toward it cut
 * beforehand, or the frames are acknowledged at once) sends messages of SIM_FILLER_CHUNK bytes,
 * then smaller ones, until not one byte more fits (strata_pl_room), and is replied to at once
 * (status 0). Deliveries of the filler's frames are ignored: once the link
 * is up again they are acknowledged and the backlog drains as with any traffic. Stateless.
 *
 * Use, in a suite's node build callback:  sim_filler_add(n);   (every node: the receiver needs
 * the module its frames name) and to fill node q's backlog toward p:
 *     sim_filler_fill(s, q, req_id, p);
 * the request with id req_id is replied to at once; the suite filters that reply. */
#ifndef STRATA_TESTS_SIM_FILLER_H
#define STRATA_TESTS_SIM_FILLER_H

#include <stdint.h>

#include "core/node.h"
#include "rt/sim/sim.h"

#define SIM_FILLER_NAME "filler"
#define SIM_FILLER_WIRE 248
#define SIM_FILLER_CHUNK 64u

struct strata_module *sim_filler_add(struct strata_node *n);
void sim_filler_fill(struct sim *s, uint32_t q, uint64_t req_id, uint32_t peer);

#endif
