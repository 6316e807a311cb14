/* Simulation suite for the failure-detection family: P (Alg. 2.5) with monarchical leader
 * election (Alg. 2.6), and <>P (Alg. 2.7) with Omega (Alg. 2.8), under crashes, restarts with a
 * new incarnation, pauses, partitions, loss, duplication and reordering, with random timing.
 *
 * Time is scaled down so thousands of seeds run in seconds: heartbeat H = 10 ms, P's timeout
 * Delta = 50 ms, <>P's initial timeout 20 ms growing by 10 ms. Only the ratios matter.
 *
 * P cases (fail-stop). Synchrony is P's assumption, so the network keeps one-way delays in
 * [1, 12] ms with duplication and reordering but NO loss, and pauses last at most 20 ms:
 * H + pause + (dmax - dmin) = 10 + 20 + 11 = 41 < Delta = 50, so a correct process's fresh
 * heartbeats never arrive more than Delta apart. (Loss would need Delta to cover k consecutive
 * losses, and random loss has no such k: the p_lossy variant shows accuracy breaking.)
 *   PFD2 strong accuracy  - every detection (checked as it is output) names an incarnation that
 *                           had already crashed.
 *   PFD1 strong completeness - a crash at tc is detected by every node up since before tc by
 *                           max(tc + dmax, the observer's last resume) + Delta.
 *   views                 - a live, unpaused node is seen alive, with its current incarnation,
 *                           by every running node within dmax of its boot or resume (2 dmax
 *                           after the observer's own boot: the detectors answer a new
 *                           incarnation at once).
 *   LE                    - after every step each node's leader is maxrank (lowest id) of the
 *                           nodes its P has not detected (which with PFD1/PFD2 gives LE1/LE2),
 *                           and at the end every node's leader is the lowest live id.
 *
 * <>P cases (fail-noisy).
 *   evp_gst: before GST delays up to 450 ms, 10% loss, partitions, long pauses, crashes and
 *   restarts; at GST the network heals and one-way delays stay in [1, 40] ms, so the arrival
 *   gap of a correct peer is at most 49 ms, more than the initial timeout: <>P must still raise
 *   its timeouts (Increasing Timeout) to stop erring. Eventual strong accuracy is checked in a
 *   finite form: after GST each ordered pair of correct nodes sees at most MAX_MISTAKES false
 *   suspicions (Alg. 2.7 makes at most ceil((49 - 20) / 10) = 3 plus one at the transition), and
 *   each is withdrawn within H + dmax; a final 200 ms tail without jitter must end with nobody
 *   correct suspected, every crashed node suspected (EPFD1) and, for Omega, every correct node
 *   trusting the same correct leader, the lowest live id (ELD1, ELD2).
 *   evp_pause: a synchronous network (delays [1, 4] ms) with pauses of 5-300 ms, crashes and
 *   restarts. A pause longer than an observer's current timeout + dmax must be suspected by it,
 *   the suspicion restored within dmax of the resume; every suspicion of a live, unpaused
 *   incarnation is a violation.
 *
 * Broken variants (each must be caught): P with Delta shorter than H + delay spread (a config
 * value); P over a lossy network; LE and Omega that ignore their detector (the test-only knob in
 * fd/fd.h); <>P with evp_increment_ms = 0, a detector that never adapts its timeout. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/config.h"
#include "core/node.h"
#include "fd/fd.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MAXN 7
#define MS 1000ull
#define MAX_MISTAKES 8 /* after GST, per ordered pair of correct nodes */

enum kind { K_P, K_EVP_GST, K_EVP_PAUSE };

struct scen {
	enum kind kind;
	uint32_t timeout_ms;      /* P's Delta (0 = the suite's 50) */
	double drop;              /* P: loss (breaks synchrony) */
	uint32_t evp_increment_ms; /* <>P: 10 unless the variant sets UINT32_MAX for 0 */
	bool ignore_detector;     /* leader module ignores its detector (test-only knob) */
	bool crash_node1;         /* always crash node 1 (leader checks) */
};

