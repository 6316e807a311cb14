/* The RESP (Redis protocol) endpoint of the libuv runtime: redis-cli, redis-benchmark and Redis
 * client libraries talk to the replicated KV (module "kv", src/smr) on [node.N] resp_port.
 * docs/resp.md lists the commands, the guarantee of each and what differs from Redis.
 *
 * Parsing: as in Redis, a request's first byte decides: '*' starts an array of bulk strings,
 * which hiredis's reader (redisReader) parses; anything else starts an inline command (a text
 * line, as typed into telnet or fed to redis-cli --pipe), framed and split with Redis's quoting
 * rules by resp_inline.c, since hiredis's reader parses RESP types only. A protocol error is
 * answered with "-ERR Protocol error: ..." and the connection closes once that is written (the
 * stream cannot be trusted any more), as Redis does.
 *
 * Every data command becomes one or more KV requests (MGET, EXISTS and DEL of several keys: one
 * request per key; MSET: one request, one log entry). Replies are written in request order:
 * each request holds a slot of a per-connection ring; a slot is written once every one of its
 * KV requests has answered and every earlier slot was written.
 *
 * Order: requests are parsed ahead (pipelining) and go to the KV at once, up to
 * RESP_CONCURRENT_MAX commands of a connection together, unless a command shares a key with a
 * command of the connection still in the KV, or one of them orders with everything (SCAN, or
 * more than RESP_CONCURRENT_KEYS keys): then it is held, and parsing stops, until those answer.
 * So commands on one key take effect in the order sent; commands on different keys sent
 * without waiting are concurrent operations and may take effect in either order (a leader
 * change re-forwards unanswered writes in no particular order). The keys of one multi-key
 * command are requested concurrently.
 *
 * Connections (listener.c, [resp] in the config): the discipline every TCP port shares - a
 * connection limit with oldest-idle eviction, a deadline for a command once its first byte
 * arrived, an idle timeout and an output cap (a client that does not read is disconnected),
 * each counted (resp_evicted, resp_frame_timeouts, resp_idle_closed, resp_slow_dropped,
 * resp_refused). A command is half-received while the reader holds part of it and input is not
 * held back by this node (a full ring or a held command): bytes waiting for the node have no
 * deadline.
 *
 * Bounds: [resp] max_connections connections; RESP_PIPELINE_MAX replies pending per connection
 * and RESP_IN_MAX / 2 bytes parsed ahead (beyond either, reading stops until replies drain); one
 * request of more than RESP_IN_MAX bytes (counted from its first byte, while it arrives), an
 * array announcing more than RESP_ARGS_MAX elements, or an inline line of more than
 * STRATA_RESP_INLINE_MAX: an error and close; RESP_ARGS_MAX words per command; [resp]
 * queue_max_bytes of replies queued toward a connection; at most RESP_KEYS_MAX keys per
 * multi-key command; the runtime's PENDING_MAX requests in flight in the node (beyond: an
 * immediate busy error); RESP_CURSORS SCAN cursors per connection (the oldest is forgotten),
 * each holding one key.
 *
 * Authentication ([client] auth, docs/security.md): when it is on, a connection may send only
 * AUTH, HELLO (with AUTH) and QUIT until it gave the RESP password - derived from the cluster's
 * client key (crypto/session.h; resp.password in a scripts/cluster directory), compared in
 * constant time. Anything else gets -NOAUTH (resp_unauthenticated), a wrong password
 * -WRONGPASS (resp_auth_failed); the connection stays open, as with Redis. RESP itself is not
 * encrypted: the password crosses the network in clear, which is why it is not the client key. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hiredis/hiredis.h>
#include <sodium.h>

#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/msg.h"
#include "core/version.h"
#include "rt/uv/internal.h"
#include "rt/uv/resp_inline.h"
#include "smr/smr.h"

#define RESP_PIPELINE_MAX 256u
#define RESP_IN_MAX (4u << 20)
#define RESP_KEYS_MAX 1024u
#define RESP_ARGS_MAX (2u * SMR_MPUT_MAX + 1) /* words of one command: MSET of SMR_MPUT_MAX */
#define RESP_READ_CHUNK (64u * 1024)
#define RESP_NAME_MAX 64u
#define KV_MODULE "kv"
#define RESP_CURSORS 8u       /* SCAN cursors kept per connection */
#define RESP_CONCURRENT_MAX 64u /* commands of one connection in the KV at once */
#define RESP_CONCURRENT_KEYS 16u /* keys of a command that may overlap others in the KV */
#define RESP_SCAN_COUNT 10u   /* SCAN's default COUNT */
#define RESP_SCAN_COUNT_MAX 1000u

enum rkind {
	R_LOCAL = 0, /* answered at once (PING, errors, ...) */
	R_GET, R_SET, R_SETNX, R_DEL, R_EXISTS, R_MGET, R_MSET, R_INCR, R_GETSET, R_CAS, R_QUIT,
	R_SCAN,
};

struct rpart {
	uint64_t seq;           /* the write's seq in the connection's session (0: none) */
	int status;
	uint64_t flags;
	struct strata_msg *val; /* the reply's data (NULL if none) */
	char *err;              /* the reply's error text */
};

struct rslot {
	uint8_t kind;
	bool used;
	uint32_t nparts, left;
	struct rpart one;       /* parts when nparts == 1 */
	struct rpart *parts;    /* nparts > 1 */
	uint8_t *out;           /* the formatted reply, once every part answered */
	size_t olen;
	/* SCAN: the exact key MATCH asks for (NULL: a prefix pattern or none) */
	struct strata_msg *exact;
	/* While its KV requests are unanswered: the keys it touches, [u32 len][bytes] each (NULL:
	 * it orders with everything, e.g. SCAN). */
	struct strata_msg *keys;
	uint32_t nkeys;
};

/* A SCAN cursor: where the next call resumes (after this key), numbered 1, 2, ... per
 * connection. The least recently created is forgotten beyond RESP_CURSORS. */
struct rcursor {
	uint64_t id; /* 0 = free */
	struct strata_msg *after;
};

struct resp_conn {
	struct lsn_conn ce;     /* first: the listener's part (ce.inflight = KV requests in the
				 * node) */
	struct strata_uv *rt;
	redisReader *rd;
	/* RESP_PIPELINE_MAX slots, allocated at the first command: an idle or slowloris
	 * connection costs ~1 KiB, not the ring's ~29 KiB (1,000 of them arriving at once used to
	 * fault in 30 MB in one loop iteration). */
	struct rslot *slots;
	uint32_t head, count;   /* ring of slots in request order */
	uint8_t *rbuf;          /* libuv read buffer, between alloc and read callbacks */
	bool reading, quitting;
	bool want_input;        /* the ring has room again: on_kick resumes input */
	bool authed;            /* gave the RESP password (or [client] auth is off) */
	bool nested_refused;    /* the reader met an array inside a command (reader_new) */
	uint64_t id;
	char name[RESP_NAME_MAX + 1];
	struct rcursor cursors[RESP_CURSORS];
	uint64_t next_cursor;
	/* A parsed command that must wait for earlier ones (it shares a key with a command in the
	 * KV): its arguments, copied into one block. */
	struct {
		size_t n;
		const char **v;
		size_t *len;
		void *block;
	} held;
	unsigned concurrent; /* data commands in the KV now */
	/* The connection's KV session: every write carries (sess, seq), so the KV applies it
	 * once however often it is re-forwarded. The session's window (SMR_SESSION_WINDOW seqs
	 * above the lowest unanswered one) bounds the writes in flight under it; a write beyond it
	 * gets a one-shot session instead (docs/resp.md). */
	uint64_t sess, sess_next, sess_base;
	uint64_t sess_out; /* bit i: seq sess_base + i is unanswered */
	uint64_t ncmds;    /* commands taken from the input (activity, listener.c) */
	/* Bytes given to the reader since the connection opened, and where in them the array being
	 * parsed started: hiredis moves the elements it parsed out of its buffer, so the size of
	 * a request still arriving is fed - req_start, not what the buffer holds. */
	uint64_t fed, req_start;
};

