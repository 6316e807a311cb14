/* Inline commands of the RESP port: line framing and word splitting (resp_inline.h). */
#include <stdbool.h>
#include <string.h>

#include "rt/uv/resp_inline.h"

int strata_resp_inline_line(const char *buf, size_t len, size_t max, size_t *line_len,
			    size_t *consumed)
{
	/* The "\n" may come right after max bytes; nothing further is searched. */
	size_t look = len <= max ? len : max + 1;
	const char *nl = look ? memchr(buf, '\n', look) : NULL;
	if (!nl)
		return len > max ? STRATA_RESP_INLINE_TOO_BIG : 0;
	size_t n = (size_t)(nl - buf);
	*consumed = n + 1;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	*line_len = n;
	return 1;
}

/* Blanks between words: isspace() in the C locale, as Redis skips them. */
static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r';
}

/* Bytes that end an unquoted word (Redis: not \v and \f, which belong to the word). */
static bool ends_word(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* A quoted part starting at line[*i] (its opening quote): its bytes appended to out at *o, *i
 * past the closing quote. false: left open, or the word goes on after the closing quote. */
static bool quoted(const char *line, size_t len, size_t *i, char *out, size_t *o)
{
	char q = line[*i];
	size_t k = *i + 1, w = *o;
	for (;;) {
		if (k >= len)
			return false;
		char ch = line[k];
		if (ch == q) {
			if (k + 1 < len && !is_blank(line[k + 1]))
				return false;
			*i = k + 1;
			*o = w;
			return true;
		}
		if (ch == '\\' && q == '\'') {
			if (k + 1 < len && line[k + 1] == '\'') {
				out[w++] = '\'';
				k += 2;
			} else {
				out[w++] = ch;
				k++;
			}
			continue;
		}
		if (ch == '\\' && k + 1 < len) {
			int hi = -1, lo = -1;
			if (line[k + 1] == 'x' && k + 3 < len) {
				hi = hex_value(line[k + 2]);
				lo = hex_value(line[k + 3]);
			}
			if (hi >= 0 && lo >= 0) {
				out[w++] = (char)(hi * 16 + lo);
				k += 4;
				continue;
			}
			char e = line[k + 1];
			switch (e) {
			case 'n': e = '\n'; break;
			case 'r': e = '\r'; break;
			case 't': e = '\t'; break;
			case 'b': e = '\b'; break;
			case 'a': e = '\a'; break;
			default: break;
			}
			out[w++] = e;
			k += 2;
			continue;
		}
		/* A backslash as the line's last byte is itself; the quote is then left open. */
		out[w++] = ch;
		k++;
	}
}

int strata_resp_inline_split(const char *line, size_t len, char *out, const char **v,
			     size_t *lens, size_t max)
{
	if (len && memchr(line, '\0', len))
		return STRATA_RESP_INLINE_NUL;
	size_t i = 0, o = 0, n = 0;
	for (;;) {
		while (i < len && is_blank(line[i]))
			i++;
		if (i == len)
			break;
		if (n == max)
			return STRATA_RESP_INLINE_TOO_MANY;
		size_t start = o;
		while (i < len && !ends_word(line[i])) {
			if (line[i] == '"' || line[i] == '\'') {
				if (!quoted(line, len, &i, out, &o))
					return STRATA_RESP_INLINE_UNBALANCED;
				break; /* a closing quote ends the word */
			}
			out[o++] = line[i++];
		}
		v[n] = out + start;
		lens[n] = o - start;
		n++;
	}
	return (int)n;
}

const char *strata_resp_inline_error(int rc)
{
	switch (rc) {
	case STRATA_RESP_INLINE_UNBALANCED:
		return "unbalanced quotes in request";
	case STRATA_RESP_INLINE_TOO_MANY:
		return "too many arguments";
	case STRATA_RESP_INLINE_TOO_BIG:
		return "too big inline request";
	case STRATA_RESP_INLINE_NUL:
		return "NUL byte in inline request";
	default:
		return "invalid inline request";
	}
}
