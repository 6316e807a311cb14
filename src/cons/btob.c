/* Byzantine total-order broadcast, book Alg. 6.2 "Rotating Sender Byzantine Broadcast"
 * (module btob).
 *
 * Specification (Module 6.2, Byzantine total-order broadcast):
 *   BTOB1 Validity: if a correct process p broadcasts m, then p eventually delivers m.
 *   BTOB2 No duplication: no correct process delivers the same message more than once.
 *   BTOB3 Integrity: if some correct process delivers m with sender p and p is correct, then m
 *         was previously broadcast by p.
 *   BTOB4 Agreement: if a message m is delivered by some correct process, then m is eventually
 *         delivered by every correct process.
 *   BTOB5 Total order: if correct processes p and q both deliver m1 and m2 and p delivers m1
 *         before m2, then q delivers m1 before m2.
 *
 * Algorithm (Alg. 6.2): rounds r = 1, 2, ...; round r belongs to sender l = leader(r), the
 * processes in turn ((r - 1) mod N + 1). A broadcast goes to every process over authenticated
 * links; every process keeps each sender's messages it has not delivered (unordered[s]); in
 * round r every process proposes, in Byzantine consensus instance r, the first undelivered
 * message of l (head(unordered[l])) or MISSING; the decided message, if it is l's next
 * message, is delivered as l's; then round r + 1.
 *     upon <btob, Broadcast | m> do forall q: trigger <al, Send | q, m>;
 *     upon <al, Deliver | p, m> such that m not delivered do append m to unordered[p];
 *     upon exists p: unordered[p] != [] and wait = FALSE do
 *         wait := TRUE; l := leader(round);
 *         m := head(unordered[l]) if unordered[l] != [] else MISSING;
 *         trigger <bc.round, Propose | m>;
 *     upon <bc.r, Decide | m> such that r = round do
 *         l := leader(round);
 *         if m != MISSING then delivered := delivered + {m}; remove m from unordered[l];
 *             trigger <btob, Deliver | l, m>;
 *         round := round + 1; wait := FALSE;
 *
 * Pipelining (an addition; the book runs one round at a time): of the window round, ...,
 * round + W - 1 (W = min(N, BTOB_PIPE_MAX)), every round up to the last one whose sender's next
 * message is here is proposed at once, each its own consensus instance, and decisions are
 * delivered in round order (a later round's decision waits). Proposing round r needs only
 * l(r)'s next undelivered message, and l(r)'s previous round r - N < round is delivered already
 * (W <= N), so the proposal is the one the book's process would make at r. Safety does not
 * depend on it (every decision is checked as below, at its round); the gain is that a message
 * waits for one consensus instance, not for the instances of the rounds before its sender's
 * one after the other. Rounds after the last one with a message are not proposed ahead (they
 * would mostly decide MISSING for nothing). One round with messages in flight: a round whose
 * sender's next message is here is not proposed while an earlier round of the window that this
 * process proposed with messages is undecided (unless a later round's decision is buffered:
 * catching up). Its sender's messages keep arriving meanwhile and go in one batch when the
 * round opens: under load each bldc instance (N signatures and about N + N^2 verifications)
 * orders about twice the messages it did with every round of the window in flight (12.7
 * against 5.1 requests per instance in the 4-node KV at c = 64), and a lone message still has
 * the MISSING rounds before it run alongside. Proposals only decide which value this process
 * offers and when; every decision is still checked at its round, so safety does not depend on
 * it, and a withheld round is proposed once the round before it is delivered here.
 * Overlapping rounds (cons_btob_set_overlap, the BFT KV's `[smr] bft_overlap`): up to
 * `overlap` rounds with messages in flight instead of one (at most the window W), so that an
 * upper that batches can have the next round's batch ordered while the round before it is
 * decided (cons_btob_send_now's BTOB_SEND_NEXT; when the message of such a round arrives, the
 * uppers are asked to look at the turn's end). Only which rounds are proposed when changes;
 * each is still proposed with its sender's next messages and every decision is checked at
 * its round, delivered in round order. If a round of the overlap decides MISSING its sender's
 * messages stay unordered here and go into that sender's next round (BTOB1).
 *
 * Decided values are checked, not trusted. The Byzantine consensus under it (Alg. 5.19,
 * weak validity) may decide a value a Byzantine process proposed, so every message carries its
 * sender's Ed25519 signature over (sender, sequence number, payload), and a decision counts as
 * l's message only if it is signed by l and is l's next sequence number (l's messages are
 * delivered in the order l numbered them, each number once: no duplication, and integrity for a
 * correct l). Anything else decided in l's round (a forged or replayed message, a Byzantine
 * sender's second message for one number) is delivered as nothing, the same at every correct
 * process, and l's turn comes again N rounds later. A Byzantine sender that signs two messages
 * with one number gets one of them delivered (the one decided first), everywhere the same.
 *
 * What is signed and why. A message's signature is l's Ed25519 signature of T = BTOB_LABEL ||
 * SHA-256(BTOB_LABEL || [MSG][sender][seq][bytes payload]) (signed_text). It is needed because
 * messages are relayed: a decided batch reaches a process inside the bldc leader's PROPOSE (or a
 * DECIDED), from a process that is not the sender, and the authenticated links vouch only for
 * that hop; the signature is what lets every correct process decide alike, from the decided
 * bytes alone, whether the round's sender sent them. Signing the SHA-256 digest instead of the
 * body (since 2026-12-07; before, the body itself under "strata-btob-v1") keeps that: a
 * signature of T vouches for exactly one body unless SHA-256 has a collision (the order and
 * the BFT KV rest on SHA-256's collision resistance already: bldc's WRITE and ACCEPT vote on
 * digests, the KV's replies and client requests are signed as digests), and the label, at both
 * ends, keeps T apart from every other text the node's key signs (replies: a 4-byte replica id
 * and a digest; checkpoint votes, conditional collect's "strata/bcc" texts). What it saves:
 * Ed25519 hashes the signed text with SHA-512 (twice to sign, once to verify; libsodium's
 * portable code), so with kilobyte batches the body crossed SHA-512 five times per message in
 * the cluster of four; now SHA-256 once per signer and verifier. A message this process
 * received directly from its sender is verified all the same: the link proves who sent the
 * bytes, not that the signature in them is valid, and a process that later checks the decided
 * copy (one that never got it directly) must reach the same verdict.
 *
 * Model: fail-noisy-arbitrary, N > 3f (the constructor refuses N <= 3f), that of its
 * consensus: Byzantine leader-driven consensus (`bldc`, Alg. 5.19, instance space
 * CONS_SPACE_BTOB), over authenticated perfect links (al: the links' HMAC, the sender is the
 * peer that authenticated). Faithful to Alg. 6.2 but for the complaint below.
 *
 * Liveness against a Byzantine consensus leader (a departure the book leaves implicit): weak
 * validity lets a Byzantine bldc leader have a value of its making decided in every round;
 * bldc's own complaint fires only when nothing is decided, so such a leader would be decided
 * garbage forever and btob would order nothing. So a correct process that sees a decided value
 * that is not the round sender's next message, or MISSING while it has held that message for
 * the detector's timeout before the round entered its window of W rounds (when round - W was
 * delivered here; a correct leader proposes the round no earlier than that at its own pace, so
 * after stabilisation it held the message too), complains to bld (Alg. 2.10) about the leader
 * it trusts. Every correct process sees the same decision, so 2f + 1 of them complain and the
 * leader moves; a correct leader proposes a valid value, and after stabilisation has every
 * message a correct process held for the timeout, so it is complained about only when an
 * earlier epoch's value is decided under it (once per such instance).
 *
 * Batching: a round orders a batch, not one message. The round's value is l's undelivered
 * messages next, next + 1, ... that the proposer holds, in order: at most BTOB_BATCH_MAX (128)
 * of them and at most bldc's value bound in bytes (cons_value_max for N x (BEP_WS_MAX + 1)
 * values per link message: about 29 KB at N = 4 and 16 KB at N = 7 with the default 1 MiB
 * max_value). A decided batch is delivered message by message while each is l's next, signed
 * by l; from the first that is not, the rest is delivered as nothing (and the leader is
 * complained about). A message this process already holds (the same bytes, verified when they
 * arrived) is not verified again.
 *
 * Costs. Per message: one signature by its sender, N al messages, one verification at each
 * receiver (the decision re-verifies only bytes it never received). Per round, whatever it
 * decides: one bldc instance (N + 2N^2 + 3N messages; N signatures and N + N^2 verifications
 * in the cluster, conditional collect's), shared by the k messages of the batch. So per
 * message, in the cluster: 1 + N/k signatures and N + (N + N^2)/k verifications (k = 1 without
 * batching: N + 1 signatures and N^2 + 2N verifications). A round whose sender has nothing
 * decides MISSING (a lone broadcaster pays up to N instances per batch; with the pipeline they
 * run at once, so its latency is about one instance, not N).
 *
 * Bounds: a sender's undelivered messages are kept in a window of BTOB_WIN (256) sequence
 * numbers above its next undelivered one (beyond: dropped and counted; a correct sender refuses
 * its own broadcast with EFULL while its window is full), each at most the payload bound below
 * (one message alone in a batch), so at most N x BTOB_WIN messages; one message per (sender,
 * number) is kept (a different second one is counted as equivocation); a decision of a later
 * round waits in a buffer indexed by round, BTOB_FUTURE_MAX rounds (bldc's decided window,
 * CONS_WINDOW: a process takes no instance further above its watermark) and BTOB_FUTURE_BYTES
 * bytes of values (beyond: dropped and counted); at most W <= BTOB_PIPE_MAX rounds are
 * proposed and undecided at once, at most `overlap` (1 by default) of them with messages
 * (above).
 *
 * Resuming from a round (an addition, for the BFT KV's certified snapshots, src/smr/bft_ckpt.c):
 * a process that fell behind what the others still hold for it, or restarted without state,
 * installs a snapshot certified by 2f + 1 signatures that names a position (round R, every
 * sender's next sequence number) and calls cons_btob_resume: round := R, next[q] := the
 * position's, held messages and buffered decisions below it let go, bldc's instances of the
 * rounds before R retired (cons_lower_skip). Every message of the rounds before R is in the
 * installed state (the position is where correct processes were after delivering round R - 1,
 * btob tells its upper at the last message of every round, cons.h), so delivering from R on
 * keeps BTOB2-BTOB5. Catching up: a process also proposes its current round when a later
 * round's decision is buffered (the round is decided elsewhere or being decided), MISSING if it
 * holds nothing of that round's sender, and takes a decision bldc already has for a round it
 * proposes (cons_lower_propose_fetch): the processes that decided answer with DECIDED (bldc).
 * A restarted process continues its own sequence numbers after the position's (bft_ckpt.c says
 * what that does not cover).
 *
 * Catching up far behind (docs/consensus-byzantine.md, "Catching up far behind"). bldc retires
 * an instance when it decides and keeps only its last CONS_CACHE (64) decided values, and it
 * answers a retired instance's messages with DECIDED only from them; a process asks nobody for
 * an instance it retired. Two things follow for a process that comes back far behind (restarted,
 * or cut off), and two additions cover them:
 *   - The future buffer. The links bring it every DECIDED sent while it was away, for every round
 *     it missed, at once: its bldc decides and retires all of them long before btob can deliver
 *     them. A decision btob let go was lost to it (with 64 rounds held before, a process more
 *     than 64 rounds behind stalled until a newer stable checkpoint, for ever if the load
 *     stopped). Now every decision of a later round is held, by round, until its round is
 *     delivered: BTOB_FUTURE_MAX (CONS_WINDOW) rounds, BTOB_FUTURE_BYTES bytes.
 *   - The decided log. The rounds between the checkpoint it installs and the round it left at
 *     were decided before it went (it had them, so no retransmission brings them again): it
 *     proposes them and the others must answer, also once more than CONS_CACHE rounds went by
 *     since. Each process keeps bldc's decision of every round it delivers, from the upper's
 *     stable checkpoint's round on (cons_btob_keep_from; at most BTOB_LOG_MAX rounds and
 *     BTOB_LOG_BYTES bytes, the oldest let go beyond), and bldc answers from it
 *     (cons_lower_set_decided) what its cache no longer holds.
 * Why Byzantine processes gain nothing: neither addition changes what a process decides or how a
 * decision is checked. The future buffer holds decisions of this process's own bldc (its quorums,
 * or f + 1 equal DECIDED claims, one of them from a correct process, bldc's rule), delivered in
 * round order and checked at their round as before. The log answers only what this process's
 * bldc decided for a round it delivered (never a round it skipped by a checkpoint: resuming lets
 * go of the log below), which is the DECIDED claim bldc would make from its cache; a process
 * still decides a round only on f + 1 equal claims, so f Byzantine processes answering with
 * anything else decide nothing (the f + 1 rule the snapshot fetch's certificates stand on too,
 * with 2f + 1 signatures there). What a Byzantine process can do is ask: every VALUE for a
 * retired round costs one DECIDED answer with the value, as it did for the cached rounds.
 *
 * Sends the links refuse (docs/consensus-byzantine.md, "A send the links refuse"). The perfect
 * links queue at most `[links] backlog_bytes` per peer and refuse a send beyond it (STRATA_EFULL):
 * outside the book's model, a message lost. Three additions keep btob live when that happens:
 *   - Owed broadcasts. A broadcast the links refuse to peer q (or that would overtake one they
 *     refused: the links are FIFO, and btob delivers a sender's messages in their order) is owed
 *     to q, from owed[q] on, and sent again in order from this process's own window (its
 *     undelivered messages, which it keeps anyway) when the links have room (strata_pl_room,
 *     tried every retransmit_min_ms and at every broadcast); one the order delivered meanwhile is
 *     owed no more (the decision carried it). Before, q never got it: q held the next ones above
 *     a gap, a consensus leader without it had MISSING decided in its sender's rounds, and the
 *     sender's later messages were never ordered.
 *   - Gaps start no round. A process proposes rounds while some sender's *next* message is here
 *     (any_unordered), not any message: one above a gap cannot be delivered before the gap is
 *     filled. Before, every process holding one proposed MISSING rounds for as long as the gap
 *     lasted (with the 4 KiB backlog seen at first, rounds 296 to 3,851 and on, with no client
 *     request), for ever if a Byzantine sender made the gap; and the decided log, BTOB_LOG_MAX
 *     rounds, let go of the rounds a returning process needed.
 *   - Where the others are. A process that was away gets no message of the rounds decided while
 *     it was away when the links refused them, and its bldc asks nobody about an instance it
 *     never heard of, so with no load nothing moves it again. Every [fd] timeout_ms with no
 *     round delivered and none proposed, it sends ASK(round) to the others (spaced out to every
 *     BTOB_PROBE_BACKOFF timeouts while nothing changes); a process past that round answers
 *     AT(its round). reach, the (f + 1)-th highest round the others said they are at, is one a
 *     correct process is at (f liars say what they like and move nothing): every round below it
 *     is decided there, so this process proposes its rounds up to reach, up to BTOB_PIPE_MAX at
 *     once, each only fetching its decision (bldc's DECIDED answers, from the cache or the
 *     decided log). Cost in a quiet cluster: N - 1 ASKs of 11 bytes per process per
 *     BTOB_PROBE_BACKOFF timeouts, answered only by a process ahead; a Byzantine asker gets one
 *     AT per ASK.
 * bldc and the conditional collect under it repeat their messages of an undecided instance every
 * period (bldc.c), and answer a decided one's with DECIDED whenever asked, so a refused send
 * there costs a period, not the instance.
 *
 * Stacking (bcast/bcast.h), as tob: upper modules open instances of btob (at most BTOB_UPPERS)
 * and broadcast on them; one total order for every instance together (the signed payload is
 * [instance][bytes]); instance 0's messages go to the client adapter (`strata bcast`), instance
 * k's to k's subscribers (the KV with `[smr] log = btob`). A message delivered for an instance
 * whose upper this node has not created yet creates it (first use, bc_subs_default), so the
 * upper gets every message of the order, whatever reached the node first.
 *
 * Test-only Byzantine behaviours (strata_node_byz), in btob's messages and proposals:
 *   SILENT      broadcasts nothing and proposes nothing (bldc is silent too);
 *   FORGE       proposes, in every round, a message claiming the round's sender that the
 *               sender never broadcast: signed with its own key, or (in even rounds, when it
 *               holds the sender's next message) that message with its payload's last byte
 *               altered and the sender's signature kept;
 *   REPLAY      proposes, in every round, the round's sender's last delivered message again;
 *   BADSIG      broadcasts its messages with a corrupted signature;
 *   EQUIVOCATE  signs two different messages with each of its sequence numbers and proposes
 *               the second one in its own rounds (its broadcast carries the first).
 * The node's behaviour acts in bldc, bep, bcollect, bec and bld as well (their headers);
 * cons_btob_test_byz gives a process one of these behaviours in btob alone, with its consensus
 * run by the book, so that its values are decided when it leads an epoch.
 * TEST ONLY broken variant (cons_btob_test_trust): a decided message is delivered as the sender
 * it names without checking its signature or that it is the round sender's; and
 * BTOB_BROKEN_SIG_HEADER (cons_btob_test_broken): the signed digest covers the message without
 * its payload, so FORGE's altered copies of genuine messages verify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcast/bcast.h"
#include "bcast/common.h"
#include "cons/bep.h"
#include "cons/cons.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "crypto/crypto.h"
#include "crypto/sha256.h"
#include "fd/fd.h"
#include "links/links.h"

#define BTOB_WIN 256u
#define BTOB_BATCH_MAX 128u
/* Decisions of later rounds held (the future buffer): at most this many rounds and bytes. Every
 * decision bldc indicates must be held until its round is delivered: bldc retires the instance
 * when it decides, and keeps only its last CONS_CACHE decided values, so a decision let go here
 * is lost to this process once CONS_CACHE later ones were decided (it asks nobody for a retired
 * instance). A replica back from a crash or a partition gets the decisions of every round it
 * missed at once (the links resend what they hold for it), long before it can deliver them:
 * with 64 rounds held, a replica more than 64 rounds behind lost rounds for good and stalled
 * (docs/consensus-byzantine.md, "Catching up far behind"). */
