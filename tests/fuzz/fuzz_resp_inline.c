/* libFuzzer target for the RESP port's inline commands (src/rt/uv/resp_inline.h): the input is
 * a byte stream from a client, cut into lines and each line split into words as resp.c does
 * (the line bound is FUZZ_LINE_MAX here, so that inputs reach it).
 *
 * Beyond "no crash, no sanitizer report": a line lies inside the input, its "\n" right after
 * it (or after its "\r"), and is at most the bound; the bound is refused only when more than
 * that many bytes come before any "\n"; a line is refused for a NUL byte exactly when it holds
 * one; a split gives at most len / 2 + 1 words (so the words array resp.c sizes from that never
 * overflows: never STRATA_RESP_INLINE_TOO_MANY), each inside the output buffer; and every split is a fixed point of quoting: the words written back as
 * "..." with \xHH escapes split into the same words, and so does the same line written with
 * '...' wherever a word can be (no NUL, no trailing backslash). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "rt/uv/resp_inline.h"

#define FUZZ_LINE_MAX 300

/* Writes the words as one line, each quoted (sq: '...' where it can be), into line. */
static size_t requote(const char *const *v, const size_t *lens, int n, char *line, int sq)
{
	size_t at = 0;
	for (int i = 0; i < n; i++) {
		const unsigned char *w = (const unsigned char *)v[i];
		int single = sq && !memchr(w, 0, lens[i]) && !(lens[i] && w[lens[i] - 1] == '\\');
		if (i)
			line[at++] = ' ';
		line[at++] = single ? '\'' : '"';
		for (size_t j = 0; j < lens[i]; j++) {
			if (single) {
				if (w[j] == '\'')
					line[at++] = '\\';
				line[at++] = (char)w[j];
			} else if (w[j] < 0x20 || w[j] >= 0x7f || w[j] == '"' || w[j] == '\\') {
				at += (size_t)snprintf(line + at, 5, "\\x%02x", w[j]);
			} else {
				line[at++] = (char)w[j];
			}
		}
		line[at++] = single ? '\'' : '"';
	}
	return at;
}

static void check_line(const char *line, size_t len)
{
	size_t cap = len / 2 + 1;
	const char **v = malloc(cap * sizeof(*v));
	size_t *lens = malloc(cap * sizeof(*lens));
	char *out = malloc(len + 1);
	STRATA_ASSERT(v && lens && out);
	int n = strata_resp_inline_split(line, len, out, v, lens, cap);
	STRATA_ASSERT((n == STRATA_RESP_INLINE_NUL) == (len && memchr(line, 0, len) != NULL));
	STRATA_ASSERT(n == STRATA_RESP_INLINE_UNBALANCED || n == STRATA_RESP_INLINE_NUL ||
		      (n >= 0 && (size_t)n <= cap));
	size_t total = 0;
	for (int i = 0; i < n; i++) {
		STRATA_ASSERT(v[i] >= out && v[i] + lens[i] <= out + len);
		total += lens[i];
	}
	if (n > 0) {
		/* Each byte of a word is at most 4 bytes quoted, plus 2 quotes and a blank. */
		size_t qcap = 4 * total + 3 * (size_t)n;
		char *q = malloc(qcap);
		char *out2 = malloc(qcap);
		const char **v2 = malloc((size_t)n * sizeof(*v2));
		size_t *lens2 = malloc((size_t)n * sizeof(*lens2));
		STRATA_ASSERT(q && out2 && v2 && lens2);
		for (int sq = 0; sq < 2; sq++) {
			size_t ql = requote(v, lens, n, q, sq);
			STRATA_ASSERT(ql <= qcap);
			int n2 = strata_resp_inline_split(q, ql, out2, v2, lens2, (size_t)n);
			STRATA_ASSERT(n2 == n);
			for (int i = 0; i < n; i++)
				STRATA_ASSERT(lens2[i] == lens[i] &&
					      memcmp(v2[i], v[i], lens[i]) == 0);
		}
		free(q);
		free(out2);
		free(v2);
		free(lens2);
	}
	free(v);
	free(lens);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t left = size;
	while (left > 0) {
		size_t ll = SIZE_MAX, used = SIZE_MAX;
		int rc = strata_resp_inline_line(p, left, FUZZ_LINE_MAX, &ll, &used);
		const char *nl = memchr(p, '\n', left);
		if (rc == 0) {
			STRATA_ASSERT(!nl && left <= FUZZ_LINE_MAX);
			break;
		}
		if (rc < 0) {
			STRATA_ASSERT(rc == STRATA_RESP_INLINE_TOO_BIG && left > FUZZ_LINE_MAX);
			STRATA_ASSERT(!nl || (size_t)(nl - p) > FUZZ_LINE_MAX);
			break;
		}
		STRATA_ASSERT(rc == 1 && nl && used == (size_t)(nl - p) + 1 && used <= left);
		STRATA_ASSERT(used - 1 <= FUZZ_LINE_MAX);
		STRATA_ASSERT(ll == used - 1 || (ll == used - 2 && p[ll] == '\r'));
		check_line(p, ll);
		p += used;
		left -= used;
	}
	return 0;
}