struct world {
	const struct scen *sc;
	struct sim *sim;
	struct strata_config cfg;
	uint32_t n;
	uint64_t dmax_us;      /* current one-way delay bound (incl. tail) */
	uint64_t maxpause_us;  /* longest pause the scenario allows */
	uint64_t inc[MAXN + 1];
	bool up[MAXN + 1], paused[MAXN + 1];
	uint64_t boot_t[MAXN + 1], crash_t[MAXN + 1], pause_t[MAXN + 1], resume_t[MAXN + 1];
	uint64_t resume_plan[MAXN + 1]; /* when the current pause ends */
	uint64_t inc_at_boot[MAXN + 1][MAXN + 1]; /* [o][p]: p's incarnation when o booted */
	uint64_t susp_t[MAXN + 1][MAXN + 1];      /* when o's current suspicion of p began */
	unsigned mistakes[MAXN + 1][MAXN + 1];    /* <>P after GST */
	bool susp_in_pause[MAXN + 1][MAXN + 1];   /* o suspected p during p's current pause */
	uint64_t timeout_at_pause[MAXN + 1][MAXN + 1];
	uint64_t gst;
	bool post_gst;
	bool failed;
	char why[512];
};

static void failf(struct world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(struct world *w, const char *fmt, ...)
{
	if (w->failed)
		return;
	w->failed = true;
	va_list ap;
	va_start(ap, fmt);
	int off = snprintf(w->why, sizeof(w->why), "t=%.3fms: ", (double)sim_now(w->sim) / 1000.0);
	vsnprintf(w->why + off, sizeof(w->why) - (size_t)off, fmt, ap);
	va_end(ap);
}

/* ---- the stack under test ---- */

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct world *w = arg;
	char err[256];
	if (strata_fd_build(n, err, sizeof(err)) != 0) {
		fprintf(stderr, "sim_fd: %s\n", err);
		abort();
	}
	if (w->sc->ignore_detector)
		strata_fd_leader_test_ignore_detector(strata_node_role(n, STRATA_ROLE_LEADER), true);
}

static uint64_t evp_timeout(struct world *w, uint32_t o, uint32_t p)
{
	struct strata_node *n = sim_node(w->sim, o);
	return strata_fd_evp_timeout_us(strata_node_role(n, STRATA_ROLE_FD), p);
}

/* Has the incarnation `b` of p (as named by observer o; 0 = o never heard from p) crashed? */
static bool inc_crashed(const struct world *w, uint32_t o, uint32_t p, uint64_t b)
{
	if (b == 0)
		b = w->inc_at_boot[o][p];
	return w->inc[p] > b || !w->up[p];
}

static void on_output(struct sim *s, uint32_t o, const struct strata_output *out, void *arg)
{
	struct world *w = arg;
	if (out->kind != STRATA_OUT_FD)
		return;
	uint32_t p = out->peer;
	uint64_t now = sim_now(s);
	switch ((enum strata_peer_state)out->a) {
	case STRATA_PEER_CRASHED:
		if (!inc_crashed(w, o, p, out->b))
			failf(w, "PFD2 strong accuracy: node %u detected node %u (incarnation %llu), "
				 "which has not crashed",
			      o, p, (unsigned long long)out->b);
		break;
	case STRATA_PEER_SUSPECTED:
		w->susp_t[o][p] = now;
		if (w->paused[p])
			w->susp_in_pause[o][p] = true;
		if (inc_crashed(w, o, p, out->b))
			break;
		if (w->sc->kind == K_EVP_GST && w->post_gst &&
		    ++w->mistakes[o][p] > MAX_MISTAKES)
			failf(w, "EPFD2 eventual strong accuracy: node %u suspected correct node %u "
				 "%u times after GST",
			      o, p, w->mistakes[o][p]);
		if (w->sc->kind == K_EVP_PAUSE && !w->paused[p] &&
		    now > w->resume_t[p] + w->dmax_us + MS)
			failf(w, "accuracy in a synchronous network: node %u suspected node %u, "
				 "which is live and has not been paused since %.3fms",
			      o, p, (double)w->resume_t[p] / 1000.0);
		break;
	case STRATA_PEER_ALIVE:
		w->susp_t[o][p] = 0;
		break;
	}
}