#define BTOB_FUTURE_MAX CONS_WINDOW
#define BTOB_FUTURE_BYTES ((size_t)64 << 20)
/* Delivered rounds kept to answer a process behind them (the decided log, below): at most this
 * many rounds and bytes of values. */
#define BTOB_LOG_MAX CONS_WINDOW
#define BTOB_LOG_BYTES ((size_t)32 << 20)
#define BTOB_LABEL "strata-btob-v2"
#define BTOB_SIGNED_LEN (sizeof(BTOB_LABEL) - 1 + STRATA_HASH_LEN)
#define BTOB_TAG_MISSING 0
#define BTOB_TAG_MSG 1
#define BTOB_TAG_BATCH 2
#define BTOB_TAG_ASK 3 /* [ASK][round]: "I am at round", sent while idle (probe_tick) */
#define BTOB_TAG_AT 4  /* [AT][round]: the answer of a process past it: "I am at round" */
#define BTOB_OVERHEAD (1 + 10 + 10 + 10 + 10 + STRATA_SIG_LEN)
#define BTOB_UPPERS 4u
#define BTOB_PIPE_MAX 16u /* rounds in flight at most (the window is min(N, this)) */
#define BTOB_TOK_OWED 1  /* the timer that sends owed broadcasts again */
#define BTOB_TOK_PROBE 2 /* the idle tick: ask the others where they are */
#define BTOB_PROBE_BACKOFF 8u /* idle ticks between ASKs at most (doubling from 1) */

