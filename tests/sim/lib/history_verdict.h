/* The history checker's verdict on a simulation run's history, for every suite that records
 * one (sim_reg, sim_reg_byz, sim_lkv, sim_btob_kv, and sim_kv and sim_tob_kv through
 * kv_harness): the history text the suite appended to `hist` (an open_memstream whose buffer
 * and size are *buf and *len) is parsed and checked against `model` (src/check, with the
 * checker's 20,000-operation budget per key).
 *
 * Returns 0 when every key's history satisfies the model; else 1 with the reason in why:
 * "history does not parse: ...", "checker error N", or "<model> checker: <verdict> (<n> ops):
 * <witness>", the witness being the checker's violation message or, when it has none (an
 * unknown verdict), its text report. *violation (when not NULL) is set when the verdict is a
 * violation, so the suite can tell a broken property from a check that could not decide. */
#ifndef STRATA_TESTS_SIM_HISTORY_VERDICT_H
#define STRATA_TESTS_SIM_HISTORY_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "check/check.h"

int simh_check_history(FILE *hist, char *const *buf, const size_t *len,
		       enum strata_check_model model, char *why, size_t wl, bool *violation);

#endif