/* ---- fault actions, mirrored in the world ---- */

static void w_crash(struct world *w, uint32_t p)
{
	sim_crash(w->sim, p);
	w->up[p] = false;
	w->paused[p] = false;
	w->crash_t[p] = sim_now(w->sim);
}

static void w_restart(struct world *w, uint32_t p)
{
	w->inc[p]++;
	w->up[p] = true;
	w->boot_t[p] = sim_now(w->sim);
	for (uint32_t q = 1; q <= w->n; q++) {
		w->inc_at_boot[p][q] = w->inc[q];
		w->susp_t[p][q] = 0;
	}
	sim_restart(w->sim, p);
}

static void w_pause(struct world *w, uint32_t p)
{
	sim_pause(w->sim, p);
	w->paused[p] = true;
	w->pause_t[p] = sim_now(w->sim);
	for (uint32_t o = 1; o <= w->n; o++) {
		/* An observer that already suspects p (say, its previous incarnation, when p paused
		 * right after a restart the observer has not heard of yet) suspects it during the
		 * pause too. */
		w->susp_in_pause[o][p] =
			o != p && w->up[o] &&
			strata_node_peer_state(sim_node(w->sim, o), p) == STRATA_PEER_SUSPECTED;
		if (w->sc->kind == K_EVP_PAUSE && o != p && w->up[o])
			w->timeout_at_pause[o][p] = evp_timeout(w, o, p);
	}
}

static void w_resume(struct world *w, uint32_t p)
{
	uint64_t now = sim_now(w->sim);
	sim_resume(w->sim, p);
	w->paused[p] = false;
	w->resume_t[p] = now;
	if (w->sc->kind != K_EVP_PAUSE)
		return;
	/* A pause longer than an observer's timeout + dmax leaves its deadline without a fresh
	 * heartbeat: the observer must have suspected p meanwhile. Pauses never overlap, so the
	 * observer itself ran throughout unless it crashed (then it is down or rebooted since). */
	uint64_t len = now - w->pause_t[p];
	for (uint32_t o = 1; o <= w->n; o++) {
		if (o == p || !w->up[o] || w->boot_t[o] > w->pause_t[p])
			continue;
		if (len > w->timeout_at_pause[o][p] + w->dmax_us + MS && !w->susp_in_pause[o][p])
			failf(w, "completeness for pauses: node %u paused %.3fms (observer %u's timeout "
				 "%.3fms) but %u never suspected it",
			      p, (double)len / 1000.0, o, (double)w->timeout_at_pause[o][p] / 1000.0, o);
	}
}

static uint32_t count_up(const struct world *w)
{
	uint32_t c = 0;
	for (uint32_t i = 1; i <= w->n; i++)
		c += w->up[i];
	return c;
}

static uint32_t random_node(struct world *w, bool want_up)
{
	uint32_t pick[MAXN], k = 0;
	for (uint32_t i = 1; i <= w->n; i++)
		if (w->up[i] == want_up && !w->paused[i])
			pick[k++] = i;
	return k ? pick[sim_random_below(w->sim, k)] : 0;
}

/* ---- properties checked after every step ---- */

static uint32_t expected_leader(struct world *w, struct strata_node *n, uint32_t o,
				enum strata_peer_state out)
{
	for (uint32_t q = 1; q <= w->n; q++)
		if (q == o || strata_node_peer_state(n, q) != out)
			return q;
	return 0;
}

