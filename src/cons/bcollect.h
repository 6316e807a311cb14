/* Signed Conditional Collect (the book's Alg. 5.16), one instance per (consensus instance,
 * epoch), owned by Byzantine read/write epoch consensus (bep.c). See bcollect.c.
 * Internal to src/cons/. */
#ifndef STRATA_CONS_BCOLLECT_H
#define STRATA_CONS_BCOLLECT_H

#include <stdbool.h>
#include <stdint.h>

#include "cons/cons.h"
#include "crypto/crypto.h"

#define BCC_MAX_N 64u

/* Message types on the owner's wire: [type][ets][body]. */
enum bcc_type {
	BCC_SEND = 17,      /* [ets][bytes m][raw sig] to the leader */
	BCC_COLLECTED = 18, /* [ets][count N][N x ([u8 has] if has: [bytes m][raw sig])] */
};

/* The collection vector: M[p] (NULL = UNDEFINED) and Σ[p], p = 1..N. */
struct bcc_vec {
	const uint8_t *m[BCC_MAX_N + 1];
	size_t len[BCC_MAX_N + 1];
	const uint8_t *sig[BCC_MAX_N + 1];
};

struct bcc {
	uint64_t ets;
	uint32_t leader;
	/* leader: messages[] and Σ[] (one reference per collected message) */
	struct strata_msg *msgs[BCC_MAX_N + 1];
	uint8_t sigs[BCC_MAX_N + 1][STRATA_SIG_LEN];
	bool sent;             /* leader: COLLECTED went out */
	bool collected;        /* <Collected> indicated here */
	struct strata_msg *my_send;      /* this process's SEND, kept for repeats */
	struct strata_msg *my_collected; /* leader: the COLLECTED, kept for repeats */
};

/* What conditional collect needs from its owner. */
struct bcc_env {
	struct strata_module *m;
	uint64_t instance;     /* the consensus instance: part of what is signed */
	uint32_t n, f, self;
	bool check_sigs;       /* false only in the simulation suite's broken variant */
	/* The output predicate C on a vector with `count` defined entries. */
	bool (*pred)(const struct bcc_env *env, const struct bcc_vec *v);
	void *arg;             /* the owner's, for pred */
};

/* upon event <cc, Init> */
void bcc_init(struct bcc *c, uint64_t ets, uint32_t leader);
/* Frees what the instance holds (its references). */
void bcc_free(struct bcc *c);
/* upon event <cc, Input | m>: signs m and sends it to the leader. */
void bcc_input(const struct bcc_env *env, struct bcc *c, const uint8_t *m, size_t len);
/* Signs m in this process's name (sig gets STRATA_SIG_LEN bytes). */
void bcc_sign(const struct bcc_env *env, uint64_t ets, const uint8_t *m, size_t len,
	      uint8_t *sig);
/* The Byzantine test behaviour `badsig`: the first defined entry of v not this process's gets a
 * copy of its signature with one byte flipped (held in sig, which must outlive v's use). */
void bcc_vec_corrupt_one(const struct bcc_env *env, struct bcc_vec *v, uint8_t *sig);
/* The number of defined entries of v. */
uint32_t bcc_count(const struct bcc_env *env, const struct bcc_vec *v);
/* Sends [COLLECTED, v] to `to` (0 = every process): the leader's step, and the Byzantine test
 * behaviours' forged or equivocating vectors. */
void bcc_send_collected(const struct bcc_env *env, struct bcc *c, uint32_t to,
			const struct bcc_vec *v);
/* A message of this instance (type and ets already read from r). Returns 1 when it triggers
 * <cc, Collected | M> (*out then points into msg, which the caller keeps alive while it uses
 * out), 0 otherwise, -1 if malformed, -2 if a signature did not verify. */
int bcc_recv(const struct bcc_env *env, struct bcc *c, uint32_t from, uint8_t type,
	     struct strata_rd *r, struct bcc_vec *out);
/* Sends this process's SEND again, and the leader its COLLECTED (a repeat; see bep.c). */
void bcc_resend(const struct bcc_env *env, const struct bcc *c);

#endif
