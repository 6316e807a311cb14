/* Broadcast delivery logs: a writer, a strict parser and offline property checkers.
 *
 * Every node that runs a broadcast algorithm (the daemon, or a node in the simulator) can record
 * what it broadcast and what it delivered in one text file per node, <dir>/node-<ID>.log:
 *
 *     # node <ID> n <N> algo <NAME>                        header, always the first line
 *     b <seq> <lamport> <payload-hex> [vc=<c1,...,cN>]      this node broadcast <ID>:<seq>
 *     d <sender> <seq> <lamport> <payload-hex> [vc=...]     this node delivered <sender>:<seq>
 *     i <incarnation>                                       the node (re)started as this incarnation
 *     crash                                                 the node crashed here (last line)
 *
 * Tokens are separated by exactly one space. Payloads are lowercase hex ("-" for an empty
 * payload) so any byte string stays on one line. A node's broadcasts are numbered 1, 2, 3, ...
 * with no gap within an incarnation. A node of a crash-recovery cluster keeps one log across its
 * restarts: each start appends an `i` line with its incarnation (strictly increasing), and the
 * first broadcast after it may skip numbers - broadcasts made just before a crash whose lines
 * were never written (the node died between storing and recording them). Those are
 * "unrecorded": deliveries of them are not judged by no-creation, validity does not demand them.
 * A number may never be reused. An `i` line after a crash line means the node recovered. lamport is the algorithm's Lamport time (recorded, not trusted); the optional vc
 * is the algorithm's vector clock indexed by node id - 1 (recorded, not trusted either). Lines
 * starting with '#' after the header are comments.
 *
 * The checkers decide the book's broadcast properties (validity, no duplication, no creation,
 * agreement, uniform agreement, FIFO and causal delivery, and the Byzantine consistency) from the
 * logs alone, with some nodes declared crashed or Byzantine: happened-before is
 * rebuilt from the order of the lines, never from the recorded clocks, so a buggy clock cannot
 * hide a violation. See docs/spacetime.md.
 *
 * This is an offline tool: unlike the protocol core it reads and writes files. It depends on
 * nothing but libc and core/error.h. */
#ifndef STRATA_CHECK_BCAST_LOG_H
#define STRATA_CHECK_BCAST_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Bounds. A log that exceeds them is rejected with a message, never half-read. */
#define STRATA_BCAST_MAX_NODES 64          /* node ids are 1..n, n <= this */
#define STRATA_BCAST_ALGO_MAX 32           /* algorithm name, including the NUL */
#define STRATA_BCAST_PAYLOAD_MAX (1u << 20) /* bytes per payload (the daemon's default max value) */
#define STRATA_BCAST_SEQ_MAX UINT32_MAX    /* largest sequence number */
#define STRATA_BCAST_EVENTS_MAX (1u << 22) /* events per node log */
#define STRATA_BCAST_BYTES_MAX (256u << 20) /* payload bytes per node log */

/* ---- Writer ---- */

/* An open node log. Every line is flushed as soon as it is written, so a node killed with
 * SIGKILL leaves a log that ends on a complete line. */
struct strata_bcast_log;

/* Creates (truncates) <dir>/node-<node>.log and writes its header (no incarnation line). 1 <= node <= n <=
 * STRATA_BCAST_MAX_NODES; algo is 1..31 characters of [A-Za-z0-9_.-]. The directory must exist.
 * On success *out is a new log the caller closes with strata_bcast_log_close(). On failure
 * *out is NULL and, if err is not NULL, err holds a message. */
int strata_bcast_log_open(const char *dir, uint32_t node, uint32_t n, const char *algo,
			  struct strata_bcast_log **out, char *err, size_t errlen);

/* Opens <dir>/node-<node>.log to record incarnation `incarnation` of the node (a daemon with
 * --bcast-log, at each start): a missing or empty file is created with its header; an existing
 * one must be a valid log of the same node, n and algo (a last line torn by a kill is cut off
 * first) whose incarnations are all smaller. Then "i <incarnation>" is appended and broadcasts
 * continue after the largest recorded seq (the first one may skip numbers). Errors as
 * strata_bcast_log_open(), and STRATA_EPROTO with the parser's message for a file that is not
 * such a log. */
