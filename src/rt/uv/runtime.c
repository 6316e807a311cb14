/* The libuv runtime: the environment of one node on a uv loop (time, random, UDP datagrams,
 * the wake-up timer, stable storage, outputs, log). See uv.h. */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "core/assert.h"
#include "core/error.h"
#include "crypto/crypto.h"
#include "crypto/session.h"
#include "crypto/sha256.h"
#include "links/links.h"
#include "rt/uv/internal.h"
#include "store/rlog.h"

/* Back-pressure: stop reading datagrams while more than this is held waiting for a sync, resume
 * below half of it (the kernel buffers meanwhile, then drops: a fair-loss link may). */
#define HELD_MAX (32u << 20)

/* Room for any datagram the kernel can hand us: larger than max_datagram, so an oversized one
 * is seen whole, passed to the link layer and rejected there (counted), not silently cut. The
 * socket reads with recvmmsg (UV_UDP_RECVMMSG): libuv cuts the buffer into RX_CHUNKS slots of
 * 64 KiB, one datagram each, so one system call reads up to RX_CHUNKS datagrams. Only the pages
 * a datagram lands on are touched. */
#define RX_DGRAM (64u * 1024)
#define RX_CHUNKS 20u
#define RX_BUF (RX_DGRAM * RX_CHUNKS)
/* The send arena: a run of datagrams up to this many bytes (or TX_BATCH of them) goes out in one
 * sendmmsg; at least one max_datagram. */
#define TX_ARENA (64u * 1024)

static const char *level_names[] = { "error", "warn", "info", "debug", "trace" };

const char *strata_log_level_name(enum strata_log_level l)
{
	return (unsigned)l < 5 ? level_names[l] : "?";
}

