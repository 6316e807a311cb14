/* Asynchronous job handler, seed 1.1.4 "Implementation (asynchronized) JOBHANDLER" (module
 * jh-async). Specification: jh.h (JH1, JH3).
 *
 *   State: buf := ∅
 *   upon <jh, Handle | job> do
 *       buf := buf ∪ {job};
 *       trigger <jh, Confirm | job>;
 *   upon buf ≠ ∅ do
 *       job := some element of buf;
 *       "process job";
 *       buf := buf \ {job};
 *
 * Model: one process, no messages; runs in every crash-stop model, and survives restarts of the
 * daemon. Departures from the seed, both bounds and both stated:
 *   - the buffer is bounded (JH_BUFFER_MAX jobs). When it is full, Handle is refused with
 *     STRATA_EFULL and the job is not confirmed (the client may submit it again): dropping a job
 *     from the buffer would break JH3 for a job already confirmed (the broken variant
 *     drop_on_full does exactly that, and the simulation suite catches it);
 *   - the buffer is a log on stable storage (strata_log_*, log "jh-async", index = the job's
 *     sequence number): a job is appended in the turn-batch whose sync releases its Confirm
 *     (persist before reply), and removed (truncate_prefix) in the batch that announces it
 *     processed. A restarted process reloads the log and goes on processing, so a job confirmed
 *     before a crash is still processed, once. The seed's buffer is volatile (broken variant
 *     volatile_buffer): a crash after Confirm loses the job.
 * "some element of buf" is the oldest one (FIFO). Memory: JH_BUFFER_MAX jobs of at most
 * JH_JOB_MAX bytes in memory, the same on disk. */
#include <stdio.h>
#include <stdlib.h>

#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "jh/jh.h"

#define JH_LOG "jh-async"

struct jh_entry {
	uint32_t delay_ms;
	struct strata_msg *job;
};

struct jh_async {
	struct strata_module m;
	struct jh_entry buf[JH_BUFFER_MAX]; /* ring: jobs first .. last, in order */
	uint64_t first, last;               /* sequence numbers (log indexes); empty: last < first */
	struct strata_timer done;
	bool drop_on_full, volatile_buffer; /* TEST ONLY (jh.h) */
	uint64_t refused, dropped;
};

static unsigned async_count(const struct jh_async *a)
{
	return (unsigned)(a->last + 1 - a->first);
}

static struct jh_entry *async_at(struct jh_async *a, uint64_t seq)
{
	return &a->buf[seq % JH_BUFFER_MAX];
}

static void async_start(struct jh_async *a)
{
	if (async_count(a) == 0 || strata_timer_armed(&a->done))
		return;
	strata_timer_arm_in(a->m.node, &a->done, (uint64_t)async_at(a, a->first)->delay_ms * 1000);
}

/* Removes the oldest job from buf (memory and log). */
static void async_pop(struct jh_async *a)
{
	struct jh_entry *e = async_at(a, a->first);
	strata_msg_unref(e->job);
	e->job = NULL;
	a->first++;
	if (!a->volatile_buffer && strata_log_truncate_prefix(a->m.node, JH_LOG, a->first) != 0)
		strata_trace(a->m.node, "jh-async", "truncating the buffer log failed -> kept");
}

/* upon buf ≠ ∅ do job := the oldest; "process job"; buf := buf \ {job} */
static void async_done(struct jh_async *a)
{
	if (async_count(a) == 0)
		return;
	struct jh_entry *e = async_at(a, a->first);
	jh_out_processed(&a->m, a->first, e->job->data, e->job->len,
			 jh_checksum(e->job->data, e->job->len));
	async_pop(a);
	async_start(a);
}

static int async_enqueue(struct jh_async *a, struct strata_module *owner, uint64_t id,
			 const uint8_t *job, size_t len, uint32_t delay_ms)
{
	if (len == 0 || delay_ms > JH_DELAY_MAX_MS)
		return STRATA_EINVAL;
	if (len > JH_JOB_MAX)
		return STRATA_ETOOBIG;
	if (async_count(a) == JH_BUFFER_MAX) {
		if (!a->drop_on_full) {
			a->refused++;
			strata_trace(a->m.node, "jh-async", "buffer full (%u jobs) -> refused",
				     JH_BUFFER_MAX);
			return STRATA_EFULL;
		}
		/* BROKEN VARIANT: a confirmed job is thrown away unprocessed. */
		a->dropped++;
		async_pop(a);
	}
	struct strata_msg *msg = strata_msg_new(job, len);
	if (!msg)
		return STRATA_ENOMEM;
	uint64_t seq = a->last + 1;
	if (!a->volatile_buffer) {
		struct strata_wr w;
		strata_wr_init(&w, len + 16);
		strata_wr_u64(&w, delay_ms);
		strata_wr_raw(&w, job, len);
		int rc = w.err ? w.err : strata_log_put(a->m.node, JH_LOG, seq, w.buf, w.len);
		strata_wr_free(&w);
		if (rc) {
			strata_msg_unref(msg);
			return STRATA_EIO;
		}
	}
	/* buf := buf ∪ {job}; trigger <jh, Confirm | job> (released after this batch's sync) */
	*async_at(a, seq) = (struct jh_entry){ delay_ms, msg };
	a->last = seq;
	jh_confirm(&a->m, owner, id, seq, job, len, false, 0);
	async_start(a);
	return 0;
}

