/* `strata lkv`: the leaderless quorum key-value store (src/reg/lkv.c, docs/leaderless.md).
 *
 *   strata lkv put KEY VALUE [--r R] [--w W]
 *   strata lkv get KEY [--r R]
 *   strata lkv del KEY [--r R] [--w W]
 *   strata lkv algos
 *
 * Any node coordinates any key (-n picks one; by default the first that answers; a get that
 * times out is retried on the next node, a put or del is not, since it may have happened).
 * --r/--w override the cluster's [lkv] r and w for this request; R + W <= replicas gives up
 * read-your-writes (the daemon logs a warning). Exit: 0 ok, 1 definite failure, 2 usage,
 * 3 outcome unknown (no quorum in time). */
#include <string.h>

#include "cli.h"

int cmd_lkv(struct cli *c, int argc, char **argv);

static const char lkv_help[] =
	"usage: strata lkv put KEY VALUE [--r R] [--w W]\n"
	"       strata lkv get KEY [--r R]\n"
	"       strata lkv del KEY [--r R] [--w W]\n"
	"       strata lkv algos\n"
	"\n"
	"The leaderless store: KEY lives on `replicas` nodes chosen by consistent hashing; any\n"
	"node coordinates. A put completes after W replicas stored it, a get after R answered\n"
	"(defaults: the cluster's [lkv] r and w). With R + W > replicas a get returns the latest\n"
	"completed put (linearizable); smaller quorums are faster but may read stale values.\n"
	"A get of a key never written, or deleted, prints null.\n"
	"-w json prints {\"key\":KEY,\"value\":VALUE or null}.\n"
	"Exit: 0 ok, 1 the node refused (the error says why), 2 usage, 3 outcome unknown.\n";

static int usage(struct cli *c, const char *fmt, const char *arg)
{
	return cli_usage_err(c, "lkv", fmt, arg);
}

/* Parses "--r R" / "--r=R" (and --w); returns 1 if argv[*i] was one, 0 if not, -1 on error. */
static int quorum_opt(struct cli *c, int argc, char **argv, int *i, const char *name,
		      uint32_t *out)
{
	size_t nl = strlen(name);
	const char *a = argv[*i], *val;
	if (strncmp(a, name, nl) != 0)
		return 0;
	if (a[nl] == '=') {
		val = a + nl + 1;
	} else if (a[nl] == 0) {
		if (*i + 1 >= argc) {
			usage(c, "lkv: %s needs a number", name);
			return -1;
		}
		val = argv[++*i];
	} else {
		return 0;
	}
	if (!cli_parse_u32(val, 1, STRATA_MAX_NODES, out)) {
		usage(c, "lkv: quorum sizes are 1..64, got '%s'", val);
		return -1;
	}
	return 1;
}

int cmd_lkv(struct cli *c, int argc, char **argv)
{
	if (argc < 2 || cli_is_help(argv[1])) {
		fputs(lkv_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "algos") == 0)
		return cli_print_algos(c, "lkv");
	uint32_t op;
	int want;
	if (strcmp(sub, "put") == 0) {
		op = CLI_OP_WRITE;
		want = 2;
	} else if (strcmp(sub, "get") == 0) {
		op = CLI_OP_READ;
		want = 1;
	} else if (strcmp(sub, "del") == 0 || strcmp(sub, "delete") == 0) {
		op = CLI_OP_DELETE;
		want = 1;
	} else {
		return usage(c, "lkv: unknown subcommand '%s' (put, get, del, algos)", sub);
	}
	const char *pos[2] = { NULL, NULL };
	int npos = 0;
	uint32_t r = 0, w = 0;
	for (int i = 2; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			fputs(lkv_help, stdout);
			return CLI_EXIT_OK;
		}
		int q = quorum_opt(c, argc, argv, &i, "--r", &r);
		if (q == 0)
			q = quorum_opt(c, argc, argv, &i, "--w", &w);
		if (q < 0)
			return CLI_EXIT_USAGE;
		if (q > 0)
			continue;
		if (argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "--") != 0)
			return usage(c, "lkv: unknown option '%s'", argv[i]);
		if (npos >= want)
			return usage(c, "lkv: unexpected argument '%s'", argv[i]);
		pos[npos++] = argv[i];
	}
	if (npos != want)
		return usage(c, "%s", op == CLI_OP_WRITE ? "lkv put: needs KEY VALUE"
					: op == CLI_OP_READ ? "lkv get: needs KEY"
							     : "lkv del: needs KEY");
	if (!pos[0][0])
		return usage(c, "%s", "lkv: the key must not be empty");
	if (op == CLI_OP_READ && w)
		return usage(c, "%s", "lkv get: --w applies to put and del");
	struct cli_op_args a = {
		.module = "lkv",
		.op = op,
		.key = pos[0],
		.key_len = strlen(pos[0]),
		.value = op == CLI_OP_WRITE ? pos[1] : NULL,
		.value_len = op == CLI_OP_WRITE ? strlen(pos[1]) : 0,
		.r = r,
		.w = w,
	};
	Strata__Client__Response *resp = NULL;
	const Strata__Client__OpReply *reply = NULL;
	int rc = cli_op(c, &a, &resp, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	bool found = reply && reply->found;
	if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "key");
		cli_json_string(&j, pos[0]);
		cli_json_key(&j, "value");
		if (op == CLI_OP_WRITE)
			cli_json_string(&j, pos[1]);
		else if (found)
			cli_json_string_n(&j, (const char *)reply->value.data, reply->value.len);
		else
			cli_json_null(&j);
		cli_json_end_object(&j);
	} else if (op == CLI_OP_READ) {
		if (found) {
			fwrite(reply->value.data, 1, reply->value.len, stdout);
			fputc('\n', stdout);
		} else {
			printf("null\n");
		}
	} else {
		printf("ok\n");
	}
	if (resp)
		strata__client__response__free_unpacked(resp, NULL);
	return CLI_EXIT_OK;
}