int strata_log_level_parse(const char *s)
{
	for (int i = 0; i < 5; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

/* ---- log ---- */

static void log_v(struct strata_uv *rt, enum strata_log_level lvl, const char *fmt, va_list ap)
{
	if (lvl > rt->o.log_level)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[32];
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	char msg[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	uint64_t lamport = rt->node ? strata_node_lamport(rt->node) : 0;
	/* One fprintf per line: lines from one process never interleave. */
	fprintf(rt->o.log ? rt->o.log : stderr, "%s.%03ldZ n=%u L=%" PRIu64 " %s: %s\n", when,
		ts.tv_nsec / 1000000, rt->id, lamport, strata_log_level_name(lvl), msg);
}

void strata_uv_log(struct strata_uv *rt, enum strata_log_level lvl, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_v(rt, lvl, fmt, ap);
	va_end(ap);
}

/* ---- environment ---- */

static void nem_on_timer(uv_timer_t *t);

static uint64_t env_now(void *ctx)
{
	(void)ctx;
	return uv_hrtime() / 1000;
}

/* ---- TEST ONLY: the capture of peer datagrams (--test-capture) ----
 * One record per datagram: direction (0 sent, 1 received), the peer it went to (0 when
 * received: the prefix names the claimed sender), two zero bytes, the length (u32 little-endian),
 * then the datagram's bytes exactly as they left or arrived. Flushed per record, so a test can
 * read the file while the node runs. A failed write is logged once and the capture stops. */
static void capture(struct strata_uv *rt, uint8_t dir, uint32_t peer, const uint8_t *buf, size_t len)
{
	FILE *f = rt->o.test_capture;
	if (!f || rt->capture_failed)
		return;
	uint8_t h[8] = { dir, (uint8_t)peer, 0, 0, (uint8_t)len, (uint8_t)(len >> 8),
			 (uint8_t)(len >> 16), (uint8_t)(len >> 24) };
	if (fwrite(h, 1, sizeof h, f) != sizeof h || fwrite(buf, 1, len, f) != len || fflush(f) != 0) {
		rt->capture_failed = true;
		strata_uv_log(rt, STRATA_LOG_ERROR, "--test-capture: write failed; capture stopped");
	}
}

/* ---- the nemesis delay ---- */

static void udp_send_now(struct strata_uv *rt, uint32_t to, const uint8_t *buf, size_t len)
{
	capture(rt, 0, to, buf, len);
	uv_buf_t b = uv_buf_init((char *)(uintptr_t)buf, (unsigned)len);
	if (uv_udp_try_send(&rt->udp, &b, 1, (const struct sockaddr *)&rt->peer_addr[to]) < 0)
		rt->counters.udp_send_dropped++;
}

/* Sends every held datagram that is due (all of them when `all`), then re-arms the timer for
 * the next one. The ring is FIFO: after the delay is lowered a datagram may wait for older
 * ones, so it is sent at least (never less than) the delay late. */
static void nem_release(struct strata_uv *rt, bool all)
{
	uint64_t now = all ? 0 : uv_now(rt->loop);
	while (rt->nem_qlen) {
		struct nem_delayed *d = &rt->nem_q[rt->nem_qhead];
		if (!all && d->due_ms > now)
			break;
		if (!rt->closing && rt->udp_init)
			udp_send_now(rt, d->to, d->buf, d->len);
		rt->nem_qbytes -= d->len;
		free(d->buf);
		d->buf = NULL;
		rt->nem_qhead = (rt->nem_qhead + 1) % NEM_DELAY_MAX;
		rt->nem_qlen--;
	}
	if (!rt->nem_timer_init || rt->closing)
		return;
	now = uv_now(rt->loop);
	if (rt->nem_qlen) {
		uint64_t due = rt->nem_q[rt->nem_qhead].due_ms;
		uv_timer_start(&rt->nem_timer, nem_on_timer, due > now ? due - now : 0, 0);
	} else {
		uv_timer_stop(&rt->nem_timer);
	}
}

static void nem_on_timer(uv_timer_t *t)
{
	nem_release(t->data, false);
}

static void nem_hold(struct strata_uv *rt, uint32_t to, const uint8_t *buf, size_t len)
{
	if (rt->nem_qlen == NEM_DELAY_MAX || rt->nem_qbytes + len > NEM_DELAY_MAX_BYTES ||
	    !rt->nem_q || !rt->nem_timer_init) {
		rt->counters.nemesis_delay_overflow++;
		return;
	}
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy) {
		rt->counters.nemesis_delay_overflow++;
		return;
	}
	memcpy(copy, buf, len);
	uint32_t slot = (rt->nem_qhead + rt->nem_qlen) % NEM_DELAY_MAX;
	uv_update_time(rt->loop);
	rt->nem_q[slot] = (struct nem_delayed){ .due_ms = uv_now(rt->loop) + rt->nem_delay_ms,
						.to = to, .len = (uint32_t)len, .buf = copy };
	rt->nem_qlen++;
	rt->nem_qbytes += len;
	rt->counters.nemesis_delayed++;
	if (rt->nem_qlen == 1)
		uv_timer_start(&rt->nem_timer, nem_on_timer, rt->nem_delay_ms, 0);
}

void uvrt_nemesis_set_delay(struct strata_uv *rt, uint32_t ms)
{
	if (ms && !rt->nem_q) {
		rt->nem_q = calloc(NEM_DELAY_MAX, sizeof *rt->nem_q);
		if (!rt->nem_q) {
			strata_uv_log(rt, STRATA_LOG_ERROR, "nemesis delay: out of memory");
			return;
		}
	}
	if (ms && !rt->nem_timer_init && !rt->closing) {
		if (uv_timer_init(rt->loop, &rt->nem_timer) != 0) {
			strata_uv_log(rt, STRATA_LOG_ERROR, "nemesis delay: no timer");
			return;
		}
		rt->nem_timer.data = rt;
		rt->nem_timer_init = true;
	}
	rt->nem_delay_ms = ms;
	if (!ms)
		nem_release(rt, true);
}

/* Hands the datagrams of the run to the kernel: sendmmsg on Linux (one system call for up to
 * TX_BATCH datagrams), else one try_send each. As with try_send nothing is queued: a datagram
 * the kernel refuses (a full socket buffer) is lost and counted, as a fair-loss link may lose it. */
static void tx_flush(struct strata_uv *rt)
{
	uint32_t n = rt->tx_n;
	rt->tx_n = 0;
	rt->tx_used = 0;
	if (!n || rt->closing || !rt->udp_init)
		return;
#if defined(__linux__)
	uv_os_fd_t fd;
	if (uv_fileno((const uv_handle_t *)&rt->udp, &fd) == 0) {
		if (rt->tt) {
			uint32_t to = 0;
			for (uint32_t i = 0; i < n; i++)
				to |= rt->tx_to[i] <= 32 ? 1u << (rt->tx_to[i] - 1) : 0;
			uvrt_tt_put(rt->tt, UVRT_TT_TX, n, to);
		}
		struct mmsghdr m[TX_BATCH];
		struct iovec iov[TX_BATCH];
		memset(m, 0, n * sizeof(m[0]));
		for (uint32_t i = 0; i < n; i++) {
			iov[i].iov_base = rt->txbuf + rt->tx_off[i];
			iov[i].iov_len = rt->tx_len[i];
			m[i].msg_hdr.msg_iov = &iov[i];
			m[i].msg_hdr.msg_iovlen = 1;
			m[i].msg_hdr.msg_name = &rt->peer_addr[rt->tx_to[i]];
			m[i].msg_hdr.msg_namelen =
				rt->peer_addr[rt->tx_to[i]].ss_family == AF_INET6
					? sizeof(struct sockaddr_in6)
					: sizeof(struct sockaddr_in);
		}
		uint32_t i = 0;
		while (i < n) {
			int r = sendmmsg(fd, m + i, n - i, MSG_DONTWAIT);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) { /* the datagram at i is refused: lost, go on with the rest */
				rt->counters.udp_send_dropped++;
				i++;
				continue;
			}
			i += (uint32_t)r;
		}
		UVRT_TT(rt, UVRT_TT_TX_DONE, n, 0);
		return;
	}
#endif
	for (uint32_t i = 0; i < n; i++) {
		uv_buf_t b = uv_buf_init((char *)(rt->txbuf + rt->tx_off[i]), rt->tx_len[i]);
		if (uv_udp_try_send(&rt->udp, &b, 1,
				    (const struct sockaddr *)&rt->peer_addr[rt->tx_to[i]]) < 0)
			rt->counters.udp_send_dropped++;
	}
}

static void env_send_flush(void *ctx)
{
	tx_flush(ctx);
}

static void env_send(void *ctx, uint32_t to, const uint8_t *buf, size_t len)
{
	struct strata_uv *rt = ctx;
	if (rt->closing || !rt->udp_init || to < 1 || to > rt->cfg->n || !rt->peer_addr_ok[to]) {
		rt->counters.udp_send_dropped++;
		return;
	}
	/* The nemesis: a blocked link, or a random share of the datagrams, is lost here. */
	if ((rt->nem_block_out >> (to - 1)) & 1 ||
	    (rt->nem_drop_pct && randombytes_uniform(100) < rt->nem_drop_pct)) {
		rt->counters.nemesis_dropped_out++;
		return;
	}
	if (rt->nem_delay_ms) {
		nem_hold(rt, to, buf, len);
		return;
	}
	capture(rt, 0, to, buf, len);
	if (len > rt->tx_cap) { /* cannot happen: the arena holds max_datagram */
		rt->counters.udp_send_dropped++;
		return;
	}
	/* Kept for the run's sendmmsg (env.send_flush). Nothing is queued beyond the run: the
	 * datagram leaves with it or is lost, as a fair-loss link may. A queue here would only grow
	 * under overload; the links retransmit what matters. */
	if (rt->tx_n == TX_BATCH || rt->tx_used + len > rt->tx_cap)
		tx_flush(rt);
	memcpy(rt->txbuf + rt->tx_used, buf, len);
	rt->tx_to[rt->tx_n] = to;
	rt->tx_off[rt->tx_n] = (uint32_t)rt->tx_used;
	rt->tx_len[rt->tx_n] = (uint32_t)len;
	rt->tx_n++;
	rt->tx_used += len;
}

static void on_timer(uv_timer_t *t);
static void on_udp_alloc_fwd(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_udp_recv_fwd(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
			    const struct sockaddr *addr, unsigned flags);

static void arm_timer(struct strata_uv *rt)
{
	/* Stopped on a storage failure (fatal_grace): the node's deadlines no longer move, so a
	 * timer armed for one already past would fire again at once, in the same timers phase,
	 * and the loop would poll nothing until the grace ended. */
	if (!rt->timer_init || rt->closing || rt->fatal_reported)
		return;
	if (rt->wake_at_us == UINT64_MAX) {
		uv_timer_stop(&rt->timer);
		return;
	}
	uint64_t now = uv_hrtime() / 1000;
	uint64_t ms = rt->wake_at_us > now ? (rt->wake_at_us - now + 999) / 1000 : 0;
	uv_update_time(rt->loop); /* the loop's cached time may be a whole turn old */
	uv_timer_start(&rt->timer, on_timer, ms, 0);
}

static void env_wake_at(void *ctx, uint64_t deadline_us)
{
	struct strata_uv *rt = ctx;
	rt->wake_at_us = deadline_us;
	arm_timer(rt);
}

static void batch_close_now(struct strata_uv *rt);

/* A timer's turn is a batch of its own, closed before the callback returns: left open for
 * on_check, it would end only after the next poll, which blocks until the next datagram,
 * client byte or timer, so whatever the timer's turn sends (a retransmission, a heartbeat, a
 * delayed acknowledgement) would wait for unrelated input. */
static void on_timer(uv_timer_t *t)
{
	struct strata_uv *rt = t->data;
	UVRT_TT(rt, UVRT_TT_TIMER, 0, 0);
	bool opened = !rt->batch_open;
	uvrt_input(rt);
	rt->batch_timer = true;
	strata_node_tick(rt->node);
	if (opened && rt->batch_open && !rt->closing)
		batch_close_now(rt);
	/* The loop's clock has millisecond granularity, so the timer can fire a little before the
	 * node's deadline; the node then fires nothing and, its deadline unchanged, does not
	 * report it again. Re-arm for the same deadline in that case. */
	if (!uv_is_active((uv_handle_t *)&rt->timer))
		arm_timer(rt);
}

static uint64_t env_random(void *ctx)
{
	struct strata_uv *rt = ctx;
	if (rt->rand_left == 0) {
		randombytes_buf(rt->rand_buf, sizeof(rt->rand_buf));
		rt->rand_left = (unsigned)(sizeof(rt->rand_buf) / sizeof(rt->rand_buf[0]));
	}
	uint64_t r = rt->rand_buf[--rt->rand_left];
	rt->rand_buf[rt->rand_left] = 0; /* handed out once */
	return r;
}

/* A stable-storage failure: logged, and kept for the fatal line that follows when the node
 * stops on it (one line then says what failed, on which file, and that the node stops). */
static void store_failed(struct strata_uv *rt, const char *text)
{
	strata_uv_log(rt, STRATA_LOG_ERROR, "%s", text);
	snprintf(rt->store_err, sizeof(rt->store_err), "%s", text);
}

static int env_store(void *ctx, const char *key, const void *val, size_t len)
{
	struct strata_uv *rt = ctx;
	if (!rt->o.store)
		return STRATA_EIO;
	int rc = strata_store_put(rt->o.store, key, val, len);
	if (rc)
		store_failed(rt, strata_store_error(rt->o.store));
	return rc;
}

static int env_retrieve(void *ctx, const char *key, struct strata_msg **out)
{
	struct strata_uv *rt = ctx;
	if (!rt->o.store)
		return STRATA_EIO;
	int rc = strata_store_get(rt->o.store, key, out);
	if (rc && rc != STRATA_ENOENT)
		store_failed(rt, strata_store_error(rt->o.store));
	return rc;
}

static int env_remove(void *ctx, const char *key)
{
	struct strata_uv *rt = ctx;
	if (!rt->o.store)
		return STRATA_EIO;
	int rc = strata_store_del(rt->o.store, key);
	if (rc)
		store_failed(rt, strata_store_error(rt->o.store));
	return rc;
}

/* env.wal: the KV's log lives in the store's record log. */
static struct strata_rlog *env_wal(void *ctx, const char *name)
{
	struct strata_uv *rt = ctx;
	return rt->o.store && strcmp(name, "kv") == 0 ? strata_store_wal(rt->o.store) : NULL;
}

/* ---- the sync thread ---- */

static void sync_work(uv_work_t *w);
static void sync_after(uv_work_t *w, int status);
static void spare_kick(struct strata_uv *rt);

/* The flush of a small batch runs on the loop thread (see sync_start): at most this many inputs
 * and this many bytes written to the record log. */
#define SYNC_INLINE_INPUTS 2u
#define SYNC_INLINE_BYTES 4096u

static void sync_account(struct strata_uv *rt)
{
	uint64_t us = uv_hrtime() / 1000 - rt->sync_start_us;
	rt->counters.sync_us_total += us;
	uvrt_metrics_observe(&rt->met_sync, us);
	if (us > rt->counters.sync_us_max)
		rt->counters.sync_us_max = us;
}

/* Commits what is staged (no flush) and hands the flush to the thread pool. 1 if nothing was
 * staged (nothing to wait for) or the flush is done already (inline), 0 if a flush started,
 * < 0 on failure.
 *
 * Inline (may_inline: one batch, not a group staged behind a running flush): a batch of at
 * most SYNC_INLINE_INPUTS inputs, none of them a timer, that staged at most SYNC_INLINE_BYTES
 * for the record log (a follower's turn for one APPEND at c=1) is flushed here, on the loop
 * thread. Not a timer's turn: the KV leader stores its own copy of recent entries from a
 * timer, and a client request arriving meanwhile should have its APPENDs sent (early class)
 * while that flush runs, not after it. The flush costs
 * the same fdatasync either way; the pool saves the loop nothing while the node has no other
 * input, and costs a handoff to a pool thread and an eventfd wake back (two wakeups per put).
 * A larger batch keeps the pool: its flush is long enough for more input to arrive, which the
 * loop then reads and stages meanwhile (group commit). Persist before send is unchanged: the
 * node releases the batch's outputs only when this returns 1 after the flush succeeded. */
static int sync_start(struct strata_uv *rt, uint64_t ticket, bool may_inline)
{
	STRATA_ASSERT(!rt->syncing);
	rt->sync_start_us = uv_hrtime() / 1000;
	if (may_inline && rt->o.test_sync_delay_ms == 0 && !rt->batch_timer &&
	    rt->batch_inputs <= SYNC_INLINE_INPUTS &&
	    strata_store_staged_bytes(rt->o.store) <= SYNC_INLINE_BYTES) {
		/* Commit and flush here. When the record log's group is one write and nothing else
		 * is unsynced, that write is durable by itself (RWF_DSYNC: one system call instead of
		 * pwrite + fdatasync, store/wal_file.c); the store decides, and either way the batch
		 * is durable when this returns 1. */
		bool dsync = false;
		UVRT_TT(rt, UVRT_TT_SYNC_BEGIN, 1, 0);
		int rc = strata_store_sync_now(rt->o.store, &dsync);
		UVRT_TT(rt, UVRT_TT_SYNC_END, 1, rc);
		if (rc < 0) {
			store_failed(rt, strata_store_error(rt->o.store));
			return rc;
		}
		if (rc == 0)
			return 1; /* nothing staged */
		sync_account(rt);
		strata_node_counters(rt->node)->syncs++;
		rt->counters.syncs_inline++;
		rt->counters.syncs_dsync += dsync;
		rt->counters.store_syncs = strata_store_commits(rt->o.store);
		spare_kick(rt);
		return 1;
	}
	int rc = strata_store_commit_nosync(rt->o.store);
	if (rc < 0) {
		store_failed(rt, strata_store_error(rt->o.store));
		return rc;
	}
	if (rc == 0 && rt->o.test_sync_delay_ms == 0)
		return 1;
	rt->syncing = true;
	rt->sync_ticket = ticket;
	rt->sync_work.data = rt;
	UVRT_TT(rt, UVRT_TT_SYNC_BEGIN, 0, 0);
	UVRT_TT(rt, UVRT_TT_WORK, 0, 0);
	rc = uv_queue_work(rt->loop, &rt->sync_work, sync_work, sync_after);
	if (rc) {
		rt->syncing = false;
		strata_uv_log(rt, STRATA_LOG_ERROR, "sync: uv_queue_work: %s", uv_strerror(rc));
		return STRATA_EIO;
	}
	return 0;
}

/* On a thread-pool thread: the flush (and the test-only delay before it). */
static void sync_work(uv_work_t *w)
{
	struct strata_uv *rt = w->data;
	if (rt->o.test_sync_delay_ms) {
		struct timespec ts = { .tv_sec = rt->o.test_sync_delay_ms / 1000,
				       .tv_nsec = (long)(rt->o.test_sync_delay_ms % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) != 0)
			;
	}
	rt->sync_rc = strata_store_flush(rt->o.store);
}

/* Back on the loop: the flush is done. Release what it covers; start the next group. */
static void sync_done(uv_work_t *w, int status);

/* The replies one step of the node releases (a turn-batch's end, a finished sync) toward one
 * connection of the client or the RESP port leave in one write (lsn_cork): only replies the
 * node already released are held, until the end of this callback.
 * A stratad built with -DSTRATA_RESP_CORK_BROKEN=1 leaves the RESP port uncorked (one write per
 * flush of a connection's reply ring, as before the cork): test_resp.sh's count of replies per
 * write fails against it (docs/resp.md). No other build defines it. */
#ifndef STRATA_RESP_CORK_BROKEN
#define STRATA_RESP_CORK_BROKEN 0
#endif

static void ports_cork(struct strata_uv *rt)
{
	lsn_cork(&rt->client_lsn);
	if (!STRATA_RESP_CORK_BROKEN)
		lsn_cork(&rt->resp_lsn);
}

static void ports_uncork(struct strata_uv *rt)
{
	if (!STRATA_RESP_CORK_BROKEN)
		lsn_uncork(&rt->resp_lsn);
	lsn_uncork(&rt->client_lsn);
}

/* The replies a finished flush releases toward one connection leave in one write. */
static void sync_after(uv_work_t *w, int status)
{
	struct strata_uv *rt = w->data;
	ports_cork(rt);
	sync_done(w, status);
	ports_uncork(rt);
}

static void sync_done(uv_work_t *w, int status)
{
	struct strata_uv *rt = w->data;
	UVRT_TT(rt, UVRT_TT_SYNC_END, 0, 0);
	rt->syncing = false;
	int rc = status == 0 ? rt->sync_rc : STRATA_EIO;
	uint64_t us = uv_hrtime() / 1000 - rt->sync_start_us;
	sync_account(rt);
	/* Closing, or stopped on a storage failure (fatal_grace): nothing more is committed,
	 * released or prepared. */
	if (rt->closing || rt->fatal_reported)
		return;
	struct strata_counters *nc = strata_node_counters(rt->node);
	if (rc) {
		store_failed(rt, strata_store_flush_error(rt->o.store));
		strata_node_synced(rt->node, rt->sync_ticket, rc);
		return;
	}
	nc->syncs++;
	rt->counters.store_syncs = strata_store_commits(rt->o.store); /* one flush per commit */
	uint64_t done = rt->sync_ticket;
	strata_uv_log(rt, STRATA_LOG_DEBUG, "sync done: batches up to %" PRIu64 " durable (%" PRIu64
		      " us)", done, us);
	if (rt->want_ticket > done) {
		/* Batches staged while the flush ran: commit them as one group and flush again. */
		int r2 = sync_start(rt, rt->want_ticket, false);
		if (r2 < 0) {
			strata_node_synced(rt->node, done, 0);
			strata_node_synced(rt->node, rt->want_ticket, r2);
			return;
		}
		if (r2 > 0)
			done = rt->want_ticket; /* they stored nothing */
	}
	rt->releasing = done;
	strata_node_synced(rt->node, done, 0);
	rt->releasing = 0;
	spare_kick(rt);
	if (rt->udp_paused && strata_node_held_bytes(rt->node) < HELD_MAX / 2 && rt->udp_init &&
	    !rt->closing) {
		rt->udp_paused = false;
		rt->rx_drained = false;
		uv_udp_recv_start(&rt->udp, on_udp_alloc_fwd, on_udp_recv_fwd);
	}
}

/* ---- the record log's next segment, zero-filled ahead on the thread pool ---- */

static void spare_work(uv_work_t *w)
{
	struct strata_uv *rt = w->data;
	strata_store_spare_prepare(rt->o.store);
}

static void spare_after(uv_work_t *w, int status)
{
	struct strata_uv *rt = w->data;
	(void)status; /* not run: nothing was prepared, done then finds no spare */
	rt->spare_running = false;
	if (strata_store_spare_done(rt->o.store) != 0) {
		/* Tried again after the next flush; on a full disk every try fails: logged at the
		 * first failure and when one succeeds again, counted each time. */
		rt->counters.spare_failures++;
		if (!rt->spare_failing && !rt->closing)
			strata_uv_log(rt, STRATA_LOG_WARN, "%s (the next segment is created without it; "
				      "logged once until a preparation succeeds, counted in "
				      "spare_failures)", strata_store_error(rt->o.store));
		rt->spare_failing = true;
	} else if (rt->spare_failing) {
		rt->spare_failing = false;
		if (!rt->closing)
			strata_uv_log(rt, STRATA_LOG_INFO, "store: the record log's next segment is "
				      "prepared again");
	}
}

/* After a flush: once the log has a segment, its successor is prepared off the loop thread, so
 * that appends overwrite written blocks (wal_file.c). */
static void spare_kick(struct strata_uv *rt)
{
	if (!rt->o.store || rt->closing || rt->fatal_reported || rt->spare_running ||
	    !strata_store_spare_begin(rt->o.store))
		return;
	rt->spare_running = true;
	rt->spare_work.data = rt;
	UVRT_TT(rt, UVRT_TT_WORK, 1, 0);
	if (uv_queue_work(rt->loop, &rt->spare_work, spare_work, spare_after) != 0) {
		rt->spare_running = false;
		(void)strata_store_spare_done(rt->o.store); /* nothing prepared: no spare */
	}
}

/* env.sync_async: the node's batch `ticket` ended. */
static int env_sync_async(void *ctx, uint64_t ticket)
{
	struct strata_uv *rt = ctx;
	rt->want_ticket = ticket;
	if (!rt->o.store)
		return 1;
	if (rt->syncing)
		return 0; /* staged behind the running flush (see sync_after) */
	int rc = sync_start(rt, ticket, true);
	if (rc > 0)
		rt->releasing = ticket; /* nothing to flush: the node releases the batch now */
	return rc;
}

/* Synchronous sync: unused while env.sync_async is set (the node prefers it); kept for a runtime
 * configured without the sync thread. */
static int env_sync(void *ctx)
{
	struct strata_uv *rt = ctx;
	if (!rt->o.store)
		return 0;
	int rc = strata_store_sync(rt->o.store);
	rt->counters.store_syncs = strata_store_commits(rt->o.store);
	if (rc)
		store_failed(rt, strata_store_error(rt->o.store));
	return rc;
}

/* ---- turn-batches: one per loop iteration ---- */

void uvrt_input(struct strata_uv *rt)
{
	rt->releasing = 0;
	rt->batch_inputs++;
	if (rt->batch_open || strata_node_failed(rt->node))
		return;
	strata_node_batch_begin(rt->node);
	rt->batch_open = true;
	rt->batch_inputs = 1;
	rt->batch_timer = false;
}

/* After the poll phase: everything read in this iteration is in; end the batch. */
static void on_check(uv_check_t *h)
{
	struct strata_uv *rt = h->data;
	rt->rx_drained = false; /* the read round is over (libuv's count may have ended it) */
	if (rt->batch_open)
		batch_close_now(rt);
}

/* Ends the open batch (its sync starts; what needs none leaves now). */
static void batch_close_now(struct strata_uv *rt)
{
	UVRT_TT(rt, UVRT_TT_BATCH_END, rt->batch_inputs, rt->batch_timer);
	rt->batch_open = false;
	ports_cork(rt); /* the replies the batch releases: one write per connection */
	strata_node_batch_end(rt->node);
	ports_uncork(rt);
	rt->releasing = 0;
	if (!rt->udp_paused && rt->udp_init && !rt->closing &&
	    strata_node_held_bytes(rt->node) > HELD_MAX) {
		rt->udp_paused = true;
		rt->counters.input_paused++;
		uv_udp_recv_stop(&rt->udp);
	}
}

/* The text of a module event without the "<module>: " prefix some modules put in front (the log
 * line adds the module name itself). */
static const char *event_body(const struct strata_output *o)
{
	const char *t = o->text ? o->text : "";
	size_t ml = o->module_name ? strlen(o->module_name) : 0;
	if (ml > 0 && strncmp(t, o->module_name, ml) == 0 && t[ml] == ':' && t[ml + 1] == ' ')
		return t + ml + 2;
	return t;
}

/* Module events are rare news an operator wants to see (a recovery, a risky setting), so they
 * log at info. A module marks the ones that need attention by starting the text with "warning"
 * (any case), after its "<module>: " prefix if it has one; those log at warn. */
static enum strata_log_level event_level(const struct strata_output *o)
{
	return strncasecmp(event_body(o), "warning", 7) == 0 ? STRATA_LOG_WARN : STRATA_LOG_INFO;
}

/* The node stopped on a storage failure. Before the runtime closes (the daemon's on_fatal, or
 * strata_uv_close), the client and RESP ports stay open for FATAL_GRACE_MS, the node taking
 * no other input (no datagrams, no timers): every request still in the node is answered with
 * STRATA_EIO and why (rt->fatal_why), and so is every request read meanwhile (client.c,
 * handle_op), rather than closing connections under requests the node had not read yet (the
 * kernel then resets them, and the client sees a bare reset). Then every connection is
 * drained (its answers written before the shutdown) and the runtime closes. */
#define FATAL_GRACE_MS 300

/* A stratad built with -DSTRATA_FATAL_ANSWER_BROKEN=1 closes at once, as before the grace: the
 * requests in the node get no answer (a bare closed connection). test_kv_disk_full.sh's check
 * of the writers' errors fails against it (make check-disk-full-broken). No other build
 * defines it. */
#ifndef STRATA_FATAL_ANSWER_BROKEN
#define STRATA_FATAL_ANSWER_BROKEN 0
#endif

static void fatal_grace_end(uv_timer_t *t)
{
	struct strata_uv *rt = t->data;
	if (!uv_is_closing((uv_handle_t *)&rt->grace_timer))
		uv_close((uv_handle_t *)&rt->grace_timer, NULL);
	client_drain_all(rt);
	if (rt->o.on_fatal)
		rt->o.on_fatal(rt->o.arg);
	else
		strata_uv_close(rt);
}

static void fatal_grace(struct strata_uv *rt)
{
	if (STRATA_FATAL_ANSWER_BROKEN) {
		if (rt->o.on_fatal)
			rt->o.on_fatal(rt->o.arg);
		else
			strata_uv_close(rt);
		return;
	}
	client_fail_pending(rt, rt->fatal_why);
	if (rt->udp_init)
		uv_udp_recv_stop(&rt->udp);
	if (rt->timer_init)
		uv_timer_stop(&rt->timer);
	if (rt->nem_timer_init)
		uv_timer_stop(&rt->nem_timer);
	int rc = uv_timer_init(rt->loop, &rt->grace_timer);
	rt->grace_init = rc == 0;
	rt->grace_timer.data = rt;
	if (rc != 0 || uv_timer_start(&rt->grace_timer, fatal_grace_end, FATAL_GRACE_MS, 0) != 0) {
		client_drain_all(rt);
		if (rt->o.on_fatal)
			rt->o.on_fatal(rt->o.arg);
		else
			strata_uv_close(rt);
	}
}

static void env_output(void *ctx, const struct strata_output *o)
{
	struct strata_uv *rt = ctx;
	if (rt->o.on_output)
		rt->o.on_output(rt->o.arg, o);
	if (o->kind == STRATA_OUT_EVENT && strata_node_failed(rt->node) && !rt->fatal_reported) {
		rt->fatal_reported = true;
		if (rt->store_err[0])
			strata_uv_log(rt, STRATA_LOG_ERROR, "%s: %s",
				      o->text ? o->text : "node failed", rt->store_err);
		else
			strata_uv_log(rt, STRATA_LOG_ERROR, "%s", o->text ? o->text : "node failed");
		snprintf(rt->fatal_why, sizeof(rt->fatal_why), "node %u stopped: stable storage "
			 "failed%s%s; the outcome of this request is unknown", rt->o.id,
			 rt->store_err[0] ? ": " : "", rt->store_err);
		fatal_grace(rt);
		return;
	}
	switch (o->kind) {
	case STRATA_OUT_FD:
		strata_uv_log(rt, STRATA_LOG_INFO, "peer %u %s (incarnation %" PRIu64 ")", o->peer,
			      strata_peer_state_name((enum strata_peer_state)o->a), o->b);
		break;
	case STRATA_OUT_LEADER:
		rt->leader_epoch = o->a;
		if (o->peer)
			strata_uv_log(rt, STRATA_LOG_INFO, "leader %u", o->peer);
		else
			strata_uv_log(rt, STRATA_LOG_INFO, "leader none");
		break;
	case STRATA_OUT_DELIVER:
		strata_uv_log(rt, STRATA_LOG_DEBUG, "%s: deliver %u:%" PRIu64 " (%zu bytes)",
			      o->module_name ? o->module_name : "?", o->peer, o->a, o->len);
		break;
	case STRATA_OUT_BCAST:
		strata_uv_log(rt, STRATA_LOG_DEBUG, "%s: broadcast %u:%" PRIu64 " (%zu bytes)",
			      o->module_name ? o->module_name : "?", rt->id, o->a, o->len);
		break;
	case STRATA_OUT_EVENT: {
		/* The level already says "warn": drop the module's own "warning: " marker. */
		const char *body = event_body(o);
		if (event_level(o) == STRATA_LOG_WARN && strncasecmp(body, "warning: ", 9) == 0)
			body += 9;
		strata_uv_log(rt, event_level(o), "%s: %s",
			      o->module_name ? o->module_name : "node", body);
		break;
	}
	case STRATA_OUT_REPLY:
		if (rt->releasing)
			strata_uv_log(rt, STRATA_LOG_DEBUG,
				      "%s: reply to request %" PRIu64 " (status %d) released: batches "
				      "up to %" PRIu64 " durable",
				      o->module_name ? o->module_name : "node", o->a, o->status,
				      rt->releasing);
		else
			strata_uv_log(rt, STRATA_LOG_DEBUG,
				      "%s: reply to request %" PRIu64 " (status %d) released outside "
				      "any sync",
				      o->module_name ? o->module_name : "node", o->a, o->status);
		break;
	}
	client_output(rt, o);
}

static void env_trace(void *ctx, const char *line)
{
	strata_uv_log(ctx, STRATA_LOG_TRACE, "%s", line);
}

/* A module's deliveries are taken by the owner's on_output when it records that module's
 * (records_deliveries), by env_output's debug log line, or by a subscribed client. */
static bool env_deliveries_wanted(void *ctx, const char *module)
{
	struct strata_uv *rt = ctx;
	return rt->o.log_level >= STRATA_LOG_DEBUG ||
	       (rt->o.records_deliveries && rt->o.records_deliveries(rt->o.arg, module)) ||
	       client_deliveries_wanted(rt, module);
}

/* ---- addresses ---- */

int uvrt_resolve(const char *host, uint16_t port, int socktype, struct sockaddr_storage *ss,
		 char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = socktype };
	struct addrinfo *res = NULL;
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%u", port);
	/* Blocking resolution is fine here: it only happens once, at start-up. */
	int rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0 || !res) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
		return STRATA_ECONFIG;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

/* ---- lifecycle ---- */

struct strata_uv *strata_uv_new(uv_loop_t *loop, const struct strata_uv_opts *o, char *err,
				size_t errlen)
{
	STRATA_ASSERT(loop && o && o->cfg && o->id >= 1 && o->id <= o->cfg->n);
	struct strata_uv *rt = calloc(1, sizeof(*rt));
	if (!rt) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rt->loop = loop;
	rt->o = *o;
	rt->cfg = o->cfg;
	strata_pb_arena_init(&rt->req_arena, 4096); /* no buffer (out of memory): malloc'd */
	rt->id = o->id;
	rt->wake_at_us = UINT64_MAX;
	rt->env = (struct strata_env){
		.ctx = rt, .now_us = env_now, .send = env_send, .send_flush = env_send_flush,
		.wake_at = env_wake_at,
		.random = env_random, .store = env_store, .retrieve = env_retrieve,
		.sync = env_sync, .remove = env_remove, .sync_async = env_sync_async, .wal = env_wal,
		.output = env_output, .deliveries_wanted = env_deliveries_wanted,
		.trace = env_trace,
	};
	struct strata_node_opts no = {
		.cfg = o->cfg, .id = o->id, .incarnation = o->incarnation,
		.secret_key = o->secret_key, .coin_share = o->coin_share, .env = &rt->env,
		.trace = o->log_level >= STRATA_LOG_TRACE, .byz = o->byz,
		.transport = &strata_links_transport,
	};
	if (o->client_key) {
		rt->client_key = strata_secure_alloc(STRATA_CLIENT_KEY_LEN);
		if (!rt->client_key) {
			snprintf(err, errlen, "out of secure memory");
			strata_pb_arena_free(&rt->req_arena);
			free(rt);
			return NULL;
		}
		memcpy(rt->client_key, o->client_key, STRATA_CLIENT_KEY_LEN);
		strata_session_resp_password(rt->resp_password, rt->client_key);
		rt->o.client_key = NULL; /* the caller's copy is not ours to keep */
	}
	rt->node = strata_node_new(&no, err, errlen);
	if (rt->node)
		rt->tt = uvrt_tt_new(rt->id);
	if (!rt->node) {
		strata_secure_free(rt->client_key);
		strata_pb_arena_free(&rt->req_arena);
		free(rt);
		return NULL;
	}
	return rt;
}

struct strata_node *strata_uv_node(struct strata_uv *rt)
{
	return rt->node;
}

const struct strata_uv_counters *strata_uv_counters(const struct strata_uv *rt)
{
	return &rt->counters;
}

static void on_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct strata_uv *rt = h->data;
	(void)suggested;
	if (rt->rx_drained) {
		/* A zero-length buffer ends libuv's read loop (it reports UV_ENOBUFS, which
		 * on_udp_recv takes as this end, not as an error). */
		rt->rx_drained = false;
		rt->rx_end = true;
		*buf = uv_buf_init(NULL, 0);
		return;
	}
	UVRT_TT(rt, UVRT_TT_RX_CALL, 0, 0);
	rt->counters.udp_recv_calls++;
	rt->rx_batch = 0;
	*buf = uv_buf_init((char *)rt->rxbuf, RX_BUF);
}