/* Recovery: the buffer is what the log holds. */
static void async_init(struct jh_async *a)
{
	uint64_t first = 1, last = 0;
	if (!a->volatile_buffer && strata_log_bounds(a->m.node, JH_LOG, &first, &last) != 0) {
		strata_trace(a->m.node, "jh-async", "reading the buffer log failed -> empty");
		first = 1, last = 0;
	}
	if (last + 1 - first > JH_BUFFER_MAX) /* never written so: keep the newest */
		first = last + 1 - JH_BUFFER_MAX;
	a->first = first;
	a->last = first - 1;
	for (uint64_t s = first; s <= last; s++) {
		struct strata_msg *v = NULL;
		struct strata_rd r;
		const uint8_t *p = NULL;
		uint64_t delay = 0;
		if (strata_log_get(a->m.node, JH_LOG, s, &v) == 0) {
			strata_rd_init(&r, v->data, v->len);
			delay = strata_rd_u64_max(&r, JH_DELAY_MAX_MS);
			p = v->data + r.off;
		}
		if (!v || !strata_rd_ok(&r) || r.off >= v->len) {
			strata_trace(a->m.node, "jh-async", "buffer entry %llu unreadable -> skipped",
				     (unsigned long long)s);
			if (v)
				strata_msg_unref(v);
			if (a->last + 1 == s) { /* nothing kept yet: start after it */
				a->first = s + 1;
				a->last = s;
			}
			continue;
		}
		struct strata_msg *job = strata_msg_new(p, v->len - r.off);
		STRATA_ASSERT(job);
		strata_msg_unref(v);
		*async_at(a, s) = (struct jh_entry){ (uint32_t)delay, job };
		a->last = s;
	}
	if (async_count(a))
		strata_trace(a->m.node, "jh-async", "recovered %u buffered jobs -> processing",
			     async_count(a));
	async_start(a);
}

static int async_handle(struct strata_module *m, struct strata_module *owner, uint64_t tag,
			const uint8_t *job, size_t len, uint32_t delay_ms)
{
	STRATA_ASSERT(owner);
	return async_enqueue((struct jh_async *)m, owner, tag, job, len, delay_ms);
}

static int async_request(struct strata_module *m, const struct strata_request *req)
{
	uint32_t delay = 0;
	int rc = jh_parse_request(req, &delay);
	return rc ? rc : async_enqueue((struct jh_async *)m, NULL, req->id, req->value,
				       req->value_len, delay);
}

static void async_ev(struct strata_module *m, const struct strata_event *ev)
{
	struct jh_async *a = (struct jh_async *)m;
	if (ev->type == STRATA_EV_INIT)
		async_init(a);
	else if (ev->type == STRATA_EV_TIMER)
		async_done(a);
}

static void async_destroy(struct strata_module *m)
{
	struct jh_async *a = (struct jh_async *)m;
	for (unsigned k = 0; k < JH_BUFFER_MAX; k++)
		strata_msg_unref(a->buf[k].job);
	free(a);
}

static const struct jh_iface async_iface = { .handle = async_handle };

static const struct strata_module_ops async_ops = {
	.name = "jh-async", .handle = async_ev, .request = async_request, .destroy = async_destroy,
	.iface = &async_iface,
};

struct strata_module *jh_async_create(struct strata_node *n, char *err, size_t errlen)
{
	struct jh_async *a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "jh-async: out of memory");
		return NULL;
	}
	a->first = 1;
	a->last = 0;
	strata_node_add_module(n, &a->m, &async_ops, 0);
	strata_timer_init(&a->done, &a->m, 1, 0);
	return &a->m;
}

void jh_async_test_break(struct strata_module *m, bool drop_on_full, bool volatile_buffer)
{
	struct jh_async *a = (struct jh_async *)m;
	a->drop_on_full = drop_on_full;
	a->volatile_buffer = volatile_buffer;
}