struct btob_sender {
	uint64_t next;                    /* l's next sequence number to deliver (from 1) */
	struct strata_msg *win[BTOB_WIN]; /* encoded message seq at win[seq % BTOB_WIN] */
	uint64_t at_us[BTOB_WIN];         /* when win[k] arrived here */
	struct strata_msg *last;          /* its last delivered message (REPLAY behaviour) */
};

struct btob {
	struct strata_module m;
	struct strata_module *cons;
	struct strata_module *bld; /* whom a complaint goes to (the leader detector under bldc) */
	uint32_t trusted;          /* bld's current leader */
	uint64_t wstart_us[BTOB_PIPE_MAX]; /* when round r entered the window: [r % PIPE_MAX] */
	uint64_t hold_us;          /* a head held this long before a round makes MISSING suspect */
	const char *cons_name;
	uint64_t lsn; /* this process's broadcasts */
	struct btob_sender *snd; /* [n + 1] */
	size_t nun;              /* messages held in the windows */
	uint64_t round;    /* the next round to deliver */
	uint64_t last_round_us; /* when the last round was delivered (cons_btob_send_now) */
	uint32_t propd;    /* bit r % BTOB_PIPE_MAX: round r of [round, round + pipe) proposed */
	uint32_t propm;    /* the same bit: and this process's proposal carried messages */
	uint32_t pipe;     /* rounds in flight at most: min(N, BTOB_PIPE_MAX) */
	uint32_t overlap;  /* of them, with messages at most (cons_btob_set_overlap; 1 default) */
	bool trust; /* TEST ONLY: the broken variant */
	unsigned broken; /* TEST ONLY: BTOB_BROKEN_* (cons_btob_test_broken) */
	bool test_gap;   /* TEST ONLY: the next broadcast skips a number (cons_btob_test_gap) */
	enum strata_byz test_byz; /* TEST ONLY: a behaviour in btob alone (consensus correct) */
	struct {
		uint64_t round;
		struct strata_msg *v;
	} *fut;           /* [BTOB_FUTURE_MAX]: round r's decision at fut[r % BTOB_FUTURE_MAX] */
	unsigned nfut;    /* decisions held */
	size_t fut_bytes; /* their values' bytes */
	uint64_t fut_max; /* the most held at once (cons_btob_future_counts) */
	/* The decided log: bldc's decision of each round delivered here, from dlog_low on (the
	 * upper lets go of the rounds its stable checkpoint covers, cons_btob_keep_from), at
	 * dlog[round % BTOB_LOG_MAX]; bldc answers a retired instance's messages from it once its
	 * own cache of CONS_CACHE values no longer holds the round. */
	struct {
		uint64_t round;
		struct strata_msg *v;
	} *dlog;
	uint64_t dlog_low;
	size_t dlog_bytes;
	uint64_t dlog_served; /* answers bldc took from it */
	uint64_t dropped, equivocations, invalid, missing, bad, complaints;
	uint64_t batches, batched; /* rounds that delivered, and the messages they delivered */
	struct {
		uint64_t inst;
		struct bc_subs subs;
	} up[BTOB_UPPERS];
	unsigned nup;
	/* The message being delivered (resume positions, cons_btob_delivery_pos). */
	uint32_t dl_sender;
	uint64_t dl_seq;
	bool dl_last;
	uint64_t resumed; /* times a checkpoint moved this process ahead (cons_btob_resume) */
	/* This process's broadcasts the links refused (STRATA_EFULL: the peer's backlog full),
	 * owed to the peer and sent again, in order, from its own window, when the links have
	 * room (links.h, strata_pl_owed, numbered by sequence number: owed_item; its counters:
	 * sends refused or held back behind one, and re-sent). */
	struct strata_pl_owed *owed;
	/* Rounds decided elsewhere that nothing here shows (on_at): at[q] is the highest round
	 * q said it is at, reach the (f + 1)-th highest of them (some correct process is there:
	 * every round below it is decided); while round < reach this process proposes its rounds
	 * to fetch their decisions, as when a later round's decision is buffered. */
	uint64_t *at;             /* [n + 1] */
	uint64_t reach;
	struct strata_timer probe_tick;
	uint64_t probe_round;     /* round at the last tick */
	unsigned probe_every, probe_wait; /* idle ticks between ASKs (backoff), and left */
	uint64_t asks, reached;   /* ASKs sent; rounds delivered while below reach */
};

struct btob_parsed {
	uint32_t sender;
	uint64_t seq;
	const uint8_t *payload;
	size_t len;
};

static enum strata_byz btob_byz(const struct btob *b)
{
	return b->test_byz != STRATA_BYZ_NONE ? b->test_byz : strata_node_byz(b->m.node);
}

static uint64_t btob_inst(uint64_t round)
{
	return CONS_SPACE_BTOB << CONS_SPACE_BITS | round;
}

static uint32_t leader(const struct btob *b, uint64_t round)
{
	return (uint32_t)((round - 1) % strata_node_n(b->m.node)) + 1;
}

/* The text a message's signature covers: BTOB_LABEL || SHA-256(BTOB_LABEL || body), body =
 * [MSG][sender][seq][bytes payload] (the header's "What is signed"). Ed25519 hashes what it signs
 * with SHA-512, twice to sign and once to verify, in libsodium's portable code: over the whole
 * body (a batch of requests: kilobytes) that was five SHA-512 passes per message in the cluster
 * (sign, N - 1 verifications); now one SHA-256 per signer or verifier (the SHA extensions where
 * the CPU has them) and Ed25519 over 46 bytes. */
static void signed_text(const struct btob *b, uint8_t out[BTOB_SIGNED_LEN], const uint8_t *body,
			size_t len, size_t payload_len)
{
	struct strata_sha256 h;
	if (b->broken & BTOB_BROKEN_SIG_HEADER) /* TEST ONLY: the payload left unsigned */
		len -= payload_len;
	memcpy(out, BTOB_LABEL, sizeof(BTOB_LABEL) - 1);
	strata_sha256_init(&h);
	strata_sha256_update(&h, (const uint8_t *)BTOB_LABEL, sizeof(BTOB_LABEL) - 1);
	strata_sha256_update(&h, body, len);
	strata_sha256_final(&h, out + sizeof(BTOB_LABEL) - 1);
}

/* Encodes [MSG][sender][seq][bytes payload][signature by this process over signed_text]. */
static struct strata_msg *encode(struct btob *b, uint32_t sender, uint64_t seq,
				 const uint8_t *p, size_t len, bool corrupt)
{
	struct strata_wr w;
	strata_wr_init(&w, len + BTOB_OVERHEAD);
	strata_wr_u8(&w, BTOB_TAG_MSG);
	strata_wr_u64(&w, sender);
	strata_wr_u64(&w, seq);
	strata_wr_bytes(&w, p, len);
	if (w.err) {
		strata_wr_free(&w);
		return NULL;
	}
	uint8_t text[BTOB_SIGNED_LEN], sig[STRATA_SIG_LEN];
	signed_text(b, text, w.buf, w.len, len);
	strata_sign(sig, strata_node_secret_key(b->m.node), text, sizeof(text));
	strata_node_counters(b->m.node)->sig_signed++;
	if (corrupt)
		sig[1] ^= 0x11;
	struct strata_msg *msg = strata_msg_alloc(w.len + STRATA_SIG_LEN);
	if (msg) {
		memcpy(msg->data, w.buf, w.len);
		memcpy(msg->data + w.len, sig, STRATA_SIG_LEN);
	}
	strata_wr_free(&w);
	return msg;
}

/* Parses and (verify) checks a message: 1 valid (signed by its sender), 0 MISSING, -1
 * malformed or badly signed. */
static int parse(const struct btob *b, const uint8_t *d, size_t len, struct btob_parsed *out,
		 bool verify)
{
	if (len == 1 && d[0] == BTOB_TAG_MISSING)
		return 0;
	if (len < 1 + STRATA_SIG_LEN || d[0] != BTOB_TAG_MSG)
		return -1;
	size_t body = len - STRATA_SIG_LEN;
	struct strata_rd r;
	strata_rd_init(&r, d, body);
	(void)strata_rd_u8(&r);
	out->sender = (uint32_t)strata_rd_u64_max(&r, strata_node_n(b->m.node));
	out->seq = strata_rd_u64(&r);
	out->len = strata_rd_bytes(&r, &out->payload, SIZE_MAX);
	if (strata_rd_done(&r) != 0 || out->sender == 0 || out->seq == 0)
		return -1;
	if (!verify)
		return 1;
	const struct strata_config *cfg = strata_node_config(b->m.node);
	if (!cfg->nodes[out->sender].has_public_key)
		return -1;
	uint8_t text[BTOB_SIGNED_LEN];
	signed_text(b, text, d, body, out->len);
	strata_node_counters(b->m.node)->sig_verified++;
	return strata_verify(d + body, cfg->nodes[out->sender].public_key, text, sizeof(text))
		       ? 1
		       : -1;
}

