/* Algorithms and the module stack a node runs.
 *
 * The catalog (src/stack/catalog.c): each family (fd, bcast, reg, lkv, cons, smr) publishes a
 * table of the algorithms it implements: name, the book's number, system model, resilience,
 * cost, wire id. It is data: the `strata` client links it and no protocol code. Constructors
 * live apart, in each family's ctors.c, and only stack builders (src/stack/build.c: the daemon,
 * the simulator) link them. A new family adds its metadata table to catalog.c's list and its
 * constructor table to build.c's list. strata_stack_build()
 * wires a node from the config: the failure detector and leader module the model calls for, then
 * every algorithm of the other families that the cluster's model and size can run (so a client
 * can pick any of them with --algo). The daemon refuses a config whose named algorithms
 * (reg_algo, bcast_algo) need more than the model gives, and says why.
 *
 * Wire ids are assigned in the catalog rows and nowhere else (no family header defines one, and
 * there are no per-family ranges): a module asks the catalog for its id at construction
 * (strata_wire_id, below). A new algorithm takes any id in 1-223 that no row claims (224-255 are
 * left to test modules); where an id sits says nothing about the family (ltob's 215 is the id
 * it had when it was pinned, and stays). tests/unit/test_catalog.c checks that no two
 * algorithms claim one id, that pinned ids never change (they are on the wire), and that every
 * module a node builds carries the id its catalog row gives. */
#ifndef STRATA_CORE_STACK_H
#define STRATA_CORE_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/node.h"

struct strata_algo {
	const char *name;     /* "nnar": what --algo takes, also the module's ops->name */
	const char *family;   /* "fd", "bcast", "reg", "lkv", "cons" */
	const char *title;    /* "Read-Impose Write-Consult-Majority, (N,N) atomic register" */
	const char *book;     /* "Alg. 4.10-4.11" */
	enum strata_model model;
	unsigned resilience_k; /* needs n > k*f; 0 = any f < n */
	const char *steps;    /* communication steps per operation, e.g. "write 4, read 4" */
	const char *messages; /* messages per operation, e.g. "write 4N, read 4N" */
	uint16_t wire_id;
	uint8_t wire_span;    /* wire ids its modules use: wire_id .. wire_id + span - 1 (private
			       * lower modules of a composition); 0 means 1 */
	uint16_t wire_also[2]; /* other wire ids of modules its constructor creates (shared lower
				* modules such as ldc's epoch change), 0 = none. A peer's frame
				* for one of them creates the algorithm on first use. */
	bool single_writer;   /* writes only at cfg->writer (the CLI routes them there) */
};

/* A constructor, kept apart from the catalog row (family ctors.c files): creates the module,
 * adds it to the node and subscribes it to what it needs (found through strata_node_role,
 * bcast_open or by name). NULL with a reason in err on failure. */
struct strata_ctor {
	const char *name;
	struct strata_module *(*create)(struct strata_node *n, char *err, size_t errlen);
};

/* Family tables, each terminated by an entry with name == NULL. */
const struct strata_algo *strata_fd_algos(void);
const struct strata_algo *strata_bcast_algos(void);
const struct strata_algo *strata_reg_algos(void);
const struct strata_algo *strata_bcast_byz_algos(void); /* family "bcast", Byzantine ones */
const struct strata_algo *strata_reg_byz_algos(void);   /* family "reg", Byzantine ones */
const struct strata_algo *strata_lkv_algos(void);       /* family "lkv" */
const struct strata_algo *strata_cons_algos(void);      /* family "cons" */
const struct strata_algo *strata_smr_algos(void);       /* family "smr" */
const struct strata_algo *strata_jh_algos(void);        /* family "jh" (local, wire id 0) */
const struct strata_algo *strata_variants_algos(void);  /* family "variants" (chapter 6) */

/* Family constructor tables (terminated by name == NULL), linked only by stack builders. */
const struct strata_ctor *strata_fd_ctors(void);
const struct strata_ctor *strata_bcast_ctors(void); /* bcast, Byzantine ones included */
const struct strata_ctor *strata_reg_ctors(void);   /* reg, Byzantine ones included */
const struct strata_ctor *strata_lkv_ctors(void);
const struct strata_ctor *strata_cons_ctors(void);
const struct strata_ctor *strata_smr_ctors(void);
const struct strata_ctor *strata_jh_ctors(void);
const struct strata_ctor *strata_variants_ctors(void);

/* Creates algorithm a's module on n through its family's constructor table (src/stack/build.c).
 * NULL with a reason in err on failure. */
struct strata_module *strata_algo_create(const struct strata_algo *a, struct strata_node *n,
					 char *err, size_t errlen);

/* Looks an algorithm up by name, or by an alias (causal = wcb, reliable = erb, uniform = urb,
 * best-effort = beb, bracha = brb, atomic = nnar, regular = mv, flooding = flood,
 * hierarchical = hier), across all families; NULL if
 * unknown. Modules are named by a->name. */
const struct strata_algo *strata_algo_find(const char *name);
/* Wire ids come from the catalog and from nowhere else: a module takes its id at construction
 * from its algorithm's row, by name (a composition's private lower modules take the ids of its
 * span, wire_id + 1 .., from its own row; a shared lower module such as ldc's epoch change takes
 * its id from wire_also of the algorithm that lists it). strata_wire_id(name) is the row's
 * wire_id, strata_wire_also(name, k) its wire_also[k]; both assert that the row exists and has
 * that id (asking for an id the catalog does not list is a programming error). */
uint16_t strata_wire_id(const char *name);
uint16_t strata_wire_also(const char *name, unsigned k);
/* Calls fn for every algorithm of every family (or of `family` if not NULL). */
void strata_algo_foreach(const char *family, void (*fn)(const struct strata_algo *a, void *arg),
			 void *arg);

/* Whether the cluster can run algorithm a; writes the reason into err if not. */
int strata_algo_check(const struct strata_algo *a, const struct strata_config *cfg, char *err,
		      size_t errlen);

/* Validates the config's named algorithms (reg_algo, bcast_algo): unknown names and model or
 * resilience mismatches are errors with a clear reason. */
int strata_stack_check_config(const struct strata_config *cfg, char *err, size_t errlen);

/* Builds the whole stack on a fresh node. */
int strata_stack_build(struct strata_node *n, char *err, size_t errlen);

#endif
