/* `strata workload --nemesis kill,pause,partition [--interval S]`: faults scheduled during a
 * workload, in Jepsen's rhythm, and written into the history as the :nemesis process.
 *
 * Every S seconds the nemesis alternates between starting one fault and ending it:
 *   partition  a random split of the nodes into halves (2|3 on five) through the built-in
 *              nemesis (`strata nemesis partition`), ended by `heal`;
 *   kill       SIGKILL of a random node, ended by restarting it;
 *   pause      SIGSTOP of a random node, ended by SIGCONT.
 * The kinds named take turns (in the order given). kill and pause go through the cluster script
 * (scripts/cluster, installed as strata-cluster), which signals a node only by the PID in its pid
 * file after checking the process is that node's stratad; they run as child processes so the
 * workload's clients keep going while a node restarts. Each action is one history line
 * {"process":"nemesis","type":"info","f":"partition","value":"1,4|2,3,5","time":T}; a failed
 * action adds an "error" line. At the end every fault still in force is ended (heal, restart,
 * resume) before the workload returns, and that is recorded too.
 *
 * Memory: one record of the fault in force and at most one child process. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check/check.h"
#include "wl_nemesis.h"

extern char **environ;

enum { NEM_NONE, NEM_PARTITION, NEM_KILL, NEM_PAUSE };
static const char *const nem_names[] = { "none", "partition", "kill", "pause" };

struct wl_nemesis {
	struct cli *c;
	FILE *hist;
	uint64_t t0_ns;
	uint32_t n;
	int kinds[3];
	int nkinds, turn;
	uint64_t interval_ms, next_ms;
	int active;          /* the fault in force, NEM_NONE if none */
	uint32_t victim;     /* kill, pause: the node */
	pid_t child;         /* the cluster script running an action, 0 if none */
	char child_what[96]; /* its action, for messages */
	char script[4200];
	unsigned errors;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void nem_record(struct wl_nemesis *m, const char *f, const char *value)
{
	if (strata_history_append_nemesis(m->hist, f, value, mono_ns() - m->t0_ns) != 0)
		m->errors++;
}

int wl_nemesis_parse(const char *list, int kinds[3], int *nkinds)
{
	char buf[128];
	*nkinds = 0;
	if (!list || strlen(list) >= sizeof buf || !*list)
		return -1;
	strcpy(buf, list);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int k = !strcmp(t, "partition") ? NEM_PARTITION : !strcmp(t, "kill") ? NEM_KILL
		      : !strcmp(t, "pause") ? NEM_PAUSE : NEM_NONE;
		if (k == NEM_NONE)
			return -1;
		for (int i = 0; i < *nkinds; i++)
			if (kinds[i] == k)
				return -1;
		kinds[(*nkinds)++] = k;
	}
	return *nkinds ? 0 : -1;
}

/* The cluster script: $STRATA_CLUSTER, else scripts/cluster next to the build directory this
 * strata runs from, else strata-cluster next to it (installed), else strata-cluster on PATH. */
static void find_script(char *out, size_t n)
{
	const char *env = getenv("STRATA_CLUSTER");
	if (env && *env) {
		snprintf(out, n, "%s", env);
		return;
	}
	char exe[4096];
	ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (l > 0) {
		exe[l] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			char cand[4096 + 64];
			snprintf(cand, sizeof cand, "%s/../scripts/cluster", exe);
			if (access(cand, X_OK) == 0) {
				snprintf(out, n, "%s", cand);
				return;
			}
			snprintf(cand, sizeof cand, "%s/strata-cluster", exe);
			if (access(cand, X_OK) == 0) {
				snprintf(out, n, "%s", cand);
				return;
			}
		}
	}
	snprintf(out, n, "strata-cluster");
}

struct wl_nemesis *wl_nemesis_new(struct cli *c, const int kinds[3], int nkinds,
				  double interval_s, FILE *hist, uint64_t t0_ns)
{
	const struct strata_config *cfg = c->endpoint[0] ? NULL : cli_config(c);
	if (!cfg) {
		if (c->endpoint[0])
			cli_err(c, "workload --nemesis: needs the cluster directory (--dir), not -e");
		return NULL;
	}
	bool procs = false;
	for (int i = 0; i < nkinds; i++) {
		if (kinds[i] == NEM_PARTITION && !cfg->nemesis) {
			cli_err(c, "workload --nemesis partition: the cluster does not enable the "
				   "nemesis (set [cluster] nemesis = on; scripts/cluster start does "
				   "for the clusters it creates)");
			return NULL;
		}
		procs |= kinds[i] != NEM_PARTITION;
	}
	char pids[4096 + 8];
	struct stat st;
	snprintf(pids, sizeof pids, "%s/pids", c->dir);
	if (procs && (stat(pids, &st) != 0 || !S_ISDIR(st.st_mode))) {
		cli_err(c, "workload --nemesis kill/pause: %s is not a cluster run by scripts/cluster "
			   "(no %s)", c->dir, pids);
		return NULL;
	}
	struct wl_nemesis *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->c = c;
	m->hist = hist;
	m->t0_ns = t0_ns;
	m->n = cfg->n;
	memcpy(m->kinds, kinds, sizeof m->kinds);
	m->nkinds = nkinds;
	m->interval_ms = (uint64_t)(interval_s * 1000.0);
	m->next_ms = cli_now_ms() + m->interval_ms;
	find_script(m->script, sizeof m->script);
	return m;
}