/* Whether addr is peer p's configured address (host and port). */
static bool is_peer_addr(const struct strata_uv *rt, uint32_t p, const struct sockaddr *addr)
{
	if (!rt->peer_addr_ok[p])
		return false;
	const struct sockaddr *pa = (const struct sockaddr *)&rt->peer_addr[p];
	if (pa->sa_family != addr->sa_family)
		return false;
	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)addr, *b = (const void *)pa;
		return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
	}
	if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)addr, *b = (const void *)pa;
		return a->sin6_port == b->sin6_port &&
		       memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
	}
	return false;
}

/* Whether addr is the address of a peer whose datagrams the nemesis drops. */
static bool nemesis_blocks_in(const struct strata_uv *rt, const struct sockaddr *addr)
{
	for (uint32_t p = 1; p <= rt->cfg->n; p++)
		if (((rt->nem_block_in >> (p - 1)) & 1) && is_peer_addr(rt, p, addr))
			return true;
	return false;
}

/* The peer whose configured address addr is, 0 if none (a peer always sends from the address
 * it is bound to, its configured one). */
static uint32_t peer_of_addr(const struct strata_uv *rt, const struct sockaddr *addr)
{
	for (uint32_t p = 1; p <= rt->cfg->n; p++)
		if (is_peer_addr(rt, p, addr))
			return p;
	return 0;
}

