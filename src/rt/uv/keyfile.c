/* Key files: reading and writing a node's Ed25519 identity; see keyfile.h. */
#include "rt/uv/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/error.h"
#include "crypto/crypto.h"

#define SECRET_TAG "ed25519-secret "
#define PUBLIC_TAG "ed25519-public "
#define COIN_TAG "coin-share "
#define CLIENT_TAG "strata-client-key "
/* Largest file we accept: tag, hex and a line ending with room to spare. A bigger file is not a
 * key file, and reading it whole would be unbounded. */
#define FILE_MAX 256

static int say(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int say(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Writes all of buf and syncs, so a key file is either complete on disk or reported as failed. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return fsync(fd);
}

static int create_file(const char *path, mode_t mode, const char *content, size_t len, char *err,
		       size_t errlen)
{
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);
	if (fd < 0) {
		if (errno == EEXIST)
			return say(err, errlen, STRATA_EIO,
				   "key file %s already exists; refusing to overwrite it", path);
		return say(err, errlen, STRATA_EIO, "cannot create key file %s: %s", path,
			   strerror(errno));
	}
	int rc = write_all(fd, content, len);
	int saved = errno;
	if (close(fd) != 0 && rc == 0) {
		rc = -1;
		saved = errno;
	}
	if (rc != 0) {
		unlink(path);
		return say(err, errlen, STRATA_EIO, "cannot write key file %s: %s", path,
			   strerror(saved));
	}
	return 0;
}

/* Creates path (mode) holding one line "<tag><hex of the n bytes>\n"; the line is wiped from
 * memory afterwards (the hex form of a secret is as secret as the secret itself). */
static int create_tagged(const char *path, mode_t mode, const char *tag, const uint8_t *bytes,
			 size_t n, char *err, size_t errlen)
{
	char line[32 + 2 * STRATA_SK_LEN + 2];
	size_t tlen = strlen(tag);
	STRATA_ASSERT(tlen + 2 * n + 2 <= sizeof(line));
	memcpy(line, tag, tlen);
	strata_hex_encode(line + tlen, bytes, n);
	size_t len = tlen + 2 * n;
	line[len++] = '\n';
	int rc = create_file(path, mode, line, len, err, errlen);
	sodium_memzero(line, sizeof(line));
	return rc;
}

int strata_keyfile_write(const char *path, const uint8_t pk[32], const uint8_t sk[64], char *err,
			 size_t errlen)
{
	STRATA_ASSERT(path && pk && sk);
	uint8_t derived[STRATA_PK_LEN];
	crypto_sign_ed25519_sk_to_pk(derived, sk);
	if (memcmp(derived, pk, STRATA_PK_LEN) != 0)
		return say(err, errlen, STRATA_EINVAL,
			   "key file %s: the public key is not the public half of the secret key",
			   path);

	char pubpath[4096];
	if ((size_t)snprintf(pubpath, sizeof(pubpath), "%s.pub", path) >= sizeof(pubpath))
		return say(err, errlen, STRATA_EIO, "key file path too long: %s", path);

	int rc = create_tagged(path, 0600, SECRET_TAG, sk, STRATA_SK_LEN, err, errlen);
	if (rc != 0)
		return rc;
	rc = create_tagged(pubpath, 0644, PUBLIC_TAG, pk, STRATA_PK_LEN, err, errlen);
	if (rc != 0)
		unlink(path); /* no secret without its public half */
	return rc;
}

/* Reads a whole small file into buf (NUL-terminated). With secret set, the file must not be
 * accessible to group or others. */
