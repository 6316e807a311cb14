#!/usr/bin/env bash
# Byzantine total-order broadcast (Rotating Sender Byzantine Broadcast, Alg. 6.2, `btob`, over
# Byzantine leader-driven consensus, bldc) on real processes: a fail-arbitrary cluster of 4
# nodes (f = 1) whose node 1 runs stratad --byzantine-test forge (it forges in btob's proposals
# and in bldc, whose first leader it is, and it is btob's first round sender: the correct nodes
# must complain it away before anything is ordered). Every node sends 6 messages with
# `strata bcast send --algo btob`. Then `strata check-bcast` on the delivery logs, node 1 not
# judged (--crashed 1): validity, no duplication, no creation, agreement and total order; and
# each of nodes 2-4 delivered every message of nodes 2-4.
. "$(dirname "$0")/lib.sh"

T0=$(now_ms)
MSGS=6
DIR=$TMP/btob
export DIR
"$CLUSTER" start -n 4 --model fail-arbitrary --byzantine 1:forge --bcast-log --dir "$DIR" \
	>/dev/null || fail "start failed"
sleep 1
say "btob: 4 senders x $MSGS messages, node 1 Byzantine (forge)"
pids=()
for s in 1 2 3 4; do
	"$STRATA" --dir "$DIR" -n $s bcast send "m$s" --algo btob --repeat "$MSGS" \
		>"$TMP/send-$s.out" 2>&1 &
	pids+=($!)
done
for s in 2 3 4; do
	wait "${pids[$((s - 1))]}" || fail "sender $s failed: $(tail -n 2 "$TMP/send-$s.out")"
done
wait "${pids[0]}" || true
want=$((3 * MSGS))
for _ in $(seq 1 150); do
	done_nodes=0
	for n in 2 3 4; do
		got=$(grep -c '^d ' "$DIR/bcast/btob/node-$n.log" 2>/dev/null || true)
		[ "${got:-0}" -ge "$want" ] && done_nodes=$((done_nodes + 1))
	done
	[ "$done_nodes" = 3 ] && break
	sleep 0.2
done
sleep 1
"$CLUSTER" stop --dir "$DIR" >/dev/null
for p in validity no-dup no-creation agreement total-order; do
	"$STRATA" check-bcast --property $p --crashed 1 "$DIR/bcast/btob" ||
		fail "btob: check-bcast $p"
done
for n in 2 3 4; do
	got=$(grep -c '^d ' "$DIR/bcast/btob/node-$n.log" || true)
	[ "${got:-0}" -ge "$want" ] || fail "node $n delivered $got messages, expected at least $want"
done
pass "btob on a fail-arbitrary cluster with node 1 forging: validity, no-dup, no-creation, agreement and total order on nodes 2-4"
echo "test_btob_live: $(($(now_ms) - T0)) ms"
