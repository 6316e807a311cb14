/* The shared watcher of the streaming commands (cli_watch, cli_watch_module; declared in cli.h):
 * `consensus watch`, `job watch`, `bcast listen`, `nbac watch`, `trb listen`, `vs listen`,
 * `members --watch`; and the command line of the send-and-listen commands (trb, vs).
 *
 * Subscribes to one node's (or every node's) deliveries and polls the streams, handing each
 * event to the command's callback (except replays: what a recovered node announces again of
 * what it had logged before its crash, Event.replay, is not a new delivery), until --count events counted, --duration passed,
 * SIGINT/SIGTERM, a node refused, or every stream closed. Memory: one reader per node
 * (STRATA_MAX_NODES at most), each event freed once the callback returned. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/stack.h"

/* Set by SIGINT/SIGTERM: the one process-wide state a signal handler can reach. */
static volatile sig_atomic_t watch_stop;

static void on_sigint(int sig)
{
	(void)sig;
	watch_stop = 1;
}

/* module NULL: the deliveries of every module. */
static int subscribe(struct cli *c, int fd, const char *module, char *err, size_t errlen)
{
	Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
	Strata__Client__SubscribeRequest sr = STRATA__CLIENT__SUBSCRIBE_REQUEST__INIT;
	char *mods[1] = { (char *)(uintptr_t)module };
	sr.deliveries = true;
	if (module) {
		sr.modules = mods;
		sr.n_modules = 1;
	}
	req.id = cli_next_id(c);
	req.body_case = STRATA__CLIENT__REQUEST__BODY_SUBSCRIBE;
	req.subscribe = &sr;
	return cli_send(fd, &req, cli_now_ms() + (uint64_t)c->timeout_ms, err, errlen);
}