static int read_small(const char *path, char *buf, size_t cap, bool secret, char *err,
		      size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return say(err, errlen, STRATA_EIO, "cannot open key file %s: %s", path,
			   strerror(errno));
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) != 0) {
		rc = say(err, errlen, STRATA_EIO, "cannot stat key file %s: %s", path,
			 strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		rc = say(err, errlen, STRATA_ECONFIG, "key file %s is not a regular file", path);
	} else if (secret && (st.st_mode & 077) != 0) {
		rc = say(err, errlen, STRATA_ECONFIG,
			 "key file %s has mode %04o; it must be 0600 (chmod 600 %s)", path,
			 (unsigned)(st.st_mode & 07777), path);
	}
	size_t len = 0;
	while (rc == 0) {
		ssize_t r = read(fd, buf + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = say(err, errlen, STRATA_EIO, "cannot read key file %s: %s", path,
				 strerror(errno));
		else if (r == 0)
			break;
		else if ((len += (size_t)r) == cap - 1)
			rc = say(err, errlen, STRATA_ECONFIG, "key file %s is too large", path);
	}
	close(fd);
	buf[len] = '\0';
	return rc;
}

/* Checks "<tag><hexlen hex chars>" with an optional line ending and nothing else, and cuts the
 * buffer after the hex so it can be decoded as a string. Returns the hex or NULL. */
static char *match_line(char *buf, const char *tag, size_t hexlen)
{
	size_t tlen = strlen(tag);
	if (strncmp(buf, tag, tlen) != 0)
		return NULL;
	char *hex = buf + tlen;
	if (strspn(hex, "0123456789abcdefABCDEF") != hexlen)
		return NULL;
	const char *rest = hex + hexlen;
	if (strcmp(rest, "") != 0 && strcmp(rest, "\n") != 0 && strcmp(rest, "\r\n") != 0)
		return NULL;
	hex[hexlen] = '\0';
	return hex;
}

int strata_keyfile_read(const char *path, uint8_t pk[32], uint8_t *sk, char *err, size_t errlen)
{
	STRATA_ASSERT(path && pk && sk);
	char buf[FILE_MAX];
	uint8_t seed[crypto_sign_SEEDBYTES];
	uint8_t check_pk[STRATA_PK_LEN];
	uint8_t check_sk[STRATA_SK_LEN];

	int rc = read_small(path, buf, sizeof(buf), true, err, errlen);
	if (rc == 0) {
		char *hex = match_line(buf, SECRET_TAG, 2 * STRATA_SK_LEN);
		if (!hex || strata_hex_decode(sk, STRATA_SK_LEN, hex) != 0)
			rc = say(err, errlen, STRATA_ECONFIG,
				 "key file %s is malformed: expected one line 'ed25519-secret' "
				 "followed by %d hex characters",
				 path, 2 * STRATA_SK_LEN);
	}
	if (rc == 0) {
		/* The stored public half must be the one the seed generates; otherwise we would
		 * sign with one identity and announce another. */
		crypto_sign_ed25519_sk_to_seed(seed, sk);
		if (crypto_sign_seed_keypair(check_pk, check_sk, seed) != 0 ||
		    sodium_memcmp(check_sk, sk, STRATA_SK_LEN) != 0)
			rc = say(err, errlen, STRATA_ECONFIG,
				 "key file %s is corrupt: its public half does not match its seed",
				 path);
		else
			crypto_sign_ed25519_sk_to_pk(pk, sk);
	}
	if (rc != 0)
		sodium_memzero(sk, STRATA_SK_LEN);
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(check_sk, sizeof(check_sk));
	return rc;
}

int strata_pubkey_parse_hex(uint8_t pk[32], const char *hex)
{
	STRATA_ASSERT(pk && hex);
	uint8_t x25519[crypto_scalarmult_curve25519_BYTES];
	if (strata_hex_decode(pk, STRATA_PK_LEN, hex) != 0)
		return STRATA_EINVAL;
	/* Link keys are derived from the X25519 form; a key without one is useless to us. */
	if (crypto_sign_ed25519_pk_to_curve25519(x25519, pk) != 0)
		return STRATA_EINVAL;
	return 0;
}

int strata_pubkey_read(const char *path, uint8_t pk[32], char *err, size_t errlen)
{
	STRATA_ASSERT(path && pk);
	char buf[FILE_MAX];
	int rc = read_small(path, buf, sizeof(buf), false, err, errlen);
	if (rc != 0)
		return rc;
	char *hex = match_line(buf, PUBLIC_TAG, 2 * STRATA_PK_LEN);
	if (!hex || strata_pubkey_parse_hex(pk, hex) != 0)
		return say(err, errlen, STRATA_ECONFIG,
			   "public key file %s is malformed: expected one line 'ed25519-public' "
			   "followed by %d hex characters of a valid key",
			   path, 2 * STRATA_PK_LEN);
	return 0;
}

int strata_coinfile_write(const char *path, const uint8_t x[32], char *err, size_t errlen)
{
	STRATA_ASSERT(path && x);
	return create_tagged(path, 0600, COIN_TAG, x, 32, err, errlen);
}

int strata_coinfile_read(const char *path, uint8_t *x, char *err, size_t errlen)
{
	STRATA_ASSERT(path && x);
	char buf[FILE_MAX];
	int rc = read_small(path, buf, sizeof(buf), true, err, errlen);
	if (rc == 0) {
		char *hex = match_line(buf, COIN_TAG, 64);
		uint8_t wide[64] = { 0 }, red[32];
		if (!hex || strata_hex_decode(x, 32, hex) != 0) {
			rc = say(err, errlen, STRATA_ECONFIG,
				 "coin share file %s is malformed: expected one line 'coin-share' "
				 "followed by 64 hex characters", path);
		} else {
			memcpy(wide, x, 32);
			crypto_core_ristretto255_scalar_reduce(red, wide);
			if (sodium_is_zero(x, 32) || sodium_memcmp(red, x, 32) != 0)
				rc = say(err, errlen, STRATA_ECONFIG,
					 "coin share file %s does not hold a coin share (a non-zero "
					 "reduced ristretto255 scalar)", path);
		}
		sodium_memzero(wide, sizeof(wide));
		sodium_memzero(red, sizeof(red));
	}
	if (rc != 0)
		sodium_memzero(x, 32);
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

int strata_clientkey_write(const char *path, const uint8_t key[32], char *err, size_t errlen)
{
	STRATA_ASSERT(path && key);
	return create_tagged(path, 0600, CLIENT_TAG, key, 32, err, errlen);
}

int strata_clientkey_read(const char *path, uint8_t *key, char *err, size_t errlen)
{
	STRATA_ASSERT(path && key);
	char buf[FILE_MAX];
	int rc = read_small(path, buf, sizeof(buf), true, err, errlen);
	if (rc == 0) {
		char *hex = match_line(buf, CLIENT_TAG, 64);
		if (!hex || strata_hex_decode(key, 32, hex) != 0)
			rc = say(err, errlen, STRATA_ECONFIG,
				 "client key file %s is malformed: expected one line "
				 "'strata-client-key' followed by 64 hex characters", path);
	}
	if (rc != 0)
		sodium_memzero(key, 32);
	sodium_memzero(buf, sizeof(buf));
	return rc;
}