#define RCONN(lc) ((struct resp_conn *)(lc))

/* ---- output buffer (a growable byte string) ---- */

struct obuf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static void ob_put(struct obuf *b, const void *data, size_t len)
{
	if (b->oom)
		return;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + len)
			cap *= 2;
		uint8_t *np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void ob_printf(struct obuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	ob_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void ob_bulk(struct obuf *b, const void *data, size_t len)
{
	ob_printf(b, "$%zu\r\n", len);
	ob_put(b, data, len);
	ob_put(b, "\r\n", 2);
}

static void ob_null(struct obuf *b) { ob_put(b, "$-1\r\n", 5); }
static void ob_ok(struct obuf *b) { ob_put(b, "+OK\r\n", 5); }
static void ob_int(struct obuf *b, long long v) { ob_printf(b, ":%lld\r\n", v); }

/* "-ERR text": CR and LF in the text would end the line early, so they become spaces. */
static void ob_err(struct obuf *b, const char *prefix, const char *text)
{
	ob_put(b, "-", 1);
	ob_put(b, prefix, strlen(prefix));
	ob_put(b, " ", 1);
	size_t start = b->len;
	ob_put(b, text, strlen(text));
	for (size_t i = start; !b->oom && i < b->len; i++)
		if (b->p[i] == '\r' || b->p[i] == '\n')
			b->p[i] = ' ';
	ob_put(b, "\r\n", 2);
}

/* ---- teardown ---- */

static void slot_clear(struct rslot *s)
{
	struct rpart *parts = s->nparts > 1 ? s->parts : &s->one;
	for (uint32_t i = 0; i < s->nparts; i++) {
		strata_msg_unref(parts[i].val);
		free(parts[i].err);
	}
	if (s->nparts > 1)
		free(s->parts);
	free(s->out);
	strata_msg_unref(s->exact);
	strata_msg_unref(s->keys);
	memset(s, 0, sizeof(*s));
}

static void conn_freed(struct lsn_conn *lc)
{
	struct resp_conn *c = RCONN(lc);
	for (uint32_t i = 0; c->slots && i < RESP_PIPELINE_MAX; i++)
		slot_clear(&c->slots[i]);
	free(c->slots);
	for (uint32_t i = 0; i < RESP_CURSORS; i++)
		strata_msg_unref(c->cursors[i].after);
	free(c->held.block);
	if (c->rd)
		redisReaderFree(c->rd);
	free(c->rbuf);
	free(c);
}

/* Replies still in the node are dropped when they arrive. */
static void conn_closing(struct lsn_conn *lc)
{
	if (!lc->inflight)
		return;
	struct strata_uv *rt = RCONN(lc)->rt;
	for (uint32_t i = 0; i < rt->pend_cap; i++)
		if (rt->pend[i].rid && rt->pend[i].rc == RCONN(lc))
			rt->pend[i].rc = NULL;
	lc->inflight = 0;
}

static void conn_close(struct resp_conn *c)
{
	lsn_conn_close(&c->ce);
}

/* Stops reading and closes once what is queued is written. */
static void conn_drain(struct resp_conn *c)
{
	c->reading = false;
	lsn_conn_drain(&c->ce);
}

/* ---- writing, in request order (the output cap is the listener's) ---- */

static void conn_write(struct resp_conn *c, const uint8_t *data, size_t len)
{
	(void)lsn_write_copy(&c->ce, data, len);
}

static void process_input(struct resp_conn *c);
static void flush_ready(struct resp_conn *c, bool from_node);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void resume_reading(struct resp_conn *c)
{
	if (c->ce.closing || c->ce.draining || c->reading || c->quitting)
		return;
	if ((c->count >= RESP_PIPELINE_MAX || c->held.block) &&
	    c->rd->len - c->rd->pos > RESP_IN_MAX / 2)
		return;
	if (uv_read_start((uv_stream_t *)&c->ce.tcp, on_alloc, on_read) != 0) {
		conn_close(c);
		return;
	}
	c->reading = true;
}

/* Requests buffered in the reader and the socket are taken up again once the ring has room,
 * but never from inside a node output (the node is mid-turn there): a zero timer does it. */
static void on_kick(uv_timer_t *t)
{
	struct strata_uv *rt = t->data;
	for (struct lsn_conn *lc = rt->resp_lsn.conns; lc; lc = lc->next) {
		struct resp_conn *c = RCONN(lc);
		if (!c->want_input || c->ce.closing || c->ce.draining)
			continue;
		c->want_input = false;
		process_input(c);
		flush_ready(c, false);
		resume_reading(c);
	}
}

/* Writes every finished slot at the head of the ring, in one write. from_node: called from a
 * node output, where no new request may enter the node. */
static void flush_ready(struct resp_conn *c, bool from_node)
{
	struct obuf b = {0};
	bool quit = false, freed = false;
	uint64_t replies = 0;
	while (c->count > 0) {
		struct rslot *s = &c->slots[c->head];
		if (!s->out)
			break;
		ob_put(&b, s->out, s->olen);
		quit = quit || s->kind == R_QUIT;
		slot_clear(s);
		c->head = (c->head + 1) % RESP_PIPELINE_MAX;
		c->count--;
		replies++;
		freed = true;
		if (quit)
			break;
	}
	if (b.oom) {
		conn_close(c);
	} else {
		c->rt->counters.resp_replies += replies;
		conn_write(c, b.p, b.len);
	}
	free(b.p);
	if (quit) {
		c->quitting = true;
		conn_drain(c);
		return;
	}
	if ((freed || c->held.block) && !c->ce.closing && !c->ce.draining && from_node &&
	    !c->want_input) {
		/* Room in the ring: requests buffered in the reader, then the socket. */
		c->want_input = true;
		uv_timer_start(&c->rt->resp_kick, on_kick, 0, 0);
	}
}

/* Stores a finished slot's reply. */
static void slot_finish(struct resp_conn *c, struct rslot *s, struct obuf *b)
{
	if (b->oom) {
		free(b->p);
		conn_close(c);
		return;
	}
	s->out = b->p;
	s->olen = b->len;
	if (!s->out) { /* cannot happen: every reply has at least a type byte */
		conn_close(c);
		return;
	}
}

static struct rpart *slot_part(struct rslot *s, uint32_t i)
{
	return s->nparts > 1 ? &s->parts[i] : &s->one;
}

static const char *part_error(const struct rpart *p)
{
	return p->err ? p->err : strata_strerror(p->status);
}

/* SCAN's reply, from the KV's range reply ([u64 count][count x (bytes key, bytes value, u64
 * mod, u64 create, u64 version)][u8 more]): [next cursor, [keys]]. The next cursor remembers
 * the last key; 0 when the range is exhausted. */
static int scan_format(struct resp_conn *c, struct rslot *s, struct obuf *b)
{
	const struct rpart *p = slot_part(s, 0);
	struct strata_rd rd;
	strata_rd_init(&rd, p->val ? p->val->data : NULL, p->val ? p->val->len : 0);
	uint64_t count = strata_rd_u64_max(&rd, p->val ? p->val->len : 0);
	const uint8_t *last = NULL;
	size_t last_len = 0, shown = 0;
	struct obuf keys = { 0 };
	for (uint64_t i = 0; i < count; i++) {
		const uint8_t *k, *v;
		size_t kl = strata_rd_bytes(&rd, &k, SIZE_MAX);
		(void)strata_rd_bytes(&rd, &v, SIZE_MAX);
		(void)strata_rd_u64(&rd);
		(void)strata_rd_u64(&rd);
		(void)strata_rd_u64(&rd);
		if (!strata_rd_ok(&rd))
			break;
		last = k;
		last_len = kl;
		if (s->exact && (kl != s->exact->len || memcmp(k, s->exact->data, kl) != 0))
			continue;
		ob_bulk(&keys, k, kl);
		shown++;
	}
	bool more = strata_rd_u8(&rd) != 0;
	if (strata_rd_done(&rd) != 0 || keys.oom) {
		free(keys.p);
		return -1;
	}
	uint64_t next = 0;
	if (more && last) {
		struct rcursor *slot = &c->cursors[0];
		for (uint32_t i = 0; i < RESP_CURSORS; i++) {
			if (!c->cursors[i].id) {
				slot = &c->cursors[i];
				break;
			}
			if (c->cursors[i].id < slot->id)
				slot = &c->cursors[i];
		}
		struct strata_msg *after = strata_msg_new(last, last_len);
		if (!after) {
			free(keys.p);
			return -1;
		}
		strata_msg_unref(slot->after);
		slot->after = after;
		slot->id = next = ++c->next_cursor;
	}
	ob_printf(b, "*2\r\n");
	char cur[24];
	int cl = snprintf(cur, sizeof cur, "%" PRIu64, next);
	ob_bulk(b, cur, (size_t)cl);
	ob_printf(b, "*%zu\r\n", shown);
	ob_put(b, keys.p, keys.len);
	free(keys.p);
	return 0;
}

/* Formats a data command's reply once every part answered. */
static void slot_format(struct resp_conn *c, struct rslot *s)
{
	struct obuf b = {0};
	for (uint32_t i = 0; i < s->nparts; i++) {
		const struct rpart *p = slot_part(s, i);
		if (p->status == 0)
			continue;
		/* The first failed part decides: a multi-key command is not atomic across keys. */
		if (p->status == STRATA_ESTATE && s->kind == R_CAS) {
			ob_int(&b, 0);
		} else if (p->status == STRATA_EFULL) {
			ob_err(&b, "BUSY", part_error(p));
		} else if (p->status == STRATA_ENOSPACE) {
			/* The space quota ([smr] quota_bytes): Redis's prefix for its maxmemory. */
			ob_err(&b, "OOM", part_error(p));
		} else if (p->status == STRATA_ETIMEDOUT) {
			ob_err(&b, "ERR", "the outcome is unknown (no answer in time); retry");
		} else {
			ob_err(&b, "ERR", part_error(p));
		}
		c->rt->counters.resp_errors++;
		slot_finish(c, s, &b);
		return;
	}
	switch (s->kind) {
	case R_GET:
	case R_GETSET: {
		const struct rpart *p = slot_part(s, 0);
		if (p->flags & STRATA_REPLY_FOUND)
			ob_bulk(&b, p->val ? p->val->data : NULL, p->val ? p->val->len : 0);
		else
			ob_null(&b);
		break;
	}
	case R_SET:
	case R_MSET:
		ob_ok(&b);
		break;
	case R_SETNX:
		if (slot_part(s, 0)->flags & STRATA_REPLY_FOUND)
			ob_ok(&b);
		else
			ob_null(&b);
		break;
	case R_DEL:
	case R_EXISTS: {
		long long n = 0;
		for (uint32_t i = 0; i < s->nparts; i++)
			n += (slot_part(s, i)->flags & STRATA_REPLY_FOUND) ? 1 : 0;
		ob_int(&b, n);
		break;
	}
	case R_MGET:
		ob_printf(&b, "*%u\r\n", s->nparts);
		for (uint32_t i = 0; i < s->nparts; i++) {
			const struct rpart *p = slot_part(s, i);
			if (p->flags & STRATA_REPLY_FOUND)
				ob_bulk(&b, p->val ? p->val->data : NULL, p->val ? p->val->len : 0);
			else
				ob_null(&b);
		}
		break;
	case R_INCR: {
		const struct rpart *p = slot_part(s, 0);
		ob_put(&b, ":", 1);
		if (p->val)
			ob_put(&b, p->val->data, p->val->len);
		ob_put(&b, "\r\n", 2);
		break;
	}
	case R_CAS:
		ob_int(&b, 1);
		break;
	case R_SCAN:
		if (scan_format(c, s, &b) != 0) {
			free(b.p);
			b = (struct obuf){ 0 };
			ob_err(&b, "ERR", "malformed range reply from the node");
			c->rt->counters.resp_errors++;
		}
		break;
	default:
		STRATA_ASSERT(0 && "local slots are finished when created");
	}
	slot_finish(c, s, &b);
}

/* A seq of the connection's session for a new write, or 0 when the window is full. */
static uint64_t sess_take(struct resp_conn *c)
{
	if (c->sess_next - c->sess_base >= SMR_SESSION_WINDOW)
		return 0;
	uint64_t seq = c->sess_next++;
	c->sess_out |= 1ull << (seq - c->sess_base);
	return seq;
}

/* The write of seq was answered: the window moves past every answered seq at its bottom. */
static void sess_release(struct resp_conn *c, uint64_t seq)
{
	STRATA_ASSERT(seq >= c->sess_base && seq - c->sess_base < SMR_SESSION_WINDOW);
	c->sess_out &= ~(1ull << (seq - c->sess_base));
	while (c->sess_base < c->sess_next && !(c->sess_out & 1)) {
		c->sess_out >>= 1;
		c->sess_base++;
	}
}

void resp_reply(struct strata_uv *rt, struct resp_conn *c, uint32_t slot, uint32_t part,
		const struct strata_output *o)
{
	(void)rt;
	STRATA_ASSERT(c->ce.inflight > 0);
	c->ce.inflight--;
	struct rslot *s = &c->slots[slot];
	STRATA_ASSERT(s->used && part < s->nparts && s->left > 0);
	struct rpart *p = slot_part(s, part);
	if (p->seq)
		sess_release(c, p->seq);
	p->status = o->status;
	p->flags = o->b;
	if (o->len)
		p->val = strata_msg_new(o->data, o->len);
	if (o->status && o->text)
		p->err = strdup(o->text);
	if (--s->left > 0)
		return;
	STRATA_ASSERT(c->concurrent > 0);
	c->concurrent--;
	strata_msg_unref(s->keys);
	s->keys = NULL;
	s->nkeys = 0;
	slot_format(c, s);
	if (!c->ce.closing)
		flush_ready(c, true);
}

/* ---- commands ---- */

/* A request's arguments: borrowed from the parsed reply. */
struct args {
	size_t n;
	const char *const *v;
	const size_t *len;
};

static bool is(const struct args *a, size_t i, const char *word)
{
	size_t wl = strlen(word);
	return i < a->n && a->len[i] == wl && strncasecmp(a->v[i], word, wl) == 0;
}

/* A new slot at the tail of the ring (the caller checked there is room). */
static struct rslot *slot_new(struct resp_conn *c, uint8_t kind, uint32_t nparts, uint32_t *idx)
{
	STRATA_ASSERT(c->count < RESP_PIPELINE_MAX);
	if (!c->slots && !(c->slots = calloc(RESP_PIPELINE_MAX, sizeof(*c->slots)))) {
		conn_close(c);
		return NULL;
	}
	*idx = (c->head + c->count) % RESP_PIPELINE_MAX;
	struct rslot *s = &c->slots[*idx];
	memset(s, 0, sizeof(*s));
	s->used = true;
	s->kind = kind;
	s->nparts = nparts;
	s->left = nparts;
	if (nparts > 1) {
		s->parts = calloc(nparts, sizeof(*s->parts));
		if (!s->parts)
			return NULL;
	}
	c->count++;
	if (nparts > 0)
		c->concurrent++; /* in the KV until its last part answers (resp_reply) */
	return s;
}

static void local_reply(struct resp_conn *c, uint8_t kind, struct obuf *b)
{
	uint32_t idx;
	struct rslot *s = slot_new(c, kind, 0, &idx);
	if (!s) {
		free(b->p);
		conn_close(c);
		return;
	}
	slot_finish(c, s, b);
}

static void local_error(struct resp_conn *c, const char *fmt, ...)
{
	char text[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	struct obuf b = {0};
	ob_err(&b, "ERR", text);
	c->rt->counters.resp_errors++;
	local_reply(c, R_LOCAL, &b);
}

/* Sends one KV request as part `part` of slot `idx`. */
static void submit_limit(struct resp_conn *c, uint32_t idx, uint32_t part, enum strata_op op,
			 const void *key, size_t klen, const void *val, size_t vlen,
			 const void *val2, size_t v2len, uint32_t flags, uint32_t limit)
{
	struct strata_uv *rt = c->rt;
	if (c->ce.closing)
		return;
	struct pending_op *p = uvrt_pending_alloc(rt);
	if (!p) {
		struct strata_output o = { .kind = STRATA_OUT_REPLY, .status = STRATA_EFULL,
					   .text = "busy: too many requests in flight on this node" };
		c->ce.inflight++;
		resp_reply(rt, c, idx, part, &o);
		return;
	}
	p->c = NULL;
	p->rc = c;
	p->rslot = idx;
	p->rpart = part;
	c->ce.inflight++;
	/* A write: the next seq of the connection's session (0 beyond its window: the KV then
	 * gives it a one-shot session). */
	uint64_t seq = 0;
	if (op == STRATA_OP_WRITE || op == STRATA_OP_DELETE || op == STRATA_OP_CAS) {
		seq = sess_take(c);
		slot_part(&c->slots[idx], part)->seq = seq;
	}
	struct strata_request req = {
		.id = p->rid, .op = op,
		.key = key, .key_len = klen,
		.value = val, .value_len = vlen,
		.value2 = val2, .value2_len = v2len,
		.flags = flags, .limit = limit,
		.session = seq ? c->sess : 0, .seq = seq,
	};
	uvrt_input(rt);
	strata_node_request(rt->node, KV_MODULE, &req);
}

static void submit(struct resp_conn *c, uint32_t idx, uint32_t part, enum strata_op op,
		   const void *key, size_t klen, const void *val, size_t vlen, const void *val2,
		   size_t v2len, uint32_t flags)
{
	submit_limit(c, idx, part, op, key, klen, val, vlen, val2, v2len, flags, 0);
}

/* SCAN cursor [MATCH pattern] [COUNT n] [TYPE string]: keys in byte order, COUNT at a time
 * (default 10, at most 1000), through the KV's range read (linearizable like GET). MATCH takes
 * a prefix pattern ("user:*") or an exact key (no wildcard); other glob patterns are refused.
 * Every key present from the first call to the last is returned exactly once. */
static void cmd_scan(struct resp_conn *c, const struct args *a)
{
	const char *const *v = a->v;
	const size_t *l = a->len;
	char num[24];
	bool digits = l[1] > 0 && l[1] < sizeof num;
	for (size_t k = 0; digits && k < l[1]; k++)
		digits = v[1][k] >= '0' && v[1][k] <= '9';
	if (!digits) {
		local_error(c, "invalid cursor");
		return;
	}
	memcpy(num, v[1], l[1]);
	num[l[1]] = 0;
	uint64_t cursor = strtoull(num, NULL, 10);
	const char *prefix = "";
	size_t plen = 0;
	bool exact = false;
	uint32_t count = RESP_SCAN_COUNT;
	for (size_t i = 2; i < a->n; i += 2) {
		if (i + 1 >= a->n) {
			local_error(c, "syntax error");
			return;
		}
		if (is(a, i, "MATCH")) {
			const char *pat = v[i + 1];
			size_t pl = l[i + 1];
			size_t lit = 0;
			while (lit < pl && !strchr("*?[]\\", pat[lit]))
				lit++;
			if (lit < pl && !(lit == pl - 1 && pat[lit] == '*')) {
				local_error(c, "SCAN MATCH takes a prefix pattern (prefix*) or a key; "
					       "other glob patterns are not supported");
				return;
			}
			prefix = pat;
			plen = lit;
			exact = lit == pl;
		} else if (is(a, i, "COUNT")) {
			uint32_t n = 0;
			size_t k = 0;
			for (; k < l[i + 1] && k < 9 && v[i + 1][k] >= '0' && v[i + 1][k] <= '9'; k++)
				n = n * 10 + (uint32_t)(v[i + 1][k] - '0');
			if (k == 0 || k < l[i + 1] || n == 0) {
				local_error(c, "value is not an integer or out of range");
				return;
			}
			count = n > RESP_SCAN_COUNT_MAX ? RESP_SCAN_COUNT_MAX : n;
		} else if (is(a, i, "TYPE")) {
			if (!is(a, i + 1, "string")) {
				/* Every key holds a string: no key has another type. */
				struct obuf b = { 0 };
				ob_put(&b, "*2\r\n$1\r\n0\r\n*0\r\n", 15);
				local_reply(c, R_LOCAL, &b);
				return;
			}
		} else {
			local_error(c, "syntax error");
			return;
		}
	}
	const struct strata_msg *after = NULL;
	if (cursor) {
		for (uint32_t i = 0; i < RESP_CURSORS && !after; i++)
			if (c->cursors[i].id == cursor)
				after = c->cursors[i].after;
		if (!after) {
			local_error(c, "invalid cursor (unknown to this connection, or expired: a "
				       "connection keeps its %u newest cursors)", RESP_CURSORS);
			return;
		}
	}
	uint32_t idx;
	struct rslot *s = slot_new(c, R_SCAN, 1, &idx);
	if (!s || (exact && !(s->exact = strata_msg_new(prefix, plen)))) {
		conn_close(c);
		return;
	}
	submit_limit(c, idx, 0, STRATA_OP_RANGE, prefix, plen, after ? after->data : NULL,
		     after ? after->len : 0, NULL, 0, 0, count);
}

static void cmd_info(struct resp_conn *c)
{
	struct strata_uv *rt = c->rt;
	const struct strata_counters *nc = strata_node_counters(rt->node);
	struct obuf t = {0};
	ob_printf(&t, "# Server\r\nredis_version:7.0.0\r\nstrata_node:%u\r\n"
		  "strata_cluster:%s\r\nuptime_in_seconds:%" PRIu64 "\r\n",
		  rt->id, rt->cfg->cluster_id, (uv_hrtime() / 1000000 - rt->started_ms) / 1000);
	ob_printf(&t, "# Clients\r\nconnected_clients:%u\r\n", lsn_open_count(&rt->resp_lsn));
	ob_printf(&t, "# Replication\r\nrole:%s\r\nkv_leader:%" PRIu64 "\r\nkv_term:%" PRIu64
		  "\r\n", nc->kv_leader == rt->id ? "master" : "slave", nc->kv_leader,
		  nc->kv_term);
	ob_printf(&t, "kv_last_index:%" PRIu64 "\r\nkv_commit_index:%" PRIu64
		  "\r\nkv_applied_index:%" PRIu64 "\r\n",
		  nc->kv_last_index, nc->kv_commit_index, nc->kv_applied_index);
	ob_printf(&t, "# Stats\r\nkv_batches:%" PRIu64 "\r\nkv_commands:%" PRIu64
		  "\r\nkv_read_rounds:%" PRIu64 "\r\nkv_busy:%" PRIu64 "\r\n",
		  nc->kv_batches, nc->kv_commands, nc->kv_read_rounds, nc->kv_busy);
	ob_printf(&t, "resp_accepted:%" PRIu64 "\r\nresp_commands:%" PRIu64
		  "\r\nresp_errors:%" PRIu64 "\r\nresp_bad_requests:%" PRIu64 "\r\n",
		  rt->counters.resp_accepted, rt->counters.resp_commands,
		  rt->counters.resp_errors, rt->counters.resp_bad_requests);
	ob_printf(&t, "resp_concurrent_max:%" PRIu64 "\r\n", rt->counters.resp_concurrent_max);
	ob_printf(&t, "resp_replies:%" PRIu64 "\r\nresp_writes:%" PRIu64 "\r\n",
		  rt->counters.resp_replies, rt->counters.resp_writes);
	struct obuf b = {0};
	if (!t.oom)
		ob_bulk(&b, t.p, t.len);
	else
		b.oom = true;
	free(t.p);
	local_reply(c, R_LOCAL, &b);
}

static void cmd_client(struct resp_conn *c, const struct args *a)
{
	struct obuf b = {0};
	if (is(a, 1, "SETNAME") && a->n == 3) {
		if (a->len[2] > RESP_NAME_MAX || memchr(a->v[2], ' ', a->len[2])) {
			local_error(c, "Client names cannot contain spaces and are at most %u bytes",
				    RESP_NAME_MAX);
			return;
		}
		memcpy(c->name, a->v[2], a->len[2]);
		c->name[a->len[2]] = 0;
		ob_ok(&b);
	} else if (is(a, 1, "GETNAME") && a->n == 2) {
		if (c->name[0])
			ob_bulk(&b, c->name, strlen(c->name));
		else
			ob_null(&b);
	} else if (is(a, 1, "ID") && a->n == 2) {
		ob_int(&b, (long long)c->id);
	} else {
		local_error(c, "unknown or unsupported CLIENT subcommand (SETNAME, GETNAME, ID)");
		return;
	}
	local_reply(c, R_LOCAL, &b);
}

/* The key-value commands. */
static void cmd_data(struct resp_conn *c, const struct args *a)
{
	const char *const *v = a->v;
	const size_t *l = a->len;
	size_t n = a->n;
	uint32_t idx;
	struct rslot *s;
	if (is(a, 0, "GET") && n == 2) {
		if ((s = slot_new(c, R_GET, 1, &idx)))
			submit(c, idx, 0, STRATA_OP_READ, v[1], l[1], NULL, 0, NULL, 0, 0);
	} else if (is(a, 0, "SET") && n >= 3 && n <= 4) {
		uint32_t flags = 0;
		if (n == 4) {
			if (is(a, 3, "NX"))
				flags = STRATA_REQ_PUT_NX;
			else if (is(a, 3, "XX"))
				flags = STRATA_REQ_PUT_XX;
			else {
				local_error(c, "syntax error (SET key value [NX|XX]; expiry is not "
					       "supported)");
				return;
			}
		}
		if ((s = slot_new(c, flags ? R_SETNX : R_SET, 1, &idx)))
			submit(c, idx, 0, STRATA_OP_WRITE, v[1], l[1], v[2], l[2], NULL, 0, flags);
	} else if (is(a, 0, "SETNX") && n == 3) {
		/* Redis answers SETNX with 1/0: report it as SET NX's +OK/nil would differ. */
		local_error(c, "use SET key value NX");
		return;
	} else if ((is(a, 0, "DEL") || is(a, 0, "EXISTS") || is(a, 0, "MGET")) && n >= 2) {
		if (n - 1 > RESP_KEYS_MAX) {
			local_error(c, "at most %u keys per command", RESP_KEYS_MAX);
			return;
		}
		bool del = is(a, 0, "DEL");
		uint8_t kind = del ? R_DEL : is(a, 0, "EXISTS") ? R_EXISTS : R_MGET;
		if (!(s = slot_new(c, kind, (uint32_t)(n - 1), &idx)))
			goto oom;
		for (size_t i = 1; i < n && !c->ce.closing; i++)
			submit(c, idx, (uint32_t)(i - 1), del ? STRATA_OP_DELETE : STRATA_OP_READ,
			       v[i], l[i], NULL, 0, NULL, 0, 0);
		return;
	} else if (is(a, 0, "MSET") && n >= 3 && n % 2 == 1) {
		if ((n - 1) / 2 > SMR_MPUT_MAX) {
			local_error(c, "at most %u pairs per MSET", SMR_MPUT_MAX);
			return;
		}
		size_t total = 16;
		for (size_t i = 1; i < n; i++)
			total += l[i] + 10;
		struct strata_wr w;
		strata_wr_init(&w, total);
		strata_wr_u64(&w, (n - 1) / 2);
		for (size_t i = 1; i < n; i++)
			strata_wr_bytes(&w, v[i], l[i]);
		int werr = 0;
		struct strata_msg *pairs = strata_wr_take_msg(&w, &werr);
		if (!pairs)
			goto oom;
		if ((s = slot_new(c, R_MSET, 1, &idx)))
			submit(c, idx, 0, STRATA_OP_WRITE, v[1], l[1], pairs->data, pairs->len, NULL,
			       0, STRATA_REQ_MPUT);
		strata_msg_unref(pairs);
	} else if ((is(a, 0, "INCR") || is(a, 0, "DECR")) && n == 2) {
		const char *d = is(a, 0, "INCR") ? "1" : "-1";
		if ((s = slot_new(c, R_INCR, 1, &idx)))
			submit(c, idx, 0, STRATA_OP_WRITE, v[1], l[1], d, strlen(d), NULL, 0,
			       STRATA_REQ_INCR);
	} else if ((is(a, 0, "INCRBY") || is(a, 0, "DECRBY")) && n == 3) {
		char d[32];
		if (l[2] == 0 || l[2] > 20) {
			local_error(c, "value is not an integer or out of range");
			return;
		}
		size_t dl;
		if (is(a, 0, "DECRBY")) {
			/* Negate the text; the state machine checks it is a valid integer. */
			if (v[2][0] == '-') {
				memcpy(d, v[2] + 1, l[2] - 1);
				dl = l[2] - 1;
			} else {
				d[0] = '-';
				memcpy(d + 1, v[2], l[2]);
				dl = l[2] + 1;
			}
		} else {
			memcpy(d, v[2], l[2]);
			dl = l[2];
		}
		if ((s = slot_new(c, R_INCR, 1, &idx)))
			submit(c, idx, 0, STRATA_OP_WRITE, v[1], l[1], d, dl, NULL, 0,
			       STRATA_REQ_INCR);
	} else if (is(a, 0, "GETSET") && n == 3) {
		if ((s = slot_new(c, R_GETSET, 1, &idx)))
			submit(c, idx, 0, STRATA_OP_WRITE, v[1], l[1], v[2], l[2], NULL, 0,
			       STRATA_REQ_GETSET);
	} else if (is(a, 0, "CAS") && n == 4) {
		if ((s = slot_new(c, R_CAS, 1, &idx)))
			submit(c, idx, 0, STRATA_OP_CAS, v[1], l[1], v[2], l[2], v[3], l[3], 0);
	} else if (is(a, 0, "SCAN") && n >= 2) {
		cmd_scan(c, a);
		return;
	} else {
		local_error(c, "wrong number of arguments for '%.*s' command",
			    (int)(l[0] > 64 ? 64 : l[0]), v[0]);
		return;
	}
	if (!s)
		goto oom;
	return;
oom:
	conn_close(c);
}

static bool is_data_cmd(const struct args *a)
{
	static const char *const names[] = { "GET", "SET", "SETNX", "DEL", "EXISTS", "MGET", "MSET",
					     "INCR", "DECR", "INCRBY", "DECRBY", "GETSET", "CAS",
					     "SCAN" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (is(a, 0, names[i]))
			return true;
	return false;
}

/* Whether user/password (user NULL: AUTH with one argument) is the RESP password. Counts a wrong
 * one. The user must be "default", the only user. */
static bool auth_check(struct resp_conn *c, const char *user, size_t ulen, const char *pw,
		       size_t plen)
{
	struct strata_uv *rt = c->rt;
	bool ok = rt->client_key == NULL ||
		  (plen == 64 && sodium_memcmp(pw, rt->resp_password, 64) == 0 &&
		   (!user || (ulen == 7 && strncasecmp(user, "default", 7) == 0)));
	if (!ok) {
		rt->counters.resp_auth_failed++;
		strata_uv_log(rt, STRATA_LOG_WARN, "resp: AUTH with a wrong password");
	} else {
		c->authed = true;
	}
	return ok;
}

static void wrongpass(struct resp_conn *c)
{
	struct obuf b = {0};
	ob_err(&b, "WRONGPASS", "invalid username-password pair or user is disabled.");
	c->rt->counters.resp_errors++;
	local_reply(c, R_LOCAL, &b);
}

/* "AUTH [user] password" */
static void cmd_auth(struct resp_conn *c, const struct args *a)
{
	if (a->n != 2 && a->n != 3) {
		local_error(c, "wrong number of arguments for 'auth' command");
		return;
	}
	if (c->rt->client_key == NULL) {
		/* As Redis without a password: AUTH is an error, nothing is required. */
		local_error(c, "AUTH <password> called without any password configured for the "
			       "default user. Are you sure your configuration is correct?");
		return;
	}
	bool ok = a->n == 2 ? auth_check(c, NULL, 0, a->v[1], a->len[1])
			    : auth_check(c, a->v[1], a->len[1], a->v[2], a->len[2]);
	if (!ok) {
		wrongpass(c);
		return;
	}
	struct obuf b = {0};
	ob_ok(&b);
	local_reply(c, R_LOCAL, &b);
}

/* "HELLO [protover [AUTH user password] [SETNAME name]]": RESP2 only; the reply is the
 * server's description as a flat array (RESP2 has no maps). */
static void cmd_hello(struct resp_conn *c, const struct args *a)
{
	size_t i = 1;
	if (a->n >= 2) {
		if (!(a->len[1] == 1 && (a->v[1][0] == '2' || a->v[1][0] == '3'))) {
			local_error(c, "Protocol version is not an integer or out of range");
			return;
		}
		if (a->v[1][0] == '3') {
			struct obuf b = {0};
			ob_err(&b, "NOPROTO", "this server speaks RESP2 only (HELLO 2)");
			c->rt->counters.resp_errors++;
			local_reply(c, R_LOCAL, &b);
			return;
		}
		i = 2;
	}
	const char *name = NULL;
	size_t nlen = 0;
	while (i < a->n) {
		if (is(a, i, "AUTH") && i + 2 < a->n) {
			if (!auth_check(c, a->v[i + 1], a->len[i + 1], a->v[i + 2], a->len[i + 2])) {
				wrongpass(c);
				return;
			}
			i += 3;
		} else if (is(a, i, "SETNAME") && i + 1 < a->n) {
			name = a->v[i + 1];
			nlen = a->len[i + 1];
			i += 2;
		} else {
			local_error(c, "Syntax error in HELLO option '%.*s'",
				    (int)(a->len[i] > 32 ? 32 : a->len[i]), a->v[i]);
			return;
		}
	}
	if (!c->authed) {
		struct obuf b = {0};
		ob_err(&b, "NOAUTH", "HELLO must be called with the client already authenticated, "
				     "otherwise the HELLO <proto> AUTH <user> <pass> option can be "
				     "used to authenticate the client and select the RESP protocol "
				     "version at the same time");
		c->rt->counters.resp_unauthenticated++;
		c->rt->counters.resp_errors++;
		local_reply(c, R_LOCAL, &b);
		return;
	}
	if (name) {
		size_t k = nlen > RESP_NAME_MAX ? RESP_NAME_MAX : nlen;
		memcpy(c->name, name, k);
		c->name[k] = 0;
	}
	struct obuf b = {0};
	ob_put(&b, "*14\r\n", 5);
	ob_bulk(&b, "server", 6);
	ob_bulk(&b, "strata", 6);
	ob_bulk(&b, "version", 7);
	ob_bulk(&b, STRATA_VERSION, strlen(STRATA_VERSION));
	ob_bulk(&b, "proto", 5);
	ob_int(&b, 2);
	ob_bulk(&b, "id", 2);
	ob_int(&b, (long long)c->id);
	ob_bulk(&b, "mode", 4);
	ob_bulk(&b, "cluster", 7);
	ob_bulk(&b, "role", 4);
	ob_bulk(&b, "master", 6);
	ob_bulk(&b, "modules", 7);
	ob_put(&b, "*0\r\n", 4);
	local_reply(c, R_LOCAL, &b);
}

static void handle_command(struct resp_conn *c, const struct args *a)
{
	c->rt->counters.resp_commands++;
	struct obuf b = {0};
	if (is(a, 0, "AUTH")) {
		cmd_auth(c, a);
		return;
	}
	if (is(a, 0, "HELLO")) {
		cmd_hello(c, a);
		return;
	}
	if (!c->authed && !is(a, 0, "QUIT")) {
		ob_err(&b, "NOAUTH", "Authentication required.");
		c->rt->counters.resp_unauthenticated++;
		c->rt->counters.resp_errors++;
		local_reply(c, R_LOCAL, &b);
		return;
	}
	if (is_data_cmd(a)) {
		cmd_data(c, a);
		return;
	}
	if (is(a, 0, "PING") && a->n <= 2) {
		if (a->n == 2)
			ob_bulk(&b, a->v[1], a->len[1]);
		else
			ob_put(&b, "+PONG\r\n", 7);
	} else if (is(a, 0, "ECHO") && a->n == 2) {
		ob_bulk(&b, a->v[1], a->len[1]);
	} else if (is(a, 0, "SELECT") && a->n == 2) {
		if (a->len[1] != 1 || a->v[1][0] != '0') {
			local_error(c, "DB index is out of range (only database 0 exists)");
			return;
		}
		ob_ok(&b);
	} else if (is(a, 0, "QUIT")) {
		ob_ok(&b);
		local_reply(c, R_QUIT, &b);
		return;
	} else if (is(a, 0, "INFO")) {
		cmd_info(c);
		return;
	} else if (is(a, 0, "CLIENT") && a->n >= 2) {
		cmd_client(c, a);
		return;
	} else if (is(a, 0, "COMMAND")) {
		/* Enough for redis-cli: no command table (it then offers no hints). */
		if (is(a, 1, "COUNT"))
			ob_int(&b, 0);
		else
			ob_put(&b, "*0\r\n", 4);
	} else {
		local_error(c, "unknown command '%.*s'", (int)(a->len[0] > 64 ? 64 : a->len[0]),
			    a->v[0]);
		return;
	}
	local_reply(c, R_LOCAL, &b);
}

/* ---- concurrency within a connection ---- */

/* The keys a data command touches (into *out as [u32 len][bytes]), or -1 when it must be
 * ordered with every command (SCAN reads a range; more than RESP_CONCURRENT_KEYS keys). */
static int cmd_keys(const struct args *a, struct strata_msg **out)
{
	*out = NULL;
	if (is(a, 0, "SCAN") || a->n < 2)
		return -1;
	size_t first = 1, step = 1, end = 2;
	if (is(a, 0, "DEL") || is(a, 0, "EXISTS") || is(a, 0, "MGET")) {
		end = a->n;
	} else if (is(a, 0, "MSET")) {
		end = a->n;
		step = 2;
	}
	size_t nk = (end - first + step - 1) / step, bytes = 0;
	if (nk > RESP_CONCURRENT_KEYS)
		return -1;
	for (size_t i = first; i < end; i += step)
		bytes += 4 + a->len[i];
	struct strata_msg *m = strata_msg_alloc(bytes);
	if (!m)
		return -1;
	size_t off = 0;
	for (size_t i = first; i < end; i += step) {
		uint32_t l = (uint32_t)a->len[i];
		memcpy(m->data + off, &l, 4);
		memcpy(m->data + off + 4, a->v[i], a->len[i]);
		off += 4 + a->len[i];
	}
	*out = m;
	return (int)nk;
}

static bool keys_meet(const struct strata_msg *x, const struct strata_msg *y)
{
	for (size_t i = 0; i + 4 <= x->len;) {
		uint32_t li;
		memcpy(&li, x->data + i, 4);
		for (size_t j = 0; j + 4 <= y->len;) {
			uint32_t lj;
			memcpy(&lj, y->data + j, 4);
			if (li == lj && memcmp(x->data + i + 4, y->data + j + 4, li) == 0)
				return true;
			j += 4 + lj;
		}
		i += 4 + li;
	}
	return false;
}

/* Whether command a must wait until the commands now in the KV answer: it shares a key with
 * one of them, or one of them (or a) is ordered with everything. Commands answered locally
 * never wait (their replies keep their place in the ring). */
static bool must_wait(struct resp_conn *c, const struct args *a, struct strata_msg **keys)
{
	*keys = NULL;
	if (!is_data_cmd(a))
		return false;
	int nk = cmd_keys(a, keys);
	if (c->concurrent == 0)
		return false;
	if (nk < 0 || c->concurrent >= RESP_CONCURRENT_MAX)
		return true;
	for (uint32_t k = 0; k < c->count; k++) {
		const struct rslot *s = &c->slots[(c->head + k) % RESP_PIPELINE_MAX];
		if (s->left == 0)
			continue;
		if (!s->keys || keys_meet(s->keys, *keys))
			return true;
	}
	return false;
}

/* Runs command a now, or keeps a copy of it for later (1) when it must wait. */
static int dispatch(struct resp_conn *c, const struct args *a)
{
	c->ncmds++;
	struct strata_msg *keys = NULL;
	if (must_wait(c, a, &keys)) {
		strata_msg_unref(keys);
		size_t total = a->n * (sizeof(char *) + sizeof(size_t));
		for (size_t i = 0; i < a->n; i++)
			total += a->len[i] + 1;
		uint8_t *blk = malloc(total);
		if (!blk) {
			conn_close(c);
			return 1;
		}
		c->held.v = (const char **)(void *)blk;
		c->held.len = (size_t *)(void *)(blk + a->n * sizeof(char *));
		char *p = (char *)(blk + a->n * (sizeof(char *) + sizeof(size_t)));
		for (size_t i = 0; i < a->n; i++) {
			memcpy(p, a->v[i], a->len[i]);
			p[a->len[i]] = 0;
			c->held.v[i] = p;
			c->held.len[i] = a->len[i];
			p += a->len[i] + 1;
		}
		c->held.n = a->n;
		c->held.block = blk;
		return 1;
	}
	uint32_t before = c->count;
	handle_command(c, a);
	if (c->count > before) {
		struct rslot *s = &c->slots[(c->head + c->count - 1) % RESP_PIPELINE_MAX];
		if (s->left > 0 && !s->keys) {
			s->keys = keys;
			keys = NULL;
		}
	}
	strata_msg_unref(keys);
	if (c->concurrent > c->rt->counters.resp_concurrent_max)
		c->rt->counters.resp_concurrent_max = c->concurrent;
	return 0;
}

/* The held command, once it no longer has to wait. true while it still waits. */
static bool run_held(struct resp_conn *c)
{
	if (!c->held.block)
		return false;
	struct args a = { .n = c->held.n, .v = c->held.v, .len = c->held.len };
	struct strata_msg *keys = NULL;
	bool wait = must_wait(c, &a, &keys);
	strata_msg_unref(keys);
	if (wait || c->count >= RESP_PIPELINE_MAX)
		return true;
	void *blk = c->held.block;
	c->held.block = NULL;
	dispatch(c, &a); /* cannot be held again: nothing changed since must_wait */
	free(blk);
	return false;
}

/* ---- reading ---- */

static void bad_request(struct resp_conn *c, const char *why)
{
	struct strata_uv *rt = c->rt;
	rt->counters.resp_bad_requests++;
	strata_node_counters(rt->node)->client_bad_requests++;
	strata_uv_log(rt, STRATA_LOG_WARN, "resp: bad request: %s; closing", why);
	struct obuf b = {0};
	ob_err(&b, "ERR Protocol error:", why);
	if (c->count < RESP_PIPELINE_MAX)
		local_reply(c, R_QUIT, &b);
	else
		free(b.p);
	if (!c->ce.closing) {
		/* Written after every earlier reply, then the connection closes. */
		uv_read_stop((uv_stream_t *)&c->ce.tcp);
		c->reading = false;
		c->quitting = true;
		flush_ready(c, false);
	}
}

/* An inline command (resp_inline.h: a text line of words, with Redis's quoting; an empty line
 * is ignored, as redis-cli --pipe sends one before its closing ECHO) at a request boundary of
 * the reader's buffer. hiredis parses only RESP types, so the line is taken out of its buffer
 * here. true: a line was taken (and its command run); false: wait for more input, or the line
 * was bad (a protocol error, the connection closes). */
static bool inline_command(struct resp_conn *c)
{
	redisReader *rd = c->rd;
	size_t ll, used;
	int rc = strata_resp_inline_line(rd->buf + rd->pos, rd->len - rd->pos,
					 STRATA_RESP_INLINE_MAX, &ll, &used);
	if (rc == 0)
		return false;
	if (rc < 0) {
		bad_request(c, strata_resp_inline_error(rc));
		return false;
	}
	/* The words' bytes (escapes make them differ from the line's) and their pointers, in one
	 * block: at most ll / 2 + 1 words fit in ll bytes. */
	size_t cap = ll / 2 + 1 < RESP_ARGS_MAX ? ll / 2 + 1 : RESP_ARGS_MAX;
	uint8_t *blk = malloc(cap * (sizeof(char *) + sizeof(size_t)) + ll + 1);
	if (!blk) {
		conn_close(c);
		return false;
	}
	const char **vs = (const char **)(void *)blk;
	size_t *ls = (size_t *)(void *)(blk + cap * sizeof(char *));
	char *words = (char *)(blk + cap * (sizeof(char *) + sizeof(size_t)));
	int n = strata_resp_inline_split(rd->buf + rd->pos, ll, words, vs, ls, cap);
	if (n < 0) {
		free(blk);
		bad_request(c, strata_resp_inline_error(n));
		return false;
	}
	rd->pos += used;
	if (n > 0) {
		struct args a = { .n = (size_t)n, .v = vs, .len = ls };
		dispatch(c, &a); /* a held command is copied */
	}
	free(blk);
	return true;
}

/* A command is one array of bulk strings; hiredis would parse arrays nested in it, allocating
 * each one's announced elements (up to RESP_ARGS_MAX pointers) and an object per element, a
 * few bytes of input each: about 14 bytes of memory per byte of a 4 MiB request that is never
 * finished, tens of MB per connection, held until the frame deadline. Redis refuses a nested
 * array at its first byte ("expected '$', got '*'"); so does this reader: its createArray
 * refuses any array with a parent, and the error names it (nested_refused). The table is set
 * at the first connection and only read after: the same functions for every node of a process. */
static redisReplyObjectFunctions resp_fns;
static void *(*hiredis_create_array)(const redisReadTask *, int);

static void *resp_create_array(const redisReadTask *task, int elements)
{
	if (task->parent) {
		struct resp_conn *c = task->privdata;
		c->nested_refused = true;
		return NULL; /* the reader stops with an error */
	}
	return hiredis_create_array(task, elements);
}

static redisReader *reader_new(struct resp_conn *c)
{
	if (!hiredis_create_array) {
		/* hiredis's own object functions (not exported: taken from a reader it makes) */
		redisReader *d = redisReaderCreate();
		if (!d)
			return NULL;
		resp_fns = *d->fn;
		redisReaderFree(d);
		hiredis_create_array = resp_fns.createArray;
		resp_fns.createArray = resp_create_array;
	}
	redisReader *rd = redisReaderCreateWithFunctions(&resp_fns);
	if (rd)
		rd->privdata = c;
	return rd;
}

/* hiredis discards the bytes it parsed (in redisReaderGetReply, once 1 KiB of them); inline
 * lines are taken out here, so their bytes are discarded here: once RESP_READ_CHUNK of them are
 * behind and no more are left than were taken, what is left moves into a fresh reader (so each
 * byte is copied about once at most, and a stream of inline commands holds a bounded buffer). */
static void reader_compact(struct resp_conn *c)
{
	redisReader *rd = c->rd;
	if (rd->ridx != -1 || rd->pos < RESP_READ_CHUNK || rd->len - rd->pos > rd->pos)
		return;
	redisReader *nr = reader_new(c);
	if (!nr || (rd->len > rd->pos &&
		    redisReaderFeed(nr, rd->buf + rd->pos, rd->len - rd->pos) != REDIS_OK)) {
		if (nr)
			redisReaderFree(nr);
		conn_close(c);
		return;
	}
	redisReaderFree(rd);
	c->rd = nr;
}

/* Whether the array at the reader's position announces more than RESP_ARGS_MAX elements. Seen
 * before hiredis parses it, which would allocate the announced count and then take elements
 * until the request's 4 MiB bound (a few bytes each). Other malformed headers are hiredis's. */
static bool array_too_long(const redisReader *rd)
{
	uint64_t n = 0;
	for (size_t i = rd->pos + 1; i < rd->len && rd->buf[i] >= '0' && rd->buf[i] <= '9'; i++) {
		n = n * 10 + (uint64_t)(rd->buf[i] - '0');
		if (n > RESP_ARGS_MAX)
			return true;
	}
	return false;
}

/* Takes complete requests out of the reader while the ring has room. */
static void process_input_step(struct resp_conn *c)
{
	/* Commands go to the KV as they are parsed, several at once, unless one shares a key with
	 * a command still in the KV (or orders with everything): that one is held, and parsing
	 * stops, until they answer. */
	if (run_held(c))
		return;
	while (!c->ce.closing && !c->ce.draining && !c->quitting && c->count < RESP_PIPELINE_MAX &&
	       !c->held.block) {
		redisReader *rd = c->rd;
		if (rd->ridx == -1) {
			/* A request boundary. hiredis gets only a request that starts as an array:
			 * it would take any other first byte for a reply type, and asked with
			 * nothing left to parse it stays mid-request, so that the next line could
			 * no longer be taken as an inline command (redis-cli --pipe -a sends its
			 * AUTH, waits for the reply, then sends the inline lines). */
			if (rd->pos >= rd->len)
				break;
			if (rd->buf[rd->pos] != '*') {
				if (!inline_command(c))
					break;
				continue;
			}
			c->req_start = c->fed - (rd->len - rd->pos);
			if (array_too_long(rd)) {
				bad_request(c, "too many arguments");
				return;
			}
		}
		void *r = NULL;
		if (redisReaderGetReply(rd, &r) != REDIS_OK) {
			bad_request(c, c->nested_refused ? "expected '$', got '*'" : rd->errstr);
			return;
		}
		if (!r)
			break; /* a partial request: its size is bounded below */
		redisReply *rep = r;
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0 ||
		    rep->elements > RESP_ARGS_MAX) {
			bool many = rep->type == REDIS_REPLY_ARRAY && rep->elements;
			freeReplyObject(rep);
			bad_request(c, many ? "too many arguments"
					    : "expected an array of bulk strings");
			return;
		}
		const char *vs[RESP_ARGS_MAX];
		size_t ls[RESP_ARGS_MAX];
		bool ok = true;
		for (size_t i = 0; i < rep->elements; i++) {
			if (rep->element[i]->type != REDIS_REPLY_STRING) {
				ok = false;
				break;
			}
			vs[i] = rep->element[i]->str;
			ls[i] = rep->element[i]->len;
		}
		if (!ok) {
			freeReplyObject(rep);
			bad_request(c, "expected an array of bulk strings");
			return;
		}
		struct args a = { .n = rep->elements, .v = vs, .len = ls };
		dispatch(c, &a);
		freeReplyObject(rep);
	}
	if (c->ce.closing || c->ce.draining || c->quitting)
		return;
	reader_compact(c);
	if (c->ce.closing)
		return;
	size_t buffered = c->rd->len - c->rd->pos;
	bool blocked = c->count >= RESP_PIPELINE_MAX || c->held.block != NULL;
	/* Not blocked: what is buffered is one request still arriving (an array, counted from its
	 * first byte, or an inline line). */
	uint64_t arriving = c->rd->ridx != -1 ? c->fed - c->req_start : buffered;
	if (!blocked && arriving > RESP_IN_MAX) {
		bad_request(c, "request larger than 4 MiB");
		return;
	}
	if (blocked && buffered > RESP_IN_MAX / 2 && c->reading) {
		/* Backpressure: the socket waits until replies drain. */
		uv_read_stop((uv_stream_t *)&c->ce.tcp);
		c->reading = false;
	}
}

/* process_input_step, then what the listener needs to know: whether a command completed
 * (activity), and whether one is half-received (its deadline runs). Bytes waiting because the
 * ring is full or a command is held wait for this node, not for the client: no deadline. */
static void process_input(struct resp_conn *c)
{
	uint64_t before = c->ncmds;
	process_input_step(c);
	if (c->ce.closing || c->ce.draining || c->quitting)
		return;
	bool blocked = c->count >= RESP_PIPELINE_MAX || c->held.block != NULL;
	bool partial = !blocked && (c->rd->ridx != -1 || c->rd->pos < c->rd->len);
	lsn_conn_input(&c->ce, c->ncmds != before ? 1u : 0u, partial);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct resp_conn *c = h->data;
	(void)suggested;
	if (!c->rbuf)
		c->rbuf = malloc(RESP_READ_CHUNK);
	*buf = uv_buf_init((char *)c->rbuf, c->rbuf ? RESP_READ_CHUNK : 0);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct resp_conn *c = st->data;
	(void)buf;
	if (nread < 0) {
		conn_close(c); /* UV_EOF, a reset, or UV_ENOBUFS */
		return;
	}
	if (nread == 0 || c->ce.closing || c->ce.draining || c->quitting)
		return;
	if (redisReaderFeed(c->rd, (const char *)c->rbuf, (size_t)nread) != REDIS_OK) {
		bad_request(c, c->rd->errstr);
		return;
	}
	c->fed += (uint64_t)nread;
	process_input(c);
	flush_ready(c, false);
}

static struct lsn_conn *conn_create(struct lsn *l)
{
	struct resp_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->rt = l->rt;
	return &c->ce;
}

/* Admitted by the listener: the connection's reader and KV session, and reading starts. */
static int conn_opened(struct lsn_conn *lc)
{
	struct resp_conn *c = RCONN(lc);
	struct strata_uv *rt = c->rt;
	c->id = ++rt->resp_next_id;
	randombytes_buf(&c->sess, sizeof(c->sess));
	c->sess |= 1; /* never 0 (no session) */
	c->sess_next = c->sess_base = 1;
	c->rd = reader_new(c);
	if (!c->rd)
		return -1;
	c->authed = rt->client_key == NULL;
	resume_reading(c);
	return 0;
}

static const struct lsn_ops resp_ops = {
	.name = "resp",
	.create = conn_create,
	.opened = conn_opened,
	.closing = conn_closing,
	.freed = conn_freed,
};

int resp_server_start(struct strata_uv *rt, char *err, size_t errlen)
{
	const struct strata_peer_cfg *me = &rt->cfg->nodes[rt->id];
	if (me->resp_port == 0)
		return 0; /* off unless configured */
	int rc = uv_timer_init(rt->loop, &rt->resp_kick);
	if (rc) {
		snprintf(err, errlen, "resp port %s:%u: %s", me->host, me->resp_port,
			 uv_strerror(rc));
		return STRATA_EIO;
	}
	rt->resp_kick_init = true;
	rt->resp_kick.data = rt;
	const struct strata_config *cfg = rt->cfg;
	struct strata_uv_counters *k = &rt->counters;
	const struct strata_listen_cfg lim = strata_listen_cfg_of(cfg, STRATA_PORT_RESP);
	const struct lsn_counters cnt = {
		.accepted = &k->resp_accepted, .refused = &k->resp_refused,
		.evicted = &k->resp_evicted, .idle_closed = &k->resp_idle_closed,
		.frame_timeouts = &k->resp_frame_timeouts, .slow_dropped = &k->resp_slow_dropped,
		.writes = &k->resp_writes,
	};
	return lsn_start(&rt->resp_lsn, rt, &resp_ops, &lim, &cnt, me->host, me->resp_port, err,
			 errlen);
}

void resp_server_close(struct strata_uv *rt)
{
	if (rt->resp_kick_init && !uv_is_closing((uv_handle_t *)&rt->resp_kick))
		uv_close((uv_handle_t *)&rt->resp_kick, NULL);
	lsn_close(&rt->resp_lsn);
}
