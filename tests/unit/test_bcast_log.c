/* Tests for the broadcast delivery logs (src/check/bcast_log.c, src/check/shiviz.c): the
 * writer -> parser round trip, strict parsing of malformed logs, every property checker on the
 * hand-written cases in tests/data/bcast/ (each property on each case, holding or violated with
 * its counterexample, with nodes declared crashed or Byzantine), a generated 5-node run with 25000 broadcasts for speed and for a planted
 * causal-only violation, and the ShiViz export line by line. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check/bcast_log.h"
#include "core/error.h"

/* ---- helpers ---- */

static char data_root[4096];

/* The hand-written cases: $STRATA_SRCDIR/tests/data/bcast, else relative to the working
 * directory (make runs tests from the top), else relative to this source file. */
static const char *data_dir(void)
{
	if (data_root[0] != '\0')
		return data_root;
	const char *src = getenv("STRATA_SRCDIR");
	struct stat st;
	if (src != NULL)
		snprintf(data_root, sizeof data_root, "%s/tests/data/bcast", src);
	else if (stat("tests/data/bcast/ok", &st) == 0)
		snprintf(data_root, sizeof data_root, "tests/data/bcast");
	else {
		char here[4000];
		snprintf(here, sizeof here, "%s", __FILE__);
		char *slash = strrchr(here, '/');
		if (slash != NULL)
			*slash = '\0';
		snprintf(data_root, sizeof data_root, "%s/../data/bcast", slash ? here : ".");
	}
	return data_root;
}

static struct strata_bcast_logs *load_case(const char *name)
{
	char dir[4200], err[512] = "";
	snprintf(dir, sizeof dir, "%s/%s", data_dir(), name);
	struct strata_bcast_logs *logs = NULL;
	int rc = strata_bcast_logs_load(dir, &logs, err, sizeof err);
	ck_assert_msg(rc == 0, "load %s: %d %s", dir, rc, err);
	return logs;
}