/* Whether some sender's next message is here: the book's "exists p: unordered[p] != []", for
 * what this process can order. A message held above a gap in its sender's numbers (the one
 * before it has not arrived) cannot be delivered before the gap is filled, so it starts no
 * round: else every process holding it would propose MISSING rounds for as long as the gap
 * lasts, for ever if a Byzantine sender made it (docs/consensus-byzantine.md, "A send the
 * links refuse"). */
static bool any_unordered(const struct btob *b)
{
	if (b->nun == 0 || (b->broken & BTOB_BROKEN_GAP_ROUNDS))
		return b->nun > 0;
	for (uint32_t q = 1; q <= strata_node_n(b->m.node); q++)
		if (b->snd[q].win[b->snd[q].next % BTOB_WIN])
			return true;
	return false;
}

/* A decided value must fit bldc's bound (a COLLECTED carries N states with their writesets). */
static size_t btob_value_max(const struct btob *b)
{
	return cons_value_max(b->m.node, strata_node_n(b->m.node) * (BEP_WS_MAX + 1));
}

/* The round's value: MISSING, or [BATCH][count][bytes m1]...[bytes mk], l's messages next,
 * next + 1, ... that this process holds, in order, at most BTOB_BATCH_MAX of them and within
 * the consensus's value bound. */
static struct strata_msg *encode_batch(struct btob *b, struct btob_sender *s, size_t *count)
{
	size_t max = btob_value_max(b), k = 0, bytes = 1 + 10;
	uint64_t n = 0;
	while (n < BTOB_BATCH_MAX && s->win[(s->next + n) % BTOB_WIN]) {
		const struct strata_msg *x = s->win[(s->next + n) % BTOB_WIN];
		if (bytes + x->len + 10 > max)
			break;
		bytes += x->len + 10;
		n++;
	}
	struct strata_wr w;
	strata_wr_init(&w, bytes);
	strata_wr_u8(&w, BTOB_TAG_BATCH);
	strata_wr_u64(&w, n);
	for (k = 0; k < n; k++) {
		const struct strata_msg *x = s->win[(s->next + k) % BTOB_WIN];
		strata_wr_bytes(&w, x->data, x->len);
	}
	struct strata_msg *v = w.err ? NULL : strata_msg_new(w.buf, w.len);
	strata_wr_free(&w);
	*count = n;
	return v;
}

/* upon exists p: unordered[p] != [] and wait = FALSE do
 *     wait := TRUE; l := leader(round);
 *     m := head(unordered[l]) if unordered[l] != [] else MISSING;   (here: a batch of them)
 *     trigger <bc.round, Propose | m>;
 * (pipelined: for every round r in [round, round + pipe) not yet proposed; sender l(r)'s
 * previous round r - N < round is delivered, so its next message is known) */
static bool propose_round(struct btob *b, uint64_t round);
static bool drain_future(struct btob *b);
static void flush_owed(struct btob *b);
static void try_round(struct btob *b);

/* ---- the future buffer: decisions of rounds after the next one to deliver ---- */

static void fut_drop(struct btob *b, uint64_t round)
{
	unsigned k = (unsigned)(round % BTOB_FUTURE_MAX);
	if (!b->fut[k].v || b->fut[k].round != round)
		return;
	b->fut_bytes -= b->fut[k].v->len;
	strata_msg_unref(b->fut[k].v);
	b->fut[k].v = NULL;
	b->nfut--;
}

/* Holds v (its reference) as round's decision, until that round is delivered. A second copy of
 * a round's decision is let go (bldc decides an instance once); so is one whose slot still
 * holds a round BTOB_FUTURE_MAX earlier (not yet delivered: bldc takes no instance that far
 * ahead of its watermark, so this does not happen) or that would exceed BTOB_FUTURE_BYTES
 * (dropped and counted: that round then comes from bldc's cache if still there, else from the
 * next stable checkpoint, as with a bounded buffer before). */
static void fut_put(struct btob *b, uint64_t round, struct strata_msg *v)
{
	unsigned k = (unsigned)(round % BTOB_FUTURE_MAX);
	if (b->fut[k].v && b->fut[k].round < b->round)
		fut_drop(b, b->fut[k].round); /* delivered meanwhile (apply lets go of its own) */
	if (b->fut[k].v || b->fut_bytes + v->len > BTOB_FUTURE_BYTES) {
		if (!b->fut[k].v || b->fut[k].round != round)
			b->dropped++;
		strata_msg_unref(v);
		return;
	}
	b->fut[k].round = round;
	b->fut[k].v = v;
	b->fut_bytes += v->len;
	b->nfut++;
	if (b->nfut > b->fut_max)
		b->fut_max = b->nfut;
}

/* Round's decision, if held (its reference, let go from the buffer), or NULL. */
static struct strata_msg *fut_take(struct btob *b, uint64_t round)
{
	unsigned k = (unsigned)(round % BTOB_FUTURE_MAX);
	if (!b->fut[k].v || b->fut[k].round != round)
		return NULL;
	struct strata_msg *v = b->fut[k].v;
	b->fut_bytes -= v->len;
	b->fut[k].v = NULL;
	b->nfut--;
	return v;
}

/* (also when a later round's decision is buffered: this one was decided elsewhere, or is being
 * decided; proposing it, MISSING if nothing of its sender is held, fetches its decision from
 * the processes that decided it, bldc's DECIDED answer: how a process that fell behind or
 * resumed from a checkpoint catches up) */
static void try_rounds(struct btob *b)
{
	bool behind = b->nfut > 0 || b->round < b->reach;
	if ((!any_unordered(b) && !behind) || btob_byz(b) == STRATA_BYZ_SILENT)
		return;
	/* Up to the last round of the window whose sender's next message is here: the rounds
	 * before it (MISSING, most of them) run with it, the rounds after it wait. */
	uint64_t last = b->round;
	for (uint64_t r = b->round; r < b->round + b->pipe; r++) {
		const struct btob_sender *s = &b->snd[leader(b, r)];
		if (s->win[s->next % BTOB_WIN])
			last = r;
	}
	/* Behind the rounds f + 1 others are at (on_probe): every round below reach is decided at
	 * a correct process, so proposing it only fetches that decision (bldc announces a
	 * proposal every period, and the others answer with DECIDED); up to BTOB_PIPE_MAX of
	 * them at once. */
	if (b->round < b->reach) {
		uint64_t to = b->reach - 1 < b->round + BTOB_PIPE_MAX - 1
				      ? b->reach - 1 : b->round + BTOB_PIPE_MAX - 1;
		if (to > last)
			last = to;
	}
	uint32_t busy = 0; /* rounds before r proposed with messages and undecided */
	for (uint64_t r = b->round; r <= last; r++) {
		uint32_t bit = 1u << (r % BTOB_PIPE_MAX);
		if (b->propd & bit) {
			busy += (b->propm & bit) != 0;
			continue;
		}
		/* `overlap` rounds with messages in flight at a time (one by default): the next
		 * sender's messages keep coming in while they are ordered and go in one batch when
		 * one is decided (MISSING rounds before the last one with a message still run
		 * alongside). */
		const struct btob_sender *s = &b->snd[leader(b, r)];
		bool msgs = s->win[s->next % BTOB_WIN] != NULL;
		if (msgs && busy >= b->overlap && !behind)
			return;
		if (!propose_round(b, r))
			return;
		b->propd |= bit;
		if (msgs) {
			b->propm |= bit;
			busy++;
		}
	}
}

static void try_round(struct btob *b)
{
	/* A proposal may find its round decided here already (propose_round buffers that
	 * decision): deliver it and propose on, a bounded number of times. */
	for (unsigned pass = 0; pass < BTOB_FUTURE_MAX; pass++) {
		uint64_t at = b->round;
		try_rounds(b);
		if (!drain_future(b) && b->round == at)
			return;
	}
}

static bool propose_round(struct btob *b, uint64_t round)
{
	enum strata_byz byz = btob_byz(b);
	uint32_t l = leader(b, round), self = strata_node_id(b->m.node);
	struct btob_sender *s = &b->snd[l];
	struct strata_msg *own = NULL;
	size_t count = 0;
	const uint8_t missing = BTOB_TAG_MISSING;
	const uint8_t *v = &missing;
	size_t len = 1;
	struct strata_msg *head = s->win[s->next % BTOB_WIN];
	if (byz == STRATA_BYZ_FORGE && round % 2 == 0 && head && l != self) {
		/* l's genuine next message, its payload's last byte altered, l's signature kept:
		 * the signature must cover the payload (BTOB_BROKEN_SIG_HEADER shows it) */
		own = strata_msg_new(head->data, head->len);
		STRATA_ASSERT(own);
		own->data[own->len - STRATA_SIG_LEN - 1] ^= 0x20;
	} else if (byz == STRATA_BYZ_FORGE) {
		char fake[48]; /* instance 0 (one byte 0), then the text */
		fake[0] = 0;
		int fl = snprintf(fake + 1, sizeof(fake) - 1, "forged-by-%u-round-%llu", self,
				  (unsigned long long)round);
		own = encode(b, l, s->next, (const uint8_t *)fake, (size_t)fl + 1, false);
	} else if (byz == STRATA_BYZ_REPLAY && s->last) {
		own = strata_msg_ref(s->last);
	} else if (byz == STRATA_BYZ_EQUIVOCATE && l == self && head) {
		own = encode(b, l, s->next, (const uint8_t *)"\0equivocated", 12, false);
	} else if (head) {
		own = encode_batch(b, s, &count);
		STRATA_ASSERT(own); /* sized to fit; running out of memory mid-handler is fatal */
	}
	if (own) {
		v = own->data;
		len = own->len;
	}
	struct strata_msg *dec = NULL;
	int rc = cons_lower_propose_fetch(b->cons, btob_inst(round), v, len, &dec);
	strata_msg_unref(own);
	if (dec) {
		/* Decided here already, its Decide not taken (dropped from a full buffer, or
		 * still queued): buffered as that decision (a duplicate is let go). */
		fut_put(b, round, dec);
		return true;
	}
	if (rc == STRATA_ENOENT)
		rc = STRATA_ESTATE; /* decided, no longer cached: as before */
	if (rc && rc != STRATA_ESTATE) {
		strata_trace(b->m.node, "btob", "round %llu: propose failed (%s) -> retried later",
			     (unsigned long long)round, strata_strerror(rc));
		return false;
	}
	strata_trace(b->m.node, "btob", "round %llu (sender %u): propose %zu of its messages",
		     (unsigned long long)round, l, count);
	return true;
}

