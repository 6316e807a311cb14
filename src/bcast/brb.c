/* Authenticated Double-Echo Broadcast (the book's Alg. 3.18, Bracha), implementing Byzantine
 * reliable broadcast (Module 3.12), one instance per (sender, sequence number). Module "brb".
 *
 * Events:
 *   request    <brb, Broadcast | m>            (client STRATA_OP_BROADCAST; this node is s)
 *   indication <brb, Deliver | s, m>           (STRATA_OUT_DELIVER: peer = s, a = seq, data = m)
 * Properties (for every instance (s, seq)):
 *   BRB1 Validity: if a correct process s broadcasts m, every correct process eventually
 *        delivers m.
 *   BRB2 No duplication: every correct process delivers at most one message.
 *   BRB3 Integrity: if a correct process delivers m with sender s and s is correct, then m was
 *        previously broadcast by s.
 *   BRB4 Consistency: if a correct process delivers m and another correct process delivers m',
 *        then m = m'.
 *   BRB5 Totality: if some message is delivered by any correct process, every correct process
 *        eventually delivers a message.
 *
 * Model: fail-arbitrary, authenticated perfect links, N > 3f. Cost per broadcast: 3 steps
 * (SEND, ECHO, READY), N + 2N^2 messages, each carrying the payload (the book's READY carries m,
 * so a process that never got the SEND nor enough ECHOs still has what it delivers).
 *
 * Algorithm, with the book's quorums:
 *   - s sends [SEND, m] to all; on the SEND from s, a process sends [ECHO, m] to all (once);
 *   - on ECHOs of m from more than (N+f)/2 processes, or READYs of m from more than f
 *     processes (amplification), a process sends [READY, m] to all (once);
 *   - on READYs of m from more than 2f processes, it delivers m.
 * More than f READYs include a correct one, so amplification never starts a value no correct
 * process vouched for; more than 2f READYs include f+1 correct ones, whose READYs reach every
 * correct process and make it send READY too: totality.
 *
 * Wire: [SEND|ECHO|READY][sender][seq][bytes m].
 *
 * Detected and counted (strata_node_bad_payload): malformed messages, a SEND whose sender field
 * is not the link's sender, a second SEND, ECHO or READY with a different value from the same
 * process.
 *
 * Bounded implementation (see byz.h): an instance retires once delivered (our READY was sent
 * before: more than 2f READYs include more than f) and the sender's watermark passes it; a late
 * SEND or ECHO is then ignored, which totality does not need.
 *
 * Test-only: byzb_test_set_quorums() lowers the three thresholds for the suite's broken variant
 * (an equivocating sender then breaks consistency). */
#include "bcast/byz.h"
#include "core/assert.h"
#include "core/stack.h"

static void brb_start(struct byzb_mod *b, struct byzb_inst *in, int v)
{
	byzb_send_value(b, BYZ_SEND, in, v);
}

static void brb_ready(struct byzb_mod *b, struct byzb_inst *in, int v)
{
	if (in->sent_ready)
		return;
	in->sent_ready = true;
	byzb_send_value(b, BYZ_READY, in, v);
}

static void brb_recv(struct byzb_mod *b, struct byzb_inst *in, uint32_t from, uint8_t type,
		     struct strata_rd *r, struct strata_msg *msg)
{
	const uint8_t *p;
	size_t len = strata_rd_bytes(r, &p, b->payload_max);
	if (strata_rd_done(r) != 0) {
		byzb_bad(b, from, "malformed brb message");
		return;
	}
	int v = byzb_value(b, in, p, len, msg);
	if (v < 0) {
		byzb_bad(b, from, "too many distinct values in one instance");
		return;
	}
	switch (type) {
	case BYZ_SEND:
		if (in->send_v >= 0) {
			if (in->send_v != v)
				byzb_bad(b, from, "second SEND with another value");
			return;
		}
		in->send_v = v;
		if (!in->sent_echo) {
			in->sent_echo = true;
			byzb_send_value(b, BYZ_ECHO, in, v);
			if (b->byz == STRATA_BYZ_FORGE)
				byzb_forge(b, in);
		}
		return;
	case BYZ_ECHO:
		if (byzb_vote(b, in->echo, from, v, "two different ECHOs") != 1)
			return;
		if (byzb_count(b, in->echo, v) >= b->q_echo)
			brb_ready(b, in, v);
		return;
	case BYZ_READY:
		if (byzb_vote(b, in->ready, from, v, "two different READYs") != 1)
			return;
		unsigned c = byzb_count(b, in->ready, v);
		if (c >= b->q_ready)
			brb_ready(b, in, v);
		if (c >= b->q_deliver)
			byzb_deliver(b, in, v);
		return;
	default:
		byzb_bad(b, from, "brb: unexpected message type");
	}
}

static bool brb_retirable(const struct byzb_mod *b, const struct byzb_inst *in)
{
	return in->delivered;
}

const struct byzb_proto byzb_proto_brb = {
	.name = "brb",
	.start = brb_start,
	.recv = brb_recv,
	.retirable = brb_retirable,
	.max_type = BYZ_READY,
};

struct strata_module *byzb_brb_create(struct strata_node *n, char *err, size_t errlen)
{
	return byzb_create(n, &byzb_proto_brb, "brb", strata_wire_id("brb"), false, 0, err, errlen);
}
