/* Online property checkers for broadcast simulations; see bcast_check.h. */
#include "bcast_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bck_msg {
	bool exists;
	uint8_t *data;
	size_t len;
	uint64_t dep[BCK_MAX_NODES + 1]; /* causal past: dep[x] = highest seq of x before it */
	uint64_t delivered;               /* bitmask of nodes (bit i-1) */
};

struct bck {
	uint32_t n;
	unsigned props;
	uint64_t nbcast;
	struct bck_msg msg[BCK_MAX_NODES + 1][BCK_MAX_SEQ + 1];
	/* cur[q][x]: highest seq of x in q's causal past (what q broadcast or delivered). */
	uint64_t cur[BCK_MAX_NODES + 1][BCK_MAX_NODES + 1];
	/* prefix[q][x]: q delivered 1..prefix of x. */
	uint64_t prefix[BCK_MAX_NODES + 1][BCK_MAX_NODES + 1];
	uint64_t last[BCK_MAX_NODES + 1][BCK_MAX_NODES + 1];
	/* Total order: pos[q][s][k] = 1 + q's delivery index of s/k (0 = not delivered), and
	 * order[q][i] = the i-th message q delivered, as s * (BCK_MAX_SEQ + 1) + k. */
	uint32_t pos[BCK_MAX_NODES + 1][BCK_MAX_NODES + 1][BCK_MAX_SEQ + 1];
	uint32_t order[BCK_MAX_NODES + 1][BCK_MAX_NODES * BCK_MAX_SEQ];
	uint32_t norder[BCK_MAX_NODES + 1];
	bool bad;
	char why[512];
};

static void violate(struct bck *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void violate(struct bck *b, const char *fmt, ...)
{
	if (b->bad)
		return;
	b->bad = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->why, sizeof(b->why), fmt, ap);
	va_end(ap);
}

struct bck *bck_new(uint32_t n, unsigned props)
{
	if (n < 1 || n > BCK_MAX_NODES)
		return NULL;
	struct bck *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->n = n;
	b->props = props;
	return b;
}

void bck_free(struct bck *b)
{
	if (!b)
		return;
	for (uint32_t s = 1; s <= b->n; s++)
		for (uint64_t k = 1; k <= BCK_MAX_SEQ; k++)
			free(b->msg[s][k].data);
	free(b);
}

static uint64_t bit(uint32_t q)
{
	return 1ull << (q - 1);
}

void bck_on_bcast(struct bck *b, uint32_t node, uint64_t seq, const uint8_t *data, size_t len)
{
	if (node < 1 || node > b->n || seq < 1 || seq > BCK_MAX_SEQ) {
		violate(b, "broadcast out of the checker's range: node %u seq %llu", node,
			(unsigned long long)seq);
		return;
	}
	struct bck_msg *m = &b->msg[node][seq];
	if (m->exists) {
		violate(b, "node %u broadcast seq %llu twice", node, (unsigned long long)seq);
		return;
	}
	if (seq > 1 && !b->msg[node][seq - 1].exists)
		violate(b, "node %u broadcast seq %llu before seq %llu", node,
			(unsigned long long)seq, (unsigned long long)(seq - 1));
	m->exists = true;
	m->len = len;
	m->data = malloc(len ? len : 1);
	if (len)
		memcpy(m->data, data, len);
	memcpy(m->dep, b->cur[node], sizeof(m->dep));
	if (b->cur[node][node] < seq)
		b->cur[node][node] = seq;
	b->nbcast++;
}

/* q delivers s/seq now: for every message q delivered before, every node p that delivered both
 * must have delivered that one first. */
static void check_total(struct bck *b, uint32_t q, uint32_t s, uint64_t seq)
{
	uint32_t k = b->norder[q];
	if (k >= BCK_MAX_NODES * BCK_MAX_SEQ)
		return;
	for (uint32_t p = 1; p <= b->n && !b->bad; p++) {
		uint32_t here = b->pos[p][s][seq];
		if (p == q || !here)
			continue;
		for (uint32_t j = 0; j < k; j++) {
			uint32_t s2 = b->order[q][j] / (BCK_MAX_SEQ + 1);
			uint32_t k2 = b->order[q][j] % (BCK_MAX_SEQ + 1);
			if (b->pos[p][s2][k2] > here) {
				violate(b, "total order: node %u delivered %u/%u before %u/%llu, node %u "
					   "the other way round",
					q, s2, k2, s, (unsigned long long)seq, p);
				return;
			}
		}
	}
	b->order[q][k] = s * (BCK_MAX_SEQ + 1) + (uint32_t)seq;
	b->norder[q] = k + 1;
	b->pos[q][s][seq] = k + 1;
}

bool bck_broadcast_known(const struct bck *b, uint32_t node, uint64_t seq)
{
	if (node < 1 || node > b->n || seq < 1 || seq > BCK_MAX_SEQ)
		return false;
	return b->msg[node][seq].exists;
}