static void make_tmpdir(char *buf, size_t n)
{
	snprintf(buf, n, "/tmp/test_bcast_log.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

static void rm_tmpdir(const char *dir)
{
	char cmd[4300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *dir, const char *name, const char *content, size_t len)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(content, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void write_str(const char *dir, const char *name, const char *content)
{
	write_file(dir, name, content, strlen(content));
}

/* ---- writer -> parser round trip ---- */

START_TEST(test_round_trip)
{
	char dir[64], err[256] = "";
	make_tmpdir(dir, sizeof dir);
	struct strata_bcast_log *w[4] = {NULL};
	for (uint32_t i = 1; i <= 3; i++)
		ck_assert_int_eq(strata_bcast_log_open(dir, i, 3, "causal", &w[i], err, sizeof err), 0);
	uint8_t all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	uint64_t vc[3] = {1, 0, 18446744073709551615ULL};
	ck_assert_int_eq(strata_bcast_log_broadcast(w[1], 1, 7, (const uint8_t *)"hi", 2, vc, 3), 0);
	ck_assert_int_eq(strata_bcast_log_broadcast(w[1], 2, 8, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(strata_bcast_log_broadcast(w[1], 3, 9, all, sizeof all, NULL, 0), 0);
	ck_assert_int_eq(strata_bcast_log_deliver(w[2], 1, 1, 10, (const uint8_t *)"hi", 2, vc, 3),
			 0);
	ck_assert_int_eq(strata_bcast_log_deliver(w[2], 1, 3, 11, all, sizeof all, NULL, 0), 0);
	ck_assert_int_eq(strata_bcast_log_crash(w[2]), 0);
	ck_assert_int_eq(strata_bcast_log_flush(w[3]), 0);

	/* The writer refuses what the parser would refuse, and says why. */
	ck_assert_int_eq(strata_bcast_log_broadcast(w[1], 5, 0, NULL, 0, NULL, 0), STRATA_EINVAL);
	ck_assert_ptr_nonnull(strstr(strata_bcast_log_error(w[1]), "one more"));
	ck_assert_int_eq(strata_bcast_log_deliver(w[1], 4, 1, 0, NULL, 0, NULL, 0), STRATA_EINVAL);
	ck_assert_int_eq(strata_bcast_log_deliver(w[1], 1, 0, 0, NULL, 0, NULL, 0), STRATA_EINVAL);
	ck_assert_int_eq(strata_bcast_log_deliver(w[1], 1, 1, 0, NULL, 0, vc, 2), STRATA_EINVAL);
	ck_assert_int_eq(strata_bcast_log_deliver(w[2], 1, 2, 0, NULL, 0, NULL, 0), STRATA_ESTATE);
	ck_assert_int_eq(strata_bcast_log_crash(w[2]), STRATA_ESTATE);
	for (uint32_t i = 1; i <= 3; i++)
		ck_assert_int_eq(strata_bcast_log_close(w[i]), 0);

	struct strata_bcast_log *bad = NULL;
	ck_assert_int_eq(strata_bcast_log_open(dir, 4, 3, "x", &bad, err, sizeof err), STRATA_EINVAL);
	ck_assert_int_eq(strata_bcast_log_open(dir, 1, 3, "a b", &bad, err, sizeof err),
			 STRATA_EINVAL);
	ck_assert_int_eq(strata_bcast_log_open("/nonexistent/dir", 1, 3, "x", &bad, err, sizeof err),
			 STRATA_EIO);
	ck_assert_ptr_null(bad);

	struct strata_bcast_logs *logs = NULL;
	ck_assert_int_eq(strata_bcast_logs_load(dir, &logs, err, sizeof err), 0);
	ck_assert_uint_eq(logs->n, 3);
	ck_assert_str_eq(logs->algo, "causal");
	const struct strata_bcast_node_log *n1 = &logs->node[1], *n2 = &logs->node[2];
	ck_assert(n1->present && n2->present && logs->node[3].present);
	ck_assert_uint_eq(n1->nev, 3);
	ck_assert_uint_eq(n1->nbcast, 3);
	ck_assert_int_eq(n1->ev[0].kind, STRATA_BCAST_EV_BROADCAST);
	ck_assert_uint_eq(n1->ev[0].sender, 1);
	ck_assert_uint_eq(n1->ev[0].seq, 1);
	ck_assert_uint_eq(n1->ev[0].lamport, 7);
	ck_assert_uint_eq(n1->ev[0].line, 2);
	ck_assert_uint_eq(n1->ev[0].payload_len, 2);
	ck_assert_mem_eq(strata_bcast_event_payload(n1, &n1->ev[0]), "hi", 2);
	const uint64_t *rvc = strata_bcast_event_vc(n1, &n1->ev[0]);
	ck_assert_ptr_nonnull(rvc);
	ck_assert(rvc[0] == 1 && rvc[1] == 0 && rvc[2] == UINT64_MAX);
	ck_assert_uint_eq(n1->ev[1].payload_len, 0);
	ck_assert_ptr_null(strata_bcast_event_vc(n1, &n1->ev[1]));
	ck_assert_uint_eq(n1->ev[2].payload_len, 256);
	ck_assert_mem_eq(strata_bcast_event_payload(n1, &n1->ev[2]), all, 256);
	ck_assert_uint_eq(n1->bcast_idx[2], 2);

	ck_assert_uint_eq(n2->nev, 3);
	ck_assert_uint_eq(n2->ndeliver, 2);
	ck_assert(n2->crash_marker);
	ck_assert_int_eq(n2->ev[1].kind, STRATA_BCAST_EV_DELIVER);
	ck_assert_uint_eq(n2->ev[1].sender, 1);
	ck_assert_uint_eq(n2->ev[1].seq, 3);
	ck_assert_mem_eq(strata_bcast_event_payload(n2, &n2->ev[1]), all, 256);
	ck_assert_int_eq(n2->ev[2].kind, STRATA_BCAST_EV_CRASH);
	ck_assert_uint_eq(logs->node[3].nev, 0);
	strata_bcast_logs_free(logs);
	rm_tmpdir(dir);
}
END_TEST

/* ---- malformed logs ---- */

struct bad_log {
	const char *content; /* node-1.log of a run with n = 2 */
	size_t len;          /* 0 = strlen */
	const char *want;    /* substring of the error, which starts with FILE:LINE */
};

#define H "# node 1 n 2 algo beb\n"
static const struct bad_log bad_logs[] = {
	{"", 0, "node-1.log:1: empty file"},
	{"# node 1 n 2 algo beb", 0, "node-1.log:1: last line has no newline"},
	{"# node 1 n 2 algo\n", 0, "node-1.log:1: bad header"},
	{"# node 1 n 65 algo beb\n", 0, ":1: n = 65 out of range"},
	{"# node 1 n 0 algo beb\n", 0, ":1: n = 0 out of range"},
	{"# node 1 n 2 algo b@d\n", 0, ":1: bad algorithm name"},
	{"#  node 1 n 2 algo beb\n", 0, ":1: fields must be separated by exactly one space"},
	{H "\n", 0, "node-1.log:2: empty line"},
	{H "b 1 1 61 \n", 0, ":2: fields must be separated"},
	{H " b 1 1 61\n", 0, ":2: fields must be separated"},
	{H "b 1 1 61\r\n", 0, ":2: carriage return"},
	{H "b 1 1 6\0001\n", 10 + sizeof H - 1, ":2: NUL byte"},
	{H "b 1 1 613\n", 0, ":2: payload has an odd number of hex digits"},
	{H "b 1 1 6A\n", 0, ":2: payload is not lowercase hex"},
	{H "b 1 1\n", 0, ":2: expected 'b <seq>"},
	{H "b 2 1 61\n", 0, ":2: broadcast seq 2, expected 1"},
	{H "b 1 1 61\nb 1 2 61\n", 0, ":3: broadcast seq 1, expected 2"},
	{H "b 0 1 61\n", 0, ":2: seq '0' is not a number"},
	{H "b 01 1 61\n", 0, ":2: seq '01' is not a number"},
	{H "b 4294967296 1 61\n", 0, ":2: seq '4294967296'"},
	{H "b 1 18446744073709551616 61\n", 0, ":2: lamport"},
	{H "b 1 -1 61\n", 0, ":2: lamport"},
	{H "b 1 1 61 extra\n", 0, ":2: unexpected field 'extra'"},
	{H "d 3 1 1 61\n", 0, ":2: sender '3' is not a node id in 1..2"},
	{H "d 0 1 1 61\n", 0, ":2: sender '0'"},
	{H "d 1 1 1\n", 0, ":2: expected 'd <sender>"},
	{H "d 1 1 1 61 vc=1\n", 0, ":2: vc has 1 entries, n = 2"},
	{H "d 1 1 1 61 vc=1,2,3\n", 0, ":2: vc has more than n = 2 entries"},
	{H "d 1 1 1 61 vc=1,x\n", 0, ":2: vc entry 2 is not a number"},
	{H "d 1 1 1 61 vc=1,\n", 0, ":2: vc entry 2 is not a number"},
	{H "d 1 1 1 61 vc=1,2 vc=1,2\n", 0, ":2: expected 'd <sender>"},
	{H "crash\nb 1 1 61\n", 0, ":3: event after the crash marker"},
	{H "crash now\n", 0, ":2: crash takes no fields"},
	{H "x 1 1 61\n", 0, ":2: unknown event 'x'"},
	{H "b 1 1 61\nd 1 1 2 61", 0, ":3: last line has no newline"},
};
#undef H

START_TEST(test_malformed)
{
	const struct bad_log *b = &bad_logs[_i];
	char dir[64], err[512] = "";
	make_tmpdir(dir, sizeof dir);
	write_file(dir, "node-1.log", b->content, b->len ? b->len : strlen(b->content));
	struct strata_bcast_logs *logs = (struct strata_bcast_logs *)1;
	int rc = strata_bcast_logs_load(dir, &logs, err, sizeof err);
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_null(logs);
	ck_assert_msg(strstr(err, b->want) != NULL, "case %d: want '%s', got '%s'", _i, b->want, err);
	ck_assert_msg(strstr(err, dir) == err, "error should start with the file name: %s", err);
	rm_tmpdir(dir);
}
END_TEST

/* Bounds: an oversized payload and an overlong line are rejected, not truncated. */
START_TEST(test_malformed_bounds)
{
	char dir[64], err[512] = "";
	make_tmpdir(dir, sizeof dir);
	size_t hex = (size_t)STRATA_BCAST_PAYLOAD_MAX * 2 + 2;
	for (int round = 0; round < 2; round++) {
		size_t extra = round == 0 ? 0 : 4096; /* round 1: longer than any legal line */
		size_t cap = 64 + hex + extra;
		char *buf = malloc(cap);
		ck_assert_ptr_nonnull(buf);
		size_t o = (size_t)snprintf(buf, cap, "# node 1 n 2 algo beb\nb 1 1 ");
		memset(buf + o, '6', hex + extra);
		o += hex + extra;
		buf[o++] = '\n';
		write_file(dir, "node-1.log", buf, o);
		free(buf);
		struct strata_bcast_logs *logs = NULL;
		ck_assert_int_lt(strata_bcast_logs_load(dir, &logs, err, sizeof err), 0);
		ck_assert_msg(strstr(err, round == 0 ? ":2: payload larger than" : ":2: line longer than"),
			      "%s", err);
	}
	rm_tmpdir(dir);
}
END_TEST

/* Problems that involve the directory or several files. */
START_TEST(test_malformed_sets)
{
	char dir[64], err[512] = "";
	struct strata_bcast_logs *logs = NULL;

	make_tmpdir(dir, sizeof dir);
	ck_assert_int_eq(strata_bcast_logs_load(dir, &logs, err, sizeof err), STRATA_ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "no node-<ID>.log files"));
	write_str(dir, "README", "not a log\n"); /* other files are ignored */
	write_str(dir, "node-1.log", "# node 1 n 2 algo beb\n");
	write_str(dir, "node-2.log", "# node 2 n 3 algo beb\n");
	ck_assert_int_lt(strata_bcast_logs_load(dir, &logs, err, sizeof err), 0);
	ck_assert_msg(strstr(err, "node-2.log:1: n = 3, but other logs of this run say n = 2"), "%s",
		      err);
	write_str(dir, "node-2.log", "# node 2 n 2 algo rb\n");
	ck_assert_int_lt(strata_bcast_logs_load(dir, &logs, err, sizeof err), 0);
	ck_assert_msg(strstr(err, "node-2.log:1: algo rb, but other logs"), "%s", err);
	write_str(dir, "node-2.log", "# node 2 n 2 algo beb\n");
	ck_assert_int_eq(strata_bcast_logs_load(dir, &logs, err, sizeof err), 0);
	strata_bcast_logs_free(logs);
	write_str(dir, "node-3.log", "# node 3 n 3 algo beb\n");
	ck_assert_int_lt(strata_bcast_logs_load(dir, &logs, err, sizeof err), 0);
	ck_assert_msg(strstr(err, "node-3.log:1: n = 3, but"), "%s", err);
	write_str(dir, "node-3.log", "# node 3 n 2 algo beb\n");
	ck_assert_int_lt(strata_bcast_logs_load(dir, &logs, err, sizeof err), 0);
	ck_assert_msg(strstr(err, "node-3.log:1: node 3 out of range 1..n = 2"), "%s", err);
	rm_tmpdir(dir);

	make_tmpdir(dir, sizeof dir);
	write_str(dir, "node-01.log", "# node 1 n 2 algo beb\n");
	ck_assert_int_eq(strata_bcast_logs_load(dir, &logs, err, sizeof err), STRATA_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "node-01.log: not a node log name"));
	rm_tmpdir(dir);

	ck_assert_int_eq(strata_bcast_logs_load("/nonexistent/dir", &logs, err, sizeof err),
			 STRATA_EIO);
	ck_assert_ptr_null(logs);

	char path[4200];
	snprintf(path, sizeof path, "%s/malformed-hex", data_dir());
	ck_assert_int_lt(strata_bcast_logs_load(path, &logs, err, sizeof err), 0);
	ck_assert_msg(strstr(err, "malformed-hex/node-2.log:3: payload is not lowercase hex"), "%s",
		      err);
	snprintf(path, sizeof path, "%s/malformed-header", data_dir());
	ck_assert_int_lt(strata_bcast_logs_load(path, &logs, err, sizeof err), 0);
	ck_assert_msg(strstr(err, "node-1.log:1: header says node 2 but the file is for node 1"), "%s",
		      err);
}
END_TEST

/* ---- names and id lists ---- */

START_TEST(test_names)
{
	const char *names[] = {"validity", "no-dup", "no-creation", "agreement",
			       "uniform",  "fifo",   "causal",      "consistency"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		enum strata_bcast_property p;
		ck_assert_int_eq(strata_bcast_property_parse(names[i], &p), 0);
		ck_assert_str_eq(strata_bcast_property_name(p), names[i]);
	}
	enum strata_bcast_property p;
	ck_assert_int_eq(strata_bcast_property_parse("Causal", &p), STRATA_EINVAL);
	ck_assert_int_eq(strata_bcast_property_parse("", &p), STRATA_EINVAL);
	ck_assert_str_eq(strata_bcast_property_name((enum strata_bcast_property)99), "?");

	uint32_t ids[4];
	size_t n = 9;
	ck_assert_int_eq(strata_bcast_parse_ids("", ids, 4, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(strata_bcast_parse_ids("3,5", ids, 4, &n), 0);
	ck_assert(n == 2 && ids[0] == 3 && ids[1] == 5);
	ck_assert_int_eq(strata_bcast_parse_ids("12", ids, 4, &n), 0);
	ck_assert(n == 1 && ids[0] == 12);
	const char *bad[] = {",", "3,", ",3", "3,,5", "0", "a", "3 5", "-1", "99999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(strata_bcast_parse_ids(bad[i], ids, 4, &n) == STRATA_EINVAL, "%s", bad[i]);
	ck_assert_int_eq(strata_bcast_parse_ids("1,2,3,4,5", ids, 4, &n), STRATA_ETOOBIG);
}
END_TEST

/* ---- the property matrix over the hand-written cases ---- */

#define OK STRATA_BCAST_HOLDS
#define BAD STRATA_BCAST_VIOLATED

struct expect {
	const char *dir;
	const char *crashed;
	enum strata_bcast_property prop;
	int rc;
	const char *want;      /* substring of the report */
	const char *byzantine; /* NULL: none */
};

#define CONSISTENCY STRATA_BCAST_CONSISTENCY

static const struct expect matrix[] = {
	/* ok: everything holds */
	{"ok", "", STRATA_BCAST_VALIDITY, OK, "validity holds: all 3 broadcasts", NULL},
	{"ok", "", STRATA_BCAST_NO_DUP, OK, "no-dup holds: 9 deliveries", NULL},
	{"ok", "", STRATA_BCAST_NO_CREATION, OK, "no-creation holds: 9 deliveries", NULL},
	{"ok", "", STRATA_BCAST_AGREEMENT, OK, "agreement holds", NULL},
	{"ok", "", STRATA_BCAST_UNIFORM, OK, "uniform holds", NULL},
	{"ok", "", STRATA_BCAST_FIFO, OK, "fifo holds: 9 deliveries", NULL},
	{"ok", "", STRATA_BCAST_CAUSAL, OK, "causal holds: 9 deliveries", NULL},
	{"ok", "", CONSISTENCY, OK,
	 "consistency holds: 3 messages delivered by correct nodes, each with one payload (9 "
	 "deliveries checked)", NULL},
	/* validity-bad: nobody delivered 1:2, so agreement still holds */
	{"validity-bad", "", STRATA_BCAST_VALIDITY, BAD,
	 "validity violated: node 1 never delivered 1:2, which correct node 1 broadcast at line 4", NULL},
	{"validity-bad", "1", STRATA_BCAST_VALIDITY, OK, "validity holds: all 0 broadcasts", NULL},
	{"validity-bad", "", STRATA_BCAST_NO_DUP, OK, "", NULL},
	{"validity-bad", "", STRATA_BCAST_NO_CREATION, OK, "", NULL},
	{"validity-bad", "", STRATA_BCAST_AGREEMENT, OK, "", NULL},
	{"validity-bad", "", STRATA_BCAST_UNIFORM, OK, "", NULL},
	{"validity-bad", "", STRATA_BCAST_FIFO, OK, "", NULL},
	{"validity-bad", "", STRATA_BCAST_CAUSAL, OK, "", NULL},
	/* agreement-bad: correct node 2 delivered 1:2, correct node 3 did not */
	{"agreement-bad", "", STRATA_BCAST_VALIDITY, OK, "", NULL},
	{"agreement-bad", "", STRATA_BCAST_NO_DUP, OK, "", NULL},
	{"agreement-bad", "", STRATA_BCAST_NO_CREATION, OK, "", NULL},
	{"agreement-bad", "", STRATA_BCAST_AGREEMENT, BAD,
	 "agreement violated: node 3 never delivered 1:2, which correct node 2 delivered at line 3", NULL},
	{"agreement-bad", "", STRATA_BCAST_UNIFORM, BAD,
	 "uniform violated: node 3 never delivered 1:2, which crashed node 1 delivered at line 5", NULL},
	{"agreement-bad", "3", STRATA_BCAST_AGREEMENT, OK, "agreement holds", NULL},
	{"agreement-bad", "3", STRATA_BCAST_UNIFORM, OK, "uniform holds", NULL},
	{"agreement-bad", "", STRATA_BCAST_FIFO, OK, "", NULL},
	{"agreement-bad", "", STRATA_BCAST_CAUSAL, OK, "", NULL},
	/* uniform-bad-but-agreement-ok: only the crashed node 1 delivered 1:2 */
	{"uniform-bad-but-agreement-ok", "", STRATA_BCAST_VALIDITY, OK, "", NULL},
	{"uniform-bad-but-agreement-ok", "", STRATA_BCAST_NO_DUP, OK, "", NULL},
	{"uniform-bad-but-agreement-ok", "", STRATA_BCAST_NO_CREATION, OK, "", NULL},
	{"uniform-bad-but-agreement-ok", "", STRATA_BCAST_AGREEMENT, OK, "agreement holds", NULL},
	{"uniform-bad-but-agreement-ok", "", STRATA_BCAST_UNIFORM, BAD,
	 "uniform violated: node 2 never delivered 1:2, which crashed node 1 delivered at line 5", NULL},
	{"uniform-bad-but-agreement-ok", "", STRATA_BCAST_FIFO, OK, "", NULL},
	{"uniform-bad-but-agreement-ok", "", STRATA_BCAST_CAUSAL, OK, "", NULL},
	/* dup */
	{"dup", "", STRATA_BCAST_VALIDITY, OK, "", NULL},
	{"dup", "", STRATA_BCAST_NO_DUP, BAD,
	 "no-dup violated: node 2 delivered 1:1 twice (lines 2 and 4)", NULL},
	{"dup", "", STRATA_BCAST_NO_CREATION, OK, "", NULL},
	{"dup", "", STRATA_BCAST_AGREEMENT, OK, "", NULL},
	{"dup", "", STRATA_BCAST_UNIFORM, OK, "", NULL},
	{"dup", "", STRATA_BCAST_FIFO, OK, "", NULL},
	{"dup", "", STRATA_BCAST_CAUSAL, OK, "", NULL},
	/* creation-unsent: 1:3 was never broadcast (and only node 2 has it) */
	{"creation-unsent", "", STRATA_BCAST_VALIDITY, OK, "", NULL},
	{"creation-unsent", "", STRATA_BCAST_NO_DUP, OK, "", NULL},
	{"creation-unsent", "", STRATA_BCAST_NO_CREATION, BAD,
	 "no-creation violated: node 2 delivered 1:3 at line 4, but node 1 never broadcast it", NULL},
	{"creation-unsent", "", STRATA_BCAST_AGREEMENT, BAD,
	 "node 1 never delivered 1:3, which correct node 2 delivered at line 4", NULL},
	{"creation-unsent", "", STRATA_BCAST_UNIFORM, BAD, "node 1 never delivered 1:3", NULL},
	{"creation-unsent", "", STRATA_BCAST_FIFO, OK, "", NULL},
	{"creation-unsent", "", STRATA_BCAST_CAUSAL, OK, "", NULL},
	/* creation-payload */
	{"creation-payload", "", STRATA_BCAST_VALIDITY, OK, "", NULL},
	{"creation-payload", "", STRATA_BCAST_NO_DUP, OK, "", NULL},
	{"creation-payload", "", STRATA_BCAST_NO_CREATION, BAD,
	 "no-creation violated: node 2 delivered 1:2 with payload 7a7a at line 3, but node 1 "
	 "broadcast it with payload 6132 at line 4", NULL},
	/* ... and a correct node delivering another payload for 1:2 is not agreement */
	{"creation-payload", "", STRATA_BCAST_AGREEMENT, BAD,
	 "agreement violated: node 2 delivered 1:2 with payload 7a7a at line 3, but correct node 1 "
	 "delivered it with payload 6132 at line 5", NULL},
	{"creation-payload", "1", STRATA_BCAST_AGREEMENT, OK, "agreement holds", NULL},
	{"creation-payload", "1", STRATA_BCAST_UNIFORM, BAD,
	 "uniform violated: node 2 delivered 1:2 with payload 7a7a at line 3, but crashed node 1 "
	 "delivered it with payload 6132 at line 5", NULL},
	{"creation-payload", "", CONSISTENCY, BAD,
	 "consistency violated: node 2 delivered 1:2 with payload 7a7a at line 3, but node 1 "
	 "delivered it with payload 6132 at line 5", NULL},
	{"creation-payload", "1", CONSISTENCY, OK, "consistency holds: 2 messages", NULL},
	{"creation-payload", "", STRATA_BCAST_NO_CREATION, OK,
	 "no-creation holds: 0 deliveries match a broadcast by their sender; 4 deliveries by or "
	 "from Byzantine nodes not judged", "1"},
	{"creation-payload", "", STRATA_BCAST_NO_CREATION, OK,
	 "no-creation holds: 2 deliveries match a broadcast by their sender; 2 deliveries by or "
	 "from Byzantine nodes not judged", "2"},
	{"creation-payload", "", STRATA_BCAST_FIFO, OK, "", NULL},
	{"creation-payload", "", STRATA_BCAST_CAUSAL, OK, "", NULL},
	/* creation-nolog: node 2's log is missing */
	{"creation-nolog", "", STRATA_BCAST_VALIDITY, STRATA_ENOENT,
	 "cannot decide validity: node 2 has no log (node-2.log) and is not listed as crashed", NULL},
	{"creation-nolog", "2", STRATA_BCAST_VALIDITY, OK, "", NULL},
	{"creation-nolog", "", STRATA_BCAST_VALIDITY, OK, "validity holds", "2"},
	{"creation-nolog", "", CONSISTENCY, STRATA_ENOENT,
	 "cannot decide consistency: node 2 has no log (node-2.log) and is not listed as crashed "
	 "or Byzantine", NULL},
	{"creation-nolog", "", STRATA_BCAST_NO_DUP, OK, "", NULL},
	{"creation-nolog", "", STRATA_BCAST_NO_CREATION, OK,
	 "no-creation holds: 1 deliveries match a broadcast by their sender; 1 deliveries not "
	 "checked because the sender's log is missing (node 2)", NULL},
	{"creation-nolog", "", STRATA_BCAST_AGREEMENT, STRATA_ENOENT, "cannot decide agreement", NULL},
	{"creation-nolog", "2", STRATA_BCAST_AGREEMENT, OK, "", NULL},
	{"creation-nolog", "", STRATA_BCAST_UNIFORM, STRATA_ENOENT, "cannot decide uniform", NULL},
	{"creation-nolog", "", STRATA_BCAST_FIFO, OK, "", NULL},
	{"creation-nolog", "", STRATA_BCAST_CAUSAL, OK, "", NULL},
	/* fifo-ok: concurrent senders, different interleavings */
	{"fifo-ok", "", STRATA_BCAST_VALIDITY, OK, "all 4 broadcasts", NULL},
	{"fifo-ok", "", STRATA_BCAST_NO_DUP, OK, "", NULL},
	{"fifo-ok", "", STRATA_BCAST_NO_CREATION, OK, "", NULL},
	{"fifo-ok", "", STRATA_BCAST_AGREEMENT, OK, "", NULL},
	{"fifo-ok", "", STRATA_BCAST_UNIFORM, OK, "", NULL},
	{"fifo-ok", "", STRATA_BCAST_FIFO, OK, "fifo holds: 12 deliveries", NULL},
	{"fifo-ok", "", STRATA_BCAST_CAUSAL, OK, "causal holds: 12 deliveries", NULL},
	/* fifo-bad: 1:2 before 1:1 */
	{"fifo-bad", "", STRATA_BCAST_VALIDITY, OK, "", NULL},
	{"fifo-bad", "", STRATA_BCAST_NO_DUP, OK, "", NULL},
	{"fifo-bad", "", STRATA_BCAST_NO_CREATION, OK, "", NULL},
	{"fifo-bad", "", STRATA_BCAST_AGREEMENT, OK, "", NULL},
	{"fifo-bad", "", STRATA_BCAST_UNIFORM, OK, "", NULL},
	{"fifo-bad", "", STRATA_BCAST_FIFO, BAD,
	 "fifo violated: node 3 delivered 1:2 at line 2 before 1:1 at line 3", NULL},
	{"fifo-bad", "", STRATA_BCAST_CAUSAL, BAD,
	 "causal violated: node 3 delivered 1:2 at line 2 before 1:1 at line 3, but "
	 "broadcast(1:1) happened before broadcast(1:2)", NULL},
	/* fifo-gap: 1:2 and never 1:1 */
	{"fifo-gap", "", STRATA_BCAST_VALIDITY, BAD,
	 "validity violated: node 3 never delivered 1:1, which correct node 1 broadcast at line 2", NULL},
	{"fifo-gap", "", STRATA_BCAST_NO_DUP, OK, "", NULL},
	{"fifo-gap", "", STRATA_BCAST_NO_CREATION, OK, "", NULL},
	{"fifo-gap", "", STRATA_BCAST_AGREEMENT, BAD,
	 "node 3 never delivered 1:1, which correct node 1 delivered at line 3", NULL},
	{"fifo-gap", "", STRATA_BCAST_UNIFORM, BAD, "node 3 never delivered 1:1", NULL},
	{"fifo-gap", "", STRATA_BCAST_FIFO, BAD,
	 "fifo violated: node 3 delivered 1:2 at line 2 but never delivered 1:1", NULL},
	{"fifo-gap", "", STRATA_BCAST_CAUSAL, BAD,
	 "causal violated: node 3 delivered 1:2 at line 2 and never delivered 1:1, but", NULL},
	/* fifo-bad-nolog: the sender's log is missing; seq numbers alone order its messages */
	{"fifo-bad-nolog", "", STRATA_BCAST_FIFO, BAD,
	 "fifo violated: node 1 delivered 2:2 at line 3 before 2:1 at line 4", NULL},
	{"fifo-bad-nolog", "", STRATA_BCAST_CAUSAL, BAD,
	 "causal violated: node 1 delivered 2:2 at line 3 before 2:1 at line 4, but "
	 "broadcast(2:1) happened before broadcast(2:2)", NULL},
	{"fifo-bad-nolog", "", STRATA_BCAST_NO_CREATION, OK, "2 deliveries not checked", NULL},
	/* causal-bad-but-fifo-ok: the textbook FIFO-but-not-causal run */
	{"causal-bad-but-fifo-ok", "", STRATA_BCAST_VALIDITY, OK, "", NULL},
	{"causal-bad-but-fifo-ok", "", STRATA_BCAST_NO_DUP, OK, "", NULL},
	{"causal-bad-but-fifo-ok", "", STRATA_BCAST_NO_CREATION, OK, "", NULL},
	{"causal-bad-but-fifo-ok", "", STRATA_BCAST_AGREEMENT, OK, "", NULL},
	{"causal-bad-but-fifo-ok", "", STRATA_BCAST_UNIFORM, OK, "", NULL},
	{"causal-bad-but-fifo-ok", "", STRATA_BCAST_FIFO, OK, "fifo holds", NULL},
	{"causal-bad-but-fifo-ok", "", STRATA_BCAST_CAUSAL, BAD,
	 "causal violated: node 3 delivered 2:1 at line 2 before 1:1 at line 3, but "
	 "broadcast(1:1) happened before broadcast(2:1)", NULL},
	/* causal-own: node 1 delivers 2:1 before its own 1:1 */
	{"causal-own", "", STRATA_BCAST_VALIDITY, OK, "", NULL},
	{"causal-own", "", STRATA_BCAST_NO_CREATION, OK, "", NULL},
	{"causal-own", "", STRATA_BCAST_FIFO, OK, "", NULL},
	{"causal-own", "", STRATA_BCAST_CAUSAL, BAD,
	 "causal violated: node 1 delivered 2:1 at line 3 before 1:1 at line 4", NULL},
	/* causal-transitive: 1:1 -> 2:1 -> 3:1, node 4 delivers 3:1 first */
	{"causal-transitive", "", STRATA_BCAST_VALIDITY, OK, "all 3 broadcasts", NULL},
	{"causal-transitive", "", STRATA_BCAST_AGREEMENT, OK, "", NULL},
	{"causal-transitive", "", STRATA_BCAST_FIFO, OK, "", NULL},
	{"causal-transitive", "", STRATA_BCAST_CAUSAL, BAD,
	 "causal violated: node 4 delivered 3:1 at line 2 before 1:1 at line 3, but "
	 "broadcast(1:1) happened before broadcast(3:1)", NULL},
	/* causal-cyclic: no real run looks like this */
	{"causal-cyclic", "", STRATA_BCAST_VALIDITY, OK, "", NULL},
	{"causal-cyclic", "", STRATA_BCAST_NO_CREATION, OK, "", NULL},
	{"causal-cyclic", "", STRATA_BCAST_FIFO, OK, "", NULL},
	{"causal-cyclic", "", STRATA_BCAST_CAUSAL, BAD,
	 "causal violated: happened-before is cyclic: node 1 delivered 2:1 at line 2, which node 2 "
	 "broadcast only after that delivery (line 3)", NULL},
	/* consistency-bad: Byzantine node 4 equivocates and the correct nodes deliver both */
	{"consistency-bad", "", CONSISTENCY, BAD,
	 "consistency violated: node 3 delivered 4:1 with payload 79 at line 3, but node 1 "
	 "delivered it with payload 78 at line 6", "4"},
	{"consistency-bad", "", STRATA_BCAST_AGREEMENT, BAD,
	 "agreement violated: node 3 delivered 4:1 with payload 79 at line 3, but correct node 1 "
	 "delivered it with payload 78 at line 6", "4"},
	{"consistency-bad", "", STRATA_BCAST_UNIFORM, BAD,
	 "uniform violated: node 3 delivered 4:1 with payload 79", "4"},
	{"consistency-bad", "3", CONSISTENCY, OK, "consistency holds: 2 messages", "4"},
	{"consistency-bad", "", STRATA_BCAST_VALIDITY, OK, "validity holds: all 1 broadcasts", "4"},
	{"consistency-bad", "", STRATA_BCAST_NO_DUP, OK, "no-dup holds: 6 deliveries", "4"},
	{"consistency-bad", "", STRATA_BCAST_NO_CREATION, OK,
	 "no-creation holds: 3 deliveries match a broadcast by their sender; 5 deliveries by or from "
	 "Byzantine nodes not judged", "4"},
	/* ... without --byzantine, node 4's log is believed and node 3 delivered what 4 never sent */
	{"consistency-bad", "", STRATA_BCAST_NO_CREATION, BAD,
	 "no-creation violated: node 3 delivered 4:1 with payload 79 at line 3, but node 4 broadcast "
	 "it with payload 78 at line 2", NULL},
	{"consistency-bad", "", STRATA_BCAST_FIFO, OK, "", "4"},
	{"consistency-bad", "", STRATA_BCAST_CAUSAL, OK, "", "4"},
	/* consistency-ok-but-agreement-bad: node 3 delivers nothing of node 4's; node 4's log lies */
	{"consistency-ok-but-agreement-bad", "", CONSISTENCY, OK,
	 "consistency holds: 2 messages delivered by correct nodes, each with one payload (5 "
	 "deliveries checked)", "4"},
	{"consistency-ok-but-agreement-bad", "", STRATA_BCAST_AGREEMENT, BAD,
	 "agreement violated: node 3 never delivered 4:1, which correct node 1 delivered at line 7",
	 "4"},
	{"consistency-ok-but-agreement-bad", "", STRATA_BCAST_UNIFORM, BAD,
	 "uniform violated: node 3 never delivered 4:1", "4"},
	{"consistency-ok-but-agreement-bad", "", STRATA_BCAST_VALIDITY, OK, "all 1 broadcasts", "4"},
	{"consistency-ok-but-agreement-bad", "", STRATA_BCAST_NO_DUP, OK, "5 deliveries", "4"},
	{"consistency-ok-but-agreement-bad", "", STRATA_BCAST_NO_CREATION, OK,
	 "3 deliveries match a broadcast by their sender; 5 deliveries by or from Byzantine nodes "
	 "not judged", "4"},
	{"consistency-ok-but-agreement-bad", "", STRATA_BCAST_FIFO, OK, "", "4"},
	{"consistency-ok-but-agreement-bad", "", STRATA_BCAST_CAUSAL, OK, "", "4"},
	{"consistency-ok-but-agreement-bad", "3", STRATA_BCAST_AGREEMENT, OK, "agreement holds",
	 "4"},
	/* ... node 4 counted as correct: its lies are violations of its own */
	{"consistency-ok-but-agreement-bad", "", CONSISTENCY, BAD,
	 "consistency violated: node 4 delivered 1:1 with payload 7a7a at line 3, but node 1 "
	 "delivered it with payload 6131 at line 6", NULL},
	{"consistency-ok-but-agreement-bad", "", STRATA_BCAST_NO_DUP, BAD,
	 "no-dup violated: node 4 delivered 1:1 twice (lines 3 and 4)", NULL},
	{"consistency-ok-but-agreement-bad", "", STRATA_BCAST_FIFO, BAD,
	 "fifo violated: node 4 delivered 1:7 at line 5 but never delivered 1:2", NULL},
	{"consistency-ok-but-agreement-bad", "", STRATA_BCAST_VALIDITY, BAD,
	 "validity violated: node 3 never delivered 4:1", NULL},
	/* crashed and Byzantine at once: Byzantine wins */
	{"consistency-ok-but-agreement-bad", "4", STRATA_BCAST_NO_DUP, OK, "5 deliveries", "4"},
};

START_TEST(test_matrix)
{
	const struct expect *x = &matrix[_i];
	struct strata_bcast_logs *logs = load_case(x->dir);
	const char *byzantine = x->byzantine ? x->byzantine : "";
	uint32_t crashed[8], byz[8];
	size_t ncrashed = 0, nbyz = 0;
	ck_assert_int_eq(strata_bcast_parse_ids(x->crashed, crashed, 8, &ncrashed), 0);
	ck_assert_int_eq(strata_bcast_parse_ids(byzantine, byz, 8, &nbyz), 0);
	struct strata_bcast_faults faults = {crashed, ncrashed, byz, nbyz};
	char report[512] = "junk";
	int rc = strata_bcast_check_faults(logs, x->prop, &faults, report, sizeof report);
	ck_assert_msg(rc == x->rc, "%s --crashed '%s' --byzantine '%s' %s: rc %d, want %d: %s",
		      x->dir, x->crashed, byzantine, strata_bcast_property_name(x->prop), rc, x->rc,
		      report);
	ck_assert_msg(strstr(report, x->want) != NULL, "%s %s: want '%s' in '%s'", x->dir,
		      strata_bcast_property_name(x->prop), x->want, report);
	if (rc == OK)
		ck_assert_msg(strstr(report, " holds") != NULL, "%s", report);
	if (rc == BAD)
		ck_assert_msg(strstr(report, " violated") != NULL, "%s", report);
	/* Deterministic: the same logs always give the same words; without Byzantine nodes the
	 * crash-only entry point says the same. */
	char again[512];
	ck_assert_int_eq(strata_bcast_check_faults(logs, x->prop, &faults, again, sizeof again), rc);
	ck_assert_str_eq(report, again);
	if (nbyz == 0) {
		ck_assert_int_eq(strata_bcast_check(logs, x->prop, crashed, ncrashed, again,
						    sizeof again),
				 rc);
		ck_assert_str_eq(report, again);
	}
	strata_bcast_logs_free(logs);
}
END_TEST

START_TEST(test_check_args)
{
	struct strata_bcast_logs *logs = load_case("ok");
	char report[256];
	uint32_t crashed[] = {4};
	ck_assert_int_eq(strata_bcast_check(logs, STRATA_BCAST_FIFO, crashed, 1, report, sizeof report),
			 STRATA_EINVAL);
	ck_assert_str_eq(report, "crashed node 4 out of range 1..3");
	struct strata_bcast_faults faults = {.byzantine = crashed, .nbyzantine = 1};
	ck_assert_int_eq(strata_bcast_check_faults(logs, STRATA_BCAST_CONSISTENCY, &faults, report,
						   sizeof report),
			 STRATA_EINVAL);
	ck_assert_str_eq(report, "byzantine node 4 out of range 1..3");
	ck_assert_int_eq(strata_bcast_check_faults(logs, STRATA_BCAST_CONSISTENCY, NULL, report,
						   sizeof report),
			 OK);
	ck_assert_int_eq(strata_bcast_check(logs, (enum strata_bcast_property)42, NULL, 0, report,
					    sizeof report),
			 STRATA_EINVAL);
	/* A tiny or absent report buffer is never overrun. */
	char tiny[8] = "xxxxxxx";
	ck_assert_int_eq(strata_bcast_check(logs, STRATA_BCAST_CAUSAL, NULL, 0, tiny, 5), OK);
	ck_assert_str_eq(tiny, "caus");
	ck_assert_int_eq(tiny[6], 'x');
	ck_assert_int_eq(strata_bcast_check(logs, STRATA_BCAST_CAUSAL, NULL, 0, NULL, 0), OK);
	strata_bcast_logs_free(logs);
}
END_TEST

/* A delivery of one's own message before broadcasting it is a creation (and a cycle). */
START_TEST(test_own_delivery_before_broadcast)
{
	char dir[64], err[256];
	make_tmpdir(dir, sizeof dir);
	const char *l1 = "# node 1 n 1 algo beb\nd 1 1 1 61\nb 1 2 61\n";
	write_file(dir, "node-1.log", l1, strlen(l1));
	struct strata_bcast_logs *logs = NULL;
	ck_assert_int_eq(strata_bcast_logs_load(dir, &logs, err, sizeof err), 0);
	char report[256];
	ck_assert_int_eq(strata_bcast_check(logs, STRATA_BCAST_NO_CREATION, NULL, 0, report,
					    sizeof report),
			 BAD);
	ck_assert_str_eq(report, "no-creation violated: node 1 delivered its own 1:1 at line 2 "
				 "before broadcasting it at line 3");
	ck_assert_int_eq(strata_bcast_check(logs, STRATA_BCAST_CAUSAL, NULL, 0, report,
					    sizeof report),
			 BAD);
	ck_assert_ptr_nonnull(strstr(report, "cyclic"));
	strata_bcast_logs_free(logs);
	rm_tmpdir(dir);
}
END_TEST

/* One correct node delivering s:k twice with two payloads breaks consistency on its own; a
 * Byzantine node doing so breaks nothing. */
START_TEST(test_consistency_same_node)
{
	char dir[64], err[256], report[256];
	make_tmpdir(dir, sizeof dir);
	write_str(dir, "node-1.log", "# node 1 n 2 algo brb\nb 1 1 61\nd 1 1 2 61\n");
	write_str(dir, "node-2.log", "# node 2 n 2 algo brb\nd 1 1 2 61\nd 1 1 3 62\n");
	struct strata_bcast_logs *logs = NULL;
	ck_assert_int_eq(strata_bcast_logs_load(dir, &logs, err, sizeof err), 0);
	ck_assert_int_eq(strata_bcast_check(logs, STRATA_BCAST_CONSISTENCY, NULL, 0, report,
					    sizeof report),
			 BAD);
	ck_assert_str_eq(report, "consistency violated: node 2 delivered 1:1 with payload 62 at line "
				 "3, but node 1 delivered it with payload 61 at line 3");
	uint32_t one[] = {1};
	ck_assert_int_eq(strata_bcast_check(logs, STRATA_BCAST_CONSISTENCY, one, 1, report,
					    sizeof report),
			 BAD);
	ck_assert_str_eq(report, "consistency violated: node 2 delivered 1:1 with payload 62 at line "
				 "3, after delivering it with payload 61 at line 2");
	/* agreement compares first deliveries: both nodes delivered 61 first */
	ck_assert_int_eq(strata_bcast_check(logs, STRATA_BCAST_AGREEMENT, NULL, 0, report,
					    sizeof report),
			 OK);
	uint32_t two[] = {2};
	struct strata_bcast_faults faults = {.byzantine = two, .nbyzantine = 1};
	ck_assert_int_eq(strata_bcast_check_faults(logs, STRATA_BCAST_CONSISTENCY, &faults, report,
						   sizeof report),
			 OK);
	ck_assert_str_eq(report, "consistency holds: 1 messages delivered by correct nodes, each "
				 "with one payload (1 deliveries checked)");
	strata_bcast_logs_free(logs);
	rm_tmpdir(dir);
}
END_TEST

/* ---- a generated large run ---- */

#define GEN_N 5
#define GEN_PER_NODE 5000

struct gen_ev {
	char kind; /* 'b' or 'd' */
	uint32_t sender;
	uint64_t seq, lamport;
};

static uint64_t gen_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A causal (indeed total-order) run: broadcasts go to a global list in the order they happen and
 * every node delivers that list in order, interleaved at random with its own broadcasts. If
 * plant is set, node 5 swaps two adjacent deliveries from different senders where the first
 * causally precedes the second: FIFO survives, causal delivery does not. Returns the planted
 * pair through *x and *y. */
static void generate(const char *dir, bool plant, struct gen_ev *x, struct gen_ev *y)
{
	size_t total = (size_t)GEN_N * GEN_PER_NODE;
	struct gen_ev *glob = calloc(total, sizeof *glob);
	size_t *gdpos = calloc(total, sizeof *gdpos); /* sender's delivery count when it broadcast */
	struct gen_ev *ev[GEN_N + 1];
	size_t nev[GEN_N + 1] = {0}, dptr[GEN_N + 1] = {0};
	uint64_t nb[GEN_N + 1] = {0}, lam[GEN_N + 1] = {0};
	size_t glen = 0;
	ck_assert(glob != NULL && gdpos != NULL);
	for (int p = 1; p <= GEN_N; p++) {
		ev[p] = calloc(total + GEN_PER_NODE, sizeof *ev[p]);
		ck_assert_ptr_nonnull(ev[p]);
	}
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	for (;;) {
		bool done = true;
		for (int p = 1; p <= GEN_N; p++)
			if (nb[p] < GEN_PER_NODE || dptr[p] < total)
				done = false;
		if (done)
			break;
		uint32_t p = (uint32_t)(gen_rand(&rng) % GEN_N) + 1;
		bool can_b = nb[p] < GEN_PER_NODE, can_d = dptr[p] < glen;
		if (can_b && (!can_d || gen_rand(&rng) % 3 == 0)) {
			struct gen_ev e = {'b', p, ++nb[p], ++lam[p]};
			ev[p][nev[p]++] = e;
			gdpos[glen] = dptr[p];
			glob[glen++] = e;
		} else if (can_d) {
			struct gen_ev g = glob[dptr[p]++];
			lam[p] = (lam[p] > g.lamport ? lam[p] : g.lamport) + 1;
			ev[p][nev[p]++] = (struct gen_ev){'d', g.sender, g.seq, lam[p]};
		}
	}
	if (plant) {
		/* Node 5 delivers the global list in order, so adjacent deliveries are adjacent
		 * broadcasts g, g+1. g -> g+1 when g+1's sender had delivered g before it. */
		struct gen_ev *e5 = ev[GEN_N];
		size_t g = 0, at = 0, i;
		for (i = 0; i + 1 < nev[GEN_N]; i++) {
			if (e5[i].kind != 'd' || e5[i + 1].kind != 'd')
				continue;
			while (glob[g].sender != e5[i].sender || glob[g].seq != e5[i].seq)
				g++;
			if (glob[g + 1].sender != glob[g].sender && glob[g + 1].sender != GEN_N &&
			    glob[g].sender != GEN_N && gdpos[g + 1] > g) {
				at = i;
				break;
			}
		}
		ck_assert_msg(i + 1 < nev[GEN_N], "no pair to swap");
		*x = e5[at];
		*y = e5[at + 1];
		e5[at] = *y;
		e5[at + 1] = *x;
	}
	char err[256];
	for (uint32_t p = 1; p <= GEN_N; p++) {
		struct strata_bcast_log *w = NULL;
		ck_assert_int_eq(strata_bcast_log_open(dir, p, GEN_N, "causal", &w, err, sizeof err), 0);
		for (size_t i = 0; i < nev[p]; i++) {
			const struct gen_ev *e = &ev[p][i];
			uint8_t pl[8];
			for (int b = 0; b < 4; b++) {
				pl[b] = (uint8_t)(e->sender >> (8 * b));
				pl[4 + b] = (uint8_t)(e->seq >> (8 * b));
			}
			int rc = e->kind == 'b'
					 ? strata_bcast_log_broadcast(w, e->seq, e->lamport, pl, 8, NULL, 0)
					 : strata_bcast_log_deliver(w, e->sender, e->seq, e->lamport, pl, 8,
								    NULL, 0);
			ck_assert_int_eq(rc, 0);
		}
		ck_assert_int_eq(strata_bcast_log_close(w), 0);
		free(ev[p]);
	}
	free(glob);
	free(gdpos);
}

#if defined(__SANITIZE_ADDRESS__)
#define TIME_LIMIT_S 10.0
#else
#define TIME_LIMIT_S 1.0
#endif

START_TEST(test_large)
{
	char dir[64], err[256], report[512];
	make_tmpdir(dir, sizeof dir);
	struct gen_ev x, y;
	generate(dir, false, &x, &y);
	struct strata_bcast_logs *logs = NULL;
	clock_t t0 = clock();
	ck_assert_int_eq(strata_bcast_logs_load(dir, &logs, err, sizeof err), 0);
	clock_t t1 = clock();
	ck_assert_uint_eq(logs->node[3].nbcast, GEN_PER_NODE);
	ck_assert_uint_eq(logs->node[3].ndeliver, (uint64_t)GEN_N * GEN_PER_NODE);
	for (int p = STRATA_BCAST_VALIDITY; p <= STRATA_BCAST_CONSISTENCY; p++) {
		int rc = strata_bcast_check(logs, (enum strata_bcast_property)p, NULL, 0, report,
					    sizeof report);
		ck_assert_msg(rc == OK, "%s", report);
	}
	clock_t t2 = clock();
	double load_s = (double)(t1 - t0) / CLOCKS_PER_SEC, check_s = (double)(t2 - t1) / CLOCKS_PER_SEC;
	printf("large run: %d nodes x %d broadcasts: load %.3f s, all 8 checks %.3f s\n", GEN_N,
	       GEN_PER_NODE, load_s, check_s);
	ck_assert_msg(check_s < TIME_LIMIT_S, "checks took %.3f s", check_s);
	ck_assert_msg(load_s < TIME_LIMIT_S, "load took %.3f s", load_s);
	FILE *devnull = fopen("/dev/null", "w");
	ck_assert_int_eq(strata_shiviz_write(logs, devnull, err, sizeof err), 0);
	fclose(devnull);
	strata_bcast_logs_free(logs);
	rm_tmpdir(dir);
}
END_TEST

START_TEST(test_large_planted)
{
	char dir[64], err[256], report[512], want[256];
	make_tmpdir(dir, sizeof dir);
	struct gen_ev x, y;
	generate(dir, true, &x, &y);
	struct strata_bcast_logs *logs = NULL;
	ck_assert_int_eq(strata_bcast_logs_load(dir, &logs, err, sizeof err), 0);
	for (int p = STRATA_BCAST_VALIDITY; p <= STRATA_BCAST_FIFO; p++) {
		int rc = strata_bcast_check(logs, (enum strata_bcast_property)p, NULL, 0, report,
					    sizeof report);
		ck_assert_msg(rc == OK, "%s", report);
	}
	ck_assert_int_eq(strata_bcast_check(logs, STRATA_BCAST_CAUSAL, NULL, 0, report,
					    sizeof report),
			 BAD);
	snprintf(want, sizeof want, "node %d delivered %u:%llu at line ", GEN_N, y.sender,
		 (unsigned long long)y.seq);
	ck_assert_msg(strstr(report, want) != NULL, "want '%s' in '%s'", want, report);
	snprintf(want, sizeof want, " before %u:%llu at line ", x.sender, (unsigned long long)x.seq);
	ck_assert_msg(strstr(report, want) != NULL, "want '%s' in '%s'", want, report);
	strata_bcast_logs_free(logs);
	rm_tmpdir(dir);
}
END_TEST

/* ---- ShiViz ---- */

static char *shiviz_of(const struct strata_bcast_logs *logs)
{
	char *buf = NULL;
	size_t len = 0;
	char err[128];
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(strata_shiviz_write(logs, f, err, sizeof err), 0);
	fclose(f);
	return buf;
}

static void expect_lines(const char *got, const char *const *want, size_t nwant)
{
	const char *s = got;
	for (size_t i = 0; i < nwant; i++) {
		const char *nl = strchr(s, '\n');
		ck_assert_msg(nl != NULL, "output ends before line %zu ('%s')", i + 1, want[i]);
		size_t len = (size_t)(nl - s);
		ck_assert_msg(len == strlen(want[i]) && memcmp(s, want[i], len) == 0,
			      "line %zu: got '%.*s', want '%s'", i + 1, (int)len, s, want[i]);
		s = nl + 1;
	}
	ck_assert_msg(*s == '\0', "extra output: '%s'", s);
}

/* Worked by hand from tests/data/bcast/ok: events in happened-before order, smallest Lamport
 * time first; own entries count events, a delivery takes the broadcast's clock. */
START_TEST(test_shiviz_ok)
{
	struct strata_bcast_logs *logs = load_case("ok");
	char *out = shiviz_of(logs);
	static const char *const want[] = {
		"(?<event>.*)\\n(?<host>\\S*) (?<clock>{.*})",
		"",
		"broadcast 1:1 payload=\"a1\" lamport=1",
		"node1 {\"node1\":1}",
		"deliver 1:1 payload=\"a1\" lamport=1",
		"node1 {\"node1\":2}",
		"deliver 1:1 payload=\"a1\" lamport=2",
		"node2 {\"node1\":1, \"node2\":1}",
		"deliver 1:1 payload=\"a1\" lamport=2",
		"node3 {\"node1\":1, \"node3\":1}",
		"broadcast 2:1 payload=\"b1\" lamport=3",
		"node2 {\"node1\":1, \"node2\":2}",
		"deliver 2:1 payload=\"b1\" lamport=3",
		"node2 {\"node1\":1, \"node2\":3}",
		"deliver 2:1 payload=\"b1\" lamport=4",
		"node1 {\"node1\":3, \"node2\":2}",
		"deliver 2:1 payload=\"b1\" lamport=4",
		"node3 {\"node1\":1, \"node2\":2, \"node3\":2}",
		"broadcast 1:2 payload=\"a2\" lamport=5",
		"node1 {\"node1\":4, \"node2\":2}",
		"deliver 1:2 payload=\"a2\" lamport=5",
		"node1 {\"node1\":5, \"node2\":2}",
		"deliver 1:2 payload=\"a2\" lamport=6",
		"node2 {\"node1\":4, \"node2\":4}",
		"deliver 1:2 payload=\"a2\" lamport=6",
		"node3 {\"node1\":4, \"node2\":2, \"node3\":3}",
	};
	expect_lines(out, want, sizeof want / sizeof want[0]);
	free(out);
	strata_bcast_logs_free(logs);
}
END_TEST

/* Crash markers, binary and quoted payloads, long payloads, a missing sender log. */
START_TEST(test_shiviz_details)
{
	char dir[64], err[256];
	make_tmpdir(dir, sizeof dir);
	struct strata_bcast_log *w1 = NULL, *w2 = NULL;
	ck_assert_int_eq(strata_bcast_log_open(dir, 1, 3, "rb", &w1, err, sizeof err), 0);
	ck_assert_int_eq(strata_bcast_log_open(dir, 2, 3, "rb", &w2, err, sizeof err), 0);
	const uint8_t bin[] = {0x00, 0xff, 0x41};
	const char *quoted = "say \"hi\" \\o/";
	char longp[40];
	memset(longp, 'x', sizeof longp);
	ck_assert_int_eq(strata_bcast_log_broadcast(w1, 1, 1, bin, sizeof bin, NULL, 0), 0);
	ck_assert_int_eq(strata_bcast_log_broadcast(w1, 2, 2, (const uint8_t *)quoted,
						    strlen(quoted), NULL, 0),
			 0);
	ck_assert_int_eq(strata_bcast_log_crash(w1), 0);
	ck_assert_int_eq(strata_bcast_log_deliver(w2, 1, 2, 3, (const uint8_t *)quoted,
						  strlen(quoted), NULL, 0),
			 0);
	ck_assert_int_eq(strata_bcast_log_deliver(w2, 3, 1, 4, (const uint8_t *)longp, sizeof longp,
						  NULL, 0),
			 0);
	ck_assert_int_eq(strata_bcast_log_broadcast(w2, 1, 5, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(strata_bcast_log_close(w1), 0);
	ck_assert_int_eq(strata_bcast_log_close(w2), 0);
	struct strata_bcast_logs *logs = NULL;
	ck_assert_int_eq(strata_bcast_logs_load(dir, &logs, err, sizeof err), 0);
	char *out = shiviz_of(logs);
	static const char *const want[] = {
		"(?<event>.*)\\n(?<host>\\S*) (?<clock>{.*})",
		"",
		"broadcast 1:1 payload=0x00ff41 lamport=1",
		"node1 {\"node1\":1}",
		"broadcast 1:2 payload=\"say \\\"hi\\\" \\\\o/\" lamport=2",
		"node1 {\"node1\":2}",
		"crash",
		"node1 {\"node1\":3}",
		"deliver 1:2 payload=\"say \\\"hi\\\" \\\\o/\" lamport=3",
		"node2 {\"node1\":2, \"node2\":1}",
		"deliver 3:1 payload=\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"...(40 bytes) lamport=4",
		"node2 {\"node1\":2, \"node2\":2}",
		"broadcast 2:1 payload=\"\" lamport=5",
		"node2 {\"node1\":2, \"node2\":3}",
	};
	expect_lines(out, want, sizeof want / sizeof want[0]);
	free(out);
	strata_bcast_logs_free(logs);
	rm_tmpdir(dir);
}
END_TEST

/* Cyclic logs still export: the offending delivery is marked and gets no merge. */
START_TEST(test_shiviz_cyclic)
{
	struct strata_bcast_logs *logs = load_case("causal-cyclic");
	char *out = shiviz_of(logs);
	ck_assert_ptr_nonnull(strstr(out, "deliver 2:1 payload=\"b1\" lamport=1 (delivered before its "
					  "broadcast: the logs are cyclic)\nnode1 {\"node1\":1}\n"));
	free(out);
	strata_bcast_logs_free(logs);
}
END_TEST

/* A crash-recovery node keeps one log: each incarnation appends "i <inc>"; the first broadcast
 * after it may skip numbers (unrecorded before the crash), none may be reused; a torn last line
 * is cut; replays of recorded deliveries are not written again; the checkers skip the
 * unrecorded numbers and still catch a missing delivery. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	static char buf[8192];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

START_TEST(test_incarnations)
{
	char dir[64], err[512] = "", path[128], rep[512];
	make_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/node-1.log", dir);
	struct strata_bcast_log *w = NULL;
	bool rec;
	ck_assert_int_eq(strata_bcast_log_open_incarnation(dir, 1, 2, "lurb", 10, &w, err, sizeof err), 0);
	ck_assert_int_eq(strata_bcast_log_broadcast(w, 1, 1, (const uint8_t *)"a", 1, NULL, 0), 0);
	ck_assert_int_eq(strata_bcast_log_broadcast(w, 2, 2, (const uint8_t *)"b", 1, NULL, 0), 0);
	ck_assert_int_eq(strata_bcast_log_deliver(w, 1, 1, 3, (const uint8_t *)"a", 1, NULL, 0), 0);
	ck_assert_int_eq(strata_bcast_log_close(w), 0);
	/* A kill tore the last line. */
	FILE *f = fopen(path, "a");
	ck_assert_ptr_nonnull(f);
	fputs("d 1 2 4 6", f);
	fclose(f);
	/* Incarnations must grow. */
	ck_assert_int_eq(strata_bcast_log_open_incarnation(dir, 1, 2, "lurb", 10, &w, err, sizeof err),
			 STRATA_EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "incarnation 10 already"));
	/* Another cluster's log is refused. */
	ck_assert_int_eq(strata_bcast_log_open_incarnation(dir, 1, 3, "lurb", 11, &w, err, sizeof err),
			 STRATA_EPROTO);
	ck_assert_int_eq(strata_bcast_log_open_incarnation(dir, 1, 2, "lurb", 11, &w, err, sizeof err), 0);
	ck_assert_str_eq(slurp(path), "# node 1 n 2 algo lurb\ni 10\nb 1 1 61\nb 2 2 62\nd 1 1 3 61\ni 11\n");
	/* A number may not be reused; the first after the restart may skip (3 and 4 unrecorded). */
	ck_assert_int_eq(strata_bcast_log_broadcast(w, 2, 5, (const uint8_t *)"x", 1, NULL, 0), STRATA_EINVAL);
	ck_assert_int_eq(strata_bcast_log_broadcast(w, 5, 5, (const uint8_t *)"e", 1, NULL, 0), 0);
	ck_assert_int_eq(strata_bcast_log_broadcast(w, 7, 6, (const uint8_t *)"g", 1, NULL, 0), STRATA_EINVAL);
	ck_assert_int_eq(strata_bcast_log_close(w), 0);
	ck_assert_int_eq(strata_bcast_log_open_incarnation(dir, 1, 2, "lurb", 12, &w, err, sizeof err), 0);
	/* Replays: 1:1 was recorded in an earlier incarnation, 1:2 was not (its announcement was
	 * lost with the crash). */
	ck_assert_int_eq(strata_bcast_log_replay(w, 1, 1, 7, (const uint8_t *)"a", 1, &rec), 0);
	ck_assert(!rec);
	ck_assert_int_eq(strata_bcast_log_replay(w, 1, 2, 7, (const uint8_t *)"b", 1, &rec), 0);
	ck_assert(rec);
	ck_assert_int_eq(strata_bcast_log_deliver(w, 1, 5, 8, (const uint8_t *)"e", 1, NULL, 0), 0);
	ck_assert_int_eq(strata_bcast_log_close(w), 0);
	ck_assert_str_eq(slurp(path), "# node 1 n 2 algo lurb\ni 10\nb 1 1 61\nb 2 2 62\nd 1 1 3 61\n"
				      "i 11\nb 5 5 65\ni 12\nd 1 2 7 62\nd 1 5 8 65\n");
	/* Node 2 delivered everything, including 1:3, which node 1 never recorded. */
	write_str(dir, "node-2.log", "# node 2 n 2 algo lurb\ni 5\nd 1 1 1 61\nd 1 2 2 62\n"
				     "d 1 3 3 63\nd 1 5 4 65\n");
	struct strata_bcast_logs *logs = NULL;
	ck_assert_int_eq(strata_bcast_logs_load(dir, &logs, err, sizeof err), 0);
	const struct strata_bcast_node_log *n1 = &logs->node[1];
	ck_assert_uint_eq(n1->nincarnations, 3);
	ck_assert_uint_eq(n1->nbcast, 5);
	ck_assert_uint_eq(n1->nunrecorded, 2);
	ck_assert(!strata_bcast_recorded(n1, 3) && !strata_bcast_recorded(n1, 4));
	ck_assert(strata_bcast_recorded(n1, 5));
	ck_assert(!n1->crash_marker);
	static const enum strata_bcast_property holds[] = {
		STRATA_BCAST_VALIDITY, STRATA_BCAST_NO_DUP, STRATA_BCAST_NO_CREATION,
	};
	for (size_t i = 0; i < sizeof holds / sizeof holds[0]; i++)
		ck_assert_msg(strata_bcast_check(logs, holds[i], NULL, 0, rep, sizeof rep) ==
				      STRATA_BCAST_HOLDS, "%s: %s", strata_bcast_property_name(holds[i]), rep);
	ck_assert_int_eq(strata_bcast_check(logs, STRATA_BCAST_NO_CREATION, NULL, 0, rep, sizeof rep),
			 STRATA_BCAST_HOLDS);
	ck_assert_ptr_nonnull(strstr(rep, "1 deliveries of broadcasts their sender did not record"));
	/* Node 1 never delivered 1:3 (which node 2 did): agreement is violated. */
	ck_assert_int_eq(strata_bcast_check(logs, STRATA_BCAST_AGREEMENT, NULL, 0, rep, sizeof rep),
			 STRATA_BCAST_VIOLATED);
	ck_assert_ptr_nonnull(strstr(rep, "node 1 never delivered 1:3"));
	strata_bcast_logs_free(logs);
	/* Reuse of a number after a restart, and an event after a crash without a restart. */
	write_str(dir, "node-2.log", "# node 2 n 2 algo lurb\ni 5\nb 1 1 61\ni 6\nb 1 2 61\n");
	ck_assert_int_eq(strata_bcast_logs_load(dir, &logs, err, sizeof err), STRATA_EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "may not be reused"));
	write_str(dir, "node-2.log", "# node 2 n 2 algo lurb\nb 1 1 61\ncrash\nb 2 2 62\n");
	ck_assert_int_eq(strata_bcast_logs_load(dir, &logs, err, sizeof err), STRATA_EPROTO);
	write_str(dir, "node-2.log", "# node 2 n 2 algo lurb\nb 1 1 61\ncrash\ni 7\nb 2 2 62\n");
	ck_assert_int_eq(strata_bcast_logs_load(dir, &logs, err, sizeof err), 0);
	ck_assert(!logs->node[2].crash_marker);
	strata_bcast_logs_free(logs);
	rm_tmpdir(dir);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bcast_log");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_round_trip);
	tcase_add_loop_test(tc, test_malformed, 0, (int)(sizeof bad_logs / sizeof bad_logs[0]));
	tcase_add_test(tc, test_malformed_bounds);
	tcase_add_test(tc, test_malformed_sets);
	tcase_add_test(tc, test_names);
	tcase_add_loop_test(tc, test_matrix, 0, (int)(sizeof matrix / sizeof matrix[0]));
	tcase_add_test(tc, test_check_args);
	tcase_add_test(tc, test_own_delivery_before_broadcast);
	tcase_add_test(tc, test_consistency_same_node);
	tcase_add_test(tc, test_large);
	tcase_add_test(tc, test_large_planted);
	tcase_add_test(tc, test_shiviz_ok);
	tcase_add_test(tc, test_shiviz_details);
	tcase_add_test(tc, test_shiviz_cyclic);
	tcase_add_test(tc, test_incarnations);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
