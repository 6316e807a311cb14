/* Commands that need no daemon: keygen, algos, and the offline checkers (check, check-bcast,
 * shiviz) built on src/check/. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "check/bcast_log.h"
#include "check/check.h"
#include "cli.h"
#include "core/error.h"
#include "core/stack.h"
#include "crypto/crypto.h"
#include "rt/uv/keyfile.h"

/* ---- keygen ---- */

static const char keygen_help[] =
	"usage: strata keygen --out FILE\n"
	"\n"
	"Creates a node identity: FILE (Ed25519 secret key, mode 0600) and FILE.pub\n"
	"(\"ed25519-public <64 hex>\"). Refuses to overwrite existing files. Prints the public key.\n";

int cmd_keygen(struct cli *c, int argc, char **argv)
{
	const char *out = NULL;
	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			fputs(keygen_help, stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(argv[i], "--out") == 0 || strcmp(argv[i], "-o") == 0) {
			if (i + 1 >= argc)
				return cli_usage_err(c, "keygen", "keygen: --out needs a file name");
			out = argv[++i];
		} else if (strncmp(argv[i], "--out=", 6) == 0) {
			out = argv[i] + 6;
		} else {
			return cli_usage_err(c, "keygen", "keygen: unexpected argument '%s'", argv[i]);
		}
	}
	if (!out || !*out)
		return cli_usage_err(c, "keygen", "keygen: --out FILE is required");
	if (strata_crypto_init() != 0) {
		cli_err(c, "keygen: crypto initialisation failed (libsodium or STRATA_SHA256)");
		return CLI_EXIT_FAIL;
	}
	uint8_t pk[STRATA_PK_LEN];
	uint8_t *sk = strata_secure_alloc(STRATA_SK_LEN);
	if (!sk) {
		cli_err(c, "keygen: out of secure memory");
		return CLI_EXIT_FAIL;
	}
	char err[512];
	int rc = strata_keypair(pk, sk);
	if (rc == 0)
		rc = strata_keyfile_write(out, pk, sk, err, sizeof err);
	else
		snprintf(err, sizeof err, "key generation failed: %s", strata_strerror(rc));
	strata_secure_free(sk);
	if (rc != 0) {
		cli_err(c, "keygen: %s", err);
		return CLI_EXIT_FAIL;
	}
	char hex[2 * STRATA_PK_LEN + 1];
	strata_hex_encode(hex, pk, STRATA_PK_LEN);
	if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "secret_file");
		cli_json_string(&j, out);
		cli_json_key(&j, "public_key");
		cli_json_string(&j, hex);
		cli_json_end_object(&j);
	} else {
		printf("wrote %s (secret, mode 0600) and %s.pub\npublic key: %s\n", out, out, hex);
	}
	return CLI_EXIT_OK;
}

/* ---- algos ---- */

struct algos_ctx {
	struct cli *c;
	struct cli_json j;
	size_t count;
};