int cli_watch(struct cli *c, const struct cli_watch *w)
{
	struct cli_endpoint eps[STRATA_MAX_NODES];
	int n = cli_endpoints(c, w->all, eps, STRATA_MAX_NODES);
	if (n < 0)
		return CLI_EXIT_USAGE;
	int fds[STRATA_MAX_NODES];
	struct cli_reader rd[STRATA_MAX_NODES];
	uint32_t ids[STRATA_MAX_NODES];
	int open_n = 0;
	for (int i = 0; i < n && (w->all || open_n == 0); i++) {
		char err[256];
		int fd = cli_connect(&eps[i], cli_now_ms() + (uint64_t)c->timeout_ms, err, sizeof err);
		if (fd >= 0 && subscribe(c, fd, w->module, err, sizeof err) != 0) {
			close(fd);
			fd = -1;
		}
		if (fd < 0) {
			char who[128];
			cli_describe(&eps[i], who, sizeof who);
			cli_err(c, "%s: %s: %s", w->what, who, err);
			continue;
		}
		fds[open_n] = fd;
		ids[open_n] = eps[i].id;
		cli_reader_init(&rd[open_n]);
		open_n++;
	}
	if (open_n == 0) {
		cli_err(c, "%s: no node answered", w->what);
		return CLI_EXIT_UNKNOWN;
	}
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	uint64_t count = w->count, seen = 0;
	uint64_t end = w->duration ? cli_now_ms() + (uint64_t)w->duration * 1000 : 0;
	int rc = CLI_EXIT_OK, alive = open_n;
	struct pollfd pfd[STRATA_MAX_NODES];
	while (!watch_stop && alive > 0 && (!count || seen < count)) {
		int timeout = 200;
		if (end) {
			uint64_t now = cli_now_ms();
			if (now >= end)
				break;
			if (end - now < 200)
				timeout = (int)(end - now);
		}
		for (int i = 0; i < open_n; i++)
			pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		if (poll(pfd, (nfds_t)open_n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < open_n; i++) {
			if (fds[i] < 0 || !pfd[i].revents)
				continue;
			for (;;) {
				Strata__Client__Response *r = NULL;
				char err[256];
				int s = cli_reader_step(&rd[i], fds[i], &r, err, sizeof err);
				if (s == 0)
					break;
				if (s < 0) {
					/* A killed node closes its stream: the others go on. */
					cli_err(c, "%s: node %u: %s", w->what, ids[i], err);
					close(fds[i]);
					fds[i] = -1;
					alive--;
					if (w->lost_unknown)
						rc = CLI_EXIT_UNKNOWN;
					break;
				}
				if (r->status != 0) {
					cli_err(c, "%s: node %u refused: %s", w->what, ids[i],
						r->error ? r->error : "");
					rc = CLI_EXIT_FAIL;
					watch_stop = 1;
				} else if (r->body_case == STRATA__CLIENT__RESPONSE__BODY_EVENT &&
					   !r->event->replay &&
					   (!w->module || (r->event->module &&
							   !strcmp(r->event->module, w->module))) &&
					   (!count || seen < count) &&
					   w->fn(c, r->event->node ? r->event->node : ids[i], r->event,
						 w->arg)) {
					fflush(stdout);
					seen++;
				}
				strata__client__response__free_unpacked(r, NULL);
			}
		}
	}
	for (int i = 0; i < open_n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		cli_reader_free(&rd[i]);
	}
	if (count && seen < count && rc == CLI_EXIT_OK && !watch_stop)
		rc = CLI_EXIT_UNKNOWN;
	return rc;
}

int cli_watch_module(struct cli *c, const char *cmd, const char *module, bool all,
		     uint64_t count, uint32_t duration, cli_watch_fn fn, void *arg)
{
	struct cli_watch w = { .what = cmd, .module = module, .all = all, .count = count,
			       .duration = duration, .fn = fn, .arg = arg };
	return cli_watch(c, &w);
}

int cli_send_listen_args(struct cli *c, const char *cmd, const char *help, int argc,
			 char **argv, struct cli_send_listen *a)
{
	if (argc < 2 || cli_is_help(argv[1])) {
		fputs(help, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	bool send = !strcmp(argv[1], "send");
	a->listen = !strcmp(argv[1], "listen");
	if (!send && !a->listen)
		return cli_usage_err(c, cmd, "%s: unknown subcommand '%s'", cmd, argv[1]);
	bool after_dd = false;
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i];
		if (after_dd || !cli_is_option(o)) {
			if (send && !a->msg) {
				a->msg = o;
				continue;
			}
			return cli_usage_err(c, cmd, "%s: unexpected argument '%s'", cmd, o);
		}
		int rc = a->opt ? a->opt(c, argc, argv, &i, a->arg) : CLI_OPT_NOT_MINE;
		if (rc != CLI_OPT_NOT_MINE) {
			if (rc != CLI_EXIT_OK)
				return rc;
		} else if (send && !strcmp(o, "--")) {
			after_dd = true;
		} else if (cli_is_help(o)) {
			fputs(help, stdout);
			return CLI_EXIT_OK;
		} else if (a->listen && !strcmp(o, "--all")) {
			a->all = true;
		} else if (a->listen && !strcmp(o, "--count") && i + 1 < argc) {
			if (!cli_parse_u32(argv[++i], 1, 100000000, &a->count))
				return cli_usage_err(c, cmd, "%s: bad --count", cmd);
		} else if (a->listen && !strcmp(o, "--duration") && i + 1 < argc) {
			if (!cli_parse_u32(argv[++i], 1, 86400 * 365, &a->duration))
				return cli_usage_err(c, cmd, "%s: bad --duration", cmd);
		} else {
			return cli_usage_err(c, cmd, "%s: unknown option '%s'", cmd, o);
		}
	}
	if (send && !a->msg)
		return cli_usage_err(c, cmd, "%s send: needs MESSAGE", cmd);
	return CLI_OPT_NOT_MINE;
}

int cli_send_once(struct cli *c, const char *module, const char *what, const char *msg,
		  Strata__Client__Response **resp_out, const Strata__Client__OpReply **reply)
{
	struct cli_op_args op = { .module = module, .what = what, .op = CLI_OP_BROADCAST,
				  .value = msg, .value_len = strlen(msg), .no_retry = true };
	return cli_op(c, &op, resp_out, reply);
}
