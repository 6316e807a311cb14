/* The failure-detection family: P (fd/p.c), <>P (fd/evp.c), monarchical leader election
 * (fd/le.c) and Omega (fd/omega.c). See docs/failure-detectors.md.
 *
 * Every node runs exactly one detector and one leader module, chosen by the model:
 *   fail-stop                      -> "p"   (Alg. 2.5) + "le"    (Alg. 2.6)
 *   fail-recovery                  -> "evp" (Alg. 2.7, observes) + "ele" (Alg. 2.9)
 *   every other model              -> "evp" (Alg. 2.7) + "omega" (Alg. 2.8)
 * Under fail-silent, fail-arbitrary and randomized (and <>P under fail-recovery) the algorithms
 * of the cluster do not rely on them: <>P and Omega then only observe, for `strata status` and `strata watch`.
 *
 * Roles: the detector registers itself as STRATA_ROLE_FD, the leader module as
 * STRATA_ROLE_LEADER (core/node.h). Upper modules subscribe to them and receive:
 *   P:      STRATA_EV_CRASH   peer           - peer's current incarnation crashed (permanent)
 *           STRATA_EV_RESTORE peer, arg=inc  - peer came back as a NEW process (new incarnation);
 *                                              a CRASH for its previous incarnation always
 *                                              precedes it
 *   <>P:    STRATA_EV_SUSPECT peer / STRATA_EV_RESTORE peer, arg = incarnation
 *   LE/Omega: STRATA_EV_LEADER peer = leader (0 = none)
 * Both detectors also keep the node's view (strata_node_set_peer_state), which emits the
 * STRATA_OUT_FD outputs clients watch; both leader modules call strata_node_set_leader. */
#ifndef STRATA_FD_FD_H
#define STRATA_FD_FD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/node.h"

/* Creates the detector and the leader module the node's model calls for (called by
 * strata_stack_build). 0, or STRATA_ECONFIG with a reason in err. */
int strata_fd_build(struct strata_node *n, char *err, size_t errlen);

/* Constructors (also the family table's create functions). Each adds its module to the node and
 * sets its role; le and omega subscribe to the detector already in STRATA_ROLE_FD, so the
 * detector must be created first. */
struct strata_module *strata_fd_p_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *strata_fd_evp_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *strata_fd_le_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *strata_fd_omega_create(struct strata_node *n, char *err, size_t errlen);
/* Elect Lower Epoch (Alg. 2.9), the crash-recovery Omega (fd/ele.c): the leader module of a
 * fail-recovery node (lldc's logged epoch change stands on it). */
struct strata_module *strata_fd_ele_create(struct strata_node *n, char *err, size_t errlen);
/* Rotating Byzantine Leader Detection (Alg. 2.10), fd/bld.c: the fail-arbitrary model's leader
 * detector, created by whoever stands on it (not by strata_fd_build; the node's leader role
 * stays with Omega, which only observes there). Trust is STRATA_EV_LEADER (peer = leader,
 * instance = round). Refuses N <= 3f. */
struct strata_module *strata_fd_bld_create(struct strata_node *n, char *err, size_t errlen);
/* <bld, Complain | p>: 0 if the complaint went out, STRATA_ESTATE if ignored (p is not the
 * current leader, or this process complained already in this round). */
int strata_fd_bld_complain(struct strata_module *bld, uint32_t p);
uint64_t strata_fd_bld_round(const struct strata_module *bld);
/* TEST ONLY: bld moves to the next leader after k complaints instead of 2f + 1 (the simulation
 * suite's broken variant uses k = 1: it obeys one complaint). */
void strata_fd_bld_test_move_at(struct strata_module *bld, uint32_t k);
/* TEST ONLY (broken variant): a complaint the links refuse is lost, not owed and sent again. */
void strata_fd_bld_test_no_owed(struct strata_module *bld);
/* TEST ONLY: ele trusts itself whatever it hears (the simulation suite's broken variant). */
void strata_fd_ele_test_trust_self(struct strata_module *ele);

