/* A tiny streaming JSON writer for `-w json` output.
 *
 * It only knows where commas go; the caller keeps objects and arrays balanced. Strings are
 * escaped per RFC 8259. Values coming from the network are byte strings that need not be UTF-8:
 * valid UTF-8 sequences are copied, and every byte that is not part of one is written as
 * \u00XX, so the output always parses (python3 -m json.tool, jq) whatever the daemon sent. */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

void cli_json_init(struct cli_json *j, FILE *out)
{
	j->out = out;
	j->depth = 0;
	j->need_comma[0] = false;
	j->after_key = false;
}

/* Writes the separator a new value (or key) needs at the current level. */
static void sep(struct cli_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->need_comma[j->depth])
		fputc(',', j->out);
	j->need_comma[j->depth] = true;
}

static void json_open(struct cli_json *j, char ch)
{
	sep(j);
	fputc(ch, j->out);
	if (j->depth < 31)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void json_close(struct cli_json *j, char ch)
{
	fputc(ch, j->out);
	if (j->depth > 0)
		j->depth--;
	if (j->depth == 0)
		fputc('\n', j->out);
}

void cli_json_begin_object(struct cli_json *j)
{
	json_open(j, '{');
}

void cli_json_end_object(struct cli_json *j)
{
	json_close(j, '}');
}

void cli_json_begin_array(struct cli_json *j)
{
	json_open(j, '[');
}

void cli_json_end_array(struct cli_json *j)
{
	json_close(j, ']');
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if the bytes there are not one
 * (overlong forms, surrogates and code points above U+10FFFF are rejected). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char b = s[0];
	size_t len;
	uint32_t cp;
	if (b < 0x80)
		return 1;
	if (b >= 0xC2 && b <= 0xDF) {
		len = 2;
		cp = b & 0x1Fu;
	} else if (b >= 0xE0 && b <= 0xEF) {
		len = 3;
		cp = b & 0x0Fu;
	} else if (b >= 0xF0 && b <= 0xF4) {
		len = 4;
		cp = b & 0x07u;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3Fu);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

void cli_json_string_n(struct cli_json *j, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	sep(j);
	fputc('"', j->out);
	size_t i = 0;
	while (i < len) {
		unsigned char b = s[i];
		if (b == '"' || b == '\\') {
			fputc('\\', j->out);
			fputc(b, j->out);
			i++;
		} else if (b == '\n') {
			fputs("\\n", j->out);
			i++;
		} else if (b == '\t') {
			fputs("\\t", j->out);
			i++;
		} else if (b == '\r') {
			fputs("\\r", j->out);
			i++;
		} else if (b < 0x20 || b == 0x7F) {
			fprintf(j->out, "\\u%04x", b);
			i++;
		} else {
			size_t u = utf8_len(s + i, len - i);
			if (u == 0) {
				fprintf(j->out, "\\u%04x", b);
				i++;
			} else {
				fwrite(s + i, 1, u, j->out);
				i += u;
			}
		}
	}
	fputc('"', j->out);
}

void cli_json_string(struct cli_json *j, const char *s)
{
	if (!s) {
		cli_json_null(j);
		return;
	}
	cli_json_string_n(j, s, strlen(s));
}

void cli_json_key(struct cli_json *j, const char *key)
{
	cli_json_string(j, key);
	fputc(':', j->out);
	j->after_key = true;
}

void cli_json_uint(struct cli_json *j, uint64_t v)
{
	sep(j);
	fprintf(j->out, "%" PRIu64, v);
}

void cli_json_int(struct cli_json *j, int64_t v)
{
	sep(j);
	fprintf(j->out, "%" PRId64, v);
}

void cli_json_bool(struct cli_json *j, bool v)
{
	sep(j);
	fputs(v ? "true" : "false", j->out);
}

void cli_json_null(struct cli_json *j)
{
	sep(j);
	fputs("null", j->out);
}
