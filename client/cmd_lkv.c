/* `strata lkv`: the leaderless quorum key-value store (src/reg/lkv.c, docs/leaderless.md).
 *
 *   strata lkv put KEY VALUE [--r R] [--w W] [--siblings | --context HEX] [--algo lkv|lkv-vc]
 *   strata lkv get KEY [--r R] [--siblings] [--algo lkv|lkv-vc]
 *   strata lkv del KEY [--r R] [--w W] [--siblings | --context HEX] [--algo lkv|lkv-vc]
 *   strata lkv algos
 *
 * --siblings and --context select lkv-vc (vector-clock versions): a get prints every
 * concurrent value and the context to pass to the next put, which then supersedes them.
 * Any node coordinates any key (-n picks one; by default the first that answers; a get that
 * times out is retried on the next node, a put or del is not, since it may have happened).
 * --r/--w override the cluster's [lkv] r and w for this request; R + W <= replicas gives up
 * read-your-writes (the daemon logs a warning). Exit: 0 ok, 1 definite failure, 2 usage,
 * 3 outcome unknown (no quorum in time). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "crypto/crypto.h"

#define CONTEXT_MAX 1024 /* bytes of a decoded context: 64 entries of at most 10 bytes, + n */

int cmd_lkv(struct cli *c, int argc, char **argv);

