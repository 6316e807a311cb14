/* `strata watch`: a live view of the failure detectors and leaders of every node.
 *
 * One subscription connection per node streams its failure-detector and leader events
 * (SubscribeRequest{fd = true}); a status poll per node every second fills in the full matrix,
 * notices nodes that stop answering (a paused node keeps its TCP connection open but answers
 * nothing) and catches any change an event did not report. Everything is non-blocking and
 * multiplexed with one poll(), so a stopped node cannot freeze the view.
 *
 * On a terminal the screen is redrawn (ANSI clear + home) on every change and every second; into
 * a pipe or file, one line per event is printed instead (-w json: one JSON object per line).
 * --once polls every node once, draws the matrix once and exits. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <stdarg.h>
#include <sys/ioctl.h>

#include "cli.h"

#define WATCH_EVENTS 15
#define WATCH_POLL_MS 1000
#define WATCH_RETRY_MS 1000
#define WATCH_LINE 200

static const char watch_help[] =
	"usage: strata watch [--once] [GLOBAL FLAGS]\n"
	"\n"
	"Connects to every node and shows, live, a matrix of who suspects whom (rows: the\n"
	"observing node, columns: the observed node; '·' alive, '?' suspected, 'X' crashed,\n"
	"'-' the observer is unreachable, ' ' unknown), each node's leader and incarnation, and\n"
	"the last %d failure-detector events with wall-clock times. Nodes that come back are\n"
	"reconnected. On a terminal the screen is redrawn on each event; otherwise one line is\n"
	"printed per event (-w json: one JSON object per line). Ctrl-C exits.\n"
	"\n"
	"  --once   poll every node once, print the matrix and exit (exit 3 if no node answered)\n";

/* Set by SIGINT/SIGTERM; the only state shared with a signal handler. */
static volatile sig_atomic_t watch_stop;

static void on_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

enum conn_state { CONN_DOWN, CONN_CONNECTING, CONN_OPEN };

struct wnode {
	struct cli_endpoint ep;
	/* subscription */
	int sub_fd;
	enum conn_state sub_state;
	struct cli_reader sub_rd;
	uint64_t sub_retry_ms;
	/* status poll */
	int poll_fd;
	enum conn_state poll_state;
	struct cli_reader poll_rd;
	uint64_t poll_id, poll_deadline_ms, poll_next_ms;
	bool polled; /* at least one poll finished (answered or failed) */
	/* what the node told us */
	bool known, reachable;
	char why[128];
	uint64_t incarnation;
	uint32_t leader;
	bool leader_known;
	char cell[STRATA_MAX_NODES + 1]; /* per observed peer: 0 unknown, 'a', 's', 'c' */
	uint64_t peer_inc[STRATA_MAX_NODES + 1]; /* per observed peer: incarnation, 0 unknown */
};

struct watch {
	struct cli *c;
	uint32_t n;
	bool tty, once;
	char cluster[64], model[32];
	struct wnode node[STRATA_MAX_NODES + 1];
	char events[WATCH_EVENTS][WATCH_LINE];
	size_t nev, head;
	bool dirty;
};

static uint64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

static void fmt_time(uint64_t ms, char *buf, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	localtime_r(&t, &tm);
	snprintf(buf, n, "%02d:%02d:%02d.%03u", tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(ms % 1000));
}

static char state_cell(const char *state)
{
	if (strcmp(state, "alive") == 0)
		return 'a';
	if (strcmp(state, "suspected") == 0)
		return 's';
	if (strcmp(state, "crashed") == 0)
		return 'c';
	return 0;
}

static const char *cell_name(char cell)
{
	return cell == 'a' ? "alive" : cell == 's' ? "suspected" : cell == 'c' ? "crashed" : "unknown";
}

/* Records an event: into the scrolling list, and printed at once when not on a terminal.
 * source: "event" (streamed by the node), "poll" (a change seen by a status poll) or "client"
 * (what this client observed: unreachable, reachable again). */
