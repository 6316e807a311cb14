/* Shared declarations of the `strata` CLI: global options, the command table, the connection
 * helpers every command uses to talk to a stratad, and a small JSON emitter.
 *
 * Adding a command: write `int cmd_NAME(struct cli *c, int argc, char **argv)` in its own file
 * (client/cmd_NAME.c), declare it below and add one line to the table in client/commands.c.
 * argv[0] is the command name; the global flags have already been removed. A command returns one
 * of the CLI_EXIT_* codes. Commands that run an operation on a module use cli_op() (see below),
 * which implements the exit-code contract for them. */
#ifndef STRATA_CLIENT_CLI_H
#define STRATA_CLIENT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "client.pb-c.h"
#include "core/config.h"
#include "core/error.h"
#include "core/pb_arena.h"
#include "rt/uv/client_frame.h" /* STRATA_CLIENT_HDR: a frame's length header */

/* The exit-code contract of every command. */
enum {
	CLI_EXIT_OK = 0,      /* success */
	CLI_EXIT_FAIL = 1,    /* definite failure (the daemon said no, a check found a violation) */
	CLI_EXIT_USAGE = 2,   /* usage or configuration error */
	CLI_EXIT_UNKNOWN = 3, /* timeout or unreachable: the outcome is unknown */
};

#define CLI_DEFAULT_TIMEOUT_MS 2000
#define CLI_MAX_FRAME (2u << 20) /* the protocol's frame limit */

/* Whether a node's answer leaves the outcome unknown: its own deadline passed (a quorum did not
 * answer in time), or it stopped on a storage failure while the request was in it (a write
 * whose messages had left may still be decided by the others). Exit 3, a history's "info". */
static inline bool cli_status_unknown(int status)
{
	return status == STRATA_ETIMEDOUT || status == STRATA_ECRASHED;
}
/* What an error line adds to the node's text for such an answer (the stop's text says it). */
static inline const char *cli_unknown_suffix(int status)
{
	return status == STRATA_ETIMEDOUT ? ": outcome unknown" : "";
}

/* Global options, filled by main() before the command runs. */
struct cli {
	const char *prog;       /* argv[0] basename, for messages */
	char dir[4096];         /* cluster directory */
	uint32_t node;          /* -n: 0 = the first node that answers */
	char endpoint[256];     /* -e HOST:PORT, "" if none */
	bool json;              /* -w json */
	int timeout_ms;         /* --timeout */
	struct strata_config *cfg; /* loaded on demand by cli_config(); NULL until then */
	uint64_t next_id;       /* last request id used */
	bool node_timed_out;    /* the last cli_op got the node's own STRATA_ETIMEDOUT answer */
	const char *op_what;    /* during cli_op: the command as typed, prefixing cli_call's errors */
	const char *cmd;        /* the command being run ("status", ...): cli_call's prefix when
				 * op_what is not set */
};

/* One entry of the command table. */
struct cli_cmd {
	const char *name;
	const char *summary; /* one line for `strata --help` */
	int (*run)(struct cli *c, int argc, char **argv);
};

/* The command table (client/commands.c), terminated by an entry with name == NULL. */
extern const struct cli_cmd cli_commands[];

/* ---- messages ---- */

