/* The consensus variants of the book's chapter 6 (docs/consensus-variants.md): non-blocking
 * atomic commit (nbac.c, Alg. 6.6), terminating reliable broadcast (trb.c, Alg. 6.3) and group
 * membership (gm.c, Alg. 6.7), uniform fast consensus (fast.c, Alg. 6.4), each over uniform
 * consensus (and, but for fast.c, the perfect failure detector P)
 * (one instance space of the node's uhier each, cons.h). Catalog rows and constructors are in
 * variants.c (family "variants"). */
#ifndef STRATA_CONS_VARIANTS_H
#define STRATA_CONS_VARIANTS_H

#include "core/node.h"

/* Indications inside the family (variants range 390-399). */
enum variants_ev {
	VAR_EV_VIEW = 390, /* gm -> its upper: <gm, View | (id, M)>, instance = id, arg = M */
};

/* The uniform consensus the variants stand on (fail-stop, any f < N). */
#define VAR_UC "uhier"

struct strata_module *var_nbac_create(struct strata_node *n, char *err, size_t errlen);
/* TEST ONLY: nbac proposes COMMIT to consensus when a transaction has not collected every vote
 * `ms` milliseconds after this process first heard of it (the simulation suite's broken variant:
 * "commit on a timeout"). Never called by stratad. */
void var_nbac_test_commit_timeout(struct strata_module *m, uint64_t ms);

struct strata_module *var_trb_create(struct strata_node *n, char *err, size_t errlen);
/* TEST ONLY: trb delivers the sender's message as soon as beb delivers it, without consensus
 * (the broken variant: a sender that crashes while broadcasting leaves some processes with m and
 * the others with SF). Never called by stratad. */
void var_trb_test_direct(struct strata_module *m);
struct strata_module *var_gm_create(struct strata_node *n, char *err, size_t errlen);
/* TEST ONLY: gm installs its own proposal at once, without consensus (the broken variant: two
 * processes told of two crashes in different orders install different views). */
void var_gm_test_local(struct strata_module *m);
/* "uses GroupMembership gm": the node's gm (created if it has none), which from now on raises
 * VAR_EV_VIEW at upper for each view it installs. 0, or a STRATA_E* code with err. */
int var_gm_open(struct strata_node *n, struct strata_module *upper, struct strata_module **gm,
		char *err, size_t errlen);
/* The members of view id installed at gm (0 if gm has not installed it). */
uint64_t var_gm_view(const struct strata_module *gm, uint64_t id);

/* Consensus-based uniform view synchrony (uvs.c, Alg. 6.10-6.11). */
struct strata_module *var_uvs_create(struct strata_node *n, char *err, size_t errlen);
/* TEST ONLY: uvs delivers a DATA of an earlier view in the current one (the broken variant:
 * "delivers a message in a later view"). Never called by stratad. */
void var_uvs_test_late(struct strata_module *m);
/* TEST ONLY: a uvs sender delivers its own message at once instead of once every member of the
 * view relayed it (the broken variant of uniform agreement: it may crash before anyone else has
 * the message). Never called by stratad. */
void var_uvs_test_early(struct strata_module *m);

/* TRB-based view synchrony (vs.c, Alg. 6.8-6.9), over gm, beb, P and uhier. */
struct strata_module *var_vs_create(struct strata_node *n, char *err, size_t errlen);
/* TEST ONLY: vs delivers a DATA of an earlier view in the current one (the broken variant).
 * Never called by stratad. */
void var_vs_test_late(struct strata_module *m);

/* Uniform fast consensus (fast.c, Alg. 6.4) over uhier or uflood: family "cons" in the catalog,
 * so that `strata consensus propose --algo fast-uhier` reaches it. */
struct strata_module *var_fast_uhier_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *var_fast_uflood_create(struct strata_node *n, char *err, size_t errlen);
/* TEST ONLY: decide on the fast path when `quorum` of the first N - f PROPOSALs are equal
 * instead of all N - f (the broken variant: quorum N - 2f). Never called by stratad. */
void var_fast_test_quorum(struct strata_module *m, uint32_t quorum);
/* Fast Byzantine consensus (fast.c, Alg. 6.5) over strong Byzantine consensus (sbc.c, Alg.
 * 5.20): family "cons", fail-arbitrary, N > 5f. */
struct strata_module *var_fast_sbc_create(struct strata_node *n, char *err, size_t errlen);
/* TEST ONLY: the same module stacked directly on bldc (weak validity): the broken variant whose
 * counterexample docs/consensus-variants.md describes. Never called by stratad. */
struct strata_module *var_fast_sbc_test_over_bldc(struct strata_node *n, char *err, size_t errlen);
/* TEST ONLY: fast-sbc equivocates (v to odd processes, z'v to even ones and to the consensus
 * below) while the node's other modules stay honest. Never called by stratad. */
void var_fast_test_equivocate(struct strata_module *m);
/* TEST ONLY (broken variant): a fast-sbc PROPOSAL the links refuse is lost, not owed and sent
 * again; and how many the links refused (owed). Never called by stratad. */
void var_fast_test_no_owed(struct strata_module *m);
uint64_t var_fast_test_owed(struct strata_module *m);

#endif
