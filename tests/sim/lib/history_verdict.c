/* The history checker's verdict on a simulation run's history; see history_verdict.h. */
#include "history_verdict.h"

#include <stdlib.h>
#include <string.h>

#include "rt/sim/harness.h"

int simh_check_history(FILE *hist, char *const *buf, const size_t *len,
		       enum strata_check_model model, char *why, size_t wl, bool *violation)
{
	fflush(hist); /* *buf and *len now hold every line appended */
	struct strata_history *h = NULL;
	char err[256];
	if (strata_history_parse(*buf, *len, "sim", NULL, &h, err, sizeof(err)) != 0)
		return sim_fail(why, wl, "history does not parse: %s", err);
	struct strata_check_result res;
	memset(&res, 0, sizeof(res));
	int rc = strata_check_history(h, model, 20000, &res);
	int out = 0;
	if (rc) {
		out = sim_fail(why, wl, "checker error %d", rc);
	} else if (res.verdict != STRATA_CHECK_OK) {
		if (violation)
			*violation = res.verdict == STRATA_CHECK_VIOLATION;
		char *txt = NULL;
		size_t tl = 0;
		if (!res.has_violation) {
			FILE *f = open_memstream(&txt, &tl);
			if (f) {
				strata_check_print_text(f, h, &res);
				fclose(f);
			}
		}
		out = sim_fail(why, wl, "%s checker: %s (%zu ops): %s", strata_check_model_name(model),
			       strata_check_verdict_name(res.verdict), strata_history_n_ops(h),
			       res.has_violation ? res.violation.message : (txt ? txt : ""));
		free(txt);
	}
	strata_check_result_free(&res);
	strata_history_free(h);
	return out;
}