int cli_algo_runnable(struct cli *c, const struct strata_algo *a, const char *cmd)
{
	if (c->endpoint[0])
		return CLI_EXIT_OK;
	const struct strata_config *cfg = cli_config(c);
	if (!cfg)
		return CLI_EXIT_USAGE;
	char why[256];
	if (strata_algo_check(a, cfg, why, sizeof why) != 0) {
		cli_err(c, "%s: %s", cmd, why);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* "N>2f", or "f<N" for algorithms that tolerate any number of crashes but one. */
static void resilience_text(const struct strata_algo *a, char *res, size_t n)
{
	if (a->resilience_k)
		snprintf(res, n, "N>%uf", a->resilience_k);
	else
		snprintf(res, n, "f<N");
}

static void algo_text(const struct strata_algo *a, void *arg)
{
	struct algos_ctx *x = arg;
	char res[16];
	resilience_text(a, res, sizeof res);
	if (x->count++ == 0)
		printf("%-14s %-6s %-14s %-14s %-6s %s\n", "NAME", "FAMILY", "BOOK", "MODEL", "NEEDS",
		       "TITLE");
	printf("%-14s %-6s %-14s %-14s %-6s %s\n", a->name, a->family, a->book ? a->book : "",
	       strata_model_name(a->model), res, a->title ? a->title : "");
	if (a->steps || a->messages)
		printf("%-14s steps: %s; messages: %s\n", "", a->steps ? a->steps : "?",
		       a->messages ? a->messages : "?");
}

static void algo_json(const struct strata_algo *a, void *arg)
{
	struct algos_ctx *x = arg;
	struct cli_json *j = &x->j;
	x->count++;
	cli_json_begin_object(j);
	cli_json_key(j, "name");
	cli_json_string(j, a->name);
	cli_json_key(j, "family");
	cli_json_string(j, a->family);
	cli_json_key(j, "title");
	cli_json_string(j, a->title);
	cli_json_key(j, "book");
	cli_json_string(j, a->book);
	cli_json_key(j, "model");
	cli_json_string(j, strata_model_name(a->model));
	char res[16];
	resilience_text(a, res, sizeof res);
	cli_json_key(j, "resilience");
	cli_json_string(j, res);
	cli_json_key(j, "resilience_k");
	cli_json_uint(j, a->resilience_k);
	cli_json_key(j, "single_writer");
	cli_json_bool(j, a->single_writer);
	cli_json_key(j, "steps");
	cli_json_string(j, a->steps);
	cli_json_key(j, "messages");
	cli_json_string(j, a->messages);
	cli_json_key(j, "wire_id");
	cli_json_uint(j, a->wire_id);
	cli_json_end_object(j);
}

int cli_print_algos(struct cli *c, const char *family)
{
	struct algos_ctx x = { .c = c };
	if (c->json) {
		cli_json_init(&x.j, stdout);
		cli_json_begin_array(&x.j);
		strata_algo_foreach(family, algo_json, &x);
		cli_json_end_array(&x.j);
	} else {
		strata_algo_foreach(family, algo_text, &x);
		if (x.count == 0)
			printf("no %s%salgorithms in this build yet\n", family ? family : "",
			       family ? " " : "");
	}
	return CLI_EXIT_OK;
}

/* Collects the family names of the build, and whether one of them is the one asked for. */
struct family_probe {
	const char *family;
	bool found;
	char names[128];
};

static void family_seen(const struct strata_algo *a, void *arg)
{
	struct family_probe *fp = arg;
	if (strcmp(a->family, fp->family) == 0)
		fp->found = true;
	size_t fl = strlen(a->family), at = 0, len = strlen(fp->names);
	while (at < len) { /* already listed? names is "fd, bcast, ..." */
		const char *comma = strchr(fp->names + at, ',');
		size_t wl = comma ? (size_t)(comma - (fp->names + at)) : len - at;
		if (wl == fl && strncmp(fp->names + at, a->family, fl) == 0)
			return;
		at += wl + (comma ? 2 : 0);
	}
	if (len + fl + 3 < sizeof fp->names)
		snprintf(fp->names + len, sizeof fp->names - len, "%s%s", len ? ", " : "",
			 a->family);
}

int cmd_algos(struct cli *c, int argc, char **argv)
{
	const char *family = NULL;
	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			printf("usage: strata algos [FAMILY]\n\n"
			       "Lists the algorithms of this build (FAMILY: fd, bcast, reg, lkv, cons, smr, jh,\n"
			       "variants): name (what --algo takes), the book's number, the system\n"
			       "model, the resilience it needs, and its cost. No daemon needed.\n");
			return CLI_EXIT_OK;
		}
		if (family || argv[i][0] == '-')
			return cli_usage_err(c, "algos", "algos: unexpected argument '%s'", argv[i]);
		family = argv[i];
	}
	if (family) {
		struct family_probe fp = { .family = family };
		strata_algo_foreach(NULL, family_seen, &fp);
		if (!fp.found)
			return cli_usage_err(c, "algos",
					     "algos: unknown family '%s' (families: %s)", family,
					     fp.names);
	}
	return cli_print_algos(c, family);
}

/* ---- check ---- */

