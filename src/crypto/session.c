/* Authenticated, encrypted client sessions; see session.h for the handshake and its reasons. */
#include "crypto/session.h"

#include <string.h>

#include "core/assert.h"
#include "core/error.h"

static const uint8_t MAGIC_HELLO[STRATA_SESSION_MAGIC_LEN] = { 'S', 'T', 'R', 'A',
							       'U', 'T', 'H', '1' };
static const uint8_t MAGIC_ACCEPT[STRATA_SESSION_MAGIC_LEN] = { 'S', 'T', 'R', 'A',
								'U', 'T', 'H', '2' };

/* out = BLAKE2b-256 keyed with the client key over label || a || b || c (c may be NULL). */
static void kdf(uint8_t out[32], const uint8_t key[STRATA_CLIENT_KEY_LEN], const char *label,
		const uint8_t a[32], const uint8_t b[32], const uint8_t *c)
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, key, STRATA_CLIENT_KEY_LEN, 32);
	crypto_generichash_update(&st, (const uint8_t *)label, strlen(label) + 1);
	crypto_generichash_update(&st, a, 32);
	crypto_generichash_update(&st, b, 32);
	if (c)
		crypto_generichash_update(&st, c, 32);
	crypto_generichash_final(&st, out, 32);
	sodium_memzero(&st, sizeof st);
}

/* The two directions' keys from crypto_kx's, bound to the client key and both ephemeral keys. */
static void derive(struct strata_session *s, const uint8_t kx_c2s[32], const uint8_t kx_s2c[32])
{
	uint8_t c2s[32], s2c[32];
	kdf(c2s, s->key, "strata session c2s", s->e_c, s->e_s, kx_c2s);
	kdf(s2c, s->key, "strata session s2c", s->e_c, s->e_s, kx_s2c);
	if (s->role == STRATA_SESSION_CLIENT) {
		memcpy(s->tx, c2s, 32);
		memcpy(s->rx, s2c, 32);
	} else {
		memcpy(s->tx, s2c, 32);
		memcpy(s->rx, c2s, 32);
	}
	sodium_memzero(c2s, sizeof c2s);
	sodium_memzero(s2c, sizeof s2c);
	sodium_memzero(s->e_sk, sizeof s->e_sk);
}

bool strata_session_is_hello(const uint8_t *buf, size_t len)
{
	return len == STRATA_SESSION_HELLO_LEN &&
	       memcmp(buf, MAGIC_HELLO, STRATA_SESSION_MAGIC_LEN) == 0;
}

int strata_session_client_hello(struct strata_session *s, const uint8_t key[STRATA_CLIENT_KEY_LEN],
				uint8_t out[STRATA_SESSION_HELLO_LEN])
{
	memset(s, 0, sizeof *s);
	s->role = STRATA_SESSION_CLIENT;
	memcpy(s->key, key, STRATA_CLIENT_KEY_LEN);
	if (crypto_kx_keypair(s->e_pk, s->e_sk) != 0)
		return STRATA_EIO;
	memcpy(s->e_c, s->e_pk, 32);
	memcpy(out, MAGIC_HELLO, STRATA_SESSION_MAGIC_LEN);
	memcpy(out + STRATA_SESSION_MAGIC_LEN, s->e_pk, 32);
	return 0;
}

int strata_session_server_accept(struct strata_session *s, const uint8_t key[STRATA_CLIENT_KEY_LEN],
				 const uint8_t *msg, size_t len,
				 uint8_t out[STRATA_SESSION_ACCEPT_LEN])
{
	memset(s, 0, sizeof *s);
	s->role = STRATA_SESSION_SERVER;
	if (!strata_session_is_hello(msg, len))
		return STRATA_EPROTO;
	memcpy(s->key, key, STRATA_CLIENT_KEY_LEN);
	memcpy(s->e_c, msg + STRATA_SESSION_MAGIC_LEN, 32);
	if (crypto_kx_keypair(s->e_pk, s->e_sk) != 0)
		return STRATA_EIO;
	memcpy(s->e_s, s->e_pk, 32);
	uint8_t rx[32], tx[32]; /* the server receives c2s and sends s2c */
	int rc = crypto_kx_server_session_keys(rx, tx, s->e_pk, s->e_sk, s->e_c);
	if (rc == 0)
		derive(s, rx, tx);
	sodium_memzero(rx, sizeof rx);
	sodium_memzero(tx, sizeof tx);
	if (rc != 0) {
		strata_session_wipe(s);
		return STRATA_EAUTH; /* e_c is a low-order point */
	}
	uint8_t *p = out;
	memcpy(p, MAGIC_ACCEPT, STRATA_SESSION_MAGIC_LEN);
	p += STRATA_SESSION_MAGIC_LEN;
	memcpy(p, s->e_s, 32);
	p += 32;
	kdf(p, s->key, "strata session server proof", s->e_c, s->e_s, NULL);
	p += 32;
	crypto_secretstream_xchacha20poly1305_init_push(&s->push, p, s->tx);
	return 0;
}

