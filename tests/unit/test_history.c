/* Unit tests for the client-history reader and writer (src/check/history.c): field decoding,
 * string escapes, pairing of invokes with completions (info, pending, reused processes), every
 * kind of malformed line with its exact line number, the size limits, the bounded file reader,
 * and writer -> reader round trips. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check/check.h"
#include "check/history.h"
#include "core/error.h"

static struct strata_history *parse_ok(const char *text)
{
	struct strata_history *h = NULL;
	char err[256];
	int rc = strata_history_parse(text, strlen(text), "t.jsonl", NULL, &h, err, sizeof(err));
	ck_assert_msg(rc == 0, "unexpected parse error: %s", err);
	ck_assert_ptr_nonnull(h);
	return h;
}

/* Parses text, expects an error whose message starts with "t.jsonl:LINE: " and contains what. */
static void parse_bad(const char *text, unsigned line, const char *what,
		      const struct strata_history_limits *lim)
{
	struct strata_history *h = (struct strata_history *)1;
	char err[256];
	int rc = strata_history_parse(text, strlen(text), "t.jsonl", lim, &h, err, sizeof(err));
	ck_assert_msg(rc < 0, "accepted bad input: %s", text);
	ck_assert_ptr_null(h);
	char prefix[32];
	snprintf(prefix, sizeof(prefix), "t.jsonl:%u: ", line);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "error '%s' does not start with '%s'",
		      err, prefix);
	ck_assert_msg(strstr(err, what) != NULL, "error '%s' does not mention '%s'", err, what);
}

static const char *val(const struct strata_history *h, uint32_t id)
{
	ck_assert_uint_lt(id, h->n_vals);
	return h->vals[id].s;
}

START_TEST(test_pairs_and_fields)
{
	const char *text =
		"{\"process\":1,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":\"a\",\"time\":10}\n"
		"\n"
		"  {\"time\":20,\"value\":\"a\",\"key\":\"x\",\"f\":\"write\",\"type\":\"ok\",\"process\":1}  \n"
		"{\"process\":2,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"x\",\"value\":null,\"time\":15}\n"
		"{\"process\":2,\"type\":\"ok\",\"f\":\"read\",\"key\":\"x\",\"value\":\"a\",\"time\":25,\"index\":7,\"extra\":[\"p\",null],\"flag\":true}\n"
		"{\"process\":-3,\"type\":\"invoke\",\"f\":\"cas\",\"key\":\"y\",\"value\":[null,\"b\"],\"time\":30}\n"
		"{\"process\":-3,\"type\":\"info\",\"f\":\"cas\",\"key\":\"y\",\"time\":40}\n"
		"{\"process\":-3,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"y\",\"time\":50}\n"
		"{\"process\":-3,\"type\":\"fail\",\"f\":\"read\",\"key\":\"y\",\"time\":60}\n"
		"{\"process\":4,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":\"c\",\"time\":70}";
	struct strata_history *h = parse_ok(text);
	ck_assert_uint_eq(strata_history_n_events(h), 9);
	ck_assert_uint_eq(strata_history_n_ops(h), 5);
	ck_assert_uint_eq(strata_history_n_keys(h), 2);
	ck_assert_uint_eq(h->n_pending, 1);
	/* Line numbers count blank lines. */
	ck_assert_uint_eq(h->ev[1].line, 3);

	const struct strata_hist_op *w = &h->ops[0];
	ck_assert_int_eq(w->f, STRATA_HIST_WRITE);
	ck_assert_int_eq(w->outcome, STRATA_HIST_OUT_OK);
	ck_assert_uint_eq(w->call_ns, 10);
	ck_assert_uint_eq(w->ret_ns, 20);
	ck_assert_str_eq(val(h, w->arg), "a");

	const struct strata_hist_op *r = &h->ops[1];
	ck_assert_int_eq(r->f, STRATA_HIST_READ);
	ck_assert_uint_eq(r->result, w->arg); /* interned: same id */
	ck_assert_uint_eq(r->ev_complete, 3);

	const struct strata_hist_op *c = &h->ops[2];
	ck_assert_int_eq(c->f, STRATA_HIST_CAS);
	ck_assert_int_eq(c->outcome, STRATA_HIST_OUT_INFO);
	ck_assert_uint_eq(c->ret_ns, STRATA_HIST_INF);
	ck_assert_uint_eq(c->arg, STRATA_HIST_NULL);
	ck_assert_str_eq(val(h, c->arg2), "b");
	ck_assert_int_eq(c->process, -3);

	/* After info the same process number is a new logical process. */
	const struct strata_hist_op *r2 = &h->ops[3];
	ck_assert_int_eq(r2->outcome, STRATA_HIST_OUT_FAIL);
	ck_assert_uint_ne(r2->lproc, c->lproc);
	ck_assert_uint_eq(r2->result, STRATA_HIST_NONE);

	/* Pending at the end: unknown outcome, returns at infinity. */
	const struct strata_hist_op *p = &h->ops[4];
	ck_assert_int_eq(p->outcome, STRATA_HIST_OUT_INFO);
	ck_assert_uint_eq(p->ret_ns, STRATA_HIST_INF);
	ck_assert_uint_eq(p->ev_complete, STRATA_HIST_NONE);
	strata_history_free(h);
}
END_TEST

