/* Test-only helpers of the register simulation suite (tests/sim/sim_reg.c).
 *
 * reg_binmvr: the lecture notes' multi-valued register built from binary registers (seed notes,
 * "An unsafe register"): a value in [0, 11] is written as four bits b0..b3, one binary register
 * each, written in order; a read reads b0..b3 in order and assembles them. Each binary register
 * is an instance of a private Majority Voting register (regular) driven through the register
 * port, so the construction is built exactly as the notes build it. A read concurrent with a
 * write can assemble bits of two different values — a value nobody wrote, or one outside the
 * domain — which the regular checker must reject. Deliberately broken: never used by stratad. */
#ifndef STRATA_TESTS_SIM_REG_SIM_H
#define STRATA_TESTS_SIM_REG_SIM_H

#include "core/node.h"

#define REG_BINMVR_WIRE 240 /* test range; the private mv takes 241 */

struct strata_module *reg_binmvr_create(struct strata_node *n, char *err, size_t errlen);

/* reg_garbage: stands in for a register module (same name and wire id) on a faulty node and
 * sends its peers malformed register payloads every millisecond: random bytes, truncated or
 * bit-flipped well-formed messages, keys that do not match the instance hash, bottom values
 * carrying data. The peers must count and drop them, never crash, and keep serving. */
struct strata_module *reg_garbage_create(struct strata_node *n, const char *name, uint16_t wire_id);

#endif