static int check_step(struct sim *s, void *arg)
{
	struct world *w = arg;
	if (w->failed)
		return 1;
	uint64_t now = sim_now(s);
	bool p_kind = w->sc->kind == K_P;
	enum strata_peer_state out = p_kind ? STRATA_PEER_CRASHED : STRATA_PEER_SUSPECTED;
	for (uint32_t o = 1; o <= w->n; o++) {
		if (!w->up[o] || w->paused[o])
			continue;
		struct strata_node *n = sim_node(s, o);
		uint32_t want = expected_leader(w, n, o, out);
		if (!w->sc->ignore_detector && strata_node_leader(n) != want) {
			failf(w, "%s: node %u's leader is %u, maxrank of the nodes it trusts is %u",
			      p_kind ? "LE" : "Omega", o, strata_node_leader(n), want);
			return 1;
		}
		for (uint32_t p = 1; p <= w->n; p++) {
			if (p == o)
				continue;
			enum strata_peer_state v = strata_node_peer_state(n, p);
			if (!w->up[p]) {
				/* Completeness: every node up since before the crash detects it. */
				if (w->boot_t[o] > w->crash_t[p])
					continue;
				/* The observer handles what arrived during its own pause when it
				 * resumes, so its deadline may restart then. */
				uint64_t from = w->crash_t[p] + w->dmax_us;
				if (w->resume_t[o] > from)
					from = w->resume_t[o];
				uint64_t bound;
				if (p_kind)
					bound = from + w->cfg.timeout_ms * MS + MS;
				else if (w->sc->kind == K_EVP_PAUSE)
					bound = from + evp_timeout(w, o, p) + MS;
				else if (w->post_gst) {
					/* heartbeats sent before the crash may arrive up to 450 ms
					 * later, and nothing is bounded before GST */
					if (w->crash_t[p] + 450 * MS > from)
						from = w->crash_t[p] + 450 * MS;
					if (w->gst > from)
						from = w->gst;
					bound = from + evp_timeout(w, o, p) + MS;
				} else {
					continue;
				}
				if (now > bound && v != out) {
					failf(w, "%s strong completeness: node %u crashed at %.3fms, node %u "
						 "still sees it %s",
					      p_kind ? "PFD1" : "EPFD1", p, (double)w->crash_t[p] / 1000.0,
					      o, strata_peer_state_name(v));
					return 1;
				}
				continue;
			}
			if (w->paused[p])
				continue;
			/* A live, unpaused p is seen alive with its current incarnation once its
			 * heartbeats had time to arrive: after its boot or resume; after the
			 * observer's resume (held datagrams are handled then); and after the
			 * observer's boot, once p heard from it and answered (the link layer drops
			 * datagrams addressed to the observer's earlier incarnation). */
			uint64_t since = w->boot_t[p];
			if (w->resume_t[p] > since)
				since = w->resume_t[p];
			if (w->resume_t[o] > since)
				since = w->resume_t[o];
			if (w->boot_t[o] + w->dmax_us > since)
				since = w->boot_t[o] + w->dmax_us;
			if (w->sc->kind == K_EVP_GST) {
				/* After GST: the first heartbeats and answers cross the healed
				 * network, and a false suspicion ends with the next heartbeat. */
				if (!w->post_gst)
					continue;
				uint64_t h = w->cfg.heartbeat_ms * MS;
				if (w->gst + h + w->dmax_us > since)
					since = w->gst + h + w->dmax_us;
				if (w->susp_t[o][p] + h > since)
					since = w->susp_t[o][p] + h;
			}
			uint64_t bound = since + w->dmax_us + MS;
			if (now <= bound)
				continue;
			if (v != STRATA_PEER_ALIVE ||
			    strata_node_peer_incarnation(n, p) != w->inc[p]) {
				failf(w, "%s: node %u (incarnation %llu, live since %.3fms) is %s at node %u "
					 "(incarnation %llu)",
				      p_kind ? "PFD2/restart" : "EPFD2 restore", p,
				      (unsigned long long)w->inc[p], (double)since / 1000.0,
				      strata_peer_state_name(v), o,
				      (unsigned long long)strata_node_peer_incarnation(n, p));
				return 1;
			}
		}
	}
	return 0;
}

