/* Unit tests for the RESP port's inline commands (src/rt/uv/resp_inline.h):
 *   - line framing: "\n" and "\r\n" ends, a partial line, the 64 KiB bound with and without
 *     the "\n" (exactly the bound is a line, one byte more an error);
 *   - word splitting, case by case against what Redis gives for the same line: blanks, "..."
 *     with every escape (\xHH, \n \r \t \b \a, \" \\, an unknown one, a short \x), '...' with
 *     \', unquoted bytes before a quote, empty quoted words, \v and \f inside words; and the
 *     errors (a quote left open, a word going on after its closing quote, a backslash as the
 *     last byte, a NUL byte);
 *   - the word bound: exactly max words split, one more is STRATA_RESP_INLINE_TOO_MANY;
 *   - round trip: random words of any bytes, each written in one of three quotings, split back
 *     into the same words; and on random lines the words always lie in out[0..len) and number
 *     at most len / 2 + 1. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt/uv/resp_inline.h"

#define WMAX 64

struct words {
	int n;
	const char *v[WMAX];
	size_t len[WMAX];
	char out[4096];
};

static int split(const char *line, size_t len, struct words *w)
{
	ck_assert_uint_le(len, sizeof(w->out));
	w->n = strata_resp_inline_split(line, len, w->out, w->v, w->len, WMAX);
	return w->n;
}

/* line (a C string) splits into the words of want, NULL-terminated. */
static void want_words(const char *line, const char *const *want)
{
	struct words w;
	int n = split(line, strlen(line), &w);
	int k = 0;
	while (want[k])
		k++;
	ck_assert_msg(n == k, "%s: %d words, expected %d", line, n, k);
	for (int i = 0; i < k; i++)
		ck_assert_msg(w.len[i] == strlen(want[i]) &&
				      memcmp(w.v[i], want[i], w.len[i]) == 0,
			      "%s: word %d is '%.*s', expected '%s'", line, i, (int)w.len[i],
			      w.v[i], want[i]);
}

#define WORDS(line, ...)                                             \
	do {                                                         \
		const char *const want_[] = { __VA_ARGS__, NULL };   \
		want_words(line, want_);                             \
	} while (0)

START_TEST(test_line)
{
	size_t ll = 99, used = 99;
	ck_assert_int_eq(strata_resp_inline_line("", 0, 16, &ll, &used), 0);
	ck_assert_int_eq(strata_resp_inline_line("PING", 4, 16, &ll, &used), 0);
	ck_assert_int_eq(strata_resp_inline_line("PING\r", 5, 16, &ll, &used), 0);
	ck_assert_int_eq(strata_resp_inline_line("PING\nX", 6, 16, &ll, &used), 1);
	ck_assert_uint_eq(ll, 4);
	ck_assert_uint_eq(used, 5);
	ck_assert_int_eq(strata_resp_inline_line("PING\r\nX", 7, 16, &ll, &used), 1);
	ck_assert_uint_eq(ll, 4);
	ck_assert_uint_eq(used, 6);
	ck_assert_int_eq(strata_resp_inline_line("\r\n", 2, 16, &ll, &used), 1);
	ck_assert_uint_eq(ll, 0);
	ck_assert_uint_eq(used, 2);
	ck_assert_int_eq(strata_resp_inline_line("\n", 1, 16, &ll, &used), 1);
	ck_assert_uint_eq(ll, 0);
	ck_assert_uint_eq(used, 1);
	/* Only the "\r" right before "\n" is the line's end. */
	ck_assert_int_eq(strata_resp_inline_line("a\rb\n", 4, 16, &ll, &used), 1);
	ck_assert_uint_eq(ll, 3);

	/* The bound, 8 bytes here: 8 bytes then "\n" is a line; 9 bytes without a "\n" (or
	 * with one after them) are too big; 8 without one still wait. */
	ck_assert_int_eq(strata_resp_inline_line("12345678\n", 9, 8, &ll, &used), 1);
	ck_assert_uint_eq(ll, 8);
	ck_assert_int_eq(strata_resp_inline_line("12345678", 8, 8, &ll, &used), 0);
	ck_assert_int_eq(strata_resp_inline_line("123456789", 9, 8, &ll, &used),
			 STRATA_RESP_INLINE_TOO_BIG);
	ck_assert_int_eq(strata_resp_inline_line("123456789\n", 10, 8, &ll, &used),
			 STRATA_RESP_INLINE_TOO_BIG);
	/* "\r\n" counts its "\r" among the 8. */
	ck_assert_int_eq(strata_resp_inline_line("1234567\r\n", 9, 8, &ll, &used), 1);
	ck_assert_uint_eq(ll, 7);

	/* The real bound: a 64 KiB line passes, one byte more does not. */
	size_t max = STRATA_RESP_INLINE_MAX;
	char *big = malloc(max + 2);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', max + 2);
	big[max] = '\n';
	ck_assert_int_eq(strata_resp_inline_line(big, max + 1, max, &ll, &used), 1);
	ck_assert_uint_eq(ll, max);
	big[max] = 'a';
	big[max + 1] = '\n';
	ck_assert_int_eq(strata_resp_inline_line(big, max + 2, max, &ll, &used),
			 STRATA_RESP_INLINE_TOO_BIG);
	free(big);
	ck_assert_str_eq(strata_resp_inline_error(STRATA_RESP_INLINE_TOO_BIG),
			 "too big inline request");
}
END_TEST

