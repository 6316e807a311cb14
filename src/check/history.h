/* Internal representation of a parsed client history, shared by the reader (history.c) and the
 * checkers (linearizable.c, regular.c). The CLI only needs check.h.
 *
 * A history is kept twice: as events (one per non-blank line, for reports) and as operations
 * (an invoke paired with its completion, for checking). Keys and values are interned: an op
 * refers to them by small integers, so the checkers compare registers by integer equality.
 * Value id 0 is JSON null (the initial value of every register); string values start at 1. */
#ifndef STRATA_CHECK_HISTORY_H
#define STRATA_CHECK_HISTORY_H

#include "check/check.h"

#include <stdint.h>

#define STRATA_HIST_NULL 0u          /* value id of null */
#define STRATA_HIST_NONE UINT32_MAX  /* no event / no value */
#define STRATA_HIST_INF UINT64_MAX   /* return time of an op whose outcome is unknown */

/* Outcome of an operation: how its invoke was completed. */
enum strata_hist_outcome { STRATA_HIST_OUT_OK, STRATA_HIST_OUT_FAIL, STRATA_HIST_OUT_INFO };

struct strata_hist_str {
	char *s;    /* NUL-terminated copy; may also contain NULs (from \u0000): use len */
	size_t len;
};

/* One line of the file. */
struct strata_hist_event {
	int64_t process;
	uint64_t time_ns;
	uint32_t line;    /* 1-based line number in the file */
	uint32_t key;     /* key index */
	uint32_t value;   /* value id, or for cas the expected old value; NONE if absent */
	uint32_t value2;  /* cas: the new value; NONE otherwise */
	uint32_t op;      /* the op this line belongs to */
	uint8_t type;     /* enum strata_hist_type */
	uint8_t f;        /* enum strata_hist_f */
	uint8_t vkind;    /* how "value" was written: STRATA_HIST_V_* */
};

enum { STRATA_HIST_V_ABSENT, STRATA_HIST_V_SCALAR, STRATA_HIST_V_PAIR };

/* One operation: an invoke and the ok/fail/info that completed it. An invoke still pending at the
 * end of the file is treated as info (its outcome is unknown). */
struct strata_hist_op {
	int64_t process;  /* as written in the file */
	uint32_t lproc;   /* logical process: a new one after each info of the same process */
	uint32_t key;
	uint32_t arg;     /* write: the value; cas: the expected old value; read: NONE */
	uint32_t arg2;    /* cas: the new value; NONE otherwise */
	uint32_t result;  /* ok read: the value read; NONE otherwise */
	uint64_t call_ns;
	uint64_t ret_ns;  /* STRATA_HIST_INF for info */
	uint32_t ev_invoke;
	uint32_t ev_complete; /* NONE when the invoke was pending at the end */
	uint8_t f;        /* enum strata_hist_f */
	uint8_t outcome;  /* enum strata_hist_outcome */
};

/* A fault event of the nemesis ("process":"nemesis","type":"info"): reported, never checked. */
#define STRATA_HIST_NEMESIS_F_MAX 32
struct strata_hist_nemesis {
	uint64_t time_ns;
	uint32_t line;
	uint32_t value;                   /* value id (a description), NONE if absent */
	char f[STRATA_HIST_NEMESIS_F_MAX]; /* e.g. "partition", "heal", "kill" */
};

struct strata_history {
	char *name;                     /* file name used in messages */
	struct strata_hist_event *ev;
	size_t n_ev;
	struct strata_hist_op *ops;     /* in invoke order */
	size_t n_ops;
	struct strata_hist_str *keys;
	size_t n_keys;
	struct strata_hist_str *vals;   /* vals[0] is null (s == NULL) */
	size_t n_vals;
	size_t n_pending;               /* invokes without completion, treated as info */
	struct strata_hist_nemesis *nemesis; /* fault events, in file order */
	size_t n_nemesis;
	uint32_t n_lprocs;
};

/* Writes s (len bytes) as a JSON string literal, quotes included, or null when s is NULL. */
int strata_hist_put_json_string(FILE *out, const char *s, size_t len);
/* Re-serialises event e as the JSON line it was read from (canonical field order). */
int strata_hist_put_event_json(FILE *out, const struct strata_history *h,
			       const struct strata_hist_event *e);
/* Writes a value id as JSON (null or a string). */
int strata_hist_put_value_json(FILE *out, const struct strata_history *h, uint32_t v);
/* A short printable rendering of a value for one-line messages: null, or the value in double
 * quotes, control bytes shown as '?', cut with ".." when longer than the buffer allows (n >= 8). */
void strata_hist_value_short(const struct strata_history *h, uint32_t v, char *buf, size_t n);
const char *strata_hist_f_name(unsigned f);
const char *strata_hist_type_name(unsigned t);

/* The checkers. Each fills res->keys[k] for its model and, on violation, res->violation when the
 * key has fewer ops than the one already reported. deadline_ns is a CLOCK_MONOTONIC deadline
 * (STRATA_HIST_INF for none). Return 0 or STRATA_ENOMEM. */
struct strata_check_ctx {
	const struct strata_history *h;
	uint32_t *key_ops;     /* ops grouped by key (indices), key k at [key_start[k], key_start[k+1]) */
	size_t *key_start;
	size_t mem_limit;
	uint64_t t0_ns;
	uint64_t budget_ns;    /* 0 = none */
};

int strata_check_key_atomic(const struct strata_check_ctx *c, uint32_t key, uint64_t deadline_ns,
			    struct strata_check_result *res);
int strata_check_key_regular(const struct strata_check_ctx *c, uint32_t key, int safe,
			     struct strata_check_result *res);

/* Records a violation witness for key if no violation is recorded yet or this key has fewer ops.
 * Returns a pointer to fill, or NULL when the existing one is kept. Resets the prefix/candidates. */
struct strata_check_violation *strata_check_claim_violation(struct strata_check_result *res,
							    uint32_t key, size_t n_ops);

uint64_t strata_check_now_ns(void);

#endif