/* A datagram that authenticated as a peer but came from another address (strata_node_recv_from):
 * logged at warn, the first and then one in 1,000 (the counter rej_addr has them all). */
static void log_twin(struct strata_uv *rt, const struct sockaddr *addr, uint64_t count)
{
	if (count != 1 && count % 1000 != 0)
		return;
	char host[64] = "?";
	unsigned port = 0;
	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)addr;
		uv_ip4_name(a, host, sizeof(host));
		port = ntohs(a->sin_port);
	} else if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)addr;
		uv_ip6_name(a, host, sizeof(host));
		port = ntohs(a->sin6_port);
	}
	strata_uv_log(rt, STRATA_LOG_WARN,
		      "datagram from %s:%u authenticates as a peer whose configured address it is not "
		      "(a second process with that peer's identity?) -> rejected (rej_addr %" PRIu64 ")",
		      host, port, count);
}

static void on_udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
			const struct sockaddr *addr, unsigned flags)
{
	struct strata_uv *rt = h->data;
	if (nread == UV_ENOBUFS && rt->rx_end) {
		rt->rx_end = false; /* on_udp_alloc ended the round: the socket was drained */
		return;
	}
	if (nread < 0) {
		rt->counters.udp_recv_errors++;
		strata_uv_log(rt, STRATA_LOG_DEBUG, "udp recv: %s", uv_strerror((int)nread));
		return;
	}
	if (addr == NULL) { /* nothing more to read this round */
		if (flags & UV_UDP_MMSG_FREE) {
			/* libuv's release of a recvmmsg batch's buffer, not a read: the call is
			 * over; fewer datagrams than its slots means the socket is drained. */
			rt->rx_drained = rt->rx_batch < RX_CHUNKS;
			return;
		}
		UVRT_TT(rt, UVRT_TT_RX_EMPTY, 0, 0);
		rt->counters.udp_recv_empty++;
		return;
	}
	rt->rx_batch++;
	if (flags & UV_UDP_PARTIAL) {
		rt->counters.udp_recv_truncated++;
		return;
	}
	/* The nemesis drops what arrives from a blocked peer, known by its source address (the
	 * address only selects what to drop; nothing is trusted because of it). */
	if (rt->nem_block_in && nemesis_blocks_in(rt, addr)) {
		rt->counters.nemesis_dropped_in++;
		return;
	}
	/* Whatever the source address, the link layer authenticates the datagram before it
	 * parses it (prefix, then MAC); garbage is rejected and counted there. */
	capture(rt, 1, 0, (const uint8_t *)buf->base, (size_t)nread);
	if (rt->tt)
		uvrt_tt_put(rt->tt, UVRT_TT_RX_DGRAM, peer_of_addr(rt, addr), (uint32_t)nread);
	uvrt_input(rt);
	uint64_t twins = strata_node_counters(rt->node)->rej_addr;
	strata_node_recv_from(rt->node, (const uint8_t *)buf->base, (size_t)nread,
			      peer_of_addr(rt, addr));
	uint64_t now_twins = strata_node_counters(rt->node)->rej_addr;
	if (now_twins != twins)
		log_twin(rt, addr, now_twins);
}

