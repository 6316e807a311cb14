/* libFuzzer target for the client protocol decoder (src/rt/uv/client_frame.h): the input is a
 * byte stream from a client, split into frames and decoded as the TCP server does.
 *
 * Beyond "no crash, no sanitizer report": a split frame lies inside the input and never exceeds
 * the maximum; a request that decodes is valid (its body is set, its names fit) and survives a
 * re-encode/decode round trip with the same id and body; a failed decode says why; a Response
 * carrying the frame as a value packs into exactly the announced size. Each frame body is also
 * read as the opened plaintext of a sealed frame: a bundle (client_frame.h) is refused with a
 * reason or its frames lie inside it and fill it exactly. A request decoded in an arena
 * (strata_client_request_decode_in, what the node uses) gets the same verdict as with malloc. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "rt/uv/client_frame.h"

static void roundtrip(const Strata__Client__Request *r)
{
	size_t n = strata__client__request__get_packed_size(r);
	uint8_t *buf = malloc(n ? n : 1);
	STRATA_ASSERT(buf);
	STRATA_ASSERT(strata__client__request__pack(r, buf) == n);
	Strata__Client__Request *r2 = NULL;
	uint64_t id;
	char why[160];
	STRATA_ASSERT(strata_client_request_decode(buf, n, &r2, &id, why, sizeof(why)) == 0);
	STRATA_ASSERT(r2->id == r->id && id == r->id && r2->body_case == r->body_case);
	if (r->body_case == STRATA__CLIENT__REQUEST__BODY_OP) {
		STRATA_ASSERT(strcmp(r2->op->module, r->op->module) == 0);
		STRATA_ASSERT(r2->op->op == r->op->op);
		STRATA_ASSERT(r2->op->key.len == r->op->key.len);
	}
	strata_client_request_free(r2);
	free(buf);
}

static void respond(uint64_t id, const uint8_t *body, size_t len)
{
	Strata__Client__OpReply op = STRATA__CLIENT__OP_REPLY__INIT;
	op.found = 1;
	op.value.data = (uint8_t *)(uintptr_t)body;
	op.value.len = len;
	Strata__Client__Response r = STRATA__CLIENT__RESPONSE__INIT;
	r.id = id;
	r.body_case = STRATA__CLIENT__RESPONSE__BODY_OP;
	r.op = &op;
	size_t n = strata_client_response_frame_size(&r);
	uint8_t *buf = malloc(n);
	STRATA_ASSERT(buf);
	strata_client_response_frame_pack(&r, buf);
	const uint8_t *b;
	size_t blen, used;
	STRATA_ASSERT(strata_client_frame_split(buf, n, STRATA_CLIENT_FRAME_MAX, &b, &blen,
						&used) == 1);
	STRATA_ASSERT(used == n && b == buf + STRATA_CLIENT_HDR);
	free(buf);
}

/* A frame body as an opened bundle (the plaintext of a sealed frame): refused with a reason, or
 * accepted with frames that lie inside it, in order, fill it exactly, and number what the check
 * said. */
static void bundle(const uint8_t *p, size_t len, size_t max)
{
	char why[160] = "";
	int n = strata_client_bundle_check(p, len, max, why, sizeof why);
	if (n < 0) {
		STRATA_ASSERT(n == STRATA_EPROTO && why[0] != '\0');
		return;
	}
	STRATA_ASSERT(n >= 1 && strata_client_is_bundle(p, len));
	size_t off = STRATA_CLIENT_BUNDLE_HDR, blen;
	const uint8_t *body, *end = p + STRATA_CLIENT_BUNDLE_HDR;
	int k = 0;
	while (strata_client_bundle_next(p, len, &off, &body, &blen)) {
		STRATA_ASSERT(body == end + STRATA_CLIENT_HDR && blen <= max && body + blen <= p + len);
		end = body + blen;
		k++;
	}
	STRATA_ASSERT(k == n && end == p + len && off == len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The first byte picks a small maximum or the real one, so the "too big" path and the
	 * boundary are reachable; the rest is the stream. */
	if (size < 1)
		return 0;
	size_t max = (data[0] & 1) ? 64 : STRATA_CLIENT_FRAME_MAX;
	data++;
	size--;
	size_t off = 0;
	for (;;) {
		const uint8_t *body;
		size_t blen, used;
		int rc = strata_client_frame_split(data + off, size - off, max, &body, &blen, &used);
		if (rc == 0)
			break;
		if (rc < 0) {
			STRATA_ASSERT(rc == STRATA_ETOOBIG);
			break; /* the server closes the connection here */
		}
		STRATA_ASSERT(rc == 1 && blen <= max && used == blen + STRATA_CLIENT_HDR);
		STRATA_ASSERT(body >= data + off && body + blen <= data + size);
		off += used;
		bundle(body, blen, max);

		/* The node decodes in an arena: the same verdict and id as with malloc. */
		{
			struct strata_pb_arena a;
			strata_pb_arena_init(&a, (blen & 1) ? 0 : 256); /* 0: every allocation big */
			Strata__Client__Request *ra = NULL;
			uint64_t ida = 7;
			char whya[160] = "";
			int rca = strata_client_request_decode_in(&a, body, blen, &ra, &ida, whya,
								  sizeof(whya));
			Strata__Client__Request *rm = NULL;
			uint64_t idm = 7;
			char whym[160] = "";
			int rcm = strata_client_request_decode(body, blen, &rm, &idm, whym, sizeof(whym));
			STRATA_ASSERT(rca == rcm && ida == idm && strcmp(whya, whym) == 0);
			STRATA_ASSERT(!ra == !rm && (!ra || ra->body_case == rm->body_case));
			strata_client_request_free(rm);
			strata_client_request_free_in(&a, ra);
			strata_pb_arena_free(&a);
		}
		Strata__Client__Request *r = NULL;
		uint64_t id = 7;
		char why[160] = "";
		rc = strata_client_request_decode(body, blen, &r, &id, why, sizeof(why));
		if (rc) {
			STRATA_ASSERT(rc == STRATA_EPROTO || rc == STRATA_EINVAL);
			STRATA_ASSERT(r == NULL && why[0] != '\0');
			break;
		}
		STRATA_ASSERT(r && r->id == id);
		switch (r->body_case) {
		case STRATA__CLIENT__REQUEST__BODY_STATUS:
			break;
		case STRATA__CLIENT__REQUEST__BODY_OP:
			STRATA_ASSERT(r->op->op >= 1 && r->op->op <= STRATA_CLIENT_OP_MAX);
			STRATA_ASSERT(strlen(r->op->module) >= 1 &&
				      strlen(r->op->module) < STRATA_CLIENT_MODULE_MAX);
			break;
		case STRATA__CLIENT__REQUEST__BODY_SUBSCRIBE:
			STRATA_ASSERT(r->subscribe->n_modules <= STRATA_CLIENT_SUB_MODULES_MAX);
			break;
		case STRATA__CLIENT__REQUEST__BODY_NEMESIS:
			STRATA_ASSERT(r->nemesis->drop_pct <= 100);
			break;
		default:
			STRATA_ASSERT(0 && "decoded a request without a body");
		}
		roundtrip(r);
		respond(id, body, blen);
		strata_client_request_free(r);
	}
	return 0;
}