/* trigger <btob, Deliver | l, m> to the subscribers of m's instance (the client adapter for 0).
 * The signed payload is [instance][bytes]. */
static void deliver(struct btob *b, uint32_t l, uint64_t seq, const uint8_t *p, size_t len)
{
	struct strata_rd r;
	strata_rd_init(&r, p, len);
	uint64_t inst = strata_rd_u64(&r);
	if (!strata_rd_ok(&r)) {
		b->bad++;
		strata_node_bad_payload(b->m.node, &b->m, l, "btob: message without instance");
		return;
	}
	p += r.off;
	len -= r.off;
	if (inst == 0) {
		bc_out_deliver(&b->m, l, 1, seq, p, len, NULL, 0);
		return;
	}
	unsigned k = 0;
	while (k < b->nup && b->up[k].inst != inst)
		k++;
	if (k == b->nup) {
		/* The first use of the upper algorithm on this node: created now (its constructor
		 * opens this instance), as tob does. Modules are created on first use (a client
		 * request or a peer's frame), and btob may deliver here before any request reached
		 * the upper: dropped, those messages would be missing from the upper for good (the
		 * BFT KV's state and applied index behind the other correct replicas'). */
		struct bc_subs none = { .n = 0 };
		(void)bc_subs_default(&b->m, inst, &none);
		k = 0;
		while (k < b->nup && b->up[k].inst != inst)
			k++;
	}
	if (k == b->nup) {
		b->dropped++; /* no upper of that instance here (none can be created) */
		return;
	}
	/* The last message of its round carries the resume position after it (vc, below). */
	uint32_t nn = strata_node_n(b->m.node);
	bool pos = b->dl_sender == l && b->dl_seq == seq && b->dl_last;
	size_t extra = pos ? 8 + ((size_t)nn + 1) * sizeof(uint64_t) : 0;
	struct strata_msg *msg = strata_msg_alloc(len + extra);
	STRATA_ASSERT(msg); /* running out of memory mid-handler cannot be recovered */
	if (len)
		memcpy(msg->data, p, len);
	struct strata_deliver d = { .origin = l, .inc = 1, .seq = seq, .data = msg->data,
				    .len = len };
	if (pos) {
		/* Resume positions (an upper's checkpoints, src/smr/bft_ckpt.c): vc[0] = the next
		 * round, vc[q] = sender q's next sequence number after this message. Correct
		 * processes deliver the same messages in the same rounds: the same positions. */
		uintptr_t at = (uintptr_t)(msg->data + len);
		at = (at + 7) & ~(uintptr_t)7;
		uint64_t *vc = (uint64_t *)at;
		vc[0] = b->round + 1;
		for (uint32_t q = 1; q <= nn; q++)
			vc[q] = b->snd[q].next;
		vc[l] = seq + 1;
		d.vc = vc;
		d.vc_len = (size_t)nn + 1;
	}
	bc_subs_indicate(&b->m, &b->up[k].subs, inst, msg, &d);
	strata_msg_unref(msg);
}

/* A decision that is not the round sender's next message, or MISSING while this process has
 * held that message since well before the round: the consensus leader is suspect. Correct
 * processes all see the same decision, so a leader that has invalid values decided collects the
 * complaints that move it (bld, Alg. 2.10); weak validity alone would let it decide garbage in
 * every round, and btob would never progress. */
static void complain(struct btob *b, const char *why)
{
	if (!b->bld || !b->trusted || strata_fd_bld_complain(b->bld, b->trusted) != 0)
		return;
	b->complaints++;
	strata_trace(b->m.node, "btob", "round %llu: %s -> complain about leader %u",
		     (unsigned long long)b->round, why, b->trusted);
}

/* Messages below a window's new base are stale (the trust variant moves another sender's). */
static void prune(struct btob *b, struct btob_sender *s)
{
	for (unsigned k = 0; k < BTOB_WIN; k++) {
		struct strata_msg *x = s->win[k];
		struct btob_parsed q;
		if (x && parse(b, x->data, x->len, &q, false) == 1 && q.seq < s->next) {
			strata_msg_unref(x);
			s->win[k] = NULL;
			b->nun--;
		}
	}
}

static void next_round(struct btob *b)
{
	if (b->round < b->reach)
		b->reached++;
	b->propd &= ~(1u << (b->round % BTOB_PIPE_MAX));
	b->propm &= ~(1u << (b->round % BTOB_PIPE_MAX));
	b->round++;
	b->last_round_us = strata_now_us(b->m.node);
	/* round + pipe - 1 enters the window now */
	b->wstart_us[(b->round + b->pipe - 1) % BTOB_PIPE_MAX] = strata_now_us(b->m.node);
}

/* upon <bc.r, Decide | m> such that r = round do
 *     l := leader(round);
 *     if m != MISSING then delivered := delivered + {m}; remove m from unordered[l];
 *         trigger <btob, Deliver | l, m>;
 *     round := round + 1; wait := FALSE;
 * (m: a batch, delivered message by message while each is l's next, signed by l) */
static void dlog_put(struct btob *b, uint64_t round, const uint8_t *v, size_t len);

static void apply(struct btob *b, const uint8_t *v, size_t len)
{
	fut_drop(b, b->round); /* a buffered copy (propose_round's), if its Decide came too */
	dlog_put(b, b->round, v, len);
	uint32_t l = leader(b, b->round);
	struct btob_sender *s = &b->snd[l];
	if (len == 1 && v[0] == BTOB_TAG_MISSING) {
		b->missing++;
		unsigned h = (unsigned)(s->next % BTOB_WIN);
		if (s->win[h] && s->at_us[h] + b->hold_us <= b->wstart_us[b->round % BTOB_PIPE_MAX])
			complain(b, "MISSING decided while the sender's next message was long known");
		next_round(b);
		return;
	}
	/* A batch, or (what the behaviours propose) one message alone. */
	struct strata_rd r;
	uint64_t count = 1;
	strata_rd_init(&r, v, len);
	bool batch = len > 0 && v[0] == BTOB_TAG_BATCH;
	if (batch) {
		(void)strata_rd_u8(&r);
		count = strata_rd_u64(&r);
	}
	unsigned delivered = 0;
	bool bad = !strata_rd_ok(&r) || count == 0 || count > BTOB_BATCH_MAX;
	for (uint64_t k = 0; k < count && !bad; k++) {
		const uint8_t *m = v;
		size_t mlen = len;
		if (batch)
			mlen = strata_rd_bytes(&r, &m, SIZE_MAX);
		struct btob_parsed p;
		if (!strata_rd_ok(&r) || parse(b, m, mlen, &p, false) != 1) {
			bad = true;
			break;
		}
		struct btob_sender *ps = &b->snd[p.sender];
		if (b->trust) { /* the broken variant: neither the signature nor the sender */
			if (p.seq != ps->next) {
				bad = true;
				break;
			}
		} else {
			/* l's next message, signed by l; one this process received and verified
			 * already (the same bytes in its window) is not verified again. */
			const struct strata_msg *held = s->win[p.seq % BTOB_WIN];
			bool known = held && held->len == mlen && memcmp(held->data, m, mlen) == 0;
			if (p.sender != l || p.seq != s->next ||
			    (!known && parse(b, m, mlen, &p, true) != 1)) {
				bad = true;
				break;
			}
		}
		b->dl_sender = p.sender;
		b->dl_seq = p.seq;
		b->dl_last = k + 1 == count;
		deliver(b, p.sender, p.seq, p.payload, p.len);
		b->dl_sender = 0;
		struct strata_msg **slot = &ps->win[p.seq % BTOB_WIN];
		if (*slot) {
			strata_msg_unref(*slot);
			*slot = NULL;
			b->nun--;
		}
		ps->next++;
		delivered++;
		if (ps != s)
			prune(b, ps);
	}
	if (batch && !bad && strata_rd_done(&r) != 0)
		bad = true;
	if (delivered) {
		strata_msg_unref(s->last);
		s->last = strata_msg_new(v, len);
		STRATA_ASSERT(s->last);
		b->batched += delivered;
		b->batches++;
	}
	if (bad) {
		b->invalid++;
		strata_trace(b->m.node, "btob", "round %llu: decided value is not sender %u's next "
			     "messages (%u delivered before the first that is not) -> the rest "
			     "delivered as nothing", (unsigned long long)b->round, l, delivered);
		complain(b, "invalid value decided");
	}
	prune(b, s);
	next_round(b);
}