static void on_udp_alloc_fwd(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	on_udp_alloc(h, suggested, buf);
}

static void on_udp_recv_fwd(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
			    const struct sockaddr *addr, unsigned flags)
{
	on_udp_recv(h, nread, buf, addr, flags);
}

static int udp_start(struct strata_uv *rt, char *err, size_t errlen)
{
	const struct strata_peer_cfg *me = &rt->cfg->nodes[rt->id];
	for (uint32_t p = 1; p <= rt->cfg->n; p++) {
		const struct strata_peer_cfg *pc = &rt->cfg->nodes[p];
		int rc = uvrt_resolve(pc->host, pc->port, SOCK_DGRAM, &rt->peer_addr[p], err, errlen);
		if (rc)
			return rc;
		rt->peer_addr_ok[p] = true;
	}
	rt->rxbuf = malloc(RX_BUF);
	rt->tx_cap = rt->cfg->max_datagram > TX_ARENA ? rt->cfg->max_datagram : TX_ARENA;
	rt->txbuf = malloc(rt->tx_cap);
	if (!rt->rxbuf || !rt->txbuf) {
		snprintf(err, errlen, "out of memory");
		return STRATA_ENOMEM;
	}
	/* recvmmsg: up to RX_CHUNKS datagrams per system call (see RX_BUF). */
	int rc = uv_udp_init_ex(rt->loop, &rt->udp, AF_UNSPEC | UV_UDP_RECVMMSG);
	if (rc == 0) {
		rt->udp_init = true;
		rt->udp.data = rt;
		rc = uv_udp_bind(&rt->udp, (const struct sockaddr *)&rt->peer_addr[rt->id], 0);
	}
	if (rc == 0) {
		/* Bursts (a retransmission round toward n peers) should wait in the kernel, not be
		 * dropped there; the kernel caps this at net.core.rmem_max. Best effort. */
		int sz = 4 << 20;
		uv_recv_buffer_size((uv_handle_t *)&rt->udp, &sz);
		rc = uv_udp_recv_start(&rt->udp, on_udp_alloc, on_udp_recv);
	}
	if (rc) {
		snprintf(err, errlen, "udp %s:%u: %s", me->host, me->port, uv_strerror(rc));
		return STRATA_EIO;
	}
	return 0;
}

