/* Consensus decision logs: a writer and an offline checker.
 *
 * A node that runs consensus (the daemon with --cons-log DIR) records what it proposed and what
 * it decided in one text file per node and algorithm, <DIR>/<algo>/node-<ID>.log:
 *
 *     # node <ID> n <N> algo <NAME>       header, always the first line
 *     p <instance> <value-hex>            this node proposed (a client's proposal)
 *     d <instance> <value-hex>            this node decided
 *
 * Tokens are separated by one space; values are lowercase hex ("-" for an empty value). Lines
 * starting with '#' after the header are comments. Each line is flushed when written, so a node
 * killed with SIGKILL leaves a log that ends on a complete line; a restarted daemon keeps the
 * earlier life's log as node-<ID>.log.before-<incarnation> and the checker reads those too (a
 * process that recovers is the same process in the fail-recovery model: its decisions in every
 * life count).
 *
 * The checker decides, from the logs alone:
 *   validity          - every decided value was proposed on that instance by some node;
 *   integrity         - no node decides an instance twice in one life, nor differently across
 *                       lives;
 *   agreement         - no two correct nodes (not named crashed) decide an instance differently;
 *   uniform agreement - no two nodes at all do.
 * This is an offline tool: it reads and writes files, depends on libc and core/error.h only. */
#ifndef STRATA_CHECK_CONS_LOG_H
#define STRATA_CHECK_CONS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STRATA_CONS_MAX_NODES 64
#define STRATA_CONS_VALUE_MAX (1u << 20)
#define STRATA_CONS_EVENTS_MAX (1u << 20) /* lines per directory */

struct strata_cons_log;

/* Creates (truncates) <dir>/node-<node>.log with its header. *out is closed with
 * strata_cons_log_close. 0, or a STRATA_E* code with err filled. */
int strata_cons_log_open(const char *dir, uint32_t node, uint32_t n, const char *algo,
			 struct strata_cons_log **out, char *err, size_t errlen);
int strata_cons_log_propose(struct strata_cons_log *log, uint64_t instance, const uint8_t *v,
			    size_t len);
int strata_cons_log_decide(struct strata_cons_log *log, uint64_t instance, const uint8_t *v,
			   size_t len);
int strata_cons_log_close(struct strata_cons_log *log);
const char *strata_cons_log_error(const struct strata_cons_log *log);

enum strata_cons_prop {
	STRATA_CONS_VALIDITY = 1u << 0,
	STRATA_CONS_INTEGRITY = 1u << 1,
	STRATA_CONS_AGREEMENT = 1u << 2,
	STRATA_CONS_UNIFORM = 1u << 3,
	STRATA_CONS_ALL = 0xfu,
};

struct strata_cons_report {
	unsigned nodes, lives;        /* node ids seen, log files read */
	uint64_t proposals, decisions, instances;
	unsigned failed;              /* properties violated (enum strata_cons_prop bits) */
	char why[512];                /* the first violation, or a parse error */
};

/* Reads every node-*.log (and node-*.log.before-*) in dir and checks props, with crashed[id]
 * true for nodes that crashed (agreement ignores them). Returns 0 when every property holds,
 * 1 when one is violated (report->why says which and where), or a negative STRATA_E* code when
 * the logs cannot be read (report->why says why). */
int strata_cons_check_dir(const char *dir, const bool *crashed, unsigned props,
			  struct strata_cons_report *report);

#endif