START_TEST(test_string_escapes)
{
	const char *text =
		"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"k\\u0041\\/\",\"time\":0,"
		"\"value\":\"q\\\"b\\\\s\\/n\\n\\r\\t\\b\\f\\u00e9\\ud83d\\ude00\\u0000z\xc3\xa9\"}\n";
	struct strata_history *h = parse_ok(text);
	ck_assert_uint_eq(h->n_keys, 1);
	ck_assert_str_eq(h->keys[0].s, "kA/");
	const struct strata_hist_str *v = &h->vals[h->ops[0].arg];
	const char want[] = "q\"b\\s/n\n\r\t\b\f\xc3\xa9\xf0\x9f\x98\x80\0z\xc3\xa9";
	ck_assert_uint_eq(v->len, sizeof(want) - 1);
	ck_assert_mem_eq(v->s, want, sizeof(want) - 1);
	strata_history_free(h);
}
END_TEST

#define INV_W "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":\"1\",\"time\":0}\n"
#define OK_W "{\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"key\":\"x\",\"value\":\"1\",\"time\":5}\n"

static const struct {
	const char *text;
	unsigned line;
	const char *what;
} bad_cases[] = {
	{"[1,2]\n", 1, "expected a JSON object"},
	{"{\"process\":\"nemisis\",\"type\":\"info\",\"f\":\"kill\",\"time\":0}\n", 1,
	 "field \"process\": expected an integer or \"nemesis\""},
	{"{\"process\":\"nemesis\",\"type\":\"ok\",\"f\":\"kill\",\"time\":0}\n", 1,
	 "a nemesis event has \"type\":\"info\""},
	{"{\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"kill\",\"value\":[\"a\",\"b\"],"
	 "\"time\":0}\n", 1, "a nemesis event's \"value\" is a string or null"},
	{"{\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"\",\"time\":0}\n", 1,
	 "field \"f\": expected a name"},
	{"{\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"kill\"}\n", 1,
	 "missing field \"time\""},
	{INV_W "{\"process\":0,\"type\":\"ok\"}\n", 2, "missing field \"f\""},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":\"1\",\"time\":0}\n", 1,
	 "missing field \"key\""},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":\"1\"}\n", 1,
	 "missing field \"time\""},
	{"{\"process\":0,\"type\":\"begin\",\"f\":\"write\",\"key\":\"x\",\"value\":\"1\",\"time\":0}\n",
	 1, "field \"type\": expected"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"append\",\"key\":\"x\",\"value\":\"1\",\"time\":0}\n",
	 1, "field \"f\": expected"},
	{"\n\n{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":{},\"time\":0}\n",
	 3, "nested objects"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":\"1\",\"time\":1.5}\n",
	 1, "must be an integer"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":\"1\",\"time\":1e3}\n",
	 1, "must be an integer"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":\"1\",\"time\":-1}\n",
	 1, "must not be negative"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":\"1\",\"time\":01}\n",
	 1, "leading zero"},
	{"{\"process\":99999999999999999999,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"x\",\"time\":1}\n",
	 1, "out of range"},
	{"{\"process\":\"n1\",\"type\":\"invoke\",\"f\":\"read\",\"key\":\"x\",\"time\":1}\n", 1,
	 "field \"process\": expected an integer"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":\"1,\"time\":0}\n", 1,
	 "expected ',' or '}'"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":\"1\n", 1,
	 "unterminated string"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":\"a\tb\",\"time\":0}\n",
	 1, "control character 0x09"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":\"\\ud800x\",\"time\":0}\n",
	 1, "without a low one"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":\"\\udc00\",\"time\":0}\n",
	 1, "lone low surrogate"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":\"\\u12\",\"time\":0}\n",
	 1, "four hex digits"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":\"\\x\",\"time\":0}\n",
	 1, "invalid escape"},
	{"{\"process\":0,\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"x\",\"time\":0}\n", 1,
	 "duplicate field \"process\""},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"x\",\"time\":0} x\n", 1,
	 "text after the object"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"x\",\"time\":0}{}\n", 1,
	 "text after the object"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"key\":null,\"time\":0}\n", 1,
	 "field \"key\": expected a string"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"x\",\"value\":\"1\",\"time\":0}\n", 1,
	 "a read's invoke carries \"value\":null"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"time\":0}\n", 1,
	 "a write's invoke needs a string"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":null,\"time\":0}\n", 1,
	 "a write's invoke needs a string"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"cas\",\"key\":\"x\",\"value\":\"1\",\"time\":0}\n", 1,
	 "a cas invoke needs"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"cas\",\"key\":\"x\",\"value\":[\"1\",null],\"time\":0}\n",
	 1, "a cas invoke needs"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"cas\",\"key\":\"x\",\"value\":[\"1\"],\"time\":0}\n", 1,
	 "expected two values"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"cas\",\"key\":\"x\",\"value\":[\"1\",\"2\",\"3\"],\"time\":0}\n",
	 1, "at most two"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"cas\",\"key\":\"x\",\"value\":[],\"time\":0}\n", 1,
	 "empty array"},
	{OK_W, 1, "\"ok\" of process 0 without a pending invoke"},
	{INV_W INV_W, 2, "invokes again while its op from line 1 is still pending"},
	{INV_W "{\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"key\":\"x\",\"value\":\"1\",\"time\":5}\n", 2,
	 "completion is a read but the invoke on line 1 is a write"},
	{INV_W "{\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"key\":\"y\",\"value\":\"1\",\"time\":5}\n", 2,
	 "another key than the invoke on line 1"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":\"1\",\"time\":9}\n" OK_W,
	 2, "before its invoke's (line 1)"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"x\",\"time\":0}\n"
	 "{\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"key\":\"x\",\"time\":1}\n",
	 2, "a read's ok needs \"value\""},
	{INV_W OK_W "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":\"1\",\"time\":0",
	 3, "expected ',' or '}'"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":tru,\"time\":0}\n", 1,
	 "expected a string or null"},
	{"{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"x\",\"time\":0,\"other\":{}}\n", 1,
	 "nested objects"},
	{"{process:0}\n", 1, "member name in double quotes"},
	{"{\"process\" 0}\n", 1, "expected ':' after \"process\""},
};

