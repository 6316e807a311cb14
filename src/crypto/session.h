/* Authenticated, encrypted client sessions (docs/security.md), without sockets.
 *
 * The credential is a 32-byte shared secret, the cluster's client key (client.key in the cluster
 * directory). A session is a three-message handshake followed by frames sealed with libsodium's
 * secretstream (XChaCha20-Poly1305), one stream per direction:
 *
 *   1. client -> server  "STRAUTH1" e_c                       (40 bytes)
 *   2. server -> client  "STRAUTH2" e_s proof_s header_s      (96 bytes)
 *   3. client -> server  proof_c header_c                     (56 bytes)
 *
 * e_c and e_s are fresh X25519 key pairs (crypto_kx) of this connection. crypto_kx derives a key
 * per direction from them; each is then hashed with the client key and both ephemeral keys
 * (keyed BLAKE2b), so only holders of the client key get the session keys, and a recorded session
 * stays secret even if the client key leaks later (forward secrecy). proof_s and proof_c are
 * keyed BLAKE2b of the client key over a role label and both ephemeral keys: each side proves
 * possession of the client key for THIS connection (the other side's ephemeral key is fresh), so
 * a captured handshake replayed to a server fails at proof_c, and a client talking to something
 * without the key fails at proof_s. header_s / header_c start the secretstream of each direction.
 *
 * After the handshake every frame body is a secretstream message (plaintext + 17 bytes). The
 * stream's nonces advance with each message, so a frame replayed, reordered, dropped or altered
 * within a session fails to open; a frame from another session fails too (other keys).
 *
 * Bounds: a session is a fixed-size struct; the ephemeral secret is wiped as soon as the keys are
 * derived, and strata_session_wipe() wipes everything. strata_crypto_init() must have run. */
#ifndef STRATA_CRYPTO_SESSION_H
#define STRATA_CRYPTO_SESSION_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STRATA_CLIENT_KEY_LEN 32
#define STRATA_SESSION_MAGIC_LEN 8
#define STRATA_SESSION_HELLO_LEN (STRATA_SESSION_MAGIC_LEN + 32)             /* message 1 */
#define STRATA_SESSION_ACCEPT_LEN (STRATA_SESSION_MAGIC_LEN + 32 + 32 + 24)  /* message 2 */
#define STRATA_SESSION_FINISH_LEN (32 + 24)                                  /* message 3 */
#define STRATA_SESSION_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES   /* per frame */

enum strata_session_role { STRATA_SESSION_CLIENT = 1, STRATA_SESSION_SERVER = 2 };

struct strata_session {
	uint8_t key[STRATA_CLIENT_KEY_LEN]; /* the client key */
	uint8_t e_pk[32], e_sk[32];         /* this side's ephemeral pair (sk wiped once used) */
	uint8_t e_c[32], e_s[32];           /* both ephemeral public keys, once known */
	uint8_t tx[32], rx[32];             /* session keys, once derived */
	crypto_secretstream_xchacha20poly1305_state push, pull;
	enum strata_session_role role;
	bool open;                          /* the handshake completed: seal/open work */
};

/* Whether buf[0..len) is a message 1 (magic and length). The server uses it to tell a handshake
 * from a plain Request. */
bool strata_session_is_hello(const uint8_t *buf, size_t len);

/* Client: starts a session with the client key and writes message 1 into out. 0 or STRATA_EIO. */
int strata_session_client_hello(struct strata_session *s, const uint8_t key[STRATA_CLIENT_KEY_LEN],
				uint8_t out[STRATA_SESSION_HELLO_LEN]);

/* Server: takes message 1 and writes message 2. STRATA_EPROTO if msg is not a message 1,
 * STRATA_EAUTH if its ephemeral key is unusable. */
int strata_session_server_accept(struct strata_session *s, const uint8_t key[STRATA_CLIENT_KEY_LEN],
				 const uint8_t *msg, size_t len,
				 uint8_t out[STRATA_SESSION_ACCEPT_LEN]);

/* Client: takes message 2, checks proof_s and writes message 3; the session is then open.
 * STRATA_EPROTO if msg is not a message 2, STRATA_EAUTH if the proof does not verify (the server
 * holds another client key, or the message was altered): out is written anyway, so the server
 * learns of (and counts) the failure too. */
int strata_session_client_finish(struct strata_session *s, const uint8_t *msg, size_t len,
				 uint8_t out[STRATA_SESSION_FINISH_LEN]);

/* Server: takes message 3 and checks proof_c; the session is then open. STRATA_EPROTO (length) or
 * STRATA_EAUTH (the proof does not verify: another key, or a replayed handshake). */
int strata_session_server_finish(struct strata_session *s, const uint8_t *msg, size_t len);

/* Seals one frame body m[0..mlen) into c (mlen + STRATA_SESSION_ABYTES bytes). c and m must not
 * overlap. The session must be open. */
void strata_session_seal(struct strata_session *s, uint8_t *c, const uint8_t *m, size_t mlen);

/* Opens one sealed frame body c[0..clen) into m (clen - STRATA_SESSION_ABYTES bytes). 0, or
 * STRATA_EAUTH: altered, replayed, reordered or from another session (the stream is then
 * unusable and the connection must close). */
int strata_session_open(struct strata_session *s, uint8_t *m, const uint8_t *c, size_t clen);

/* The RESP password (AUTH/HELLO) derived from the client key: 64 hex characters + NUL. Derived,
 * not the key itself, because RESP carries it in clear. */
void strata_session_resp_password(char out[65], const uint8_t key[STRATA_CLIENT_KEY_LEN]);

void strata_session_wipe(struct strata_session *s);

#endif
