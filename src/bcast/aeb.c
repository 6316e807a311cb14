/* Authenticated Echo Broadcast (the book's Alg. 3.16), implementing Byzantine consistent
 * broadcast (Module 3.11), one instance per (sender, sequence number). Module name "aeb".
 *
 * Events:
 *   request    <bcb, Broadcast | m>            (client STRATA_OP_BROADCAST; this node is s)
 *   indication <bcb, Deliver | s, m>           (STRATA_OUT_DELIVER: peer = s, a = seq, data = m)
 * Properties (for every instance, i.e. every (s, seq)):
 *   BCB1 Validity: if a correct process s broadcasts m, every correct process eventually
 *        delivers m.
 *   BCB2 No duplication: every correct process delivers at most one message.
 *   BCB3 Integrity: if a correct process delivers m with sender s and s is correct, then m was
 *        previously broadcast by s.
 *   BCB4 Consistency: if a correct process delivers m and another correct process delivers m',
 *        then m = m'.
 *   (No totality: some correct processes may deliver and others not when s is Byzantine; that
 *   is what brb adds.)
 *
 * Model: fail-arbitrary, authenticated perfect links (links/links.h), N > 3f. MACs only, no
 * signatures. Cost per broadcast: 2 communication steps (SEND, ECHO), N + N^2 messages, each
 * carrying the payload.
 *
 * Algorithm: s sends [SEND, m] to all. A process that receives the SEND from s (and has not
 * echoed in this instance) sends [ECHO, m] to all. A process delivers m once it has received
 * ECHOs of m from more than (N+f)/2 distinct processes. Two such quorums intersect in more than
 * f processes, hence in a correct one, which echoes only once: consistency.
 *
 * Wire: [SEND|ECHO][sender][seq][bytes m].
 *
 * Detected and counted (strata_node_bad_payload): malformed messages, a SEND whose sender field
 * is not the link's sender, a second SEND or a second ECHO with a different value from the same
 * process (equivocation).
 *
 * Bounded implementation (see byz.h): an instance retires once delivered AND our ECHO is sent
 * (a late SEND must still be echoed, or a correct process that delivered from others' ECHOs
 * could deprive the rest of the quorum they need), and the sender's watermark passes it. */
#include "bcast/byz.h"
#include "core/assert.h"
#include "core/stack.h"

static void aeb_start(struct byzb_mod *b, struct byzb_inst *in, int v)
{
	/* The SEND reaches this node too (perfect links deliver to self): it echoes from there. */
	byzb_send_value(b, BYZ_SEND, in, v);
}

static void aeb_send(struct byzb_mod *b, struct byzb_inst *in, int v)
{
	if (in->send_v >= 0) {
		if (in->send_v != v)
			byzb_bad(b, in->sender, "second SEND with another value");
		return;
	}
	in->send_v = v;
	if (in->sent_echo)
		return;
	in->sent_echo = true;
	byzb_send_value(b, BYZ_ECHO, in, v);
	if (b->byz == STRATA_BYZ_FORGE)
		byzb_forge(b, in);
}

static void aeb_recv(struct byzb_mod *b, struct byzb_inst *in, uint32_t from, uint8_t type,
		     struct strata_rd *r, struct strata_msg *msg)
{
	const uint8_t *p;
	size_t len = strata_rd_bytes(r, &p, b->payload_max);
	if (strata_rd_done(r) != 0) {
		byzb_bad(b, from, "malformed aeb message");
		return;
	}
	int v = byzb_value(b, in, p, len, msg);
	if (v < 0) {
		byzb_bad(b, from, "too many distinct values in one instance");
		return;
	}
	if (type == BYZ_SEND) {
		aeb_send(b, in, v);
		return;
	}
	if (type != BYZ_ECHO) {
		byzb_bad(b, from, "aeb: unexpected message type");
		return;
	}
	if (byzb_vote(b, in->echo, from, v, "two different ECHOs") != 1)
		return;
	if (!in->delivered && byzb_count(b, in->echo, v) >= b->q_echo)
		byzb_deliver(b, in, v);
}

static bool aeb_retirable(const struct byzb_mod *b, const struct byzb_inst *in)
{
	return in->delivered && in->sent_echo;
}

const struct byzb_proto byzb_proto_aeb = {
	.name = "aeb",
	.start = aeb_start,
	.recv = aeb_recv,
	.retirable = aeb_retirable,
	.max_type = BYZ_ECHO,
};

struct strata_module *byzb_aeb_create(struct strata_node *n, char *err, size_t errlen)
{
	return byzb_create(n, &byzb_proto_aeb, "aeb", strata_wire_id("aeb"), false, 0, err, errlen);
}
