/* libFuzzer target for client histories: the JSON-lines reader (strata_history_parse) on
 * arbitrary bytes, then every checker on whatever parses, with a small time budget and memory
 * cap, and both report printers. Properties: no crash, no sanitizer report, no hang, and a
 * verdict that is one of the three. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "check/check.h"
#include "core/assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	if (!sink)
		sink = fopen("/dev/null", "w");
	struct strata_history_limits lim = {4096, 256, 256};
	struct strata_history *h = NULL;
	char err[256];
	if (strata_history_parse((const char *)data, size, "fuzz", &lim, &h, err, sizeof(err)))
		return 0;
	for (int m = STRATA_CHECK_ATOMIC; m <= STRATA_CHECK_SAFE; m++) {
		struct strata_check_opts o = { .budget_ms = 20, .mem_limit_bytes = 8u << 20 };
		struct strata_check_result res;
		int rc = strata_check_history_ex(h, (enum strata_check_model)m, &o, &res);
		STRATA_ASSERT(rc == 0);
		STRATA_ASSERT(res.verdict == STRATA_CHECK_OK || res.verdict == STRATA_CHECK_UNKNOWN ||
			      res.verdict == STRATA_CHECK_VIOLATION);
		STRATA_ASSERT(res.has_violation == (res.verdict == STRATA_CHECK_VIOLATION));
		if (sink) {
			strata_check_print_text(sink, h, &res);
			strata_check_print_json(sink, h, &res);
		}
		strata_check_result_free(&res);
	}
	strata_history_free(h);
	return 0;
}