int strata_bcast_log_open_incarnation(const char *dir, uint32_t node, uint32_t n, const char *algo,
				      uint64_t incarnation, struct strata_bcast_log **out,
				      char *err, size_t errlen);

/* Records that this node broadcast (node, seq). seq must be one more than the previous
 * broadcast's (the first is 1), except for the first broadcast after an incarnation line, which
 * may be any larger number. vc is NULL (vc_len 0) or n entries, indexed by node id - 1.
 * The payload is copied into the line; it may be NULL when len is 0. */
int strata_bcast_log_broadcast(struct strata_bcast_log *log, uint64_t seq, uint64_t lamport,
			       const uint8_t *payload, size_t len, const uint64_t *vc, size_t vc_len);

/* Records that this node delivered (sender, seq). The writer does not judge deliveries: a
 * duplicate or an invented message is logged as it happened, for the checkers to find. */
int strata_bcast_log_deliver(struct strata_bcast_log *log, uint32_t sender, uint64_t seq,
			     uint64_t lamport, const uint8_t *payload, size_t len,
			     const uint64_t *vc, size_t vc_len);

/* A delivery announced again after a recovery (strata_output.replay): recorded like
 * strata_bcast_log_deliver() unless the log already holds a delivery of (sender, seq) from an
 * earlier incarnation (read when it was opened with strata_bcast_log_open_incarnation()). Sets
 * *recorded to whether it wrote a line. */
int strata_bcast_log_replay(struct strata_bcast_log *log, uint32_t sender, uint64_t seq,
			    uint64_t lamport, const uint8_t *payload, size_t len, bool *recorded);

/* An own broadcast announced again after a recovery (strata_output.replay): recorded like
 * strata_bcast_log_broadcast() unless the log already holds a broadcast with that seq (from an
 * earlier incarnation). Sets *recorded to whether it wrote a line. */
int strata_bcast_log_broadcast_replay(struct strata_bcast_log *log, uint64_t seq,
				      uint64_t lamport, const uint8_t *payload, size_t len,
				      bool *recorded);

/* Records that the node crashed. Nothing may be written after it (STRATA_ESTATE). */
int strata_bcast_log_crash(struct strata_bcast_log *log);

/* Flushes stdio buffers (every call above already does; this is for callers that want to be
 * explicit). */
int strata_bcast_log_flush(struct strata_bcast_log *log);

/* Flushes, closes and frees the log (NULL is fine). Returns the first write error, if any. */
int strata_bcast_log_close(struct strata_bcast_log *log);

/* The message of the log's last failure ("" if none). Lives as long as the log. */
const char *strata_bcast_log_error(const struct strata_bcast_log *log);

/* ---- Parsed logs ---- */

enum strata_bcast_ev_kind {
	STRATA_BCAST_EV_BROADCAST = 1,
	STRATA_BCAST_EV_DELIVER,
	STRATA_BCAST_EV_CRASH,
	STRATA_BCAST_EV_INCARNATION, /* "i <inc>": seq holds the incarnation */
};

/* One line of a node log. For a broadcast, sender is the node itself. */
struct strata_bcast_event {
	enum strata_bcast_ev_kind kind;
	uint32_t sender;
	uint32_t line;        /* 1-based line number in the file, for messages */
	uint64_t seq;
	uint64_t lamport;     /* for a crash: the previous event's (0 if none) */
	size_t payload_off;   /* into the node's payload arena */
	size_t payload_len;
	size_t vc_off;        /* into the node's vc arena (n entries), SIZE_MAX if no vc */
};