/* "strata: ..." on stderr. */
void cli_err(const struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the message and "try 'strata CMD --help'", returns CLI_EXIT_USAGE. */
int cli_usage_err(const struct cli *c, const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Whether argv[i] is -h or --help. */
bool cli_is_help(const char *arg);
/* Parses a decimal unsigned number in [min, max]; false on anything else. */
bool cli_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);

/* Whether a command argument is an option: '-' and more, but not '-' and a digit (a negative
 * number is a value). Commands also stop option parsing at "--". */
bool cli_is_option(const char *arg);
/* Reads a --value-file into *out (malloc'd, *len bytes; at most what a request frame carries).
 * CLI_EXIT_OK, or prints "CMD: --value-file PATH: why" and returns CLI_EXIT_USAGE. */
int cli_read_value_file(struct cli *c, const char *cmd, const char *path, char **out,
			size_t *len);

/* ---- cluster config ---- */

/* Loads <dir>/cluster.ini once (later calls return the cached config). On failure prints why
 * and returns NULL: callers exit CLI_EXIT_USAGE. */
const struct strata_config *cli_config(struct cli *c);

/* ---- connections ---- */

/* A node a command may talk to. id is 0 for an explicit -e endpoint. */
struct cli_endpoint {
	uint32_t id;
	char host[STRATA_HOST_MAX];
	uint16_t port;
};

/* The endpoints selected by the global options: the -e endpoint, the -n node, or every node of
 * the config in id order. all = true ignores -n (for `status --all`, `watch`). Returns the count
 * (> 0), or -1 after printing a configuration error. */
int cli_endpoints(struct cli *c, bool all, struct cli_endpoint *out, size_t max);

/* Monotonic milliseconds. */
uint64_t cli_now_ms(void);

/* Connects with a deadline (cli_now_ms() based). Returns a socket, or -1 with errno-like reason
 * in err. */
int cli_connect(const struct cli_endpoint *ep, uint64_t deadline_ms, char *err, size_t errlen);

/* Starts a non-blocking connect to the endpoint's first address. Returns 0 (connected at once)
 * or 1 (in progress: wait for POLLOUT, then call cli_connect_finish) with *fd set, or -1 with
 * the reason in err. */
int cli_connect_start(const struct cli_endpoint *ep, int *fd, char *err, size_t errlen);
/* After POLLOUT: 0 if the connection is established, else -1 with the reason in err. */
int cli_connect_finish(int fd, char *err, size_t errlen);

/* "node 3 (127.0.0.1:7203)" or "HOST:PORT" for an explicit endpoint. */
void cli_describe(const struct cli_endpoint *ep, char *buf, size_t n);

/* Sends one Request frame. 0, or -1 (err filled) on failure or deadline. */
int cli_send(int fd, const Strata__Client__Request *req, uint64_t deadline_ms, char *err,
	     size_t errlen);

/* Receives one Response frame. deadline_ms == 0 waits forever. Returns 0 and *out (free with
 * strata__client__response__free_unpacked), 1 if the deadline passed, -1 on a closed or broken
 * connection or a malformed frame (err filled). */
int cli_recv(int fd, Strata__Client__Response **out, uint64_t deadline_ms, char *err,
	     size_t errlen);

/* Incremental frame reader for non-blocking sockets (used by cli_recv and by `watch`, which
 * multiplexes several nodes). It reads exactly the bytes of the current frame, never more. */
struct cli_reader {
	uint8_t hdr[STRATA_CLIENT_HDR];
	size_t hdr_got;
	uint8_t *body; /* malloc'd while a frame is in progress */
	size_t body_len, body_got;
};
void cli_reader_init(struct cli_reader *r);
void cli_reader_free(struct cli_reader *r);
/* Reads what the socket has. Returns 1 with *out set when a frame is complete, 0 when it needs
 * more bytes (EAGAIN), -1 on end of stream, socket error or a malformed or oversized frame (err
 * filled). */
int cli_reader_step(struct cli_reader *r, int fd, Strata__Client__Response **out, char *err,
		    size_t errlen);

/* Many requests in flight on one connection (`strata bench`): the frames of several requests are
 * built into one buffer and written with one send; the replies are read in large chunks and split
 * into frames. On an authenticated connection the requests of one flush are sealed together as
 * one bundle (rt/uv/client_frame.h: one seal for all of them), and the node then bundles its
 * replies of one step too; the reader opens both bundles and single sealed frames. */
struct cli_wbuf {
	uint8_t *buf;   /* buf[0..len): frames ready to send */
	uint8_t *plain; /* plain[0..plen): the bundle being built (its mark, then frames) */
	size_t len, cap, plen, pcap;
	unsigned pn;    /* frames in plain */
	struct strata_session *sess; /* the session plain is sealed under (NULL: plain frames) */
};
/* Appends req's frame (bundled on an authenticated connection; the first append on a connection
 * completes its handshake within the deadline). 0, or -1 with err filled. */
int cli_wbuf_append(struct cli_wbuf *w, int fd, const Strata__Client__Request *req,
		    uint64_t deadline_ms, char *err, size_t errlen);
/* Writes every appended frame in one send (more only if the socket takes less) and empties w.
 * 0, or -1 with err filled. */
int cli_wbuf_flush(struct cli_wbuf *w, int fd, uint64_t deadline_ms, char *err, size_t errlen);
void cli_wbuf_free(struct cli_wbuf *w);

struct cli_breader {
	uint8_t *buf, *plain; /* buf[start..end): bytes read, not yet split; plain: opened body */
	size_t cap, start, end, pcap;
	size_t boff, blen; /* a bundle in plain[0..blen): its next frame at boff (< blen) */
	bool short_read; /* the last read took less than it could: the socket is drained */
	/* The reply returned last is decoded here (protobuf-c's allocations of a reply are bumps
	 * in its buffer, not one malloc each), given back at the next call. */
	struct strata_pb_arena arena;
};
/* cap: the read buffer's size (it grows only for a frame larger than it). 0 or -1 (memory). */
int cli_breader_init(struct cli_breader *r, size_t cap);
void cli_breader_free(struct cli_breader *r);
/* The next reply: 1 with *out set, 0 when the socket has nothing more now (poll it), -1 on end
 * of stream, socket error, a malformed, oversized or unauthenticated frame (err filled). Reads
 * at most once per call that returns 0 after a short read, so a drained socket costs no extra
 * read (poll says when there is more). *out lives in the reader's arena until the next call (or
 * cli_breader_free): the caller does not free it and keeps no pointer into it. */
int cli_breader_step(struct cli_breader *r, int fd, Strata__Client__Response **out, char *err,
		     size_t errlen);

/* A fresh request id (unique within this invocation). */
uint64_t cli_next_id(struct cli *c);

/* One request, one response, on the selected node(s). Tries the endpoints in order: a node that
 * cannot be connected to is skipped; when idempotent, so is one that times out after the request
 * was sent. Returns CLI_EXIT_OK with *out set (the response may still carry status != 0), or
 * CLI_EXIT_UNKNOWN after printing why (nothing answered), or CLI_EXIT_USAGE (config error).
 * *answered (may be NULL) is the endpoint that answered. */
int cli_call(struct cli *c, Strata__Client__Request *req, bool idempotent,
	     Strata__Client__Response **out, struct cli_endpoint *answered);

/* The generic module operation behind `reg`, `lkv`, `bcast send`, ...: sends
 * OpRequest{module, op, key, value, value2} (value2 may be NULL) and maps the reply to the exit
 * contract: status != 0 -> prints the daemon's error, CLI_EXIT_FAIL; no answer -> "outcome
 * unknown", CLI_EXIT_UNKNOWN. On CLI_EXIT_OK, *reply (may be NULL) receives the OpReply, which
 * the caller frees with strata__client__response__free_unpacked(*resp_out); pass reply == NULL to
 * have it freed here. */
enum cli_op_code { CLI_OP_READ = 1, CLI_OP_WRITE = 2, CLI_OP_DELETE = 3, CLI_OP_CAS = 4,
		   CLI_OP_BROADCAST = 5, CLI_OP_RANGE = 7 };
struct cli_op_args {
	const char *module;
	const char *what;            /* the command as the user typed it ("kv put", "reg write"),
				      * which prefixes errors; NULL: "<module> <op>" */
	uint32_t op;                 /* enum cli_op_code */
	const void *key; size_t key_len;
	const void *value; size_t value_len;
	const void *value2; size_t value2_len;
	uint32_t r, w;               /* quorum overrides, 0 = configured */
	uint64_t session, seq;       /* kv writes: exactly-once session (0 = none); a write with a
				      * session may be retried on another node like a read */
	bool serializable;           /* kv get, range: read the contacted node's state */
	uint32_t limit;              /* kv range: at most this many keys (0 = the node's default) */
	bool no_retry;               /* never try another node after a timeout (registers: a node
				      * that lacks its quorum within --timeout stands for all) */
};
int cli_op(struct cli *c, const struct cli_op_args *a, Strata__Client__Response **resp_out,
	   const Strata__Client__OpReply **reply);

/* ---- the BFT KV's client (client/bft.c) ---- */

/* Whether the cluster's config says `[smr] log = bft-tob` or `btob` (false with -e). */
bool cli_bft_cluster(struct cli *c);
/* A client session of the BFT KV: an Ed25519 key pair and the session id it owns. */
struct cli_bft_key {
	uint8_t pk[32], sk[64];
	uint64_t session;
};
int cli_bft_key_new(struct cli_bft_key *k); /* 0, or -1 if libsodium failed */
void cli_bft_key_wipe(struct cli_bft_key *k);
/* The digest a request's signature covers (smr_bft_request_digest of op). */
void cli_bft_digest(const Strata__Client__OpRequest *op, uint8_t dig[32]);
/* Signs op (its session must be k's, its seq set) into auth and points op->client_auth at it. */
void cli_bft_sign(const struct cli_bft_key *k, Strata__Client__OpRequest *op, uint8_t auth[96]);
/* Sends req (its op carrying session and seq) to every replica and waits, within --timeout, for
 * f + 1 replicas that returned the same signed outcome: CLI_EXIT_OK with *out = one of those
 * replies (the caller frees it), else prints why under `what` and returns CLI_EXIT_UNKNOWN
 * (or CLI_EXIT_USAGE without a config). */
int cli_bft_call(struct cli *c, Strata__Client__Request *req, uint64_t session, uint64_t seq,
		 const char *what, Strata__Client__Response **out);
/* Verifies one reply of the BFT KV for (session, seq): the replica whose valid signature it
 * carries (alone or an envelope's, smr_bft_verify_reply), with the outcome digest in outcome;
 * 0 if it carries none that verifies. seen (may be NULL): the envelope roots verified so far,
 * and the count of Ed25519 verifications done. */
struct smr_bft_seen;
uint32_t cli_bft_check(const struct strata_config *cfg, struct smr_bft_seen *seen,
		       uint64_t session, uint64_t seq, const Strata__Client__Response *r,
		       uint8_t outcome[32]);

/* Prints an algorithm table (core/stack.h) of one family, or all with family == NULL: text
 * table, or with c->json a JSON array. No daemon needed. Returns CLI_EXIT_OK. */
int cli_print_algos(struct cli *c, const char *family);

/* Whether the cluster's model and size can run algorithm a (struct strata_algo, core/stack.h):
 * CLI_EXIT_OK, or prints "CMD: why" and returns CLI_EXIT_FAIL (CLI_EXIT_USAGE if the config
 * cannot be read). With -e there is no config: the node's own error then says why. */
struct strata_algo;
int cli_algo_runnable(struct cli *c, const struct strata_algo *a, const char *cmd);

/* ---- JSON ---- */

/* A tiny streaming JSON writer: it tracks whether a comma is needed, nothing more. The caller
 * keeps the nesting balanced (at most 32 levels). */
struct cli_json {
	FILE *out;
	int depth;
	bool need_comma[32];
	bool after_key;
};
void cli_json_init(struct cli_json *j, FILE *out);
void cli_json_begin_object(struct cli_json *j);
void cli_json_end_object(struct cli_json *j);
void cli_json_begin_array(struct cli_json *j);
void cli_json_end_array(struct cli_json *j);
void cli_json_key(struct cli_json *j, const char *key);
/* A string value of len bytes, escaped per RFC 8259 (control characters as \u00XX; invalid
 * UTF-8 bytes as \u00XX of the byte, so the output is always valid JSON). */
void cli_json_string_n(struct cli_json *j, const char *s, size_t len);
void cli_json_string(struct cli_json *j, const char *s);
void cli_json_uint(struct cli_json *j, uint64_t v);
void cli_json_int(struct cli_json *j, int64_t v);
void cli_json_bool(struct cli_json *j, bool v);
void cli_json_null(struct cli_json *j);

/* ---- status (shared by status and watch) ---- */

/* Asks one endpoint for its status within c->timeout_ms. 0 with *out (free with
 * strata__client__response__free_unpacked; body is a status reply), or -1 with the reason. */
int cli_status_fetch(struct cli *c, const struct cli_endpoint *ep,
		     Strata__Client__Response **out, char *err, size_t errlen);
/* One node's status as a JSON object (the shape documented in docs/user-guide.md). */
void cli_status_json(struct cli_json *j, const Strata__Client__Status *s);
/* An unreachable node as a JSON object: {"node":ID,"reachable":false,"error":"..."}. */
void cli_status_json_unreachable(struct cli_json *j, uint32_t id, const char *err);

/* ---- watching deliveries (client/watch.c: consensus, job, bcast, nbac, trb, members) ---- */

/* Called for each delivery event (kind "deliver", "bcast", ...) from node `node`; returns
 * whether it counted toward --count (it printed something). */
typedef bool (*cli_watch_fn)(struct cli *c, uint32_t node, const Strata__Client__Event *e,
			     void *arg);
struct cli_watch {
	const char *what;   /* prefixes messages: "consensus watch", "bcast listen" */
	const char *module; /* subscribe to this module's deliveries only; NULL: every module's */
	bool all;           /* every node, else the -n node or the first that answers */
	uint64_t count;     /* stop after this many counted events; 0 = no limit */
	uint32_t duration;  /* stop after this many seconds; 0 = no limit */
	bool lost_unknown;  /* a stream that closes (a killed node) makes the exit CLI_EXIT_UNKNOWN */
	cli_watch_fn fn;
	void *arg;
};
/* Subscribes at one node or every node, and calls fn for each event until count events
 * counted, duration passed, SIGINT/SIGTERM, a node refused, or every stream closed (a killed
 * node's stream closes; the others go on). CLI_EXIT_OK, CLI_EXIT_UNKNOWN (fewer than count, no
 * node answered, or with lost_unknown a stream closed), CLI_EXIT_FAIL (a node refused). */
int cli_watch(struct cli *c, const struct cli_watch *w);
/* cli_watch of one module's deliveries, messages prefixed with cmd, the command as the user
 * typed it ("trb listen", "members --watch"), lost_unknown off. */
int cli_watch_module(struct cli *c, const char *cmd, const char *module, bool all,
		     uint64_t count, uint32_t duration, cli_watch_fn fn, void *arg);

/* The command line of a broadcast with a listener (trb, vs):
 *   CMD send [--] MESSAGE      CMD listen [--all] [--count N] [--duration SEC]
 * plus the command's own options for both (opt: CLI_OPT_NOT_MINE when argv[*i] is none of
 * them, CLI_EXIT_OK when it took it (and its value: *i moves), else the exit code of its usage
 * error). Usage errors read "CMD: ...". */
#define CLI_OPT_NOT_MINE (-1)
struct cli_send_listen {
	bool listen;      /* else send */
	const char *msg;  /* send: MESSAGE */
	bool all;         /* listen: --all */
	uint32_t count;   /* listen: --count, 0 = no limit */
	uint32_t duration; /* listen: --duration, 0 = no limit */
	int (*opt)(struct cli *c, int argc, char **argv, int *i, void *arg);
	void *arg;
};
/* Parses argv[1..] into a (opt and arg set by the caller). Returns CLI_OPT_NOT_MINE when the
 * command goes on, else the exit code to return (help printed, or a usage error). */
int cli_send_listen_args(struct cli *c, const char *cmd, const char *help, int argc,
			 char **argv, struct cli_send_listen *a);
/* A broadcast of msg by one node of module, never retried elsewhere (a send is not idempotent:
 * a retry at another node would be another sender). cli_op's contract; errors are prefixed
 * with what, the command as typed ("trb send"). */
int cli_send_once(struct cli *c, const char *module, const char *what, const char *msg,
		  Strata__Client__Response **resp_out, const Strata__Client__OpReply **reply);

/* ---- commands ---- */

int cmd_status(struct cli *c, int argc, char **argv);
int cmd_watch(struct cli *c, int argc, char **argv);
int cmd_keygen(struct cli *c, int argc, char **argv);
int cmd_algos(struct cli *c, int argc, char **argv);
int cmd_check(struct cli *c, int argc, char **argv);
int cmd_check_bcast(struct cli *c, int argc, char **argv);
int cmd_shiviz(struct cli *c, int argc, char **argv);
int cmd_reg(struct cli *c, int argc, char **argv);
int cmd_workload(struct cli *c, int argc, char **argv);
int cmd_bcast(struct cli *c, int argc, char **argv);
int cmd_lkv(struct cli *c, int argc, char **argv);
int cmd_kv(struct cli *c, int argc, char **argv);
int cmd_consensus(struct cli *c, int argc, char **argv);
int cmd_job(struct cli *c, int argc, char **argv);
int cmd_check_consensus(struct cli *c, int argc, char **argv);
int cmd_bench(struct cli *c, int argc, char **argv);
int cmd_nemesis(struct cli *c, int argc, char **argv);
/* The work of `strata nemesis` (argv[0] = "nemesis", argv[1] = the subcommand); quiet: print
 * only errors (workload --nemesis). Same exit codes. */
int cli_nemesis(struct cli *c, int argc, char **argv, bool quiet);
int cmd_member(struct cli *c, int argc, char **argv);
int cmd_top(struct cli *c, int argc, char **argv);
int cmd_endpoint(struct cli *c, int argc, char **argv);
int cmd_nbac(struct cli *c, int argc, char **argv);
int cmd_trb(struct cli *c, int argc, char **argv);
int cmd_members(struct cli *c, int argc, char **argv);
int cmd_vs(struct cli *c, int argc, char **argv);

#endif
