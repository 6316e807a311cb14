/* The turn trace (see turntrace.h). */
#include "rt/uv/turntrace.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct uvrt_tt *uvrt_tt_new(uint32_t id)
{
	const char *dir = getenv("STRATA_TURN_TRACE");
	if (!dir || !*dir)
		return NULL;
	struct uvrt_tt *tt = calloc(1, sizeof(*tt));
	if (!tt)
		return NULL;
	tt->ring = malloc((size_t)UVRT_TT_CAP * sizeof(*tt->ring));
	int w = snprintf(tt->path, sizeof tt->path, "%s/node-%u.tt", dir, id);
	if (!tt->ring || w < 0 || (size_t)w >= sizeof tt->path) {
		fprintf(stderr, "turn trace: %s: not kept (out of memory or path too long)\n", dir);
		free(tt->ring);
		free(tt);
		return NULL;
	}
	tt->id = id;
	return tt;
}

void uvrt_tt_put(struct uvrt_tt *tt, enum uvrt_tt_kind kind, uint32_t a, uint32_t b)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	struct uvrt_tt_rec *r = &tt->ring[tt->n++ & (UVRT_TT_CAP - 1)];
	r->t_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	r->kind = (uint16_t)kind;
	r->a = (uint16_t)a;
	r->b = b;
}

void uvrt_tt_free(struct uvrt_tt *tt)
{
	if (!tt)
		return;
	FILE *f = fopen(tt->path, "wb");
	if (!f) {
		fprintf(stderr, "turn trace: %s: %s\n", tt->path, strerror(errno));
	} else {
		uint32_t hdr[2] = { 1, tt->id };
		uint64_t first = tt->n > UVRT_TT_CAP ? tt->n - UVRT_TT_CAP : 0;
		bool ok = fwrite("STRATATT", 1, 8, f) == 8 && fwrite(hdr, sizeof hdr, 1, f) == 1;
		for (uint64_t i = first; ok && i < tt->n; i++)
			ok = fwrite(&tt->ring[i & (UVRT_TT_CAP - 1)], sizeof(*tt->ring), 1, f) == 1;
		if (fclose(f) != 0 || !ok)
			fprintf(stderr, "turn trace: %s: write failed\n", tt->path);
	}
	free(tt->ring);
	free(tt);
}