static void on_tt_prepare(uv_prepare_t *h)
{
	struct strata_uv *rt = h->data;
	UVRT_TT(rt, UVRT_TT_POLL, 0, 0);
}

int strata_uv_start(struct strata_uv *rt, bool recovering, char *err, size_t errlen)
{
	STRATA_ASSERT(!rt->closing && !rt->timer_init);
	int rc = uv_timer_init(rt->loop, &rt->timer);
	if (rc) {
		snprintf(err, errlen, "timer: %s", uv_strerror(rc));
		return STRATA_EIO;
	}
	rt->timer_init = true;
	rt->timer.data = rt;
	rc = uv_check_init(rt->loop, &rt->check);
	if (rc == 0) {
		rt->check_init = true;
		rt->check.data = rt;
		rc = uv_check_start(&rt->check, on_check);
	}
	if (rc) {
		snprintf(err, errlen, "check: %s", uv_strerror(rc));
		return STRATA_EIO;
	}
	if (rt->tt && uv_prepare_init(rt->loop, &rt->tt_prepare) == 0) {
		rt->tt_prepare_init = true;
		rt->tt_prepare.data = rt;
		uv_prepare_start(&rt->tt_prepare, on_tt_prepare);
		uv_unref((uv_handle_t *)&rt->tt_prepare); /* it keeps nothing alive */
	}
	rc = udp_start(rt, err, errlen);
	if (rc == 0)
		rc = client_server_start(rt, err, errlen);
	if (rc == 0)
		rc = resp_server_start(rt, err, errlen);
	if (rc == 0)
		rc = metrics_server_start(rt, err, errlen);
	if (rc)
		return rc;
	rt->started_ms = uv_hrtime() / 1000000;
	strata_uv_log(rt, STRATA_LOG_INFO,
		      "started: cluster %s, %s, n=%u f=%u, incarnation %" PRIu64 "%s, udp %s:%u, "
		      "clients %s:%u, sha256 %s",
		      rt->cfg->cluster_id, strata_model_name(rt->cfg->model), rt->cfg->n, rt->cfg->f,
		      strata_node_incarnation(rt->node), recovering ? " (recovering)" : "",
		      rt->cfg->nodes[rt->id].host, rt->cfg->nodes[rt->id].port,
		      rt->cfg->nodes[rt->id].host, rt->cfg->nodes[rt->id].client_port,
		      strata_sha256_name(strata_sha256_active()));
	strata_node_start(rt->node, recovering);
	arm_timer(rt); /* the first turn may have reported its deadline before we could arm */
	return 0;
}