static void on_decide(struct btob *b, const struct strata_event *ev)
{
	const struct cons_decided *d = ev->body;
	if (!d || ev->body_len != sizeof(*d) || (d->instance >> CONS_SPACE_BITS) != CONS_SPACE_BTOB)
		return;
	uint64_t r = d->instance & CONS_SPACE_MASK;
	if (r < b->round)
		return;
	if (r > b->round) { /* joined through a peer: wait for the rounds before it */
		struct strata_msg *v = strata_msg_new(d->value, d->len);
		STRATA_ASSERT(v);
		fut_put(b, r, v);
		return;
	}
	apply(b, d->value, d->len);
	(void)drain_future(b);
	try_round(b);
}

/* Delivers the buffered decisions of the next rounds, in round order. Whether any was
 * delivered. */
static bool drain_future(struct btob *b)
{
	bool any = false;
	struct strata_msg *v;
	while ((v = fut_take(b, b->round)) != NULL) {
		apply(b, v->data, v->len);
		strata_msg_unref(v);
		any = true;
	}
	return any;
}

/* ---- where the others are: a process that missed every message of the rounds decided while
 * it was away (they were refused by the links, or it restarted after they were sent) ---- */

static struct strata_msg *probe_msg(uint8_t tag, uint64_t round)
{
	uint8_t buf[1 + 10];
	struct strata_wr w;
	strata_wr_init(&w, sizeof(buf));
	strata_wr_u8(&w, tag);
	strata_wr_u64(&w, round);
	struct strata_msg *m = w.err ? NULL : strata_msg_new(w.buf, w.len);
	strata_wr_free(&w);
	return m;
}

/* Every hold_us: if no round was delivered since the last tick and nothing is proposed, asks
 * every other process where it is (ASK with this round). A process past it answers with its
 * round (AT). The others' messages of the rounds it missed tell a process it is behind (the
 * decisions buffered); when the links refused them, or it restarted after they were sent,
 * nothing else would, and with no load nothing would move it again. Refused sends are not
 * retried: a later idle tick asks again. While it stays idle and learns nothing, the ASKs space
 * out, 1, 2, 4, then every BTOB_PROBE_BACKOFF ticks (a quiet cluster: N - 1 ASKs per process
 * per BTOB_PROBE_BACKOFF x [fd] timeout_ms); a delivered round or a reach raised starts again
 * at every tick. */
static void probe_tick(struct btob *b)
{
	strata_timer_arm_in(b->m.node, &b->probe_tick, b->hold_us);
	if (btob_byz(b) == STRATA_BYZ_SILENT || (b->broken & BTOB_BROKEN_NO_PROBE))
		return;
	bool idle = b->round == b->probe_round && b->propd == 0;
	b->probe_round = b->round;
	if (!idle) {
		b->probe_every = 1;
		b->probe_wait = 0;
		return;
	}
	if (b->probe_wait > 0) {
		b->probe_wait--;
		return;
	}
	b->probe_wait = b->probe_every - 1;
	if (b->probe_every < BTOB_PROBE_BACKOFF)
		b->probe_every *= 2;
	struct strata_msg *m = probe_msg(BTOB_TAG_ASK, b->round);
	if (!m)
		return;
	uint32_t self = strata_node_id(b->m.node), n = strata_node_n(b->m.node);
	for (uint32_t q = 1; q <= n; q++)
		if (q != self)
			(void)strata_pl_send(&b->m, q, 0, m);
	strata_msg_unref(m);
	b->asks++;
}

/* reach := the (f + 1)-th highest round the others said they are at (with N > 3f at most f of
 * them lie: at least one correct process is at reach or past it). */
static void update_reach(struct btob *b)
{
	uint32_t n = strata_node_n(b->m.node), f = strata_node_config(b->m.node)->f;
	uint64_t best = 0;
	for (uint32_t q = 1; q <= n; q++) {
		unsigned above = 0; /* processes at or past at[q] */
		for (uint32_t p = 1; p <= n; p++)
			above += b->at[p] >= b->at[q];
		if (above >= f + 1 && b->at[q] > best)
			best = b->at[q];
	}
	if (best > b->reach)
		b->reach = best;
}

static void on_probe(struct btob *b, const struct strata_event *ev)
{
	const struct strata_msg *d = ev->msg;
	struct strata_rd r;
	strata_rd_init(&r, d->data, d->len);
	uint8_t tag = strata_rd_u8(&r);
	uint64_t round = strata_rd_u64(&r);
	if (strata_rd_done(&r) != 0 || round == 0 || ev->peer == strata_node_id(b->m.node)) {
		b->bad++;
		strata_node_bad_payload(b->m.node, &b->m, ev->peer, "btob: malformed ASK or AT");
		return;
	}
	if (btob_byz(b) == STRATA_BYZ_SILENT)
		return;
	if (tag == BTOB_TAG_ASK) {
		if (b->round <= round)
			return;
		struct strata_msg *m = probe_msg(BTOB_TAG_AT, b->round);
		if (m)
			(void)strata_pl_send(&b->m, ev->peer, 0, m); /* refused: asked again */
		strata_msg_unref(m);
		return;
	}
	if (round <= b->at[ev->peer])
		return;
	b->at[ev->peer] = round;
	uint64_t was = b->reach;
	update_reach(b);
	if (b->reach > was && b->reach > b->round) {
		b->probe_every = 1;
		b->probe_wait = 0;
		strata_trace(b->m.node, "btob", "round %llu: f + 1 others are at round %llu or "
			     "past it -> fetch the rounds between", (unsigned long long)b->round,
			     (unsigned long long)b->reach);
		try_round(b);
	}
}

/* upon <al, Deliver | p, m> such that m is not delivered do append m to unordered[p]
 * (al: the authenticated perfect links; the sender also signed m, for the decisions) */
static void on_al_deliver(struct btob *b, const struct strata_event *ev)
{
	const struct strata_msg *d = ev->msg;
	struct btob_parsed p;
	if (d->len >= 1 && (d->data[0] == BTOB_TAG_ASK || d->data[0] == BTOB_TAG_AT)) {
		on_probe(b, ev);
		return;
	}
	/* Its own message (delivered from itself: the links deliver nothing else as its) is not
	 * verified: it signed it. Every other sender's is. */
	bool own = ev->peer == strata_node_id(b->m.node);
	if (parse(b, d->data, d->len, &p, !own) != 1 || p.sender != ev->peer) {
		b->bad++;
		strata_node_bad_payload(b->m.node, &b->m, ev->peer,
					"btob: message not signed by its sender");
		return;
	}
	struct btob_sender *s = &b->snd[p.sender];
	if (p.seq < s->next)
		return; /* delivered already */
	if (p.seq >= s->next + BTOB_WIN) {
		b->dropped++;
		return;
	}
	struct strata_msg **slot = &s->win[p.seq % BTOB_WIN];
	if (*slot) {
		if ((*slot)->len != d->len || memcmp((*slot)->data, d->data, d->len) != 0)
			b->equivocations++;
		return;
	}
	*slot = strata_msg_new(d->data, d->len);
	STRATA_ASSERT(*slot);
	s->at_us[p.seq % BTOB_WIN] = strata_now_us(b->m.node);
	b->nun++;
	/* Overlapping rounds: the message of a round that the next ones may be ordered beside is
	 * here, so an upper that batches may send its round's messages now (cons_btob_send_now,
	 * BTOB_SEND_NEXT): its subscribers look at this turn's end. */
	if (b->overlap > 1 && p.seq == s->next)
		for (uint32_t j = 0; j + 1 < b->overlap; j++)
			if (leader(b, b->round + j) == p.sender) {
				for (unsigned u = 0; u < b->nup; u++)
					for (unsigned i = 0; i < b->up[u].subs.n; i++)
						strata_node_at_turn_end(b->up[u].subs.m[i]);
				break;
			}
	try_round(b);
}

static void btob_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct btob *b = (struct btob *)m;
	if (ev->type == CONS_EV_DECIDE && ev->msg)
		on_decide(b, ev);
	else if (ev->type == STRATA_EV_PL_DELIVER && ev->msg && ev->peer >= 1 &&
		 ev->peer <= strata_node_n(m->node))
		on_al_deliver(b, ev);
	else if (ev->type == STRATA_EV_LEADER && ev->peer >= 1 &&
		 ev->peer <= strata_node_n(m->node))
		b->trusted = ev->peer;
	else if (ev->type == STRATA_EV_TIMER && ev->arg == BTOB_TOK_OWED)
		flush_owed(b);
	else if (ev->type == STRATA_EV_TIMER && ev->arg == BTOB_TOK_PROBE)
		probe_tick(b);
	else if (ev->type == STRATA_EV_INIT)
		strata_timer_arm_in(m->node, &b->probe_tick, b->hold_us);
}

static size_t btob_payload_max(const struct btob *b)
{
	/* one message alone in a batch: the batch's tag and count, its length, its overhead */
	size_t max = btob_value_max(b), extra = 1 + 10 + 10 + BTOB_OVERHEAD + 16;
	return max > extra ? max - extra : 0;
}

/* ---- this process's broadcasts the links refused ---- */

/* This process's message k for q, from its own window: in [next, lsn] its slot holds it, or
 * nothing yet (its delivery to self has not been handled: tried again on the next tick). */
static struct strata_msg *owed_item(struct strata_module *m, uint32_t q, uint64_t k, bool *wait)
{
	(void)q;
	struct btob *b = (struct btob *)m;
	if (k > b->lsn)
		return NULL;
	struct strata_msg *x = b->snd[strata_node_id(m->node)].win[k % BTOB_WIN];
	*wait = !x;
	return x ? strata_msg_ref(x) : NULL;
}