struct strata_bcast_node_log {
	bool present;          /* node-<ID>.log was found and parsed */
	bool crash_marker;     /* the log ends with a crash line */
	char *path;            /* the file it came from */
	struct strata_bcast_event *ev;
	size_t nev;
	uint64_t nbcast;       /* broadcasts 1..nbcast (the largest seq) */
	size_t *bcast_idx;     /* bcast_idx[seq - 1] = index in ev of broadcast seq, or
				* STRATA_BCAST_UNRECORDED (skipped at a restart) */
	uint64_t nunrecorded;  /* seqs skipped at restarts */
	uint32_t nincarnations;/* "i" lines */
	uint64_t ndeliver;
	uint8_t *payload;      /* arena of every payload of this log */
	size_t payload_size;
	uint64_t *vc;          /* arena of recorded vector clocks */
	size_t vc_count;
};

/* A run: the logs of nodes 1..n, some of which may be missing. Read-only once loaded. */
struct strata_bcast_logs {
	uint32_t n;
	char algo[STRATA_BCAST_ALGO_MAX];
	struct strata_bcast_node_log node[STRATA_BCAST_MAX_NODES + 1]; /* index = node id, [0] unused */
};

/* Loads every file named node-<ID>.log in dir (other files are ignored). All headers must
 * agree on n and algo, and each file's ID must match its header. On success *out is a new set
 * the caller frees with strata_bcast_logs_free(). On failure returns a negative code and writes
 * "FILE:LINE: problem" (or "DIR: problem") into err. Never crashes on bad input. */
int strata_bcast_logs_load(const char *dir, struct strata_bcast_logs **out, char *err,
			   size_t errlen);

void strata_bcast_logs_free(struct strata_bcast_logs *logs);

#define STRATA_BCAST_UNRECORDED SIZE_MAX

/* Whether the log records the node's broadcast seq (1..nbcast and not skipped at a restart). */
static inline bool strata_bcast_recorded(const struct strata_bcast_node_log *nl, uint64_t seq)
{
	return nl->present && seq >= 1 && seq <= nl->nbcast &&
	       nl->bcast_idx[seq - 1] != STRATA_BCAST_UNRECORDED;
}

static inline const uint8_t *strata_bcast_event_payload(const struct strata_bcast_node_log *nl,
							const struct strata_bcast_event *ev)
{
	return nl->payload + ev->payload_off;
}

/* The recorded vector clock of ev (n entries), or NULL if the line had none. */
static inline const uint64_t *strata_bcast_event_vc(const struct strata_bcast_node_log *nl,
						    const struct strata_bcast_event *ev)
{
	return ev->vc_off == SIZE_MAX ? NULL : nl->vc + ev->vc_off;
}

/* ---- Checkers ---- */

enum strata_bcast_property {
	STRATA_BCAST_VALIDITY = 1, /* a correct node's broadcast is delivered by every correct node */
	STRATA_BCAST_NO_DUP,       /* no node delivers (sender, seq) twice */
	STRATA_BCAST_NO_CREATION,  /* every delivery was broadcast by its sender, same payload */
	STRATA_BCAST_AGREEMENT,    /* delivered by a correct node => delivered by every correct node */
	STRATA_BCAST_UNIFORM,      /* delivered by any node => delivered by every correct node */
	STRATA_BCAST_FIFO,         /* each sender's messages are delivered in order 1, 2, 3, ... */
	STRATA_BCAST_CAUSAL,       /* broadcast(m1) -> broadcast(m2) => m1 delivered before m2 */
	STRATA_BCAST_CONSISTENCY,  /* no two correct nodes deliver different payloads for s:k */
	STRATA_BCAST_TOTAL_ORDER,  /* two correct nodes deliver any two messages in the same order */
};

/* Verdicts of strata_bcast_check(); errors are negative STRATA_E* codes. */
#define STRATA_BCAST_HOLDS 0
#define STRATA_BCAST_VIOLATED 1

/* Parses validity|no-dup|no-creation|agreement|uniform|fifo|causal|consistency|total-order. */
int strata_bcast_property_parse(const char *name, enum strata_bcast_property *out);
/* The name above, or "?" for an unknown value. */
const char *strata_bcast_property_name(enum strata_bcast_property p);

