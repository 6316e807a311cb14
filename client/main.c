/* strata: the command-line client of a strata cluster.
 *
 *   strata [GLOBAL FLAGS] COMMAND [ARGS]
 *
 * Global flags may appear anywhere before a "--" and are removed before the command sees its
 * arguments: --dir DIR, -n/--node ID, -e/--endpoint HOST:PORT, -w/--format text|json,
 * --timeout MS, and -h/--help (before the command: this help; after it: the command's help).
 * Exit codes: 0 ok, 1 definite failure, 2 usage or config error, 3 unknown outcome. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/version.h"

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [GLOBAL FLAGS] COMMAND [ARGS]\n"
		"\n"
		"commands:\n",
		prog);
	for (const struct cli_cmd *k = cli_commands; k->name; k++)
		fprintf(out, "  %-15s %s\n", k->name, k->summary);
	fprintf(out,
		"\n"
		"global flags (anywhere before '--'):\n"
		"  --dir DIR            cluster directory holding cluster.ini (default $STRATA_HOME,\n"
		"                       else ./cluster)\n"
		"  -n, --node ID        talk to node ID (default: the first node that answers)\n"
		"  -e, --endpoint H:P   talk to the client port H:P directly (no cluster.ini needed)\n"
		"  -w, --format FMT     output format: text (default) or json\n"
		"  --timeout MS         how long to wait for a node (default %d)\n"
		"  -h, --help           this help; after a command, the command's help\n"
		"  --version            print the version and exit\n"
		"\n"
		"exit codes: 0 ok, 1 definite failure, 2 usage or config error,\n"
		"            3 unknown outcome (timeout, node unreachable)\n"
		"see docs/user-guide.md\n",
		CLI_DEFAULT_TIMEOUT_MS);
}

/* Matches "--name VALUE" / "--name=VALUE" / "-x VALUE". Sets *val and advances *i. Returns 1 on a
 * match, 0 on none, -1 when the value is missing. */
static int flag_value(int argc, char **argv, int *i, const char *shortf, const char *longf,
		      const char **val)
{
	const char *a = argv[*i];
	size_t ll = longf ? strlen(longf) : 0;
	if (longf && strncmp(a, longf, ll) == 0 && a[ll] == '=') {
		*val = a + ll + 1;
		return 1;
	}
	if ((shortf && strcmp(a, shortf) == 0) || (longf && strcmp(a, longf) == 0)) {
		if (*i + 1 >= argc)
			return -1;
		*val = argv[++*i];
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c = { 0 };
	const char *slash = strrchr(argv[0], '/');
	c.prog = slash ? slash + 1 : argv[0];
	c.timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
	const char *home = getenv("STRATA_HOME");
	snprintf(c.dir, sizeof c.dir, "%s", home && *home ? home : "cluster");

	/* Pull the global flags out; everything else, in order, goes to the command. */
	char **rest = calloc((size_t)argc + 1, sizeof *rest);
	if (!rest)
		return CLI_EXIT_FAIL;
	int nrest = 0;
	bool help = false, after_dd = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		if (after_dd || a[0] != '-' || a[1] == '\0') {
			rest[nrest++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			after_dd = true;
			rest[nrest++] = argv[i]; /* the command needs it to stop its own parsing */
			continue;
		}
		int m;
		if ((m = flag_value(argc, argv, &i, NULL, "--dir", &v)) != 0) {
			if (m < 0 || !*v)
				return cli_usage_err(&c, NULL, "--dir needs a directory");
			snprintf(c.dir, sizeof c.dir, "%s", v);
		} else if ((m = flag_value(argc, argv, &i, "-n", "--node", &v)) != 0) {
			if (m < 0 || !cli_parse_u32(v, 1, STRATA_MAX_NODES, &c.node))
				return cli_usage_err(&c, NULL, "-n needs a node id (1..%d)",
						     STRATA_MAX_NODES);
		} else if ((m = flag_value(argc, argv, &i, "-e", "--endpoint", &v)) != 0) {
			if (m < 0 || strlen(v) >= sizeof c.endpoint || !strchr(v, ':'))
				return cli_usage_err(&c, NULL, "-e needs HOST:PORT");
			snprintf(c.endpoint, sizeof c.endpoint, "%s", v);
		} else if ((m = flag_value(argc, argv, &i, "-w", "--format", &v)) != 0) {
			if (m < 0 || (strcmp(v, "json") != 0 && strcmp(v, "text") != 0))
				return cli_usage_err(&c, NULL, "-w takes text or json");
			c.json = strcmp(v, "json") == 0;
		} else if ((m = flag_value(argc, argv, &i, NULL, "--timeout", &v)) != 0) {
			uint32_t ms;
			if (m < 0 || !cli_parse_u32(v, 1, 3600000, &ms))
				return cli_usage_err(&c, NULL,
						     "--timeout needs milliseconds (1..3600000)");
			c.timeout_ms = (int)ms;
		} else if (cli_is_help(a) && nrest == 0) {
			help = true;
		} else if (strcmp(a, "--version") == 0 && nrest == 0) {
			printf("strata %s\n", STRATA_VERSION);
			free(rest);
			return CLI_EXIT_OK;
		} else if (nrest == 0) {
			/* Before the command only global flags are possible: a typo should not read as
			 * "unknown command". */
			return cli_usage_err(&c, NULL, "unknown global flag '%s' (see `%s --help`; a "
						       "command's own flags go after the command)",
					     a, c.prog);
		} else {
			rest[nrest++] = argv[i]; /* the command's own flag */
		}
	}
	rest[nrest] = NULL;

	if (help) {
		usage(stdout, c.prog);
		free(rest);
		return CLI_EXIT_OK;
	}
	if (nrest == 0) {
		usage(stderr, c.prog);
		free(rest);
		return CLI_EXIT_USAGE;
	}
	int rc = -1;
	for (const struct cli_cmd *k = cli_commands; k->name; k++) {
		if (strcmp(k->name, rest[0]) == 0) {
			c.cmd = k->name;
			rc = k->run(&c, nrest, rest);
			break;
		}
	}
	if (rc < 0)
		rc = cli_usage_err(&c, NULL, "unknown command '%s'", rest[0]);
	fflush(stdout);
	free(rest);
	free(c.cfg);
	return rc;
}