START_TEST(test_bad_lines)
{
	parse_bad(bad_cases[_i].text, bad_cases[_i].line, bad_cases[_i].what, NULL);
}
END_TEST

START_TEST(test_limits)
{
	struct strata_history_limits lim = {0};
	lim.max_value_bytes = 8;
	struct strata_history *h;
	char err[256];
	const char *ok8 =
		"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":\"12345678\",\"time\":0}";
	ck_assert_int_eq(strata_history_parse(ok8, strlen(ok8), "t.jsonl", &lim, &h, err, sizeof(err)), 0);
	strata_history_free(h);
	parse_bad("{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":\"123456789\",\"time\":0}",
		  1, "string longer than 8 bytes", &lim);
	/* Escapes count after decoding: 8 escaped bytes fit. */
	const char *esc8 = "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":"
			   "\"\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041\",\"time\":0}";
	ck_assert_int_eq(strata_history_parse(esc8, strlen(esc8), "t.jsonl", &lim, &h, err, sizeof(err)), 0);
	strata_history_free(h);
	parse_bad("{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"abcdefghi\",\"time\":0}", 1,
		  "string longer than 8 bytes", &lim);

	memset(&lim, 0, sizeof(lim));
	lim.max_line_bytes = 75;
	parse_bad(INV_W "{\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"key\":\"x\",\"value\":\"1\",\"time\":5,   \"pad\":1}\n",
		  2, "line longer than 75 bytes", &lim);

	memset(&lim, 0, sizeof(lim));
	lim.max_events = 2;
	ck_assert_int_eq(strata_history_parse(INV_W OK_W, strlen(INV_W OK_W), "t.jsonl", &lim, &h,
					      err, sizeof(err)), 0);
	strata_history_free(h);
	parse_bad(INV_W OK_W INV_W, 3, "more than 2 events", &lim);
}
END_TEST

