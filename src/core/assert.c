/* The one place an assertion failure is reported. */
#include "core/assert.h"

#include <stdio.h>
#include <stdlib.h>

_Noreturn void strata_assert_fail(const char *expr, const char *file, int line, const char *func)
{
	fprintf(stderr, "strata: assertion failed: %s (%s:%d, %s)\n", expr, file, line, func);
	fflush(stderr);
	abort();
}