static void add_event(struct watch *w, uint64_t when_ms, uint32_t node, const char *kind,
		      uint32_t peer, const char *state, const char *source, const char *text)
{
	char tbuf[32], line[WATCH_LINE];
	fmt_time(when_ms, tbuf, sizeof tbuf);
	snprintf(line, sizeof line, "%s  node %u: %s%s", tbuf, node, text,
		 strcmp(source, "poll") == 0 ? "  (seen by poll)" : "");
	size_t slot = (w->head + w->nev) % WATCH_EVENTS;
	if (w->nev == WATCH_EVENTS)
		w->head = (w->head + 1) % WATCH_EVENTS;
	else
		w->nev++;
	snprintf(w->events[slot], WATCH_LINE, "%s", line);
	w->dirty = true;
	if (w->tty || w->once)
		return;
	if (w->c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "wall_ms");
		cli_json_uint(&j, when_ms);
		cli_json_key(&j, "node");
		cli_json_uint(&j, node);
		cli_json_key(&j, "kind");
		cli_json_string(&j, kind);
		cli_json_key(&j, "peer");
		cli_json_uint(&j, peer);
		cli_json_key(&j, "state");
		cli_json_string(&j, state);
		cli_json_key(&j, "source");
		cli_json_string(&j, source);
		cli_json_key(&j, "text");
		cli_json_string(&j, text);
		cli_json_end_object(&j);
	} else {
		printf("%s\n", line);
	}
	fflush(stdout);
}

static void set_unreachable(struct watch *w, struct wnode *nd, const char *why)
{
	snprintf(nd->why, sizeof nd->why, "%s", why);
	if (nd->reachable || !nd->polled) {
		char text[WATCH_LINE];
		snprintf(text, sizeof text, "unreachable (%s)", why);
		if (nd->reachable || !w->tty)
			add_event(w, wall_ms(), nd->ep.id, "client", 0, "unreachable", "client", text);
	}
	nd->reachable = false;
	nd->polled = true;
	w->dirty = true;
}

static void set_reachable(struct watch *w, struct wnode *nd)
{
	if (!nd->reachable && nd->polled)
		add_event(w, wall_ms(), nd->ep.id, "client", 0, "reachable", "client",
			  "reachable again");
	nd->reachable = true;
	nd->polled = true;
	nd->why[0] = '\0';
}

/* ---- events streamed by a node ---- */

/* Notes the incarnation observer nd reports for peer p; a new one means p restarted. */
static void note_incarnation(struct watch *w, struct wnode *nd, uint32_t p, uint64_t inc,
			     uint64_t when, const char *source)
{
	if (inc == 0 || p == nd->ep.id)
		return;
	uint64_t before = nd->peer_inc[p];
	nd->peer_inc[p] = inc;
	if (before == 0 || before == inc)
		return;
	char text[WATCH_LINE];
	snprintf(text, sizeof text, "peer %u restarted (incarnation %" PRIu64 ")", p, inc);
	add_event(w, when, nd->ep.id, "restart", p, "", source, text);
}

static void handle_event(struct watch *w, struct wnode *nd, const Strata__Client__Event *e)
{
	uint32_t from = e->node ? e->node : nd->ep.id;
	uint64_t when = e->wall_ms ? e->wall_ms : wall_ms();
	char text[WATCH_LINE];
	if (strcmp(e->kind, "fd") == 0) {
		char cell = state_cell(e->state);
		if (e->peer < 1 || e->peer > w->n)
			return;
		/* A subscription starts with a snapshot of the node's view: a state we did not
		 * know before, or already knew, is not a change worth listing. */
		char before = nd->cell[e->peer];
		nd->cell[e->peer] = cell;
		w->dirty = true;
		note_incarnation(w, nd, e->peer, e->incarnation, when, "event");
		if (before == 0 || before == cell)
			return;
		if (e->incarnation)
			snprintf(text, sizeof text, "peer %u %s (incarnation %" PRIu64 ")", e->peer,
				 e->state, e->incarnation);
		else
			snprintf(text, sizeof text, "peer %u %s", e->peer, e->state);
		add_event(w, when, from, "fd", e->peer, e->state, "event", text);
	} else if (strcmp(e->kind, "leader") == 0) {
		bool changed = nd->leader_known && nd->leader != e->peer;
		nd->leader = e->peer;
		nd->leader_known = true;
		w->dirty = true;
		if (!changed)
			return;
		snprintf(text, sizeof text, "leader is now %u", e->peer);
		add_event(w, when, from, "leader", e->peer, "", "event", text);
	} else {
		snprintf(text, sizeof text, "%s %s", e->kind, e->text ? e->text : "");
		add_event(w, when, from, e->kind, e->peer, e->state ? e->state : "", "event", text);
	}
}

