/* The release of strata this build is, printed by `strata --version`, `stratad --version` and
 * `strata-cluster --version` (scripts/cluster reads it from here at install time and from the
 * source tree otherwise). Bump with each release. */
#ifndef STRATA_CORE_VERSION_H
#define STRATA_CORE_VERSION_H

#define STRATA_VERSION "0.1.0"

#endif
