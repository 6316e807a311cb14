/* The nemesis of `strata workload --nemesis` (client/wl_nemesis.c). */
#ifndef STRATA_CLIENT_WL_NEMESIS_H
#define STRATA_CLIENT_WL_NEMESIS_H

#include <stdint.h>
#include <stdio.h>

#include "cli.h"

struct wl_nemesis;

/* "kill,pause,partition" (any non-empty subset, no repeats) -> kinds[0..*nkinds). 0 or -1. */
int wl_nemesis_parse(const char *list, int kinds[3], int *nkinds);
/* NULL (the reason printed) when the cluster cannot take these faults. History times are
 * CLOCK_MONOTONIC nanoseconds minus t0_ns, as the workload's own. */
struct wl_nemesis *wl_nemesis_new(struct cli *c, const int kinds[3], int nkinds,
				  double interval_s, FILE *hist, uint64_t t0_ns);
/* Starts or ends a fault when its time has come (call often from the workload's loop). */
void wl_nemesis_step(struct wl_nemesis *m);
/* When the next step has something to do (cli_now_ms clock). */
uint64_t wl_nemesis_next_ms(const struct wl_nemesis *m);
/* Ends the fault in force (heal, restart, resume), waits for it, frees m. *actions_failed: how
 * many actions failed during the run (each printed and recorded as an "error" event). */
void wl_nemesis_finish(struct wl_nemesis *m, unsigned *actions_failed);

#endif