/* ---- a status answer ---- */

static void handle_status(struct watch *w, struct wnode *nd, const Strata__Client__Status *s)
{
	bool had = nd->known;
	char text[WATCH_LINE];
	uint64_t now = wall_ms();
	set_reachable(w, nd);
	if (s->cluster && s->cluster[0])
		snprintf(w->cluster, sizeof w->cluster, "%s", s->cluster);
	if (s->model && s->model[0])
		snprintf(w->model, sizeof w->model, "%s", s->model);
	if (had && s->incarnation != nd->incarnation) {
		snprintf(text, sizeof text, "restarted (incarnation %" PRIu64 ")", s->incarnation);
		add_event(w, now, nd->ep.id, "restart", nd->ep.id, "", "poll", text);
	}
	nd->incarnation = s->incarnation;
	if (nd->leader_known && s->leader != nd->leader) {
		snprintf(text, sizeof text, "leader is now %u", s->leader);
		add_event(w, now, nd->ep.id, "leader", s->leader, "", "poll", text);
	}
	nd->leader = s->leader;
	nd->leader_known = true;
	for (size_t i = 0; i < s->n_peers; i++) {
		uint32_t p = s->peers[i]->id;
		if (p < 1 || p > w->n)
			continue;
		char cell = state_cell(s->peers[i]->state);
		note_incarnation(w, nd, p, s->peers[i]->incarnation, now, "poll");
		if (nd->cell[p] && cell != nd->cell[p] && p != nd->ep.id) {
			snprintf(text, sizeof text, "peer %u %s", p, s->peers[i]->state);
			add_event(w, now, nd->ep.id, "fd", p, s->peers[i]->state, "poll", text);
		}
		nd->cell[p] = cell;
	}
	nd->known = true;
	w->dirty = true;
}

/* ---- connections ---- */

static void close_sub(struct watch *w, struct wnode *nd, const char *why)
{
	if (nd->sub_fd >= 0)
		close(nd->sub_fd);
	nd->sub_fd = -1;
	cli_reader_free(&nd->sub_rd);
	bool was_open = nd->sub_state == CONN_OPEN;
	nd->sub_state = CONN_DOWN;
	nd->sub_retry_ms = cli_now_ms() + WATCH_RETRY_MS;
	/* A closed stream usually means the process died: say so now, the poll will confirm. */
	if (was_open && why)
		set_unreachable(w, nd, why);
}

static void close_poll(struct wnode *nd)
{
	if (nd->poll_fd >= 0)
		close(nd->poll_fd);
	nd->poll_fd = -1;
	cli_reader_free(&nd->poll_rd);
	nd->poll_state = CONN_DOWN;
	nd->poll_next_ms = cli_now_ms() + WATCH_POLL_MS;
}

static void start_sub(struct watch *w, struct wnode *nd)
{
	char err[128];
	int rc = cli_connect_start(&nd->ep, &nd->sub_fd, err, sizeof err);
	if (rc < 0) {
		nd->sub_retry_ms = cli_now_ms() + WATCH_RETRY_MS;
		return;
	}
	nd->sub_state = CONN_CONNECTING;
}

