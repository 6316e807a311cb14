/* The consensus variants of the book's chapter 6 (docs/consensus-variants.md): non-blocking
 * atomic commit (nbac.c, Alg. 6.6), terminating reliable broadcast (trb.c, Alg. 6.3) and group
 * membership (gm.c, Alg. 6.7), each over the perfect failure detector P and uniform consensus
 * (one instance space of the node's uhier each, cons.h). Catalog rows and constructors are in
 * variants.c (family "variants"). */
#ifndef STRATA_CONS_VARIANTS_H
#define STRATA_CONS_VARIANTS_H

#include "core/node.h"

/* Wire ids (cons range 176-207). */
enum variants_wire {
	VAR_WIRE_NBAC = 200,
	VAR_WIRE_TRB = 201,
	VAR_WIRE_GM = 202,
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

#endif