/* At the end: every live node agrees on the view and the leader is the lowest live id. */
static void check_final(struct world *w)
{
	uint32_t lowest = 0;
	for (uint32_t q = 1; q <= w->n && !lowest; q++)
		if (w->up[q])
			lowest = q;
	bool p_kind = w->sc->kind == K_P;
	for (uint32_t o = 1; o <= w->n && !w->failed; o++) {
		if (!w->up[o])
			continue;
		struct strata_node *n = sim_node(w->sim, o);
		if (strata_node_leader(n) != lowest)
			failf(w, "%s: at the end node %u trusts %u, the lowest live node is %u",
			      p_kind ? "LE1 eventual detection" : "ELD1/ELD2 eventual leadership", o,
			      strata_node_leader(n), lowest);
		for (uint32_t p = 1; p <= w->n; p++) {
			if (p == o)
				continue;
			enum strata_peer_state v = strata_node_peer_state(n, p);
			enum strata_peer_state want = w->up[p] ? STRATA_PEER_ALIVE
					      : p_kind ? STRATA_PEER_CRASHED : STRATA_PEER_SUSPECTED;
			if (v != want)
				failf(w, "final view: node %u sees node %u %s, expected %s", o, p,
				      strata_peer_state_name(v), strata_peer_state_name(want));
		}
	}
}

/* ---- scenarios ---- */

static void config_for(struct world *w, uint32_t n, enum strata_model model)
{
	struct strata_config *cfg = &w->cfg;
	strata_config_defaults(cfg);
	snprintf(cfg->cluster_id, sizeof(cfg->cluster_id), "sim-fd");
	cfg->cluster_hash = 0xfdu;
	cfg->n = n;
	cfg->f = n - 1;
	cfg->model = model;
	cfg->heartbeat_ms = 10;
	cfg->timeout_ms = w->sc->timeout_ms ? w->sc->timeout_ms : 50;
	cfg->evp_timeout_ms = 20;
	cfg->evp_increment_ms = w->sc->evp_increment_ms == UINT32_MAX ? 0
				 : w->sc->evp_increment_ms ? w->sc->evp_increment_ms : 10;
	sim_config_loopback(cfg, n, 7000);
	for (uint32_t i = 1; i <= n; i++)
		cfg->nodes[i].client_port = (uint16_t)(8000 + i);
}

static void world_start(struct world *w, uint64_t seed, bool trace, const struct sim_net *net)
{
	struct sim_opts o = { .seed = seed, .cfg = &w->cfg, .net = *net, .build = build,
			      .output = on_output, .arg = w, .trace = trace };
	for (uint32_t i = 1; i <= w->n; i++) {
		w->inc[i] = 1;
		w->up[i] = true;
		for (uint32_t q = 1; q <= w->n; q++)
			w->inc_at_boot[i][q] = 1;
	}
	w->sim = sim_new(&o);
	sim_start(w->sim);
}

/* One random fault action. */
static void random_action(struct world *w, uint64_t min_pause, uint64_t max_pause, bool restarts)
{
	struct sim *s = w->sim;
	uint64_t r = sim_random_below(s, 10);
	if (r < 3 && count_up(w) > 1) {
		uint32_t p = random_node(w, true);
		if (p)
			w_crash(w, p);
	} else if (r < 6 && restarts) {
		uint32_t p = random_node(w, false);
		if (p)
			w_restart(w, p);
	} else {
		bool any_paused = false;
		for (uint32_t p = 1; p <= w->n; p++)
			any_paused |= w->paused[p];
		uint32_t p = random_node(w, true);
		if (!any_paused && p) {
			w_pause(w, p);
			/* run_to() resumes it at the planned time */
			w->resume_plan[p] = w->pause_t[p] + min_pause +
					    sim_random_below(s, max_pause - min_pause + 1);
		}
	}
}

/* Runs until t, resuming a paused node at its planned time. */
static int run_to(struct world *w, uint64_t t)
{
	for (;;) {
		uint64_t next = t;
		uint32_t who = 0;
		for (uint32_t p = 1; p <= w->n; p++)
			if (w->paused[p] && w->resume_plan[p] < next) {
				next = w->resume_plan[p];
				who = p;
			}
		if (sim_run_until(w->sim, next, check_step, w) || w->failed)
			return 1;
		if (!who)
			return 0;
		w_resume(w, who);
	}
}

static int finish(struct world *w, char *why, size_t whylen)
{
	int rc = w->failed ? sim_fail(why, whylen, "%s", w->why) : 0;
	sim_free(w->sim);
	free(w);
	return rc;
}