static char *tmp_file(const char *content, size_t len)
{
	char *path = strdup("/tmp/strata-test-history-XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq((int)write(fd, content, len), (int)len);
	close(fd);
	return path;
}

START_TEST(test_file_loader)
{
	struct strata_history *h;
	char err[512];
	int rc = strata_history_load("/nonexistent/strata-history.jsonl", &h, err, sizeof(err));
	ck_assert_int_eq(rc, STRATA_EIO);
	ck_assert_ptr_null(h);
	ck_assert_msg(strstr(err, "/nonexistent/strata-history.jsonl: ") == err, "%s", err);

	/* CRLF line ends, no newline at the end. */
	const char crlf[] = "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"x\",\"time\":0}\r\n"
			    "{\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"key\":\"x\",\"value\":null,\"time\":1}";
	char *path = tmp_file(crlf, sizeof(crlf) - 1);
	rc = strata_history_load(path, &h, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_uint_eq(h->n_ops, 1);
	ck_assert_int_eq(h->ops[0].outcome, STRATA_HIST_OUT_OK);
	ck_assert_uint_eq(h->ops[0].result, STRATA_HIST_NULL);
	strata_history_free(h);
	unlink(path);
	free(path);

	/* A long file of many lines crosses the reader's chunk boundaries. */
	size_t n = 5000, cap = n * 2 * 100, len = 0;
	char *big = malloc(cap);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(big + len, cap - len,
					"{\"process\":%zu,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"k%zu\",\"value\":\"v%zu\",\"time\":%zu}\n"
					"{\"process\":%zu,\"type\":\"ok\",\"f\":\"write\",\"key\":\"k%zu\",\"value\":\"v%zu\",\"time\":%zu}\n",
					i % 7, i % 5, i, 2 * i, i % 7, i % 5, i, 2 * i + 1);
	path = tmp_file(big, len);
	rc = strata_history_load(path, &h, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_uint_eq(h->n_ev, 2 * n);
	ck_assert_uint_eq(h->n_keys, 5);
	ck_assert_uint_eq(h->n_vals, n + 1);
	ck_assert_uint_eq(h->ev[2 * n - 1].line, 2 * n);
	strata_history_free(h);

	/* The bounded reader refuses an over-long line without reading it all into memory. */
	struct strata_history_limits lim = {0};
	lim.max_line_bytes = 1000;
	memset(big, ' ', 300000);
	memcpy(big + 300000, "\n", 1);
	unlink(path);
	free(path);
	path = tmp_file(big, 300001);
	rc = strata_history_load_ex(path, &lim, &h, err, sizeof(err));
	ck_assert_int_eq(rc, STRATA_EPROTO);
	ck_assert_msg(strstr(err, ":1: line longer than 1000 bytes") != NULL, "%s", err);
	unlink(path);
	free(path);
	free(big);
}
END_TEST

START_TEST(test_writer_round_trip)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	const char *tricky = "a\"b\\c\nd\re\tf\x01g\x7f\xc3\xa9/";
	ck_assert_int_eq(strata_history_append(f, 7, STRATA_HIST_INVOKE, STRATA_HIST_WRITE, "k\"1",
					       tricky, NULL, 100), 0);
	ck_assert_int_eq(strata_history_append(f, 7, STRATA_HIST_OK, STRATA_HIST_WRITE, "k\"1",
					       tricky, NULL, 200), 0);
	ck_assert_int_eq(strata_history_append(f, -2, STRATA_HIST_INVOKE, STRATA_HIST_CAS, "k\"1",
					       NULL, "new", 150), 0);
	ck_assert_int_eq(strata_history_append(f, -2, STRATA_HIST_INFO, STRATA_HIST_CAS, "k\"1",
					       NULL, NULL, 250), 0);
	ck_assert_int_eq(strata_history_append(f, 3, STRATA_HIST_INVOKE, STRATA_HIST_READ, "y",
					       NULL, NULL, 300), 0);
	ck_assert_int_eq(strata_history_append(f, 3, STRATA_HIST_OK, STRATA_HIST_READ, "y", tricky,
					       NULL, 400), 0);
	ck_assert_int_eq(strata_history_append(f, 3, STRATA_HIST_OK, STRATA_HIST_READ, NULL, NULL,
					       NULL, 400), STRATA_EINVAL);
	ck_assert_int_eq(strata_history_append(f, 3, STRATA_HIST_OK, STRATA_HIST_READ, "y", NULL,
					       NULL, UINT64_MAX), STRATA_EINVAL);
	fclose(f);
	/* One line per call. */
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	ck_assert_uint_eq(lines, 6);

	struct strata_history *h = parse_ok(buf);
	ck_assert_uint_eq(h->n_ops, 3);
	ck_assert_str_eq(h->keys[h->ops[0].key].s, "k\"1");
	ck_assert_str_eq(val(h, h->ops[0].arg), tricky);
	ck_assert_int_eq(h->ops[0].process, 7);
	ck_assert_uint_eq(h->ops[0].call_ns, 100);
	ck_assert_uint_eq(h->ops[0].ret_ns, 200);
	ck_assert_uint_eq(h->ops[1].arg, STRATA_HIST_NULL);
	ck_assert_str_eq(val(h, h->ops[1].arg2), "new");
	ck_assert_int_eq(h->ops[1].outcome, STRATA_HIST_OUT_INFO);
	ck_assert_uint_eq(h->ops[2].result, h->ops[0].arg);

	/* Re-serialising an event gives back the line the writer produced. */
	char *line = NULL;
	size_t llen = 0;
	f = open_memstream(&line, &llen);
	strata_hist_put_event_json(f, h, &h->ev[2]);
	fclose(f);
	char *nl = strchr(buf, '\n');
	nl = strchr(nl + 1, '\n');
	ck_assert_int_eq(strncmp(line, nl + 1, llen), 0);
	free(line);
	strata_history_free(h);
	free(buf);
}
END_TEST

/* Flipping, dropping and inserting bytes in a valid history never crashes the reader: it either
 * parses or reports "t.jsonl:LINE: ..." with a line that exists. */
START_TEST(test_mutations_never_crash)
{
	const char *base = INV_W OK_W
		"{\"process\":1,\"type\":\"invoke\",\"f\":\"cas\",\"key\":\"x\",\"value\":[\"1\",\"\\u00e92\"],\"time\":6}\n"
		"{\"process\":1,\"type\":\"info\",\"f\":\"cas\",\"key\":\"x\",\"time\":9}\n"
		"{\"process\":2,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"x\",\"value\":null,\"time\":7}\n"
		"{\"process\":2,\"type\":\"ok\",\"f\":\"read\",\"key\":\"x\",\"value\":\"1\",\"time\":8}\n";
	size_t n = strlen(base);
	char buf[1024];
	uint64_t seed = 12345;
	unsigned parsed = 0, rejected = 0;
	for (int iter = 0; iter < 20000; iter++) {
		memcpy(buf, base, n);
		size_t len = n;
		int edits = 1 + (int)(seed % 3);
		for (int e = 0; e < edits; e++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			size_t pos = (size_t)(seed >> 33) % len;
			unsigned char ch = (unsigned char)(seed >> 20);
			switch ((seed >> 8) % 3) {
			case 0: buf[pos] = (char)ch; break;
			case 1: memmove(buf + pos, buf + pos + 1, len - pos - 1); len--; break;
			default:
				memmove(buf + pos + 1, buf + pos, len - pos);
				buf[pos] = "{}[]\",:\\u0-9ex \n"[ch % 17];
				len++;
			}
		}
		struct strata_history *h;
		char err[256];
		int rc = strata_history_parse(buf, len, "t.jsonl", NULL, &h, err, sizeof(err));
		if (rc == 0) {
			parsed++;
			strata_history_free(h);
		} else {
			rejected++;
			unsigned line = 0;
			ck_assert_msg(sscanf(err, "t.jsonl:%u:", &line) == 1, "%s", err);
			ck_assert_uint_ge(line, 1);
			ck_assert_uint_le(line, 8);
		}
	}
	ck_assert_uint_gt(parsed, 100);
	ck_assert_uint_gt(rejected, 100);
}
END_TEST

/* Nemesis events (Jepsen's :nemesis process) are kept apart from the ops: they pair with nothing,
 * need no key, and change nothing a checker sees; the writer's lines read back the same. */
START_TEST(test_nemesis_events)
{
	const char *text =
		"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":\"1\",\"time\":1}\n"
		"{\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"partition\",\"value\":\"1,2|3,4,5\","
		"\"time\":2}\n"
		"{\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"key\":\"x\",\"value\":\"1\",\"time\":3}\n"
		"{\"f\":\"heal\",\"time\":4,\"type\":\"info\",\"process\":\"nemesis\"}\n";
	struct strata_history *h = parse_ok(text);
	ck_assert_uint_eq(strata_history_n_nemesis(h), 2);
	ck_assert_uint_eq(h->n_ev, 2);
	ck_assert_uint_eq(h->n_ops, 1);
	ck_assert_uint_eq(strata_history_n_completed(h), 1);
	ck_assert_str_eq(h->nemesis[0].f, "partition");
	ck_assert_str_eq(val(h, h->nemesis[0].value), "1,2|3,4,5");
	ck_assert_uint_eq(h->nemesis[0].time_ns, 2);
	ck_assert_uint_eq(h->nemesis[0].line, 2);
	ck_assert_str_eq(h->nemesis[1].f, "heal");
	ck_assert_uint_eq(h->nemesis[1].value, STRATA_HIST_NONE);
	struct strata_check_result res;
	memset(&res, 0, sizeof res);
	ck_assert_int_eq(strata_check_history(h, STRATA_CHECK_ATOMIC, 0, &res), 0);
	ck_assert_int_eq(res.verdict, STRATA_CHECK_OK);
	strata_check_result_free(&res);
	strata_history_free(h);

	/* writer -> reader */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(strata_history_append_nemesis(f, "kill", "node \"3\"", 7), 0);
	ck_assert_int_eq(strata_history_append_nemesis(f, "heal", NULL, 8), 0);
	ck_assert_int_eq(strata_history_append_nemesis(f, "", NULL, 9), STRATA_EINVAL);
	ck_assert_int_eq(strata_history_append_nemesis(f, "a-name-longer-than-thirty-one-bytes", NULL, 9),
			 STRATA_EINVAL);
	fclose(f);
	h = parse_ok(buf);
	ck_assert_uint_eq(strata_history_n_nemesis(h), 2);
	ck_assert_str_eq(h->nemesis[0].f, "kill");
	ck_assert_str_eq(val(h, h->nemesis[0].value), "node \"3\"");
	ck_assert_uint_eq(h->nemesis[1].time_ns, 8);
	strata_history_free(h);
	free(buf);
}
END_TEST

static Suite *history_suite(void)
{
	Suite *s = suite_create("history");
	TCase *tc = tcase_create("reader");
	/* A hang guard, not a speed bound: the mutation test takes ~2 s under ASan, past Check's
	 * default of 4 s on a loaded machine. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pairs_and_fields);
	tcase_add_test(tc, test_string_escapes);
	tcase_add_loop_test(tc, test_bad_lines, 0, (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_file_loader);
	tcase_add_test(tc, test_writer_round_trip);
	tcase_add_test(tc, test_mutations_never_crash);
	tcase_add_test(tc, test_nemesis_events);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(history_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
