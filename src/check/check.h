/* Public API of the history checker behind `strata check`.
 *
 * A client history is a file of JSON lines in Jepsen's shape (see docs/checking.md):
 *
 *   {"process":3,"type":"invoke","f":"write","key":"x","value":"42","time":1000}
 *   {"process":3,"type":"ok","f":"write","key":"x","value":"42","time":2500}
 *
 * The checker decides whether the history is allowed by one register model, each key being an
 * independent register whose initial value is null:
 *
 *   STRATA_CHECK_ATOMIC   linearizability of a read/write/cas register (Wing & Gong search with
 *                         Lowe's memoisation, keys checked independently);
 *   STRATA_CHECK_REGULAR  a read returns the value of a write concurrent with it, or of a last
 *                         write completed before it was invoked (null if none completed);
 *   STRATA_CHECK_SAFE     a read not concurrent with any write returns a last written value.
 *
 * Exit codes of `strata check --model atomic|regular|safe FILE`, given by strata_check_exit_code():
 *   0  OK: the history satisfies the model;
 *   1  VIOLATION: it does not (the report names the key, the op and a witness);
 *   3  UNKNOWN: the time budget or the memory cap ran out before an answer (never a hang);
 *   2  is left to the CLI for usage errors and unreadable or malformed files.
 *
 * This is a tool library used by the CLI, the load client and the tests, not by protocol
 * modules: it uses stdio and reads CLOCK_MONOTONIC to enforce the time budget.
 *
 * Ownership: strata_history_load/parse allocate *out; free it with strata_history_free. A check
 * result borrows nothing from the history except through the history pointer passed back to the
 * printing functions; free it with strata_check_result_free. */
#ifndef STRATA_CHECK_CHECK_H
#define STRATA_CHECK_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct strata_history;

/* ---- history: types shared by the reader and the writer ---- */

enum strata_hist_type { STRATA_HIST_INVOKE, STRATA_HIST_OK, STRATA_HIST_FAIL, STRATA_HIST_INFO };
enum strata_hist_f { STRATA_HIST_READ, STRATA_HIST_WRITE, STRATA_HIST_CAS };

/* Bounds on what the reader accepts; a zero field means its default. */
struct strata_history_limits {
	size_t max_line_bytes;  /* default 8 MiB: a 1 MiB value fully \u-escaped still fits */
	size_t max_value_bytes; /* default 1 MiB, after unescaping; applies to keys too */
	size_t max_events;      /* default 10,000,000 lines with an op */
};

#define STRATA_HISTORY_MAX_LINE_DEFAULT ((size_t)8 << 20)
#define STRATA_HISTORY_MAX_VALUE_DEFAULT ((size_t)1 << 20)
#define STRATA_HISTORY_MAX_EVENTS_DEFAULT ((size_t)10000000)

/* Reads a history file. On error returns a negative STRATA_E* code and writes "FILE:LINE: problem"
 * (or "FILE: problem") into err (n bytes, always NUL-terminated when n > 0). limits may be NULL. */
int strata_history_load(const char *path, struct strata_history **out, char *err, size_t n);
int strata_history_load_ex(const char *path, const struct strata_history_limits *limits,
			   struct strata_history **out, char *err, size_t n);

/* Parses a history held in memory (len bytes, need not be NUL-terminated); name is used in error
 * messages and reports. Same results as strata_history_load. */
int strata_history_parse(const char *buf, size_t len, const char *name,
			 const struct strata_history_limits *limits, struct strata_history **out,
			 char *err, size_t n);

void strata_history_free(struct strata_history *h);

/* Counts, for reports and tests. */
size_t strata_history_n_events(const struct strata_history *h);
size_t strata_history_n_ops(const struct strata_history *h);
/* Lines of the nemesis ({"process":"nemesis","type":"info","f":NAME,"value":TEXT,"time":T}):
 * fault events kept for the reports; no checker looks at them. */
size_t strata_history_n_nemesis(const struct strata_history *h);
size_t strata_history_n_keys(const struct strata_history *h);
/* Operations that completed with ok (fail and info, or no completion at all, do not count). */
size_t strata_history_n_completed(const struct strata_history *h);

/* Writer, used by the load client to record a history. Appends one line to out. key must be a
 * NUL-terminated string. value: NULL means JSON null; for a cas invoke, value is the expected old
 * value and value2 the new one (the line carries [old,new]); value2 is ignored for read and write.
 * A read's invoke carries null; its ok carries the value read (NULL = never written).
 * The line is formatted in memory and written with a single fwrite, so threads sharing one FILE
 * do not interleave lines. Returns 0, STRATA_ENOMEM or STRATA_EIO. */