/* Parses a comma-separated list of node ids ("3,5"; "" is the empty list) into ids[0..*count).
 * Returns STRATA_EINVAL for anything else, STRATA_ETOOBIG if more than max ids. */
int strata_bcast_parse_ids(const char *s, uint32_t *ids, size_t max, size_t *count);

/* Who is faulty in a run. A crashed node stops; what its log says up to the crash is true. A
 * Byzantine node may do anything, so its log is evidence of nothing: its deliveries are not
 * judged (no-dup, no-creation, uniform, fifo, causal, consistency skip them), its own
 * broadcasts cannot be told from what it sent (no-creation does not judge deliveries from it),
 * and it owes nobody anything (validity, agreement). Both lists may be empty (NULL, 0); a node
 * in both is Byzantine. Every other node, and no node with a crash line, is correct. */
struct strata_bcast_faults {
	const uint32_t *crashed;
	size_t ncrashed;
	const uint32_t *byzantine;
	size_t nbyzantine;
};

/* Checks one property over a run. Crashed nodes are those in faults->crashed plus those whose
 * log has a crash marker; Byzantine nodes are those in faults->byzantine (faults may be NULL:
 * nobody is faulty but what the logs say). Returns STRATA_BCAST_HOLDS or STRATA_BCAST_VIOLATED
 * with one line in report: the verdict and, when violated, the first counterexample in words
 * ("node 3 delivered 2:17 before 2:16"). Returns a negative code when the property cannot be
 * decided (a faulty id out of range, the log of a correct node missing for
 * validity/agreement/uniform/consistency, out of memory), with the reason in report. Messages
 * are written sender:seq. Deterministic: the same logs always give the same counterexample.
 * Agreement and uniform agreement compare payloads too: a correct node that delivers s:k with
 * another payload than the node it is compared with did not deliver "the same message". */
int strata_bcast_check_faults(const struct strata_bcast_logs *logs,
			      enum strata_bcast_property prop,
			      const struct strata_bcast_faults *faults, char *report, size_t n);

/* strata_bcast_check_faults() with crashed nodes only. */
int strata_bcast_check(const struct strata_bcast_logs *logs, enum strata_bcast_property prop,
		       const uint32_t *crashed, size_t ncrashed, char *report, size_t n);

/* ---- Happened-before ---- */

/* Visits every event of every present log exactly once, in an order consistent with
 * happened-before: a node's events in log order, and a delivery of s:k only after s's broadcast
 * of s:k when s's log has it. Among the nodes whose next event is ready, the one with the
 * smallest (lamport, node id) goes first, so the order looks like time when the clocks are
 * right. If every unfinished node waits for a broadcast that can only come later (the logs
 * describe a cycle, which no real run can), the smallest such node's delivery is visited with
 * cyclic = true, as if its broadcast were unknown. visit returns 0 to go on, anything else to
 * stop; strata_bcast_walk returns that value, or 0 when every event was visited. */
int strata_bcast_walk(const struct strata_bcast_logs *logs,
		      int (*visit)(void *ctx, uint32_t node, size_t idx, bool cyclic), void *ctx);

/* ---- ShiViz ---- */

/* The parser regular expression strata_shiviz_write() puts on its first line (ShiViz's default). */
#define STRATA_SHIVIZ_REGEX "(?<event>.*)\\n(?<host>\\S*) (?<clock>{.*})"

/* Writes the run in ShiViz's file format: the regex line, an empty line (no multiple-execution
 * delimiter), then per event a description line and a "node<ID> {"node<ID>":<count>, ...}" line.
 * Clocks are computed from the logs' happened-before (a delivery merges the clock of the
 * broadcast), not taken from the recorded vc. Returns 0, STRATA_EIO (write failed) or
 * STRATA_ENOMEM, with a message in err. */
int strata_shiviz_write(const struct strata_bcast_logs *logs, FILE *out, char *err, size_t errlen);

#endif