static const char check_help[] =
	"usage: strata check --model atomic|regular|safe [--budget MS] FILE\n"
	"\n"
	"Checks a client history (JSON lines in Jepsen's shape, see docs/checking.md) against a\n"
	"register model, each key an independent register. --budget bounds the wall time\n"
	"(default 60000 ms; 0 = none). -w json prints the report as one JSON object.\n"
	"A history whose operations all failed or timed out is refused (exit 1): it proves nothing.\n"
	"On a terminal a progress line (keys and ops checked, elapsed time, the key being checked)\n"
	"is redrawn on stderr; nothing when stderr is piped.\n"
	"exit: 0 the history satisfies the model, 1 violation or nothing completed, 2 usage or\n"
	"      unreadable file, 3 unknown (budget or memory ran out)\n";

/* The progress line of `strata check` on a terminal: redrawn on stderr at most every 250 ms
 * (and whenever a key of more than 1,000 ops starts, since that key may take a while). */
struct check_progress {
	uint64_t start_ms, next_ms;
	bool drawn;
};

static void check_progress(void *arg, size_t keys_done, size_t n_keys, size_t ops_done,
			   size_t n_ops, uint32_t key, size_t key_ops)
{
	struct check_progress *p = arg;
	uint64_t now = cli_now_ms();
	if (key_ops == 0) { /* the end: the report replaces the line */
		if (p->drawn)
			fputs("\r\033[K", stderr);
		p->drawn = false;
		return;
	}
	if (now < p->next_ms && key_ops <= 1000)
		return;
	p->next_ms = now + 250;
	p->drawn = true;
	fprintf(stderr, "\r\033[Kcheck: %zu/%zu keys, %zu/%zu ops (%.0f%%), %.1f s; key %u: %zu ops",
		keys_done, n_keys, ops_done, n_ops, n_ops ? 100.0 * (double)ops_done / (double)n_ops : 100.0,
		(double)(now - p->start_ms) / 1000.0, (unsigned)key, key_ops);
	fflush(stderr);
}

int cmd_check(struct cli *c, int argc, char **argv)
{
	const char *file = NULL, *model = NULL;
	uint32_t budget = 60000;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (cli_is_help(a)) {
			fputs(check_help, stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(a, "--model") == 0 && i + 1 < argc) {
			model = argv[++i];
		} else if (strncmp(a, "--model=", 8) == 0) {
			model = a + 8;
		} else if (strcmp(a, "--budget") == 0 && i + 1 < argc) {
			if (!cli_parse_u32(argv[++i], 0, UINT32_MAX, &budget))
				return cli_usage_err(c, "check", "check: --budget needs milliseconds");
		} else if (strcmp(a, "--") == 0) {
			continue;
		} else if (a[0] == '-' && a[1]) {
			return cli_usage_err(c, "check", "check: unknown or incomplete flag '%s'", a);
		} else if (!file) {
			file = a;
		} else {
			return cli_usage_err(c, "check", "check: one history file only");
		}
	}
	enum strata_check_model m;
	if (!model)
		return cli_usage_err(c, "check", "check: --model atomic|regular|safe is required");
	/* Only the documented names: the library also knows aliases, the CLI does not offer them. */
	if ((strcmp(model, "atomic") != 0 && strcmp(model, "regular") != 0 &&
	     strcmp(model, "safe") != 0) ||
	    strata_check_model_parse(model, &m) != 0)
		return cli_usage_err(c, "check", "check: unknown model '%s' (atomic, regular or safe)",
				     model);
	if (!file)
		return cli_usage_err(c, "check", "check: a history FILE is required");
	char err[512];
	struct strata_history *h = NULL;
	if (strata_history_load(file, &h, err, sizeof err) != 0) {
		cli_err(c, "check: %s", err);
		return CLI_EXIT_USAGE;
	}
	/* Operations were invoked but none completed: every model accepts such a history, which
	 * would read as a pass of a run that did no work. (An empty file has nothing to judge and
	 * stays ok.) */
	if (strata_history_n_ops(h) > 0 && strata_history_n_completed(h) == 0) {
		cli_err(c, "check: %s: no operation completed with ok (%zu invoked): nothing to check; "
			   "was the cluster up and the workload's algorithm runnable?",
			file, strata_history_n_ops(h));
		strata_history_free(h);
		return CLI_EXIT_FAIL;
	}
	struct strata_check_result res;
	memset(&res, 0, sizeof res);
	/* A progress line on a terminal only (stderr); quiet when piped or redirected. The first
	 * draw waits 500 ms, so a quick check prints nothing but its report. */
	struct check_progress prog = { .start_ms = cli_now_ms(), .next_ms = cli_now_ms() + 500 };
	struct strata_check_opts opts = {
		.budget_ms = budget,
		.progress = isatty(STDERR_FILENO) ? check_progress : NULL,
		.progress_arg = &prog,
	};
	int rc = strata_check_history_ex(h, m, &opts, &res);
	if (prog.drawn)
		fputs("\r\033[K", stderr);
	int exit_code;
	if (rc != 0) {
		cli_err(c, "check: %s", strata_strerror(rc));
		exit_code = CLI_EXIT_FAIL;
	} else {
		if (c->json)
			strata_check_print_json(stdout, h, &res);
		else
			strata_check_print_text(stdout, h, &res);
		exit_code = strata_check_exit_code(res.verdict);
	}
	strata_check_result_free(&res);
	strata_history_free(h);
	return exit_code;
}

