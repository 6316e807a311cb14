/* Argument helpers shared by the commands that take a value (reg, lkv, bcast): values that
 * start with '-' and values read from a file.
 *
 * A command's own parser treats "--" as the end of its options (everything after it is a
 * positional argument, e.g. `strata reg write x -- -5`), and an argument that is '-' followed by
 * a digit as a value rather than an option (`strata reg write x -5`). --value-file FILE reads
 * the value's bytes from FILE, bounded by the client frame. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

bool cli_is_option(const char *arg)
{
	return arg[0] == '-' && arg[1] != '\0' && !isdigit((unsigned char)arg[1]);
}

int cli_read_value_file(struct cli *c, const char *cmd, const char *path, char **out,
			size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return cli_usage_err(c, cmd, "%s: --value-file %s: %s", cmd, path, strerror(errno));
	/* A request frame carries at most CLI_MAX_FRAME bytes with key and framing: leave room. */
	size_t max = CLI_MAX_FRAME - 4096;
	char *buf = malloc(max + 1);
	size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
	bool err = !buf || ferror(f);
	fclose(f);
	if (err) {
		free(buf);
		return cli_usage_err(c, cmd, "%s: --value-file %s: read error", cmd, path);
	}
	if (n > max) {
		free(buf);
		return cli_usage_err(c, cmd, "%s: --value-file %s: larger than a client frame allows "
					     "(%zu bytes)",
				     cmd, path, max);
	}
	*out = buf;
	*len = n;
	return CLI_EXIT_OK;
}
