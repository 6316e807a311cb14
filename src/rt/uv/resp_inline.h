/* Inline commands of the RESP port (docs/resp.md, "Parsing"), without sockets: finding a
 * command line in the received bytes and splitting it into words with Redis's quoting rules.
 * Pure functions, so that unit tests (tests/unit/test_resp_inline.c) and libFuzzer
 * (tests/fuzz/fuzz_resp_inline.c) drive them; resp.c only moves bytes.
 *
 * An inline command is a text line, as typed into telnet: `SET key "a value"\r\n`. Words are
 * separated by blanks; a word may be, or contain, a quoted part:
 *   - "..." takes the escapes \xHH (two hex digits: that byte), \n \r \t \b \a, and a
 *     backslash before any other byte stands for that byte (\" is a quote, \\ a backslash);
 *   - '...' takes every byte as it is, except \' (a quote);
 *   - a closing quote must end the word (a blank or the end of the line after it);
 *   - a quote left open, or a closing quote with more of the word after it, is an error
 *     (Redis: "unbalanced quotes in request").
 * Unquoted bytes before a quote belong to the same word (`ab"c d"` is the word `abc d`). The
 * line ends at "\n", a "\r" before it is dropped. An empty or blank line has no words (ignored).
 * A NUL byte in a line is an error (a byte 0 is written "\x00"): Redis looks for the line's end
 * with strchr(), which stops at the NUL, so such a line never ends there (the connection hangs
 * until 64 KiB arrive); truncating at the NUL instead would run a command other than the one
 * sent. */
#ifndef STRATA_RT_UV_RESP_INLINE_H
#define STRATA_RT_UV_RESP_INLINE_H

#include <stddef.h>

#define STRATA_RESP_INLINE_MAX (64u * 1024) /* bytes of one inline line, as Redis */

enum {
	STRATA_RESP_INLINE_UNBALANCED = -1, /* a quote left open or not ending its word */
	STRATA_RESP_INLINE_TOO_MANY = -2,   /* more words than the caller takes */
	STRATA_RESP_INLINE_TOO_BIG = -3,    /* a line longer than the bound */
	STRATA_RESP_INLINE_NUL = -4,        /* a NUL byte in the line */
};

/* Looks for one line at the start of buf[0..len). Returns 1 and sets *line_len (the command's
 * bytes, without "\r\n" or "\n") and *consumed (with them) when there is one of at most max
 * bytes before its "\n"; 0 when more bytes are needed; STRATA_RESP_INLINE_TOO_BIG when more
 * than max bytes come before any "\n". */
int strata_resp_inline_line(const char *buf, size_t len, size_t max, size_t *line_len,
			    size_t *consumed);

/* Splits line[0..len) into words: the words' bytes are written to out (at least len bytes; no
 * word is longer than its text), word i is v[i][0..lens[i]), at most max words. Returns the
 * number of words (0: a blank line), STRATA_RESP_INLINE_NUL, STRATA_RESP_INLINE_UNBALANCED,
 * or STRATA_RESP_INLINE_TOO_MANY. A line of len bytes has at most len / 2 + 1 words. */
int strata_resp_inline_split(const char *line, size_t len, char *out, const char **v,
			     size_t *lens, size_t max);

/* The protocol error's text for a negative result above. */
const char *strata_resp_inline_error(int rc);

#endif