/* ---- check-bcast ---- */

static const char check_bcast_help[] =
	"usage: strata check-bcast --property P [--crashed LIST] [--byzantine LIST] DIR\n"
	"\n"
	"Checks one broadcast property over the delivery logs DIR/node-<ID>.log written by\n"
	"stratad --bcast-log DIR (or the simulator). P: validity, no-dup, no-creation, agreement,\n"
	"uniform, fifo, causal, consistency, total-order. --crashed 3,5 names nodes that crashed\n"
	"(a log ending in a crash line counts as crashed too). --byzantine 4 names nodes that are\n"
	"faulty and may lie: their logs prove nothing (their deliveries are not judged, deliveries\n"
	"of their messages are not held against what their log says they broadcast) and they are\n"
	"owed nothing. Every other node is correct. agreement and uniform compare payloads too;\n"
	"consistency: no two correct nodes deliver different payloads for one sender:seq.\n"
	"total-order: every two correct nodes deliver the messages they both deliver in the same\n"
	"order.\n"
	"exit: 0 holds, 1 violated (the first counterexample is printed), 2 usage, unreadable\n"
	"      logs or a property that cannot be decided from them (e.g. a correct node's log is\n"
	"      missing)\n";

int cmd_check_bcast(struct cli *c, int argc, char **argv)
{
	const char *dir = NULL, *prop = NULL, *crashed = "", *byzantine = "";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (cli_is_help(a)) {
			fputs(check_bcast_help, stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(a, "--property") == 0 && i + 1 < argc)
			prop = argv[++i];
		else if (strncmp(a, "--property=", 11) == 0)
			prop = a + 11;
		else if (strcmp(a, "--crashed") == 0 && i + 1 < argc)
			crashed = argv[++i];
		else if (strncmp(a, "--crashed=", 10) == 0)
			crashed = a + 10;
		else if (strcmp(a, "--byzantine") == 0 && i + 1 < argc)
			byzantine = argv[++i];
		else if (strncmp(a, "--byzantine=", 12) == 0)
			byzantine = a + 12;
		else if (strcmp(a, "--") == 0)
			continue;
		else if (a[0] == '-' && a[1])
			return cli_usage_err(c, "check-bcast",
					     "check-bcast: unknown or incomplete flag '%s'", a);
		else if (!dir)
			dir = a;
		else
			return cli_usage_err(c, "check-bcast", "check-bcast: one directory only");
	}
	enum strata_bcast_property p;
	if (!prop || strata_bcast_property_parse(prop, &p) != 0)
		return cli_usage_err(c, "check-bcast",
				     "check-bcast: --property validity|no-dup|no-creation|agreement|"
				     "uniform|fifo|causal|consistency|total-order is required");
	uint32_t ids[STRATA_BCAST_MAX_NODES], byz[STRATA_BCAST_MAX_NODES];
	size_t nids = 0, nbyz = 0;
	if (strata_bcast_parse_ids(crashed, ids, STRATA_BCAST_MAX_NODES, &nids) != 0)
		return cli_usage_err(c, "check-bcast",
				     "check-bcast: --crashed takes node ids like 3,5");
	if (strata_bcast_parse_ids(byzantine, byz, STRATA_BCAST_MAX_NODES, &nbyz) != 0)
		return cli_usage_err(c, "check-bcast",
				     "check-bcast: --byzantine takes node ids like 4 or 4,7");
	if (!dir)
		return cli_usage_err(c, "check-bcast", "check-bcast: a log directory is required");
	char err[512], report[1024];
	struct strata_bcast_logs *logs = NULL;
	if (strata_bcast_logs_load(dir, &logs, err, sizeof err) != 0) {
		cli_err(c, "check-bcast: %s", err);
		return CLI_EXIT_USAGE;
	}
	report[0] = '\0';
	struct strata_bcast_faults faults = {
		.crashed = ids, .ncrashed = nids, .byzantine = byz, .nbyzantine = nbyz};
	int rc = strata_bcast_check_faults(logs, p, &faults, report, sizeof report);
	strata_bcast_logs_free(logs);
	const char *verdict = rc == STRATA_BCAST_HOLDS      ? "holds"
			      : rc == STRATA_BCAST_VIOLATED ? "violated"
							    : "undecided";
	if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "property");
		cli_json_string(&j, strata_bcast_property_name(p));
		cli_json_key(&j, "verdict");
		cli_json_string(&j, verdict);
		cli_json_key(&j, "report");
		cli_json_string(&j, report);
		cli_json_end_object(&j);
	} else if (rc < 0) {
		cli_err(c, "check-bcast: %s", report[0] ? report : strata_strerror(rc));
	} else {
		printf("%s\n", report[0] ? report : verdict);
	}
	if (rc == STRATA_BCAST_HOLDS)
		return CLI_EXIT_OK;
	if (rc == STRATA_BCAST_VIOLATED)
		return CLI_EXIT_FAIL;
	return CLI_EXIT_USAGE;
}

