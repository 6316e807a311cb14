/* The turn trace: CLOCK_MONOTONIC timestamps of a node's loop steps (wake, reads, the batch's
 * end, its sync, its sends, the client's replies), kept in memory and written to a file when the
 * runtime is freed. Off unless the environment variable STRATA_TURN_TRACE names a directory
 * (then node N writes DIR/node-N.tt); when off, each probe is one test of a NULL pointer.
 *
 * It exists to measure where a put's time goes between processes (scripts/turn-breakdown joins
 * the nodes' files with the bench client's, `strata bench` under the same variable, on the one
 * system-wide monotonic clock). Bounded: a ring of UVRT_TT_CAP records; when it wraps, the
 * oldest are overwritten and the file holds the newest.
 *
 * File format: the 8 bytes "STRATATT", u32 version (1), u32 node id, then records of 16 bytes,
 * oldest first: u64 t_ns, u16 kind, u16 a, u32 b (all little-endian, as the host writes them:
 * the reader runs on the same machine). */
#ifndef STRATA_RT_UV_TURNTRACE_H
#define STRATA_RT_UV_TURNTRACE_H

#include <stdint.h>

#define UVRT_TT_CAP (1u << 21)

enum uvrt_tt_kind {
	UVRT_TT_POLL = 1,     /* the loop is about to block in its poll (prepare phase) */
	UVRT_TT_RX_CALL,      /* one recvmmsg call is about to be made (the receive buffer asked) */
	UVRT_TT_RX_EMPTY,     /* a recvmmsg call found nothing (EAGAIN) */
	UVRT_TT_RX_DGRAM,     /* a datagram read: a = the peer of its source address, b = bytes */
	UVRT_TT_TCP_RX,       /* a client connection's read: b = bytes */
	UVRT_TT_BATCH_END,    /* the turn-batch ends: a = its inputs, b = 1 if a timer's */
	UVRT_TT_SYNC_BEGIN,   /* its sync starts: a = 1 on the loop thread, 0 on the pool (the
			       * loop thread's also when nothing is staged: see SYNC_END's b) */
	UVRT_TT_SYNC_END,     /* the sync is done (on the loop thread, b = the store's result:
			       * 0 nothing was staged, 1 synced; or the pool's callback, a = 0) */
	UVRT_TT_TX,           /* sendmmsg is called: a = datagrams, b = bit p-1 for peer p */
	UVRT_TT_TX_DONE,      /* it returned */
	UVRT_TT_TCP_TX,       /* bytes written to a TCP connection (client, RESP or metrics
			       * port; lsn_write): b = bytes */
	UVRT_TT_WORK,         /* work handed to the thread pool: a = 0 a flush, 1 the spare */
	UVRT_TT_TIMER,        /* the node's timer fired */
	UVRT_TT_KIND_MAX
};

struct uvrt_tt_rec {
	uint64_t t_ns;
	uint16_t kind;
	uint16_t a;
	uint32_t b;
};

struct uvrt_tt {
	struct uvrt_tt_rec *ring; /* UVRT_TT_CAP records */
	uint64_t n;               /* records ever written (the ring holds the last UVRT_TT_CAP) */
	char path[4096];
	uint32_t id;
};

/* A trace for node `id` if STRATA_TURN_TRACE is set (NULL otherwise, or when out of memory:
 * the node runs without one). */
struct uvrt_tt *uvrt_tt_new(uint32_t id);
void uvrt_tt_put(struct uvrt_tt *tt, enum uvrt_tt_kind kind, uint32_t a, uint32_t b);
/* Writes the file (errors to stderr: a measuring aid, never the node's business) and frees. */
void uvrt_tt_free(struct uvrt_tt *tt);

#define UVRT_TT(rt, kind, a, b)                                                                \
	do {                                                                                   \
		if ((rt)->tt)                                                                  \
			uvrt_tt_put((rt)->tt, (kind), (uint32_t)(a), (uint32_t)(b));           \
	} while (0)

#endif