int strata_history_append(FILE *out, int64_t process, enum strata_hist_type type,
			  enum strata_hist_f f, const char *key, const char *value,
			  const char *value2, uint64_t time_ns);
/* Appends a nemesis event: {"process":"nemesis","type":"info","f":F,"value":VALUE,"time":T}
 * (Jepsen's :nemesis process). f: 1..31 bytes, e.g. "partition", "heal", "kill"; value: a
 * description or NULL. Returns 0, STRATA_EINVAL, STRATA_ENOMEM or STRATA_EIO. */
int strata_history_append_nemesis(FILE *out, const char *f, const char *value, uint64_t time_ns);

/* ---- checking ---- */

enum strata_check_model { STRATA_CHECK_ATOMIC, STRATA_CHECK_REGULAR, STRATA_CHECK_SAFE };

/* Ordered from best to worst: the overall verdict is the maximum over keys. A definite
 * violation outranks an unknown key. */
enum strata_check_verdict { STRATA_CHECK_OK = 0, STRATA_CHECK_UNKNOWN = 1, STRATA_CHECK_VIOLATION = 2 };

/* Why a key's answer is UNKNOWN. */
enum strata_check_why { STRATA_CHECK_WHY_NONE, STRATA_CHECK_WHY_TIME, STRATA_CHECK_WHY_MEMORY };

/* Progress of a check: called before each key is checked (keys_done keys and ops_done of their
 * ops are finished, `key` with key_ops ops comes next) and once at the end (key_ops == 0). */
typedef void (*strata_check_progress_fn)(void *arg, size_t keys_done, size_t n_keys,
					 size_t ops_done, size_t n_ops, uint32_t key, size_t key_ops);

struct strata_check_opts {
	uint64_t budget_ms;        /* total wall time for the whole history; 0 = no limit */
	size_t mem_limit_bytes;    /* per-key cap on the search's memory; 0 = default (256 MiB) */
	strata_check_progress_fn progress; /* NULL = none */
	void *progress_arg;
};

#define STRATA_CHECK_MEM_DEFAULT ((size_t)256 << 20)

struct strata_check_key {
	uint32_t key;              /* key index in the history */
	size_t n_ops;              /* ops of this key the model looked at */
	enum strata_check_verdict verdict;
	enum strata_check_why why; /* for UNKNOWN */
	uint64_t configs;          /* atomic: configurations memoised by the search */
};

/* The witness for the violating key with the fewest ops. */
struct strata_check_violation {
	uint32_t key;
	uint32_t op;               /* the op that cannot be placed (index into the history's ops) */
	uint32_t state;            /* atomic: register value (value id) after the prefix below */
	uint32_t *prefix;          /* atomic: longest linearizable prefix found, op indices in order */
	size_t n_prefix;
	uint32_t *candidates;      /* regular/safe: value ids the read was allowed to return */
	size_t n_candidates;
	char message[512];         /* one sentence explaining why the op cannot be placed */
};

struct strata_check_result {
	enum strata_check_model model;
	enum strata_check_verdict verdict;
	struct strata_check_key *keys; /* one per key of the history, in key index order */
	size_t n_keys;
	size_t n_ok, n_violation, n_unknown;
	uint64_t elapsed_ms;
	int has_violation;
	struct strata_check_violation violation;
};

/* Checks h against model m within budget_ms (0 = no limit) and the default memory cap. Fills res
 * (free with strata_check_result_free even on error). Returns 0 or STRATA_ENOMEM / STRATA_EINVAL;
 * running out of budget is not an error: the keys concerned are UNKNOWN. */
int strata_check_history(const struct strata_history *h, enum strata_check_model m,
			 uint64_t budget_ms, struct strata_check_result *res);
int strata_check_history_ex(const struct strata_history *h, enum strata_check_model m,
			    const struct strata_check_opts *opts, struct strata_check_result *res);

void strata_check_result_free(struct strata_check_result *res);

/* Human-readable report, and the same content as one JSON object (followed by a newline). */
int strata_check_print_text(FILE *out, const struct strata_history *h,
			    const struct strata_check_result *res);
int strata_check_print_json(FILE *out, const struct strata_history *h,
			    const struct strata_check_result *res);

const char *strata_check_model_name(enum strata_check_model m);
/* Parses "atomic" (also "linearizable"), "regular", "safe"; returns 0 or STRATA_EINVAL. */
int strata_check_model_parse(const char *s, enum strata_check_model *m);
const char *strata_check_verdict_name(enum strata_check_verdict v);
/* 0 ok, 1 violation, 3 unknown. */
int strata_check_exit_code(enum strata_check_verdict v);

#endif