START_TEST(test_words)
{
	struct words w;
	ck_assert_int_eq(split("", 0, &w), 0);
	ck_assert_int_eq(split("  \t \r ", 6, &w), 0);
	WORDS("PING", "PING");
	WORDS("  SET\tk   v  ", "SET", "k", "v");
	WORDS("SET \"a b\" 'c d'", "SET", "a b", "c d");
	/* Escapes in "...". */
	WORDS("\"\\x41\\x7a\\x7A\\xff\"", "Azz\xff");
	WORDS("\"a\\nb\\rc\\td\\be\\af\"", "a\nb\rc\td\be\af");
	WORDS("\"q\\\"q\" \"b\\\\s\"", "q\"q", "b\\s");
	WORDS("\"\\q\\x\\xg1\\x4\"", "qxxg1x4");
	/* '...' keeps backslashes except before a quote. */
	WORDS("'it\\'s' 'a\\nb' '\\x41'", "it's", "a\\nb", "\\x41");
	/* Quotes inside the other kind, empty quoted words. */
	WORDS("\"it's\" 'say \"hi\"'", "it's", "say \"hi\"");
	WORDS("SET k \"\" ''", "SET", "k", "", "");
	/* Unquoted bytes before a quote are the same word; an unquoted quote opens one. */
	WORDS("ab\"c d\" e", "abc d", "e");
	WORDS("x'y z'", "xy z");
	/* Blanks inside quotes are kept; \v and \f end no word but are skipped between them. */
	WORDS("\"a\tb\r\" c", "a\tb\r", "c");
	WORDS("a\vb\fc \v d", "a\vb\fc", "d");
	/* A closing quote may be followed by any blank, \v included. */
	WORDS("\"a\"\vb", "a", "b");
	/* A NUL byte is refused (Redis never finds such a line's end), quoted or not; "\x00" is
	 * how a word holds one. */
	const char nul[] = "SET k v\0junk";
	ck_assert_int_eq(split(nul, sizeof(nul) - 1, &w), STRATA_RESP_INLINE_NUL);
	const char qnul[] = "SET k \"v\0\"";
	ck_assert_int_eq(split(qnul, sizeof(qnul) - 1, &w), STRATA_RESP_INLINE_NUL);
	ck_assert_int_eq(split("\0", 1, &w), STRATA_RESP_INLINE_NUL);
	ck_assert_str_eq(strata_resp_inline_error(STRATA_RESP_INLINE_NUL),
			 "NUL byte in inline request");
	const char xnul[] = "SET k \"v\\x00\"";
	ck_assert_int_eq(split(xnul, strlen(xnul), &w), 3);
	ck_assert_uint_eq(w.len[2], 2);
	ck_assert_int_eq(w.v[2][1], 0);

	/* Unbalanced: left open, a word going on after its closing quote, a trailing backslash. */
	const char *bad[] = {
		"SET \"abc v", "SET 'abc v", "\"a\"b", "'a'b", "\"a\"\"b\"", "\"abc\\",
		"'abc\\'", "\"", "'", "x \"\\x4",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(split(bad[i], strlen(bad[i]), &w) == STRATA_RESP_INLINE_UNBALANCED,
			      "%s: not refused", bad[i]);
	ck_assert_str_eq(strata_resp_inline_error(STRATA_RESP_INLINE_UNBALANCED),
			 "unbalanced quotes in request");
}
END_TEST

START_TEST(test_too_many)
{
	char line[2 * WMAX + 4];
	size_t len = 0;
	for (int i = 0; i < WMAX; i++) {
		line[len++] = 'w';
		line[len++] = ' ';
	}
	struct words w;
	ck_assert_int_eq(split(line, len, &w), WMAX);
	line[len++] = '"';
	line[len++] = '"';
	ck_assert_int_eq(split(line, len, &w), STRATA_RESP_INLINE_TOO_MANY);
	ck_assert_str_eq(strata_resp_inline_error(STRATA_RESP_INLINE_TOO_MANY),
			 "too many arguments");
}
END_TEST

/* Appends word[0..n) to line in quoting q: 0 "..." with \xHH for every byte that is not
 * printable or is a quote or backslash, 1 "..." with the named escapes where they exist,
 * 2 '...' (' becomes \'). */
static size_t quote(char *line, size_t at, const unsigned char *word, size_t n, int q)
{
	char qc = q == 2 ? '\'' : '"';
	line[at++] = qc;
	for (size_t i = 0; i < n; i++) {
		unsigned char b = word[i];
		if (q == 2) {
			if (b == '\'')
				line[at++] = '\\';
			line[at++] = (char)b;
			continue;
		}
		const char *named = NULL;
		if (q == 1) {
			switch (b) {
			case '\n': named = "\\n"; break;
			case '\r': named = "\\r"; break;
			case '\t': named = "\\t"; break;
			case '\b': named = "\\b"; break;
			case '\a': named = "\\a"; break;
			case '"': named = "\\\""; break;
			case '\\': named = "\\\\"; break;
			default: break;
			}
		}
		if (named) {
			memcpy(line + at, named, 2);
			at += 2;
		} else if (b < 0x20 || b >= 0x7f || b == '"' || b == '\\') {
			at += (size_t)sprintf(line + at, "\\x%02x", b);
		} else {
			line[at++] = (char)b;
		}
	}
	line[at++] = qc;
	return at;
}

START_TEST(test_roundtrip)
{
	srand(7);
	static char line[16384], out[16384];
	const char *v[WMAX];
	size_t lens[WMAX];
	for (int round = 0; round < 5000; round++) {
		unsigned char words[8][24];
		size_t wl[8];
		size_t nw = (size_t)(rand() % 8), at = 0;
		for (size_t i = 0; i < nw; i++) {
			wl[i] = (size_t)(rand() % 24);
			for (size_t j = 0; j < wl[i]; j++)
				words[i][j] = (unsigned char)(rand() % 256);
			int q = rand() % 3;
			/* '...' cannot hold a NUL, nor end in a backslash (it would escape the
			 * closing quote): as in Redis. */
			if (q == 2 && (memchr(words[i], 0, wl[i]) ||
				       (wl[i] && words[i][wl[i] - 1] == '\\')))
				q = 0;
			/* One to three blanks before each word, some before the first. */
			for (int b = rand() % 3 + (i > 0); b > 0; b--)
				line[at++] = " \t\r\v\f"[rand() % 5];
			at = quote(line, at, words[i], wl[i], q);
		}
		int n = strata_resp_inline_split(line, at, out, v, lens, WMAX);
		ck_assert_int_eq(n, (int)nw);
		for (size_t i = 0; i < nw; i++)
			ck_assert_msg(lens[i] == wl[i] && memcmp(v[i], words[i], wl[i]) == 0,
				      "round %d word %zu differs", round, i);
	}
	/* Random lines over a small alphabet: words inside out, at most len / 2 + 1 of them. */
	const char alpha[] = "ab \t\"'\\x4f\r\n\v";
	for (int round = 0; round < 20000; round++) {
		size_t len = (size_t)(rand() % 40);
		for (size_t i = 0; i < len; i++)
			line[i] = alpha[rand() % (int)(sizeof(alpha) - 1)];
		int n = strata_resp_inline_split(line, len, out, v, lens, WMAX);
		ck_assert(n == STRATA_RESP_INLINE_UNBALANCED || n >= 0);
		ck_assert_int_le(n, (int)(len / 2 + 1));
		for (int i = 0; i < n; i++)
			ck_assert(v[i] >= out && v[i] + lens[i] <= out + len);
	}
}
END_TEST

static Suite *resp_inline_suite(void)
{
	Suite *s = suite_create("resp_inline");
	TCase *tc = tcase_create("resp_inline");
	tcase_set_timeout(tc, 60); /* a hang guard, not a speed bound */
	tcase_add_test(tc, test_line);
	tcase_add_test(tc, test_words);
	tcase_add_test(tc, test_too_many);
	tcase_add_test(tc, test_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}

/* `test_resp_inline --split`: for tests/integration/test_resp.sh, which compares this code's
 * splits with redis-server's. Reads lines of hex (one inline line each, without its end) and
 * prints per line "ERR" (refused) or its words, each "w" and its bytes in hex, comma-separated. */
static int split_stdin(void)
{
	static char hex[1 << 18], line[1 << 17], out[1 << 17];
	static const char *v[1 << 16];
	static size_t lens[1 << 16];
	while (fgets(hex, sizeof(hex), stdin)) {
		size_t n = strcspn(hex, "\n") / 2;
		for (size_t i = 0; i < n; i++) {
			unsigned x = 0;
			if (sscanf(hex + 2 * i, "%2x", &x) != 1)
				return 2;
			line[i] = (char)x;
		}
		int k = strata_resp_inline_split(line, n, out, v, lens, 1 << 16);
		if (k < 0)
			printf("ERR");
		for (int i = 0; i < k; i++) {
			printf("%sw", i ? "," : "");
			for (size_t j = 0; j < lens[i]; j++)
				printf("%02x", (unsigned char)v[i][j]);
		}
		printf("\n");
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--split") == 0)
		return split_stdin();
	SRunner *sr = srunner_create(resp_inline_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