bool bck_delivered(const struct bck *b, uint32_t q, uint32_t s, uint64_t seq)
{
	if (q < 1 || q > b->n || s < 1 || s > b->n || seq < 1 || seq > BCK_MAX_SEQ)
		return false;
	return (b->msg[s][seq].delivered & bit(q)) != 0;
}

void bck_on_deliver(struct bck *b, uint32_t q, uint32_t s, uint64_t seq, const uint8_t *data,
		    size_t len)
{
	if (q < 1 || q > b->n || s < 1 || s > b->n || seq < 1 || seq > BCK_MAX_SEQ) {
		violate(b, "no creation: node %u delivered an impossible message %u/%llu", q, s,
			(unsigned long long)seq);
		return;
	}
	struct bck_msg *m = &b->msg[s][seq];
	if ((b->props & BCK_NOCREATE) &&
	    (!m->exists || m->len != len || (len && memcmp(m->data, data, len) != 0))) {
		violate(b, "no creation: node %u delivered %u/%llu (\"%.*s\") which %u never "
			   "broadcast with that payload",
			q, s, (unsigned long long)seq, (int)(len > 40 ? 40 : len), (const char *)data,
			s);
		return;
	}
	if (!m->exists)
		return;
	if (m->delivered & bit(q)) {
		if (b->props & BCK_NODUP)
			violate(b, "no duplication: node %u delivered %u/%llu twice", q, s,
				(unsigned long long)seq);
		return;
	}
	if ((b->props & BCK_FIFO) && seq != b->prefix[q][s] + 1)
		violate(b, "FIFO: node %u delivered %u/%llu but only 1..%llu of %u before", q, s,
			(unsigned long long)seq, (unsigned long long)b->prefix[q][s], s);
	if ((b->props & BCK_MONOTONE) && seq <= b->last[q][s])
		violate(b, "per-sender order: node %u delivered %u/%llu after %u/%llu", q, s,
			(unsigned long long)seq, s, (unsigned long long)b->last[q][s]);
	if (b->props & BCK_CAUSAL) {
		for (uint32_t x = 1; x <= b->n; x++) {
			if (b->prefix[q][x] >= m->dep[x])
				continue;
			uint64_t miss = b->prefix[q][x] + 1;
			violate(b, "causal: node %u delivered %u/%llu before %u/%llu, which happened "
				   "before it",
				q, s, (unsigned long long)seq, x, (unsigned long long)miss);
			break;
		}
	}
	if (b->props & BCK_TOTAL)
		check_total(b, q, s, seq);
	m->delivered |= bit(q);
	if (seq > b->last[q][s])
		b->last[q][s] = seq;
	while (b->prefix[q][s] < BCK_MAX_SEQ && (b->msg[s][b->prefix[q][s] + 1].delivered & bit(q)))
		b->prefix[q][s]++;
	for (uint32_t x = 1; x <= b->n; x++)
		if (b->cur[q][x] < m->dep[x])
			b->cur[q][x] = m->dep[x];
	if (b->cur[q][s] < seq)
		b->cur[q][s] = seq;
}

const char *bck_violation(const struct bck *b)
{
	return b->bad ? b->why : NULL;
}

uint64_t bck_broadcasts(const struct bck *b)
{
	return b->nbcast;
}

int bck_final(struct bck *b, const bool *correct, const bool *sender_ok, char *why,
	      size_t whylen)
{
	if (b->bad) {
		snprintf(why, whylen, "%s", b->why);
		return 1;
	}
	uint64_t corr = 0;
	for (uint32_t q = 1; q <= b->n; q++)
		if (correct[q])
			corr |= bit(q);
	for (uint32_t s = 1; s <= b->n; s++) {
		for (uint64_t k = 1; k <= BCK_MAX_SEQ; k++) {
			const struct bck_msg *m = &b->msg[s][k];
			if (!m->exists)
				break;
			uint64_t missing = corr & ~m->delivered;
			if (!missing)
				continue;
			uint32_t who = (uint32_t)__builtin_ctzll(missing) + 1;
			const char *prop = NULL;
			if ((b->props & BCK_VALIDITY) && sender_ok[s])
				prop = "validity";
			else if ((b->props & BCK_UNIFORM) && m->delivered)
				prop = "uniform agreement";
			else if ((b->props & BCK_AGREEMENT) && (m->delivered & corr))
				prop = "agreement";
			if (prop) {
				snprintf(why, whylen,
					 "%s: correct node %u never delivered %u/%llu (delivered by "
					 "mask 0x%llx)",
					 prop, who, s, (unsigned long long)k,
					 (unsigned long long)m->delivered);
				return 1;
			}
		}
	}
	return 0;
}

void bck_coverage(const struct bck *b, const bool *correct, const bool *sender_ok,
		  uint64_t *expected, uint64_t *delivered)
{
	for (uint32_t s = 1; s <= b->n; s++) {
		if (!sender_ok[s])
			continue;
		for (uint64_t k = 1; k <= BCK_MAX_SEQ && b->msg[s][k].exists; k++)
			for (uint32_t q = 1; q <= b->n; q++)
				if (correct[q]) {
					(*expected)++;
					*delivered += (b->msg[s][k].delivered & bit(q)) != 0;
				}
	}
}