static int run_p(const struct scen *sc, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct world *w = calloc(1, sizeof(*w));
	STRATA_ASSERT(w);
	w->sc = sc;
	uint64_t x = seed * 0x9e3779b97f4a7c15ull;
	w->n = 3 + (uint32_t)((x >> 33) % 4);
	config_for(w, w->n, STRATA_MODEL_FAIL_STOP);
	struct sim_net net = { .drop = sc->drop, .dup = 0.05, .delay_min_us = 1 * MS,
			       .delay_max_us = 12 * MS };
	w->dmax_us = net.delay_max_us;
	w->maxpause_us = 20 * MS;
	world_start(w, seed, trace, &net);
	uint64_t t = 0;
	if (sc->crash_node1) {
		t = 50 * MS + sim_random_below(w->sim, 200 * MS);
		if (run_to(w, t) == 0)
			w_crash(w, 1);
	}
	while (!w->failed && t < 800 * MS) {
		t += 20 * MS + sim_random_below(w->sim, 150 * MS);
		if (run_to(w, t))
			break;
		random_action(w, 1 * MS, w->maxpause_us, !sc->crash_node1);
	}
	for (uint32_t p = 1; p <= w->n && !w->failed; p++)
		if (w->paused[p])
			w_resume(w, p);
	if (!w->failed && run_to(w, t + 200 * MS) == 0)
		check_final(w);
	return finish(w, why, whylen);
}

static int run_evp_gst(const struct scen *sc, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct world *w = calloc(1, sizeof(*w));
	STRATA_ASSERT(w);
	w->sc = sc;
	uint64_t x = seed * 0x9e3779b97f4a7c15ull;
	w->n = 3 + (uint32_t)((x >> 33) % 4);
	config_for(w, w->n, STRATA_MODEL_FAIL_NOISY);
	struct sim_net chaos = { .drop = 0.1, .dup = 0.05, .delay_min_us = 1 * MS,
				 .delay_max_us = 150 * MS, .tail = 0.05, .tail_us = 300 * MS };
	w->dmax_us = 450 * MS;
	w->maxpause_us = 300 * MS;
	world_start(w, seed, trace, &chaos);
	w->gst = 600 * MS + sim_random_below(w->sim, 400 * MS);
	uint64_t t = 0;
	if (sc->crash_node1) {
		t = 50 * MS + sim_random_below(w->sim, 300 * MS);
		if (run_to(w, t) == 0)
			w_crash(w, 1);
	}
	while (!w->failed) {
		t += 20 * MS + sim_random_below(w->sim, 100 * MS);
		if (t >= w->gst)
			break;
		if (run_to(w, t))
			break;
		if (sim_random_below(w->sim, 4) == 0) {
			uint64_t a = 0, b = 0;
			for (uint32_t i = 1; i <= w->n; i++)
				if (sim_random_below(w->sim, 2))
					a |= 1ull << i;
				else
					b |= 1ull << i;
			sim_heal(w->sim);
			sim_partition(w->sim, a, b);
		} else {
			random_action(w, 5 * MS, w->maxpause_us, !sc->crash_node1);
		}
	}
	if (!w->failed && run_to(w, w->gst) == 0) {
		/* GST: the network heals and delays become bounded. (sim_run_until may step one
		 * event past its bound when it skips a stale wake-up, so GST is when we are.) */
		if (sim_now(w->sim) > w->gst)
			w->gst = sim_now(w->sim);
		sim_heal(w->sim);
		for (uint32_t p = 1; p <= w->n; p++)
			if (w->paused[p])
				w_resume(w, p);
		struct sim_net calm = { .dup = 0.05, .delay_min_us = 1 * MS,
					.delay_max_us = 40 * MS };
		sim_set_net(w->sim, &calm);
		w->dmax_us = calm.delay_max_us;
		w->post_gst = true;
		if (run_to(w, w->gst + 1000 * MS) == 0) {
			/* Tail without jitter: the last in-flight mistakes are withdrawn. */
			struct sim_net still = { .delay_min_us = 20 * MS, .delay_max_us = 20 * MS };
			sim_set_net(w->sim, &still);
			if (run_to(w, w->gst + 1200 * MS) == 0)
				check_final(w);
		}
	}
	return finish(w, why, whylen);
}