/* <>P's current timeout for peer, in microseconds (for status and tests). */
uint64_t strata_fd_evp_timeout_us(const struct strata_module *evp, uint32_t peer);

/* TEST ONLY. Makes a leader module (le or omega) ignore its detector: it then elects the
 * highest-ranked node of all, crashed or suspected ones included. The simulation suites use it
 * to watch their leadership checkers catch a broken leader module. Never called by stratad. */
void strata_fd_leader_test_ignore_detector(struct strata_module *leader, bool on);

/* ---- Internal to src/fd: heartbeats shared by P and <>P (fd/heartbeat.c) ---- */

/* A heartbeat: the sender's incarnation and a sequence number, strictly increasing within one
 * incarnation (so duplicates and reordered stale copies are recognised). */
struct fd_heartbeat {
	uint64_t incarnation;
	uint64_t seq;
};

/* Sends one heartbeat over fair-loss links to every peer but self. */
void fd_heartbeat_send_all(struct strata_module *m, uint64_t seq);
/* Sends one heartbeat to `to` only. The detectors answer a new incarnation at once: the link
 * layer drops datagrams addressed to a node's earlier incarnation, so a restarted node hears
 * nothing from a peer until that peer has heard from it; answering at once makes that handshake
 * cost two one-way delays instead of two delays plus a heartbeat period. */
void fd_heartbeat_send(struct strata_module *m, uint32_t to, uint64_t seq);
/* Decodes ev->msg; 0, or STRATA_EPROTO after reporting the payload as malformed. */
int fd_heartbeat_decode(struct strata_module *m, const struct strata_event *ev,
			struct fd_heartbeat *hb);

/* What a detector remembers about one peer's heartbeat stream. */
struct fd_stream {
	uint64_t incarnation; /* of the last heartbeat accepted, 0 = none yet */
	uint64_t seq;         /* highest seq accepted from that incarnation */
};

enum fd_hb_verdict {
	FD_HB_FRESH,   /* newer than anything heard from this incarnation: proof of life */
	FD_HB_STALE,   /* a duplicate, a reordered older copy or an earlier incarnation: ignore */
	FD_HB_NEW_INC, /* from a later incarnation than the stream's: a new process */
	FD_HB_FIRST,   /* the first heartbeat ever heard from this peer */
};
/* Classifies hb against the stream and, unless stale, advances the stream. */
enum fd_hb_verdict fd_stream_accept(struct fd_stream *s, const struct fd_heartbeat *hb);

/* A peer's deadline timer t just fired. If it fired more than one heartbeat period late, this
 * process was not running (stopped, starved) and the silence it measured is its own: re-arms t
 * for a full timeout and returns true (the caller must not detect or suspect). */
bool fd_deadline_stalled(struct strata_module *m, struct strata_timer *t, uint64_t period_us,
			 uint64_t timeout_us);

/* Emits STRATA_OUT_FD for peer with state s and incarnation inc without changing the view (used
 * when a peer's incarnation changes while its state does not). */
void fd_output_view(struct strata_module *m, uint32_t peer, enum strata_peer_state s,
		    uint64_t inc);

/* ---- Internal: the monarchical leader core shared by le and omega (fd/leader.c) ---- */

/* rank: node 1 has the highest rank, then 2, ... (the book's maxrank picks node 1 first). */
struct fd_leader {
	struct strata_module base;
	bool *out;     /* out[p]: p crashed (le) or suspected (omega); n + 1 entries */
	uint32_t leader;
	bool ignore_detector; /* test-only, see above */
};

struct fd_leader *fd_leader_new(struct strata_node *n, const struct strata_module_ops *ops,
				uint16_t wire_id, char *err, size_t errlen);
/* Recomputes maxrank(Pi \ out) and, on a change, sets the node's leader and indicates LEADER. */
void fd_leader_update(struct fd_leader *l);
void fd_leader_destroy(struct strata_module *m);

#endif