static const char lkv_help[] =
	"usage: strata lkv put KEY [--] VALUE [--r R] [--w W] [--siblings | --context HEX] [--algo A]\n"
	"       strata lkv put KEY --value-file FILE [options as for put]\n"
	"       strata lkv get KEY [--r R] [--siblings] [--algo A]\n"
	"       strata lkv del KEY [--r R] [--w W] [--siblings | --context HEX] [--algo A]\n"
	"       strata lkv algos\n"
	"\n"
	"The leaderless store: KEY lives on `replicas` nodes chosen by consistent hashing; any\n"
	"node coordinates. A put completes after W replicas stored it, a get after R answered\n"
	"(defaults: the cluster's [lkv] r and w). With R + W > replicas a get returns the latest\n"
	"completed put (linearizable); smaller quorums are faster but may read stale values.\n"
	"A get of a key never written, or deleted, prints null.\n"
	"-w json prints {\"key\":KEY,\"value\":VALUE or null}.\n"
	"\n"
	"--algo lkv-vc (implied by --siblings and --context; a separate store) keeps concurrent puts:\n"
	"puts that did not read each other are all kept (siblings). A get prints every sibling, one per\n"
	"line, then `context HEX` (-w json: {\"key\":KEY,\"values\":[...],\"context\":HEX}); a put or\n"
	"del with --context HEX supersedes exactly the siblings that get returned.\n"
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
	const char *algo = NULL, *ctx_hex = NULL, *value_file = NULL;
	bool after_dd = false;
	for (int i = 2; i < argc; i++) {
		if (after_dd || !cli_is_option(argv[i])) {
			if (npos >= want)
				return cli_usage_err(c, "lkv", "lkv %s: unexpected argument '%s'", sub,
						     argv[i]);
			pos[npos++] = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--") == 0) {
			after_dd = true;
			continue;
		}
		if (strcmp(argv[i], "--value-file") == 0) {
			if (i + 1 >= argc)
				return usage(c, "%s", "lkv: --value-file needs a file");
			value_file = argv[++i];
			continue;
		}
		if (cli_is_help(argv[i])) {
			fputs(lkv_help, stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(argv[i], "--siblings") == 0) {
			if (algo && strcmp(algo, "lkv-vc") != 0)
				return usage(c, "%s", "lkv: --siblings needs --algo lkv-vc");
			algo = "lkv-vc";
			continue;
		}
		if (strcmp(argv[i], "--algo") == 0 || strcmp(argv[i], "--context") == 0) {
			if (i + 1 >= argc)
				return usage(c, "lkv: %s needs an argument", argv[i]);
			if (strcmp(argv[i], "--algo") == 0) {
				if (algo && strcmp(algo, argv[i + 1]) != 0)
					return usage(c, "%s", "lkv: conflicting --algo/--siblings");
				algo = argv[++i];
			} else {
				ctx_hex = argv[++i];
			}
			continue;
		}
		int q = quorum_opt(c, argc, argv, &i, "--r", &r);
		if (q == 0)
			q = quorum_opt(c, argc, argv, &i, "--w", &w);
		if (q < 0)
			return CLI_EXIT_USAGE;
		if (q > 0)
			continue;
		return cli_usage_err(c, "lkv",
				     "lkv %s: unknown option '%s' (a value starting with '-' goes after "
				     "--)",
				     sub, argv[i]);
	}
	if (value_file) {
		if (op != CLI_OP_WRITE || npos != 1)
			return usage(c, "%s", "lkv: --value-file goes with put KEY");
		pos[npos++] = "";
	}
	if (npos != want)
		return usage(c, "%s", op == CLI_OP_WRITE ? "lkv put: needs KEY VALUE"
					: op == CLI_OP_READ ? "lkv get: needs KEY"
							     : "lkv del: needs KEY");
	if (!pos[0][0])
		return usage(c, "%s", "lkv: the key must not be empty");
	if (op == CLI_OP_READ && w)
		return usage(c, "%s", "lkv get: --w applies to put and del");
	if (op == CLI_OP_READ && ctx_hex)
		return usage(c, "%s", "lkv get: --context applies to put and del");
	if (ctx_hex && !algo)
		algo = "lkv-vc";
	if (!algo)
		algo = "lkv";
	if (strcmp(algo, "lkv") != 0 && strcmp(algo, "lkv-vc") != 0)
		return usage(c, "lkv: unknown algorithm '%s' (lkv, lkv-vc)", algo);
	if (ctx_hex && strcmp(algo, "lkv-vc") != 0)
		return usage(c, "%s", "lkv: --context needs --algo lkv-vc (lkv is last-write-wins)");
	bool vc = strcmp(algo, "lkv-vc") == 0;
	uint8_t ctx[CONTEXT_MAX];
	size_t ctx_len = ctx_hex ? strlen(ctx_hex) / 2 : 0;
	if (ctx_hex && (ctx_len > CONTEXT_MAX || strata_hex_decode(ctx, ctx_len, ctx_hex) != 0))
		return usage(c, "lkv: --context '%s': not the hex a get --siblings printed", ctx_hex);
	char *file_value = NULL;
	size_t file_len = 0;
	if (value_file) {
		int frc = cli_read_value_file(c, "lkv", value_file, &file_value, &file_len);
		if (frc != CLI_EXIT_OK)
			return frc;
	}
	char what[32];
	snprintf(what, sizeof what, "lkv %s", sub);
	struct cli_op_args a = {
		.module = algo,
		.what = what,
		.op = op,
		.key = pos[0],
		.key_len = strlen(pos[0]),
		.value = op == CLI_OP_WRITE ? (file_value ? file_value : pos[1]) : NULL,
		.value_len = op == CLI_OP_WRITE ? (file_value ? file_len : strlen(pos[1])) : 0,
		.value2 = ctx_len ? ctx : NULL,
		.value2_len = ctx_len,
		.r = r,
		.w = w,
	};
	Strata__Client__Response *resp = NULL;
	const Strata__Client__OpReply *reply = NULL;
	int rc = cli_op(c, &a, &resp, &reply);
	if (rc != CLI_EXIT_OK) {
		free(file_value);
		return rc;
	}
	bool found = reply && reply->found;
	if (vc && op == CLI_OP_READ) {
		size_t nsib = reply ? reply->n_siblings : 0;
		size_t clen = reply ? reply->context.len : 0;
		char hex[2 * CONTEXT_MAX + 1];
		if (clen > CONTEXT_MAX)
			clen = 0; /* not a context this CLI could send back: print none */
		strata_hex_encode(hex, clen ? reply->context.data : (const uint8_t *)"", clen);
		hex[2 * clen] = 0;
		if (c->json) {
			struct cli_json j;
			cli_json_init(&j, stdout);
			cli_json_begin_object(&j);
			cli_json_key(&j, "key");
			cli_json_string(&j, pos[0]);
			cli_json_key(&j, "values");
			cli_json_begin_array(&j);
			for (size_t i = 0; i < nsib; i++)
				cli_json_string_n(&j, (const char *)reply->siblings[i].data,
						  reply->siblings[i].len);
			cli_json_end_array(&j);
			cli_json_key(&j, "context");
			cli_json_string(&j, hex);
			cli_json_end_object(&j);
		} else {
			for (size_t i = 0; i < nsib; i++) {
				fwrite(reply->siblings[i].data, 1, reply->siblings[i].len, stdout);
				fputc('\n', stdout);
			}
			if (!nsib)
				printf("null\n");
			printf("context %s\n", hex);
		}
		if (resp)
			strata__client__response__free_unpacked(resp, NULL);
		return CLI_EXIT_OK;
	}
	if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "key");
		cli_json_string(&j, pos[0]);
		cli_json_key(&j, "value");
		if (op == CLI_OP_WRITE)
			cli_json_string_n(&j, a.value, a.value_len);
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
	free(file_value);
	return CLI_EXIT_OK;
}
