/* Bundles on authenticated client connections (rt/uv/client_frame.h, rt/uv/client.c): several
 * frames sealed as one, in both directions.
 *
 * The parser alone: a bundle is accepted only when its frames fill it exactly (a length that
 * lies, a cut header, trailing bytes, no frame at all and a frame over the limit are refused).
 *
 * Live: one real node (rt/uv, [client] auth on) on loopback, and a client thread that speaks the
 * session of crypto/session.h over a plain socket.
 *   1. A bundle of three status requests is answered by one sealed frame that is a bundle of the
 *      three replies, in order.
 *   2. After that, a request sealed alone (the old single frame) is still accepted, and its one
 *      reply comes back sealed alone.
 *   3. A client that never bundles gets no bundle: two single frames in one write, two single
 *      replies.
 *   4. A bundle whose second frame announces more bytes than the bundle holds, and one with
 *      trailing bytes, are refused whole (the valid request before the lie is not answered),
 *      answered with an error, the connection closed, and each counted in client_bad_bundles.
 * The node's counters are read after its loop stopped. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "core/codec.h"
#include "core/config.h"
#include "core/error.h"
#include "crypto/crypto.h"
#include "crypto/session.h"
#include "rt/uv/client_frame.h"
#include "rt/uv/uv.h"

#include "../lib/loopback_cluster.h"

/* ---- the parser ---- */

static size_t put_frame(uint8_t *p, const uint8_t *body, uint32_t announced, size_t len)
{
	strata_be32_put(p, announced);
	memcpy(p + 4, body, len);
	return 4 + len;
}

START_TEST(parser_exact_fill)
{
	uint8_t b[64];
	char why[160];
	size_t n = 0;
	b[n++] = STRATA_CLIENT_BUNDLE_MARK;
	n += put_frame(b + n, (const uint8_t *)"abc", 3, 3);
	n += put_frame(b + n, (const uint8_t *)"de", 2, 2);
	ck_assert_int_eq(strata_client_bundle_check(b, n, 100, why, sizeof why), 2);
	size_t off = STRATA_CLIENT_BUNDLE_HDR, fl;
	const uint8_t *fb;
	ck_assert_int_eq(strata_client_bundle_next(b, n, &off, &fb, &fl), 1);
	ck_assert(fl == 3 && memcmp(fb, "abc", 3) == 0);
	ck_assert_int_eq(strata_client_bundle_next(b, n, &off, &fb, &fl), 1);
	ck_assert(fl == 2 && memcmp(fb, "de", 2) == 0);
	ck_assert_int_eq(strata_client_bundle_next(b, n, &off, &fb, &fl), 0);

	/* the second length lies (one more than there is) */
	size_t m = 0;
	b[m++] = STRATA_CLIENT_BUNDLE_MARK;
	m += put_frame(b + m, (const uint8_t *)"abc", 3, 3);
	m += put_frame(b + m, (const uint8_t *)"de", 3, 2);
	ck_assert_int_eq(strata_client_bundle_check(b, m, 100, why, sizeof why), STRATA_EPROTO);
	ck_assert_ptr_nonnull(strstr(why, "frame 2"));
	/* trailing bytes: a cut header */
	ck_assert_int_eq(strata_client_bundle_check(b, n + 2, 100, why, sizeof why), STRATA_EPROTO);
	/* the first length lies short: the rest does not parse as frames */
	m = 0;
	b[m++] = STRATA_CLIENT_BUNDLE_MARK;
	m += put_frame(b + m, (const uint8_t *)"abcdefgh", 2, 8);
	ck_assert_int_eq(strata_client_bundle_check(b, m, 100, why, sizeof why), STRATA_EPROTO);
	/* no frame, not a bundle, a frame over the limit */
	ck_assert_int_eq(strata_client_bundle_check(b, 1, 100, why, sizeof why), STRATA_EPROTO);
	ck_assert_int_eq(strata_client_bundle_check((const uint8_t *)"\x08\x01", 2, 100, why,
						    sizeof why),
			 STRATA_EPROTO);
	ck_assert_int_eq(strata_client_bundle_check(b, n, 2, why, sizeof why), STRATA_EPROTO);
	ck_assert(!strata_client_is_bundle((const uint8_t *)"", 0));
}
END_TEST

/* ---- live ---- */

struct live {
	uint8_t ckey[STRATA_CLIENT_KEY_LEN];
	uint16_t port;
	uv_async_t stop;
	struct strata_uv *rt;
	const char *failed; /* the client thread's first failed check, or NULL */
	int checks;         /* the client thread's checks that passed */
};

#define CHECK(l, cond)                                                                             \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			if (!(l)->failed)                                                          \
				(l)->failed = #cond;                                               \
			return -1;                                                                 \
		}                                                                                  \
		(l)->checks++;                                                                     \
	} while (0)