static const struct strata_pl_owed_ops btob_owed_ops = { .item = owed_item,
							 .others_only = true };

/* Sends what is owed to each peer, in order, from this process's own window (its undelivered
 * messages, at most BTOB_WIN), while the links take it; one the order delivered meanwhile is
 * not owed any more (the decision carried it to every process). The timer ticks while
 * anything is still owed. */
static void flush_owed(struct btob *b)
{
	if (btob_byz(b) == STRATA_BYZ_SILENT)
		return;
	uint32_t self = strata_node_id(b->m.node), n = strata_node_n(b->m.node);
	for (uint32_t q = 1; q <= n; q++)
		if (q != self)
			strata_pl_owed_raise(b->owed, q, b->snd[self].next);
	strata_pl_owed_flush(b->owed);
}

/* forall q: trigger <al, Send | q, m> for this process's message seq. To a peer still owed an
 * earlier one, or whose links refuse it (STRATA_EFULL), it is owed, and sent again by
 * flush_owed: a refused send is a message the peer never gets, and a peer that holds seq + 1
 * without seq can deliver neither (the round sender's messages are delivered in their order),
 * nor can a round order them while the consensus leader lacks them. */
static void send_own(struct btob *b, struct strata_msg *msg, uint64_t seq)
{
	uint32_t self = strata_node_id(b->m.node), n = strata_node_n(b->m.node);
	if (b->broken & BTOB_BROKEN_NO_OWED) { /* a refused send is lost, as before */
		strata_pl_send_all(&b->m, 0, msg);
		return;
	}
	flush_owed(b);
	for (uint32_t q = 1; q <= n; q++) {
		if (q == self)
			(void)strata_pl_send(&b->m, q, 0, msg);
		else
			(void)strata_pl_owed_send_k(b->owed, q, seq, msg);
	}
}

/* upon <btob, Broadcast | m> do forall q: trigger <al, Send | q, m>; (m on instance inst) */
static int broadcast_inst(struct btob *b, uint64_t inst, const uint8_t *v, size_t len)
{
	uint32_t self = strata_node_id(b->m.node);
	if (b->lsn + 1 >= b->snd[self].next + BTOB_WIN)
		return STRATA_EFULL;
	struct strata_wr w;
	strata_wr_init(&w, len + 16);
	strata_wr_u64(&w, inst);
	strata_wr_raw(&w, v, len);
	if (w.err) {
		int err = w.err;
		strata_wr_free(&w);
		return err;
	}
	enum strata_byz byz = btob_byz(b);
	if (b->test_gap) /* TEST ONLY: a Byzantine sender's gap (below) */
		b->lsn++;
	struct strata_msg *msg = encode(b, self, b->lsn + 1, w.buf, w.len,
					byz == STRATA_BYZ_BADSIG);
	strata_wr_free(&w);
	if (!msg)
		return STRATA_ENOMEM;
	if (b->test_gap) {
		/* sent to every process, and number lsn never: they hold lsn + 1 above a gap
		 * for good (and this process's next ones stay owed behind it) */
		b->test_gap = false;
		strata_pl_send_all(&b->m, 0, msg);
		strata_msg_unref(msg);
		b->lsn++;
		return 0;
	}
	if (byz != STRATA_BYZ_SILENT)
		send_own(b, msg, b->lsn + 1);
	strata_msg_unref(msg);
	b->lsn++;
	return 0;
}