void strata_uv_close(struct strata_uv *rt)
{
	if (rt->closing)
		return;
	rt->closing = true;
	/* Handles are only closed here; memory is freed in strata_uv_free after the loop has run
	 * every close callback (the runtime owns the handles, embedded in it). */
	if (rt->timer_init)
		uv_close((uv_handle_t *)&rt->timer, NULL);
	if (rt->check_init)
		uv_close((uv_handle_t *)&rt->check, NULL);
	if (rt->tt_prepare_init)
		uv_close((uv_handle_t *)&rt->tt_prepare, NULL);
	if (rt->nem_timer_init)
		uv_close((uv_handle_t *)&rt->nem_timer, NULL);
	if (rt->grace_init && !uv_is_closing((uv_handle_t *)&rt->grace_timer))
		uv_close((uv_handle_t *)&rt->grace_timer, NULL);
	if (rt->udp_init)
		uv_close((uv_handle_t *)&rt->udp, NULL);
	client_server_close(rt);
	resp_server_close(rt);
	metrics_server_close(rt);
}

void strata_uv_free(struct strata_uv *rt)
{
	if (!rt)
		return;
	client_server_free(rt);
	metrics_server_free(rt);
	STRATA_ASSERT(rt->resp_lsn.conns == NULL); /* every RESP close callback has run */
	strata_node_free(rt->node);
	nem_release(rt, true); /* closing: frees what is held without sending it */
	free(rt->nem_q);
	strata_pb_arena_free(&rt->req_arena);
	free(rt->rxbuf);
	free(rt->txbuf);
	uvrt_tt_free(rt->tt); /* writes the turn trace's file */
	strata_secure_free(rt->client_key); /* wiped */
	sodium_memzero(rt->resp_password, sizeof rt->resp_password);
	free(rt);
}