/* One frame's body into buf (at most cap bytes); its length, or -1 (closed, too large). */
static long read_frame(int fd, uint8_t *buf, size_t cap)
{
	uint8_t h[4];
	if (loopback_read_all(fd, h, 4) != 0)
		return -1;
	size_t n = strata_be32_get(h);
	if (n > cap || loopback_read_all(fd, buf, n) != 0)
		return -1;
	return (long)n;
}

static size_t put_hdr(uint8_t *p, size_t n)
{
	strata_be32_put(p, (uint32_t)n);
	return 4;
}

/* A connection with the handshake done; -1 on failure. */
static int connect_session(struct live *l, struct strata_session *s)
{
	int fd = loopback_connect(l->port);
	if (fd < 0)
		goto fail;
	uint8_t buf[256];
	uint8_t hello[STRATA_SESSION_HELLO_LEN], fin[STRATA_SESSION_FINISH_LEN];
	if (strata_session_client_hello(s, l->ckey, hello) != 0)
		goto fail;
	size_t n = put_hdr(buf, sizeof hello);
	memcpy(buf + n, hello, sizeof hello);
	if (loopback_write_all(fd, buf, n + sizeof hello) != 0)
		goto fail;
	long m2 = read_frame(fd, buf, sizeof buf);
	if (m2 < 0 || strata_session_client_finish(s, buf, (size_t)m2, fin) != 0)
		goto fail;
	n = put_hdr(buf, sizeof fin);
	memcpy(buf + n, fin, sizeof fin);
	if (loopback_write_all(fd, buf, n + sizeof fin) != 0)
		goto fail;
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

/* A status request with this id, as a frame ([u32 length][Request]) at p; its length. */
static size_t status_frame(uint8_t *p, uint64_t id)
{
	Strata__Client__Request r = STRATA__CLIENT__REQUEST__INIT;
	Strata__Client__StatusRequest st = STRATA__CLIENT__STATUS_REQUEST__INIT;
	r.id = id;
	r.body_case = STRATA__CLIENT__REQUEST__BODY_STATUS;
	r.status = &st;
	size_t n = strata__client__request__pack(&r, p + 4);
	put_hdr(p, n);
	return 4 + n;
}

/* Seals m[0..mlen) into a frame at f; its length. */
static size_t sealed_frame(struct strata_session *s, uint8_t *f, const uint8_t *m, size_t mlen)
{
	put_hdr(f, mlen + STRATA_SESSION_ABYTES);
	strata_session_seal(s, f + 4, m, mlen);
	return 4 + mlen + STRATA_SESSION_ABYTES;
}

#define BIG 65536

/* Reads one sealed frame and opens it into plain; its plaintext length, or -1. */
static long read_open(int fd, struct strata_session *s, uint8_t *sealed, uint8_t *plain)
{
	long n = read_frame(fd, sealed, BIG);
	if (n < (long)STRATA_SESSION_ABYTES || strata_session_open(s, plain, sealed, (size_t)n) != 0)
		return -1;
	return n - (long)STRATA_SESSION_ABYTES;
}

/* The id of the Response in p[0..n), or 0 when it does not decode. */
static uint64_t response_id(const uint8_t *p, size_t n, int *status)
{
	Strata__Client__Response *r = strata__client__response__unpack(NULL, n, p);
	if (!r)
		return 0;
	uint64_t id = r->id;
	if (status)
		*status = r->status;
	strata__client__response__free_unpacked(r, NULL);
	return id;
}

static int client_run(struct live *l)
{
	uint8_t *plain = malloc(BIG), *sealed = malloc(BIG), *out = malloc(BIG);
	CHECK(l, plain && sealed && out);
	struct strata_session s;
	int fd = connect_session(l, &s);
	CHECK(l, fd >= 0);

	/* 1. a bundle of three requests: one bundle of three replies */
	size_t n = 0;
	plain[n++] = STRATA_CLIENT_BUNDLE_MARK;
	for (uint64_t id = 1; id <= 3; id++)
		n += status_frame(plain + n, id);
	CHECK(l, loopback_write_all(fd, out, sealed_frame(&s, out, plain, n)) == 0);
	long pl = read_open(fd, &s, sealed, plain);
	CHECK(l, pl > 0);
	CHECK(l, strata_client_is_bundle(plain, (size_t)pl));
	char why[160];
	CHECK(l, strata_client_bundle_check(plain, (size_t)pl, STRATA_CLIENT_FRAME_MAX, why,
					    sizeof why) == 3);
	size_t off = STRATA_CLIENT_BUNDLE_HDR, fl;
	const uint8_t *fb;
	for (uint64_t id = 1; id <= 3; id++) {
		CHECK(l, strata_client_bundle_next(plain, (size_t)pl, &off, &fb, &fl) == 1);
		CHECK(l, response_id(fb, fl, NULL) == id);
	}

	/* 2. a request sealed alone, on the same connection: one reply sealed alone */
	n = status_frame(plain, 4);
	CHECK(l, loopback_write_all(fd, out, sealed_frame(&s, out, plain + 4, n - 4)) == 0);
	pl = read_open(fd, &s, sealed, plain);
	CHECK(l, pl > 0 && !strata_client_is_bundle(plain, (size_t)pl));
	CHECK(l, response_id(plain, (size_t)pl, NULL) == 4);
	close(fd);

	/* 3. a client that never bundles: two single frames in one write, two single replies */
	fd = connect_session(l, &s);
	CHECK(l, fd >= 0);
	size_t w = 0;
	for (uint64_t id = 5; id <= 6; id++) {
		n = status_frame(plain, id);
		w += sealed_frame(&s, out + w, plain + 4, n - 4);
	}
	CHECK(l, loopback_write_all(fd, out, w) == 0);
	for (uint64_t id = 5; id <= 6; id++) {
		pl = read_open(fd, &s, sealed, plain);
		CHECK(l, pl > 0 && !strata_client_is_bundle(plain, (size_t)pl));
		CHECK(l, response_id(plain, (size_t)pl, NULL) == id);
	}
	close(fd);

	/* 4. bundles that lie: refused whole, an error, closed */
	for (int variant = 0; variant < 2; variant++) {
		fd = connect_session(l, &s);
		CHECK(l, fd >= 0);
		n = 0;
		plain[n++] = STRATA_CLIENT_BUNDLE_MARK;
		n += status_frame(plain + n, 10);
		size_t second = n;
		n += status_frame(plain + n, 11);
		if (variant == 0) /* the second frame announces one byte more than there is */
			put_hdr(plain + second, n - second - 4 + 1);
		else /* two bytes after the last frame */
			plain[n++] = 0, plain[n++] = 0;
		CHECK(l, loopback_write_all(fd, out, sealed_frame(&s, out, plain, n)) == 0);
		int status = 0;
		pl = read_open(fd, &s, sealed, plain);
		CHECK(l, pl > 0 && !strata_client_is_bundle(plain, (size_t)pl));
		CHECK(l, response_id(plain, (size_t)pl, &status) == 0); /* not request 10's */
		CHECK(l, status == STRATA_EPROTO);
		CHECK(l, read_frame(fd, sealed, BIG) < 0); /* then closed */
		close(fd);
	}
	free(plain);
	free(sealed);
	free(out);
	strata_session_wipe(&s);
	return 0;
}

static void *client_thread(void *arg)
{
	struct live *l = arg;
	(void)client_run(l);
	uv_async_send(&l->stop);
	return NULL;
}

static void on_stop(uv_async_t *a)
{
	struct live *l = a->data;
	uv_close((uv_handle_t *)a, NULL);
	strata_uv_close(l->rt);
}

START_TEST(live_bundles)
{
	struct strata_config cfg;
	uint8_t sk[2][STRATA_SK_LEN];
	loopback_cluster(&cfg, "bundles", 0xb0d1e, 1, sk);
	struct live *l = calloc(1, sizeof *l);
	ck_assert_ptr_nonnull(l);
	randombytes_buf(l->ckey, sizeof l->ckey);
	l->port = cfg.nodes[1].client_port;
	uv_loop_t loop;
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	char err[256];
	struct strata_uv_opts o = { .cfg = &cfg, .id = 1, .incarnation = 1, .secret_key = sk[1],
				    .client_key = l->ckey, .log_level = STRATA_LOG_ERROR };
	l->rt = strata_uv_new(&loop, &o, err, sizeof err);
	ck_assert_msg(l->rt != NULL, "%s", err);
	ck_assert_int_eq(uv_async_init(&loop, &l->stop, on_stop), 0);
	l->stop.data = l;
	ck_assert_msg(strata_uv_start(l->rt, false, err, sizeof err) == 0, "%s", err);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, client_thread, l), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	const struct strata_uv_counters *k = strata_uv_counters(l->rt);
	ck_assert_msg(l->failed == NULL, "client check failed after %d passed: %s", l->checks,
		      l->failed);
	ck_assert_uint_eq(k->client_bad_bundles, 2);
	ck_assert_uint_eq(k->client_decrypt_failed, 0);
	ck_assert_uint_eq(k->client_auth_ok, 4);
	strata_uv_free(l->rt);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
	free(l);
}
END_TEST

int main(void)
{
	if (strata_crypto_init() != 0)
		return 1;
	Suite *s = suite_create("client_bundle");
	TCase *tc = tcase_create("bundle");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, parser_exact_fill);
	tcase_add_test(tc, live_bundles);
	suite_add_tcase(s, tc);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