static int btob_request(struct strata_module *m, const struct strata_request *req)
{
	struct btob *b = (struct btob *)m;
	int rc = bc_check_request(req, btob_payload_max(b));
	if (rc)
		return rc;
	rc = broadcast_inst(b, 0, req->value, req->value_len);
	if (rc)
		return rc;
	bc_out_bcast(m, b->lsn, req->value, req->value_len, NULL, 0);
	strata_node_reply(m->node, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

static int btob_iface_open(struct strata_module *m, uint64_t inst, struct strata_module *upper)
{
	struct btob *b = (struct btob *)m;
	for (unsigned k = 0; k < b->nup; k++)
		if (b->up[k].inst == inst)
			return bc_subs_add(&b->up[k].subs, upper);
	if (inst == 0 || b->nup == BTOB_UPPERS)
		return STRATA_EFULL;
	b->up[b->nup].inst = inst;
	b->up[b->nup].subs.n = 0;
	return bc_subs_add(&b->up[b->nup++].subs, upper);
}

static size_t btob_iface_payload_max(const struct strata_module *m)
{
	return btob_payload_max((const struct btob *)m);
}

static int btob_iface_broadcast(struct strata_module *m, uint64_t inst, const uint8_t *data,
				size_t len)
{
	if (len > btob_iface_payload_max(m))
		return STRATA_ETOOBIG;
	return broadcast_inst((struct btob *)m, inst, data, len);
}

static const struct bcast_iface btob_iface = {
	.open = btob_iface_open,
	.broadcast = btob_iface_broadcast,
	.payload_max = btob_iface_payload_max,
};

/* ---- the decided log: delivered rounds, for processes behind them ---- */

static void dlog_drop(struct btob *b, uint64_t round)
{
	unsigned k = (unsigned)(round % BTOB_LOG_MAX);
	if (!b->dlog[k].v || b->dlog[k].round != round)
		return;
	b->dlog_bytes -= b->dlog[k].v->len;
	strata_msg_unref(b->dlog[k].v);
	b->dlog[k].v = NULL;
}

/* Lets go of the rounds below `round` (bounded work: every slot once, for a long jump). */
static void dlog_keep_from(struct btob *b, uint64_t round)
{
	if (round <= b->dlog_low)
		return;
	if (round - b->dlog_low >= BTOB_LOG_MAX) {
		for (unsigned k = 0; k < BTOB_LOG_MAX; k++)
			if (b->dlog[k].v && b->dlog[k].round < round)
				dlog_drop(b, b->dlog[k].round);
	} else {
		for (uint64_t r = b->dlog_low; r < round; r++)
			dlog_drop(b, r);
	}
	b->dlog_low = round;
}

/* Round `round` delivered here with bldc's decision v: kept (a copy); the oldest rounds are let
 * go beyond BTOB_LOG_MAX rounds or BTOB_LOG_BYTES bytes. Out of memory: not kept (a process
 * that needs it then waits for a newer stable checkpoint, as without the log). */
static void dlog_put(struct btob *b, uint64_t round, const uint8_t *v, size_t len)
{
	if (round < b->dlog_low)
		return;
	if (round >= BTOB_LOG_MAX)
		dlog_keep_from(b, round - BTOB_LOG_MAX + 1);
	dlog_drop(b, round);
	struct strata_msg *m = strata_msg_new(v, len);
	if (!m)
		return;
	unsigned k = (unsigned)(round % BTOB_LOG_MAX);
	b->dlog[k].round = round;
	b->dlog[k].v = m;
	b->dlog_bytes += len;
	while (b->dlog_bytes > BTOB_LOG_BYTES && b->dlog_low < round)
		dlog_keep_from(b, b->dlog_low + 1);
}

/* bldc's source for a retired instance of btob's space no longer in its cache (cons.h,
 * cons_lower_set_decided): the value this process delivered for that round (bldc decided it
 * here), or NULL. */
static struct strata_msg *dlog_get(struct strata_module *upper, uint64_t id)
{
	struct btob *b = (struct btob *)upper;
	uint64_t round = id & CONS_SPACE_MASK;
	unsigned k = (unsigned)(round % BTOB_LOG_MAX);
	if (round < b->dlog_low || round >= b->round || !b->dlog[k].v || b->dlog[k].round != round)
		return NULL;
	b->dlog_served++;
	return strata_msg_ref(b->dlog[k].v);
}

void cons_btob_keep_from(struct strata_module *m, uint64_t round)
{
	struct btob *b = (struct btob *)m;
	dlog_keep_from(b, round < b->round ? round : b->round);
}

void cons_btob_log_counts(const struct strata_module *m, uint64_t *rounds, size_t *bytes,
			  uint64_t *served)
{
	const struct btob *b = (const struct btob *)m;
	uint64_t n = 0;
	for (unsigned k = 0; k < BTOB_LOG_MAX; k++)
		n += b->dlog[k].v != NULL;
	*rounds = n;
	*bytes = b->dlog_bytes;
	*served = b->dlog_served;
}

static void btob_destroy(struct strata_module *m)
{
	struct btob *b = (struct btob *)m;
	strata_pl_owed_free(b->owed);
	strata_timer_disarm(m->node, &b->probe_tick);
	free(b->at);
	for (unsigned k = 0; b->dlog && k < BTOB_LOG_MAX; k++)
		strata_msg_unref(b->dlog[k].v);
	free(b->dlog);
	for (uint32_t q = 0; q <= strata_node_n(m->node); q++) {
		for (unsigned k = 0; k < BTOB_WIN; k++)
			strata_msg_unref(b->snd[q].win[k]);
		strata_msg_unref(b->snd[q].last);
	}
	for (unsigned k = 0; b->fut && k < BTOB_FUTURE_MAX; k++)
		strata_msg_unref(b->fut[k].v);
	free(b->fut);
	free(b->snd);
	free(b);
}

static const struct strata_module_ops btob_ops = {
	.name = "btob", .handle = btob_handle, .request = btob_request, .destroy = btob_destroy,
	.iface = &btob_iface,
};

struct strata_module *cons_btob_create(struct strata_node *n, char *err, size_t errlen)
{
	uint32_t nn = strata_node_n(n), f = strata_node_config(n)->f;
	if (nn <= 3 * f) {
		snprintf(err, errlen, "btob: Byzantine total order needs N > 3f (N = %u, f = %u)", nn,
			 f);
		return NULL;
	}
	struct btob *b = calloc(1, sizeof(*b));
	if (b) {
		b->snd = calloc(nn + 1, sizeof(*b->snd));
		b->fut = calloc(BTOB_FUTURE_MAX, sizeof(*b->fut));
		b->dlog = calloc(BTOB_LOG_MAX, sizeof(*b->dlog));
		b->owed = strata_pl_owed_new(n, &b->m, BTOB_TOK_OWED, &btob_owed_ops, 0, 0);
		b->at = calloc(nn + 1, sizeof(*b->at));
	}
	if (!b || !b->snd || !b->fut || !b->dlog || !b->owed || !b->at) {
		if (b) {
			strata_pl_owed_free(b->owed);
			free(b->at);
			free(b->snd);
			free(b->fut);
			free(b->dlog);
		}
		free(b);
		snprintf(err, errlen, "btob: out of memory");
		return NULL;
	}
	for (uint32_t q = 0; q <= nn; q++)
		b->snd[q].next = 1;
	b->round = 1;
	b->pipe = nn < BTOB_PIPE_MAX ? nn : BTOB_PIPE_MAX;
	b->overlap = 1;
	b->cons_name = "bldc";
	uint64_t period_ms = strata_node_config(n)->timeout_ms;
	b->hold_us = (period_ms ? period_ms : 1000) * 1000;
	strata_node_add_module(n, &b->m, &btob_ops, strata_wire_id("btob"));
	strata_timer_init(&b->probe_tick, &b->m, BTOB_TOK_PROBE, 0);
	b->probe_every = 1;
	if (cons_lower_open_space(n, b->cons_name, CONS_SPACE_BTOB, &b->m, &b->cons, err,
				  errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	cons_lower_set_decided(b->cons, CONS_SPACE_BTOB, dlog_get);
	b->bld = strata_node_module_by_name(n, "bld");
	if (b->bld) {
		b->trusted = 1; /* bld trusts leader(round 1) = p1 at Init */
		strata_module_subscribe(b->bld, &b->m);
	}
	return &b->m;
}

void cons_btob_test_trust(struct strata_module *m)
{
	((struct btob *)m)->trust = true;
}

void cons_btob_test_gap(struct strata_module *m)
{
	((struct btob *)m)->test_gap = true;
}

void cons_btob_test_broken(struct strata_module *m, unsigned flags)
{
	((struct btob *)m)->broken = flags;
}

void cons_btob_test_byz(struct strata_module *m, enum strata_byz byz)
{
	((struct btob *)m)->test_byz = byz;
}

/* Resume from a round (a certified checkpoint installed above: every message of the rounds
 * before `round` is in the state it installed). Moves round and every sender's next number
 * ahead, lets go of what they cover (held messages, buffered decisions, proposals in flight),
 * retires the consensus instances of the skipped rounds (bldc lets go of their state) and takes
 * up the order at `round`: decisions of later rounds that reach it are delivered in order as
 * usual, from bldc's DECIDED answers for rounds the others decided. This process's own next
 * broadcast number continues after the highest the checkpoint saw delivered. */
int cons_btob_resume(struct strata_module *m, uint64_t round, const uint64_t *next)
{
	struct btob *b = (struct btob *)m;
	uint32_t nn = strata_node_n(m->node);
	if (round <= b->round)
		return STRATA_ESTATE;
	for (uint32_t q = 1; q <= nn; q++) {
		struct btob_sender *s = &b->snd[q];
		if (next[q] > s->next)
			s->next = next[q];
		prune(b, s);
	}
	for (unsigned k = 0; b->nfut && k < BTOB_FUTURE_MAX; k++)
		if (b->fut[k].v && b->fut[k].round < round)
			fut_drop(b, b->fut[k].round);
	uint32_t self = strata_node_id(m->node);
	if (b->lsn + 1 < b->snd[self].next)
		b->lsn = b->snd[self].next - 1;
	cons_lower_skip(b->cons, btob_inst(round - 1));
	dlog_keep_from(b, round); /* the rounds below were not decided here */
	b->round = round;
	b->propd = 0;
	b->propm = 0;
	uint64_t now = strata_now_us(m->node);
	for (unsigned k = 0; k < BTOB_PIPE_MAX; k++)
		b->wstart_us[k] = now;
	b->resumed++;
	strata_trace(m->node, "btob", "resumed at round %llu (a certified checkpoint installed)",
		     (unsigned long long)round);
	/* Decisions buffered for the rounds from here on, then the next proposals. */
	(void)drain_future(b);
	try_round(b);
	return 0;
}

void cons_btob_future_counts(const struct strata_module *m, uint64_t *held_max,
			     uint64_t *dropped)
{
	const struct btob *b = (const struct btob *)m;
	*held_max = b->fut_max;
	*dropped = b->dropped;
}

uint64_t cons_btob_round(const struct strata_module *m)
{
	return ((const struct btob *)m)->round;
}

/* When an upper that batches should broadcast what it holds (the BFT KV, tob_log.c): a hint
 * for scheduling only, since what is sent and when never changes what a round may decide or
 * what is delivered. BTOB_SEND_ALL when this process is the sender of the next round to
 * deliver and has no message unordered: every earlier round is delivered here (their senders
 * saw what they ordered), and no other process is the sender of that round, so what this
 * process holds goes into the next round, once. BTOB_SEND_NEXT (overlapping rounds, overlap
 * > 1) when it is the sender of round + j, j < overlap, has no message unordered, and the
 * next messages of the senders of round ... round + j - 1 are here: its round may be proposed
 * beside theirs, and what those messages carry (cons_btob_held) is ordered with them, so the
 * upper sends what it holds apart from that. BTOB_SEND_OWN when nothing is unordered here
 * and no round was delivered for idle_us (an idle order: at once, as without holding; or the
 * next round's sender is silent, slow or cut off, and the others' messages make it MISSING).
 * Else BTOB_SEND_HOLD. */
int cons_btob_send_now(const struct strata_module *m, uint64_t idle_us)
{
	const struct btob *b = (const struct btob *)m;
	uint32_t self = strata_node_id(b->m.node);
	const struct btob_sender *s = &b->snd[self];
	if (!any_unordered(b))
		return strata_now_us(b->m.node) >= b->last_round_us + idle_us
			       ? BTOB_SEND_OWN
			       : leader(b, b->round) == self ? BTOB_SEND_ALL : BTOB_SEND_HOLD;
	if (s->win[s->next % BTOB_WIN])
		return BTOB_SEND_HOLD;
	if (leader(b, b->round) == self)
		return BTOB_SEND_ALL;
	/* Overlapping rounds: round + j is this process's and the messages of the rounds before
	 * it are here (j < overlap: it would be proposed while they are decided). */
	for (uint32_t j = 1; j < b->overlap && j < b->pipe; j++) {
		const struct btob_sender *p = &b->snd[leader(b, b->round + j - 1)];
		if (!p->win[p->next % BTOB_WIN])
			break;
		if (leader(b, b->round + j) == self)
			return BTOB_SEND_NEXT;
	}
	return BTOB_SEND_HOLD;
}

void cons_btob_set_overlap(struct strata_module *m, uint32_t rounds)
{
	struct btob *b = (struct btob *)m;
	b->overlap = rounds < 1 ? 1 : rounds > b->pipe ? b->pipe : rounds;
}

/* The messages the order holds here and has not delivered, that their senders' next rounds
 * order: for each sender, next, next + 1, ... while held here in a row (at most a batch). */
size_t cons_btob_held(const struct strata_module *m, uint64_t inst,
		      void (*fn)(void *arg, const uint8_t *p, size_t len), void *arg)
{
	const struct btob *b = (const struct btob *)m;
	size_t n = 0;
	if (!any_unordered(b))
		return 0;
	for (uint32_t q = 1; q <= strata_node_n(b->m.node); q++) {
		const struct btob_sender *s = &b->snd[q];
		for (uint64_t k = 0; k < BTOB_BATCH_MAX; k++) {
			const struct strata_msg *x = s->win[(s->next + k) % BTOB_WIN];
			struct btob_parsed p;
			if (!x || parse(b, x->data, x->len, &p, false) != 1 || p.seq != s->next + k)
				break;
			struct strata_rd r;
			strata_rd_init(&r, p.payload, p.len);
			uint64_t in = strata_rd_u64(&r);
			if (!strata_rd_ok(&r) || in != inst)
				continue;
			fn(arg, p.payload + r.off, p.len - r.off);
			n++;
		}
	}
	return n;
}

uint64_t cons_btob_own_pending(const struct strata_module *m)
{
	const struct btob *b = (const struct btob *)m;
	uint64_t next = b->snd[strata_node_id(m->node)].next;
	return b->lsn + 1 > next ? b->lsn + 1 - next : 0;
}

uint64_t cons_btob_unordered(const struct strata_module *m)
{
	return ((const struct btob *)m)->nun;
}

void cons_btob_counts(const struct strata_module *m, uint64_t *rounds, uint64_t *messages)
{
	const struct btob *b = (const struct btob *)m;
	*rounds = b->batches;
	*messages = b->batched;
}

void cons_btob_link_counts(const struct strata_module *m, uint64_t *refused, uint64_t *resent,
			   uint64_t *asks, uint64_t *reached)
{
	const struct btob *b = (const struct btob *)m;
	struct strata_pl_owed_counts c;
	strata_pl_owed_counts(b->owed, &c);
	*refused = c.refused;
	*resent = c.resent;
	*asks = b->asks;
	*reached = b->reached;
}
