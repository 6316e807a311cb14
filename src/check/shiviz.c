/* ShiViz export of broadcast delivery logs (API in check/bcast_log.h).
 *
 * ShiViz (https://bestchai.bitbucket.io/shiviz/) draws space-time diagrams from a log in which
 * every event carries a vector clock. An uploaded file is: the parser regular expression on the
 * first line, the multiple-execution delimiter on the second (empty here: one execution), then
 * the log. With ShiViz's default regex each event is two lines:
 *
 *     broadcast 1:1 payload="hello" lamport=1
 *     node1 {"node1":1}
 *
 * ShiViz requires a host's own entry to count that host's events 1, 2, 3, ..., so these clocks
 * count events (not broadcasts). They are computed from the logs' happened-before, never from
 * the clocks the algorithm recorded: a delivery merges the clock the broadcast had, then ticks.
 * ShiViz draws a message edge wherever a clock learns of another host's event, so the diagram
 * shows exactly the causality the checkers use. */
#include <stdlib.h>
#include <string.h>

#include "check/bcast_log.h"
#include "core/assert.h"
#include "core/error.h"

#define SHOW_MAX 32 /* payload bytes shown in a description */

struct shiviz {
	const struct strata_bcast_logs *logs;
	FILE *out;
	size_t w;        /* n + 1 */
	uint64_t *vc;    /* vc[p * w + q]: node p's current clock */
	uint64_t **bvc;  /* bvc[s][(seq - 1) * w + q]: the clock of broadcast s:seq */
};

static bool printable(const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (b[i] < 0x20 || b[i] > 0x7e)
			return false;
	return true;
}

/* payload="text" when printable (quotes and backslashes escaped), payload=0x<hex> otherwise,
 * cut at SHOW_MAX bytes with the full length given. */
static void put_payload(FILE *f, const uint8_t *b, size_t len)
{
	size_t shown = len < SHOW_MAX ? len : SHOW_MAX;
	if (len == 0) {
		fputs("payload=\"\"", f);
		return;
	}
	if (printable(b, shown)) {
		fputs("payload=\"", f);
		for (size_t i = 0; i < shown; i++) {
			if (b[i] == '"' || b[i] == '\\')
				putc('\\', f);
			putc(b[i], f);
		}
		putc('"', f);
	} else {
		fputs("payload=0x", f);
		for (size_t i = 0; i < shown; i++)
			fprintf(f, "%02x", b[i]);
	}
	if (len > shown)
		fprintf(f, "...(%zu bytes)", len);
}

static void put_description(struct shiviz *sv, uint32_t p, const struct strata_bcast_event *e,
			    bool cyclic)
{
	const struct strata_bcast_node_log *nl = &sv->logs->node[p];
	FILE *f = sv->out;
	if (e->kind == STRATA_BCAST_EV_CRASH) {
		fputs("crash\n", f);
		return;
	}
	if (e->kind == STRATA_BCAST_EV_INCARNATION) {
		fprintf(f, "restart as incarnation %llu\n", (unsigned long long)e->seq);
		return;
	}
	fprintf(f, "%s %u:%llu ", e->kind == STRATA_BCAST_EV_BROADCAST ? "broadcast" : "deliver",
		e->sender, (unsigned long long)e->seq);
	put_payload(f, strata_bcast_event_payload(nl, e), e->payload_len);
	fprintf(f, " lamport=%llu", (unsigned long long)e->lamport);
	if (cyclic)
		fputs(" (delivered before its broadcast: the logs are cyclic)", f);
	putc('\n', f);
}

static void put_clock(struct shiviz *sv, uint32_t p, const uint64_t *row)
{
	FILE *f = sv->out;
	fprintf(f, "node%u {", p);
	const char *sep = "";
	for (uint32_t q = 1; q <= sv->logs->n; q++) {
		if (row[q] == 0)
			continue;
		fprintf(f, "%s\"node%u\":%llu", sep, q, (unsigned long long)row[q]);
		sep = ", ";
	}
	fputs("}\n", f);
}

static int shiviz_visit(void *ctx, uint32_t p, size_t i, bool cyclic)
{
	struct shiviz *sv = ctx;
	const struct strata_bcast_logs *logs = sv->logs;
	const struct strata_bcast_event *e = &logs->node[p].ev[i];
	uint64_t *row = sv->vc + p * sv->w;
	if (e->kind == STRATA_BCAST_EV_DELIVER && !cyclic) {
		const struct strata_bcast_node_log *sl = &logs->node[e->sender];
		if (strata_bcast_recorded(sl, e->seq)) {
			const uint64_t *b = sv->bvc[e->sender] + (e->seq - 1) * sv->w;
			/* A node's own entry only ever moves by its own ticks. */
			for (uint32_t q = 1; q <= logs->n; q++)
				if (q != p && b[q] > row[q])
					row[q] = b[q];
		}
	}
	row[p]++;
	if (e->kind == STRATA_BCAST_EV_BROADCAST)
		memcpy(sv->bvc[p] + (e->seq - 1) * sv->w, row, sv->w * sizeof *row);
	put_description(sv, p, e, cyclic);
	put_clock(sv, p, row);
	return ferror(sv->out) ? STRATA_EIO : 0;
}

int strata_shiviz_write(const struct strata_bcast_logs *logs, FILE *out, char *err, size_t errlen)
{
	STRATA_ASSERT(logs != NULL && out != NULL);
	STRATA_ASSERT(logs->n >= 1 && logs->n <= STRATA_BCAST_MAX_NODES);
	struct shiviz sv = {.logs = logs, .out = out, .w = (size_t)logs->n + 1};
	int rc = STRATA_ENOMEM;
	sv.vc = calloc(sv.w * sv.w, sizeof *sv.vc);
	sv.bvc = calloc(sv.w, sizeof *sv.bvc);
	if (sv.vc == NULL || sv.bvc == NULL)
		goto out;
	for (uint32_t s = 1; s <= logs->n; s++) {
		size_t rows = (size_t)logs->node[s].nbcast;
		if (rows > 0 && (sv.bvc[s] = malloc(rows * sv.w * sizeof **sv.bvc)) == NULL)
			goto out;
	}
	fprintf(out, "%s\n\n", STRATA_SHIVIZ_REGEX);
	rc = strata_bcast_walk(logs, shiviz_visit, &sv);
	if (rc == 0 && (fflush(out) != 0 || ferror(out)))
		rc = STRATA_EIO;
out:
	if (rc == STRATA_ENOMEM && err != NULL && errlen > 0)
		snprintf(err, errlen, "out of memory");
	else if (rc == STRATA_EIO && err != NULL && errlen > 0)
		snprintf(err, errlen, "write failed");
	if (sv.bvc != NULL)
		for (size_t s = 0; s < sv.w; s++)
			free(sv.bvc[s]);
	free(sv.bvc);
	free(sv.vc);
	return rc;
}