/* The connection is up: send the subscription. */
static void sub_connected(struct watch *w, struct wnode *nd)
{
	char err[128];
	if (cli_connect_finish(nd->sub_fd, err, sizeof err) != 0) {
		close_sub(w, nd, NULL);
		return;
	}
	Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
	Strata__Client__SubscribeRequest sr = STRATA__CLIENT__SUBSCRIBE_REQUEST__INIT;
	sr.fd = true;
	req.id = cli_next_id(w->c);
	req.body_case = STRATA__CLIENT__REQUEST__BODY_SUBSCRIBE;
	req.subscribe = &sr;
	if (cli_send(nd->sub_fd, &req, cli_now_ms() + (uint64_t)w->c->timeout_ms, err,
		     sizeof err) != 0) {
		close_sub(w, nd, NULL);
		return;
	}
	nd->sub_state = CONN_OPEN;
	cli_reader_init(&nd->sub_rd);
}

static void sub_readable(struct watch *w, struct wnode *nd)
{
	char err[128];
	for (;;) {
		Strata__Client__Response *r = NULL;
		int rc = cli_reader_step(&nd->sub_rd, nd->sub_fd, &r, err, sizeof err);
		if (rc == 0)
			return;
		if (rc < 0) {
			close_sub(w, nd, err);
			return;
		}
		if (r->status != 0) {
			/* The node refused the subscription: keep polling, retry later. */
			char text[WATCH_LINE];
			snprintf(text, sizeof text, "subscription refused: %s", r->error);
			add_event(w, wall_ms(), nd->ep.id, "client", 0, "", "client", text);
			strata__client__response__free_unpacked(r, NULL);
			close_sub(w, nd, NULL);
			nd->sub_retry_ms = cli_now_ms() + 10 * WATCH_RETRY_MS;
			return;
		}
		if (r->body_case == STRATA__CLIENT__RESPONSE__BODY_EVENT && r->event)
			handle_event(w, nd, r->event);
		strata__client__response__free_unpacked(r, NULL);
	}
}

static void start_poll(struct watch *w, struct wnode *nd)
{
	char err[128];
	nd->poll_deadline_ms = cli_now_ms() + (uint64_t)w->c->timeout_ms;
	int rc = cli_connect_start(&nd->ep, &nd->poll_fd, err, sizeof err);
	if (rc < 0) {
		set_unreachable(w, nd, err);
		close_poll(nd);
		return;
	}
	nd->poll_state = CONN_CONNECTING;
}

static void poll_connected(struct watch *w, struct wnode *nd)
{
	char err[128];
	if (cli_connect_finish(nd->poll_fd, err, sizeof err) != 0) {
		set_unreachable(w, nd, err);
		close_poll(nd);
		return;
	}
	Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
	Strata__Client__StatusRequest sr = STRATA__CLIENT__STATUS_REQUEST__INIT;
	req.id = nd->poll_id = cli_next_id(w->c);
	req.body_case = STRATA__CLIENT__REQUEST__BODY_STATUS;
	req.status = &sr;
	if (cli_send(nd->poll_fd, &req, nd->poll_deadline_ms, err, sizeof err) != 0) {
		set_unreachable(w, nd, err);
		close_poll(nd);
		return;
	}
	nd->poll_state = CONN_OPEN;
	cli_reader_init(&nd->poll_rd);
}

static void poll_readable(struct watch *w, struct wnode *nd)
{
	char err[128];
	for (;;) {
		Strata__Client__Response *r = NULL;
		int rc = cli_reader_step(&nd->poll_rd, nd->poll_fd, &r, err, sizeof err);
		if (rc == 0)
			return;
		if (rc < 0) {
			set_unreachable(w, nd, err);
			close_poll(nd);
			return;
		}
		if (r->id != nd->poll_id) {
			strata__client__response__free_unpacked(r, NULL);
			continue;
		}
		if (r->status == 0 && r->body_case == STRATA__CLIENT__RESPONSE__BODY_STATUS_REPLY)
			handle_status(w, nd, r->status_reply);
		else
			set_unreachable(w, nd, r->status ? r->error : "answer without a status");
		strata__client__response__free_unpacked(r, NULL);
		close_poll(nd);
		return;
	}
}

/* ---- drawing ---- */