static int run_evp_pause(const struct scen *sc, uint64_t seed, bool trace, char *why,
			 size_t whylen)
{
	struct world *w = calloc(1, sizeof(*w));
	STRATA_ASSERT(w);
	w->sc = sc;
	uint64_t x = seed * 0x9e3779b97f4a7c15ull;
	w->n = 3 + (uint32_t)((x >> 33) % 3);
	config_for(w, w->n, STRATA_MODEL_FAIL_NOISY);
	struct sim_net net = { .dup = 0.05, .delay_min_us = 1 * MS, .delay_max_us = 4 * MS };
	w->dmax_us = net.delay_max_us;
	w->maxpause_us = 300 * MS;
	world_start(w, seed, trace, &net);
	uint64_t t = 0;
	while (!w->failed && t < 1200 * MS) {
		t += 20 * MS + sim_random_below(w->sim, 100 * MS);
		if (run_to(w, t))
			break;
		random_action(w, 5 * MS, w->maxpause_us, true);
	}
	for (uint32_t p = 1; p <= w->n && !w->failed; p++)
		if (w->paused[p])
			w_resume(w, p);
	if (!w->failed && run_to(w, t + 200 * MS) == 0)
		check_final(w);
	return finish(w, why, whylen);
}

static int run(const struct scen *sc, uint64_t seed, bool trace, char *why, size_t whylen)
{
	switch (sc->kind) {
	case K_P: return run_p(sc, seed, trace, why, whylen);
	case K_EVP_GST: return run_evp_gst(sc, seed, trace, why, whylen);
	case K_EVP_PAUSE: return run_evp_pause(sc, seed, trace, why, whylen);
	}
	return 1;
}

#define CASE(fn, ...)                                                                         \
	static int fn(uint64_t seed, bool trace, char *why, size_t whylen)                    \
	{                                                                                     \
		static const struct scen sc = { __VA_ARGS__ };                                \
		return run(&sc, seed, trace, why, whylen);                                    \
	}

CASE(p_crash_restart_pause, .kind = K_P)
CASE(le_leader_crash, .kind = K_P, .crash_node1 = true)
CASE(evp_omega_gst, .kind = K_EVP_GST)
CASE(omega_leader_crash, .kind = K_EVP_GST, .crash_node1 = true)
CASE(evp_pause_crash_restart, .kind = K_EVP_PAUSE)
/* Broken variants. */
CASE(p_timeout_below_delay, .kind = K_P, .timeout_ms = 18)
CASE(p_lossy_links, .kind = K_P, .drop = 0.3)
CASE(le_ignores_p, .kind = K_P, .crash_node1 = true, .ignore_detector = true)
CASE(evp_never_increases, .kind = K_EVP_GST, .evp_increment_ms = UINT32_MAX)
CASE(omega_ignores_evp, .kind = K_EVP_GST, .crash_node1 = true, .ignore_detector = true)

static const struct sim_case cases[] = {
	{ "p_crash_restart_pause", p_crash_restart_pause, 1000, false },
	{ "le_leader_crash", le_leader_crash, 1000, false },
	{ "evp_omega_gst", evp_omega_gst, 1000, false },
	{ "omega_leader_crash", omega_leader_crash, 1000, false },
	{ "evp_pause_crash_restart", evp_pause_crash_restart, 1000, false },
	{ "p_timeout_below_delay", p_timeout_below_delay, 1000, true },
	{ "p_lossy_links", p_lossy_links, 1000, true },
	{ "le_ignores_p", le_ignores_p, 1000, true },
	{ "evp_never_increases", evp_never_increases, 1000, true },
	{ "omega_ignores_evp", omega_ignores_evp, 1000, true },
};

int main(int argc, char **argv)
{
	return sim_main(argc, argv, "sim_fd", cases, STRATA_ARRAY_LEN(cases));
}