/* ---- shiviz ---- */

int cmd_shiviz(struct cli *c, int argc, char **argv)
{
	const char *dir = NULL, *out = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (cli_is_help(a)) {
			printf("usage: strata shiviz [-o FILE] DIR\n\n"
			       "Converts the broadcast delivery logs in DIR into a ShiViz log (stdout,\n"
			       "or FILE): paste it into https://bestchai.bitbucket.io/shiviz/ to see the\n"
			       "run as a space-time diagram.\n");
			return CLI_EXIT_OK;
		}
		if ((strcmp(a, "-o") == 0 || strcmp(a, "--out") == 0) && i + 1 < argc)
			out = argv[++i];
		else if (strcmp(a, "--") == 0)
			continue;
		else if (a[0] == '-' && a[1])
			return cli_usage_err(c, "shiviz", "shiviz: unknown or incomplete flag '%s'", a);
		else if (!dir)
			dir = a;
		else
			return cli_usage_err(c, "shiviz", "shiviz: one directory only");
	}
	if (!dir)
		return cli_usage_err(c, "shiviz", "shiviz: a log directory is required");
	char err[512];
	struct strata_bcast_logs *logs = NULL;
	if (strata_bcast_logs_load(dir, &logs, err, sizeof err) != 0) {
		cli_err(c, "shiviz: %s", err);
		return CLI_EXIT_USAGE;
	}
	FILE *f = stdout;
	if (out && !(f = fopen(out, "w"))) {
		cli_err(c, "shiviz: %s: %s", out, strerror(errno));
		strata_bcast_logs_free(logs);
		return CLI_EXIT_FAIL;
	}
	int rc = strata_shiviz_write(logs, f, err, sizeof err);
	if (f != stdout && fclose(f) != 0 && rc == 0) {
		rc = STRATA_EIO;
		snprintf(err, sizeof err, "%s: %s", out, strerror(errno));
	}
	strata_bcast_logs_free(logs);
	if (rc != 0) {
		cli_err(c, "shiviz: %s", err);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}