int strata_session_client_finish(struct strata_session *s, const uint8_t *msg, size_t len,
				 uint8_t out[STRATA_SESSION_FINISH_LEN])
{
	STRATA_ASSERT(s->role == STRATA_SESSION_CLIENT && !s->open);
	if (len != STRATA_SESSION_ACCEPT_LEN || memcmp(msg, MAGIC_ACCEPT, STRATA_SESSION_MAGIC_LEN) != 0)
		return STRATA_EPROTO;
	const uint8_t *p = msg + STRATA_SESSION_MAGIC_LEN;
	memcpy(s->e_s, p, 32);
	uint8_t rx[32], tx[32]; /* the client sends c2s and receives s2c */
	int rc = crypto_kx_client_session_keys(rx, tx, s->e_pk, s->e_sk, s->e_s);
	if (rc == 0)
		derive(s, tx, rx);
	sodium_memzero(rx, sizeof rx);
	sodium_memzero(tx, sizeof tx);
	if (rc != 0)
		return STRATA_EAUTH;
	uint8_t want[32];
	kdf(want, s->key, "strata session server proof", s->e_c, s->e_s, NULL);
	bool ok = sodium_memcmp(want, p + 32, 32) == 0;
	sodium_memzero(want, sizeof want);
	kdf(out, s->key, "strata session client proof", s->e_c, s->e_s, NULL);
	crypto_secretstream_xchacha20poly1305_init_push(&s->push, out + 32, s->tx);
	if (!ok)
		return STRATA_EAUTH;
	if (crypto_secretstream_xchacha20poly1305_init_pull(&s->pull, p + 64, s->rx) != 0)
		return STRATA_EAUTH;
	s->open = true;
	return 0;
}

int strata_session_server_finish(struct strata_session *s, const uint8_t *msg, size_t len)
{
	STRATA_ASSERT(s->role == STRATA_SESSION_SERVER && !s->open);
	if (len != STRATA_SESSION_FINISH_LEN)
		return STRATA_EPROTO;
	uint8_t want[32];
	kdf(want, s->key, "strata session client proof", s->e_c, s->e_s, NULL);
	bool ok = sodium_memcmp(want, msg, 32) == 0;
	sodium_memzero(want, sizeof want);
	if (!ok)
		return STRATA_EAUTH;
	if (crypto_secretstream_xchacha20poly1305_init_pull(&s->pull, msg + 32, s->rx) != 0)
		return STRATA_EAUTH;
	s->open = true;
	return 0;
}

void strata_session_seal(struct strata_session *s, uint8_t *c, const uint8_t *m, size_t mlen)
{
	STRATA_ASSERT(s->open);
	crypto_secretstream_xchacha20poly1305_push(&s->push, c, NULL, m, mlen, NULL, 0,
						   crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
}

int strata_session_open(struct strata_session *s, uint8_t *m, const uint8_t *c, size_t clen)
{
	if (!s->open || clen < STRATA_SESSION_ABYTES)
		return STRATA_EAUTH;
	unsigned char tag = 0;
	if (crypto_secretstream_xchacha20poly1305_pull(&s->pull, m, NULL, &tag, c, clen, NULL, 0) !=
		    0 ||
	    tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
		s->open = false; /* the stream state is spent: nothing more is accepted */
		return STRATA_EAUTH;
	}
	return 0;
}

void strata_session_resp_password(char out[65], const uint8_t key[STRATA_CLIENT_KEY_LEN])
{
	static const char label[] = "strata resp password";
	uint8_t h[32];
	crypto_generichash(h, sizeof h, (const uint8_t *)label, sizeof label, key,
			   STRATA_CLIENT_KEY_LEN);
	sodium_bin2hex(out, 65, h, sizeof h);
	sodium_memzero(h, sizeof h);
}

void strata_session_wipe(struct strata_session *s)
{
	sodium_memzero(s, sizeof *s);
}