/* Runs `SCRIPT --dir DIR VERB ID` as a child (its output to /dev/null, errors to ours). */
static int spawn_script(struct wl_nemesis *m, const char *verb, uint32_t id)
{
	char ids[16];
	snprintf(ids, sizeof ids, "%u", id);
	char *argv[] = { m->script, (char *)"--dir", m->c->dir, (char *)verb, ids, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	int rc = posix_spawnp(&pid, m->script, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		cli_err(m->c, "workload --nemesis: cannot run %s: %s", m->script, strerror(rc));
		return -1;
	}
	m->child = pid;
	snprintf(m->child_what, sizeof m->child_what, "%s %u", verb, id);
	return 0;
}

/* Collects the child if it has ended (wait: block until it has). */
static void reap(struct wl_nemesis *m, bool wait)
{
	if (!m->child)
		return;
	int status;
	pid_t p;
	do
		p = waitpid(m->child, &status, wait ? 0 : WNOHANG);
	while (p < 0 && errno == EINTR);
	if (p == 0)
		return;
	m->child = 0;
	if (p < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char msg[160];
		snprintf(msg, sizeof msg, "%s failed (%s %d)", m->child_what,
			 p < 0 ? "wait" : WIFEXITED(status) ? "exit" : "signal",
			 p < 0 ? errno : WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		cli_err(m->c, "workload --nemesis: %s", msg);
		nem_record(m, "error", msg);
		m->errors++;
	}
}

static void nem_call(struct wl_nemesis *m, int argc, char **argv, const char *f, const char *v)
{
	nem_record(m, f, v);
	if (cli_nemesis(m->c, argc, argv, true) != CLI_EXIT_OK) {
		char msg[160];
		snprintf(msg, sizeof msg, "nemesis %s failed on some node", argv[1]);
		nem_record(m, "error", msg);
		m->errors++;
	}
}

static void start_fault(struct wl_nemesis *m)
{
	int k = m->kinds[m->turn++ % m->nkinds];
	char what[64];
	if (k == NEM_PARTITION) {
		uint32_t ids[STRATA_MAX_NODES];
		for (uint32_t i = 0; i < m->n; i++)
			ids[i] = i + 1;
		for (uint32_t i = m->n - 1; i > 0; i--) {
			uint32_t j = (uint32_t)(random() % (long)(i + 1)), t = ids[i];
			ids[i] = ids[j];
			ids[j] = t;
		}
		uint32_t half = m->n / 2;
		/* each group in increasing order, for a readable history */
		char ga[512] = "", gb[512] = "";
		for (uint32_t id = 1; id <= m->n; id++) {
			bool in_a = false;
			for (uint32_t i = 0; i < half; i++)
				in_a |= ids[i] == id;
			char *g = in_a ? ga : gb;
			size_t l = strlen(g);
			snprintf(g + l, sizeof ga - l, "%s%u", l ? "," : "", id);
		}
		char v[1100];
		snprintf(v, sizeof v, "%s|%s", ga, gb);
		char *argv[] = { (char *)"nemesis", (char *)"partition", ga, gb, NULL };
		nem_call(m, 4, argv, "partition", v);
		m->active = NEM_PARTITION;
		return;
	}
	m->victim = (uint32_t)(random() % (long)m->n) + 1;
	snprintf(what, sizeof what, "node %u", m->victim);
	nem_record(m, nem_names[k], what);
	if (spawn_script(m, k == NEM_KILL ? "kill" : "pause", m->victim) == 0)
		m->active = k;
	else
		m->errors++;
}

static void end_fault(struct wl_nemesis *m)
{
	char what[64];
	snprintf(what, sizeof what, "node %u", m->victim);
	switch (m->active) {
	case NEM_PARTITION: {
		char *argv[] = { (char *)"nemesis", (char *)"heal", NULL };
		nem_call(m, 2, argv, "heal", NULL);
		break;
	}
	case NEM_KILL:
		nem_record(m, "restart", what);
		if (spawn_script(m, "restart", m->victim) != 0)
			m->errors++;
		break;
	case NEM_PAUSE:
		nem_record(m, "resume", what);
		if (spawn_script(m, "resume", m->victim) != 0)
			m->errors++;
		break;
	default:
		break;
	}
	m->active = NEM_NONE;
}

void wl_nemesis_step(struct wl_nemesis *m)
{
	reap(m, false);
	uint64_t now = cli_now_ms();
	if (m->child || now < m->next_ms)
		return; /* an action still runs (a restart waits for the node): keep the rhythm after */
	if (m->active == NEM_NONE)
		start_fault(m);
	else
		end_fault(m);
	m->next_ms = now + m->interval_ms;
}

uint64_t wl_nemesis_next_ms(const struct wl_nemesis *m)
{
	return m->child ? cli_now_ms() + 50 : m->next_ms;
}

void wl_nemesis_finish(struct wl_nemesis *m, unsigned *actions_failed)
{
	reap(m, true);
	if (m->active != NEM_NONE) {
		end_fault(m);
		reap(m, true);
	}
	*actions_failed = m->errors;
	free(m);
}
