/* Client protocol frames (proto/client.proto), without sockets: splitting a byte stream into
 * frames, decoding and validating a Request, encoding a Response into a frame.
 *
 * A frame is a 4-byte big-endian length followed by that many bytes of protobuf, at most
 * STRATA_CLIENT_FRAME_MAX. These are pure functions so that libFuzzer can drive them
 * (tests/fuzz/fuzz_client_frame.c) and the TCP server (client.c) only moves bytes. */
#ifndef STRATA_RT_UV_CLIENT_FRAME_H
#define STRATA_RT_UV_CLIENT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "client.pb-c.h"
#include "core/node.h"
#include "core/pb_arena.h"

#define STRATA_CLIENT_FRAME_MAX (2u << 20) /* bytes of protobuf per frame */
#define STRATA_CLIENT_HDR 4
#define STRATA_CLIENT_MODULE_MAX 32     /* a module name, including the NUL */
#define STRATA_CLIENT_OP_MAX STRATA_OP_HISTORY /* ops are 1..this (enum strata_op) */
#define STRATA_CLIENT_SUB_MODULES_MAX 16 /* module names in one SubscribeRequest */
#define STRATA_NEMESIS_DELAY_MAX_MS 60000u /* the longest delay `strata nemesis delay` sets */

/* Looks for one whole frame at the start of buf[0..len). Returns 1 and sets *body, *body_len
 * (pointing into buf) and *consumed (header + body) when there is one; 0 when more bytes are
 * needed; STRATA_ETOOBIG when the announced length exceeds max (the stream cannot be resynced). */
int strata_client_frame_split(const uint8_t *buf, size_t len, size_t max, const uint8_t **body,
			      size_t *body_len, size_t *consumed);

/* Bundles: on an authenticated connection (crypto/session.h) one sealed frame may carry several
 * frames, so that the requests (or replies) that leave together in one write cost one seal and
 * one open rather than one each. A bundle's plaintext is STRATA_CLIENT_BUNDLE_MARK followed by
 * one or more frames ([u32 length][body], each body at most max bytes) that fill it exactly. A
 * sealed frame that is not a bundle holds one protobuf message, which never starts with a 0 byte
 * (field number 0 does not exist), so the first byte tells them apart. */
#define STRATA_CLIENT_BUNDLE_MARK 0x00
#define STRATA_CLIENT_BUNDLE_HDR 1 /* the mark */

/* Whether the opened plaintext p[0..len) is a bundle. */
static inline int strata_client_is_bundle(const uint8_t *p, size_t len)
{
	return len > 0 && p[0] == STRATA_CLIENT_BUNDLE_MARK;
}

/* Checks a bundle whole before any of it is used: at least one frame, none over max, the lengths
 * fill p[0..len) exactly (a length that lies, a truncated header or trailing bytes are refused).
 * Returns the number of frames, or STRATA_EPROTO with the reason in err. */
int strata_client_bundle_check(const uint8_t *p, size_t len, size_t max, char *err, size_t errlen);

/* The frames of a checked bundle in order: *off starts at STRATA_CLIENT_BUNDLE_HDR; 1 with *body
 * and *body_len (pointing into p) and *off advanced, 0 after the last one. */
int strata_client_bundle_next(const uint8_t *p, size_t len, size_t *off, const uint8_t **body,
			      size_t *body_len);

/* Decodes and validates one Request body: a body is set; op requests name a module
 * (1..STRATA_CLIENT_MODULE_MAX-1 bytes of printable ASCII) and an op 1..STRATA_CLIENT_OP_MAX; subscriptions list at most
 * STRATA_CLIENT_SUB_MODULES_MAX valid module names; no string field holds a NUL byte (protobuf-c
 * would cut it there: "nnar\0x" must not become "nnar"). On success *out is the request, which the
 * caller frees with strata_client_request_free(). On failure returns STRATA_EPROTO (not
 * protobuf) or STRATA_EINVAL (well-formed but invalid), *out is NULL, *id is the request's id
 * when it could be decoded (else 0) and err says why. */
int strata_client_request_decode(const uint8_t *body, size_t len, Strata__Client__Request **out,
				 uint64_t *id, char *err, size_t errlen);
void strata_client_request_free(Strata__Client__Request *r);

/* Requests decoded in a core/pb_arena.h arena: protobuf-c allocates a request's message structs,
 * strings and byte fields separately (8-9 mallocs for a BFT KV put); from the arena they cost no
 * malloc, and freeing the request is one reset. One request at a time: a request decoded in it
 * must be freed (strata_client_request_free_in) before the next is decoded. */
/* As strata_client_request_decode, the request's memory from a (NULL: malloc). */
int strata_client_request_decode_in(struct strata_pb_arena *a, const uint8_t *body, size_t len,
				    Strata__Client__Request **out, uint64_t *id, char *err,
				    size_t errlen);
void strata_client_request_free_in(struct strata_pb_arena *a, Strata__Client__Request *r);

/* Size of r as a frame (header + body), and the encoding into dst (that many bytes). */
size_t strata_client_response_frame_size(const Strata__Client__Response *r);
void strata_client_response_frame_pack(const Strata__Client__Response *r, uint8_t *dst);

#endif