/* The terminal's size; 80x24 when it cannot be asked (not a terminal, or no size set). */
static void term_size(unsigned *rows, unsigned *cols)
{
	struct winsize ws;
	*rows = 24;
	*cols = 80;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

/* Writes one line cut to cols terminal columns (UTF-8 continuation bytes take no column). */
static void put_line(FILE *out, unsigned cols, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void put_line(FILE *out, unsigned cols, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	size_t i = 0;
	unsigned used = 0;
	for (; buf[i]; i++) {
		bool cont = ((unsigned char)buf[i] & 0xC0) == 0x80;
		if (!cont && used == cols)
			break;
		used += !cont;
	}
	fwrite(buf, 1, i, out);
	fputc('\n', out);
}

/* Draws one frame. On a terminal it fits the window: the matrix columns narrow (3 columns per
 * node, then 1) and, past what still fits, the remaining nodes are left out with a note; every
 * line is cut to the width; the events area gets the rows that are left (newest events). */
static void draw(struct watch *w, FILE *out)
{
	char tbuf[32];
	fmt_time(wall_ms(), tbuf, sizeof tbuf);
	tbuf[8] = '\0'; /* seconds are enough here */
	unsigned rows = 1000, cols = sizeof(((struct watch *)0)->events[0]) * 4;
	if (w->tty && !w->once)
		term_size(&rows, &cols);
	if (w->tty && !w->once)
		fputs("\033[H\033[2J", out);
	/* Matrix geometry: "node NNN |" (10) + cells + "  | leader  incarnation" (~22). */
	unsigned cw = 3, shown = w->n;
	if (10 + 3 * w->n + 24 > cols) {
		cw = 1;
		if (10 + w->n + 24 > cols)
			shown = cols > 10 + 24 + 1 ? cols - 10 - 24 - 1 : 1;
	}
	if (shown > w->n)
		shown = w->n;
	unsigned used = 0;
	put_line(out, cols, "strata watch  cluster %s  model %s  %u nodes  %s%s",
		 w->cluster[0] ? w->cluster : "?", w->model[0] ? w->model : "?", w->n, tbuf,
		 w->once ? "" : "  (Ctrl-C to quit)");
	put_line(out, cols, "%s", "");
	used += 2;
	char line[1024];
	size_t ll = (size_t)snprintf(line, sizeof line, "observer |");
	for (uint32_t p = 1; p <= shown; p++)
		ll += (size_t)snprintf(line + ll, sizeof line - ll, cw == 3 ? "%3u" : "%u",
				       cw == 3 ? p : p % 10);
	snprintf(line + ll, sizeof line - ll, "%s  | leader  incarnation",
		 shown < w->n ? "+" : "");
	put_line(out, cols, "%s", line);
	ll = (size_t)snprintf(line, sizeof line, "---------+");
	for (uint32_t p = 1; p <= shown && ll + cw < sizeof line; p++)
		ll += (size_t)snprintf(line + ll, sizeof line - ll, "%s", cw == 3 ? "---" : "-");
	snprintf(line + ll, sizeof line - ll, "%s--+--------------------", shown < w->n ? "-" : "");
	put_line(out, cols, "%s", line);
	used += 2;
	for (uint32_t o = 1; o <= w->n; o++) {
		const struct wnode *nd = &w->node[o];
		ll = (size_t)snprintf(line, sizeof line, "node %-3u |", o);
		for (uint32_t p = 1; p <= shown; p++) {
			const char *sym = " ";
			if (nd->polled && !nd->reachable)
				sym = "-";
			else if (p == o && nd->known)
				sym = "·";
			else if (nd->cell[p] == 'a')
				sym = "·";
			else if (nd->cell[p] == 's')
				sym = "?";
			else if (nd->cell[p] == 'c')
				sym = "X";
			ll += (size_t)snprintf(line + ll, sizeof line - ll, "%s%s", cw == 3 ? "  " : "",
					       sym);
		}
		ll += (size_t)snprintf(line + ll, sizeof line - ll, "%s  | ", shown < w->n ? " " : "");
		if (nd->polled && !nd->reachable)
			snprintf(line + ll, sizeof line - ll, "unreachable: %s", nd->why);
		else if (!nd->known)
			snprintf(line + ll, sizeof line - ll, "...");
		else if (nd->leader)
			snprintf(line + ll, sizeof line - ll, "%-7u %" PRIu64, nd->leader,
				 nd->incarnation);
		else
			snprintf(line + ll, sizeof line - ll, "%-7s %" PRIu64, "none", nd->incarnation);
		put_line(out, cols, "%s", line);
		used++;
	}
	put_line(out, cols, "%s", "");
	if (shown < w->n)
		put_line(out, cols, "· alive ? suspected X crashed - unreachable; nodes %u..%u: "
				    "widen the terminal or use -w json",
			 shown + 1, w->n);
	else
		put_line(out, cols, "%s", "· alive   ? suspected   X crashed   - unreachable");
	used += 2;
	if (!w->once) {
		/* "last events:" + the events, in what is left (one row spare for the cursor). */
		unsigned left = rows > used + 3 ? rows - used - 3 : 0;
		if (left > 0) {
			put_line(out, cols, "%s", "");
			put_line(out, cols, "%s", "last events:");
			if (w->nev == 0)
				put_line(out, cols, "%s", "  (none yet)");
			size_t k = w->nev < left ? w->nev : left;
			for (size_t i = w->nev - k; i < w->nev; i++)
				put_line(out, cols, "  %s", w->events[(w->head + i) % WATCH_EVENTS]);
		}
	}
	fflush(out);
	w->dirty = false;
}

static void draw_json_once(struct watch *w)
{
	struct cli_json j;
	cli_json_init(&j, stdout);
	cli_json_begin_array(&j);
	for (uint32_t o = 1; o <= w->n; o++) {
		const struct wnode *nd = &w->node[o];
		if (!nd->reachable) {
			cli_status_json_unreachable(&j, o, nd->why);
			continue;
		}
		cli_json_begin_object(&j);
		cli_json_key(&j, "node");
		cli_json_uint(&j, o);
		cli_json_key(&j, "reachable");
		cli_json_bool(&j, true);
		cli_json_key(&j, "incarnation");
		cli_json_uint(&j, nd->incarnation);
		cli_json_key(&j, "leader");
		cli_json_uint(&j, nd->leader);
		cli_json_key(&j, "peers");
		cli_json_begin_array(&j);
		for (uint32_t p = 1; p <= w->n; p++) {
			if (!nd->cell[p])
				continue;
			cli_json_begin_object(&j);
			cli_json_key(&j, "id");
			cli_json_uint(&j, p);
			cli_json_key(&j, "state");
			cli_json_string(&j, cell_name(nd->cell[p]));
			cli_json_end_object(&j);
		}
		cli_json_end_array(&j);
		cli_json_end_object(&j);
	}
	cli_json_end_array(&j);
}

/* ---- the loop ---- */

static bool all_polled(const struct watch *w)
{
	for (uint32_t o = 1; o <= w->n; o++)
		if (!w->node[o].polled)
			return false;
	return true;
}

static int watch_loop(struct watch *w)
{
	uint64_t last_draw = 0;
	struct pollfd pfd[2 * STRATA_MAX_NODES];
	struct wnode *owner[2 * STRATA_MAX_NODES];
	bool is_sub[2 * STRATA_MAX_NODES];
	while (!watch_stop) {
		uint64_t now = cli_now_ms();
		uint64_t wake = now + 250;
		size_t np = 0;
		for (uint32_t o = 1; o <= w->n; o++) {
			struct wnode *nd = &w->node[o];
			if (!w->once && nd->sub_state == CONN_DOWN && now >= nd->sub_retry_ms)
				start_sub(w, nd);
			if (nd->poll_state == CONN_DOWN && now >= nd->poll_next_ms &&
			    !(w->once && nd->polled))
				start_poll(w, nd);
			if (nd->poll_state != CONN_DOWN && now >= nd->poll_deadline_ms) {
				set_unreachable(w, nd, "no answer in time");
				close_poll(nd);
			}
			if (nd->sub_state != CONN_DOWN) {
				pfd[np] = (struct pollfd){ .fd = nd->sub_fd,
							   .events = nd->sub_state == CONN_OPEN
									     ? POLLIN
									     : POLLOUT };
				owner[np] = nd;
				is_sub[np++] = true;
			}
			if (nd->poll_state != CONN_DOWN) {
				pfd[np] = (struct pollfd){ .fd = nd->poll_fd,
							   .events = nd->poll_state == CONN_OPEN
									     ? POLLIN
									     : POLLOUT };
				owner[np] = nd;
				is_sub[np++] = false;
				if (nd->poll_deadline_ms < wake)
					wake = nd->poll_deadline_ms;
			}
		}
		if (w->once && all_polled(w))
			break;
		int timeout = wake > now ? (int)(wake - now) : 0;
		int pr = poll(pfd, (nfds_t)np, timeout);
		if (pr < 0 && errno != EINTR) {
			cli_err(w->c, "watch: poll: %s", strerror(errno));
			return CLI_EXIT_FAIL;
		}
		for (size_t i = 0; pr > 0 && i < np; i++) {
			struct wnode *nd = owner[i];
			short re = pfd[i].revents;
			if (!re)
				continue;
			if (is_sub[i]) {
				if (nd->sub_state == CONN_CONNECTING)
					sub_connected(w, nd);
				else if (nd->sub_state == CONN_OPEN)
					sub_readable(w, nd);
			} else {
				if (nd->poll_state == CONN_CONNECTING)
					poll_connected(w, nd);
				else if (nd->poll_state == CONN_OPEN)
					poll_readable(w, nd);
			}
		}
		now = cli_now_ms();
		if (w->tty && !w->once && (w->dirty || now - last_draw >= 1000)) {
			draw(w, stdout);
			last_draw = now;
		}
	}
	return CLI_EXIT_OK;
}

int cmd_watch(struct cli *c, int argc, char **argv)
{
	bool once = false;
	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			printf(watch_help, WATCH_EVENTS);
			return CLI_EXIT_OK;
		}
		if (strcmp(argv[i], "--once") == 0)
			once = true;
		else if (strcmp(argv[i], "--") != 0)
			return cli_usage_err(c, "watch", "watch: unexpected argument '%s'", argv[i]);
	}
	struct watch *w = calloc(1, sizeof *w);
	if (!w) {
		cli_err(c, "out of memory");
		return CLI_EXIT_FAIL;
	}
	w->c = c;
	w->once = once;
	w->tty = isatty(STDOUT_FILENO) && !c->json;
	struct cli_endpoint eps[STRATA_MAX_NODES];
	int n = cli_endpoints(c, true, eps, STRATA_MAX_NODES);
	if (n < 0) {
		free(w);
		return CLI_EXIT_USAGE;
	}
	w->n = (uint32_t)n;
	for (uint32_t o = 1; o <= w->n; o++) {
		struct wnode *nd = &w->node[o];
		nd->ep = eps[o - 1];
		if (nd->ep.id == 0)
			nd->ep.id = o; /* -e: the one endpoint is shown as node 1 until it answers */
		nd->sub_fd = nd->poll_fd = -1;
		cli_reader_init(&nd->sub_rd);
		cli_reader_init(&nd->poll_rd);
	}
	if (c->cfg)
		snprintf(w->cluster, sizeof w->cluster, "%s", c->cfg->cluster_id);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!once && !w->tty && !c->json)
		printf("watching %u node(s); one line per event (Ctrl-C to stop)\n", w->n);
	fflush(stdout);
	int rc = watch_loop(w);
	bool any = false;
	for (uint32_t o = 1; o <= w->n; o++) {
		any = any || w->node[o].reachable;
		close_sub(w, &w->node[o], NULL);
		close_poll(&w->node[o]);
	}
	if (once && rc == CLI_EXIT_OK) {
		if (c->json)
			draw_json_once(w);
		else
			draw(w, stdout);
		if (!any) {
			cli_err(c, "watch: no node answered");
			rc = CLI_EXIT_UNKNOWN;
		}
	} else if (w->tty) {
		printf("\n");
	}
	free(w);
	return rc;
}
