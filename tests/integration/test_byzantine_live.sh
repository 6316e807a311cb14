#!/usr/bin/env bash
# Live Byzantine acceptance: on a 4-node fail-arbitrary cluster (f = 1) whose node 4 misbehaves on
# purpose (stratad --byzantine-test, through scripts/cluster start --byzantine 4:B), the correct
# nodes 1-3 still get what the book promises them.
#
# Two runs, node 4 equivocating, then forging. In each:
#  - Bracha's broadcast (brb): nodes 1-3 broadcast 200 messages each while node 4 broadcasts 200
#    too; the delivery logs must pass `strata check-bcast` validity, no-dup and agreement with
#    node 4 counted as faulty, and, with node 4 declared Byzantine (--byzantine 4: its log proves
#    nothing), integrity (no-creation over the correct senders) and consistency (one payload per
#    sender:seq among the correct nodes);
#  - equivocate only, the control that shows the equivocation is real and the check bites: node
#    4 also broadcasts with aeb (consistent broadcast, no totality), whose agreement must then be
#    violated — nodes 1, 2 get m from node 4 and deliver it, node 3 gets m' and never delivers —
#    while its consistency holds;
#  - forge only: the correct nodes detected it (rej_payload counter > 0);
#  - registers: `strata workload` with 4 clients for 4 s against nodes 1-3, the history checked:
#    adbq (regular) and bql (atomic). Under forge, node 4's forged register WRITEs must add to
#    the rejections.
. "$(dirname "$0")/lib.sh"

MSGS=${BYZ_MSGS:-200}
CORRECT="1 2 3"

log_of() { echo "$DIR/bcast/$1/node-$2.log"; }

# deliveries ALGO NODE [SENDER]: how many deliveries node NODE logged (from SENDER).
deliveries() {
	local f
	f=$(log_of "$1" "$2")
	[ -f "$f" ] || { echo 0; return; }
	if [ $# -ge 3 ]; then grep -c "^d $3 " "$f"; else grep -c '^d ' "$f"; fi
}

# wait_quiet ALGO WANT: until each correct node delivered WANT messages of the correct senders
# and no correct node's log grew for 600 ms (node 4's own instances settle too); 15 s at most.
wait_quiet() {
	local algo=$1 want=$2 deadline still=0 prev="" cur n got ok
	deadline=$(($(now_ms) + 15000))
	while [ "$(now_ms)" -lt "$deadline" ]; do
		ok=1 cur=""
		for n in $CORRECT; do
			got=0
			for s in $CORRECT; do got=$((got + $(deliveries "$algo" "$n" "$s"))); done
			[ "$got" -ge "$want" ] || ok=0
			cur="$cur $(deliveries "$algo" "$n")"
		done
		if [ $ok = 1 ] && [ "$cur" = "$prev" ]; then
			still=$((still + 1))
			[ $still -ge 3 ] && return 0
		else
			still=0
		fi
		prev=$cur
		sleep 0.2
	done
	echo "  deliveries at nodes $CORRECT:$cur (want $want from the correct senders each)"
	return 1
}

# check_bcast ALGO DIR PROPERTY [FAULT]: check-bcast with node 4 faulty must hold. FAULT is
# --crashed (the default) or --byzantine: a Byzantine node's log is not believed, so its
# deliveries are not judged and deliveries of its messages are not compared with its b lines.
check_bcast() {
	"$STRATA" check-bcast --property "$3" "${4:---crashed}" 4 "$2" >"$TMP/check.out" 2>&1 ||
		fail "$1 with node 4 ${BEHAVIOUR}: $3: $(cat "$TMP/check.out")"
	echo "  $1 $3: $(cat "$TMP/check.out")"
}

# bcast_repeat NODE ALGO PREFIX COUNT: node NODE broadcasts COUNT messages with `strata bcast
# send --repeat`. A node refuses a broadcast while 64 of its own are undelivered at itself
# (STRATA_EFULL, "queue or window full"), which under this load happens; that is flow control,
# not a failure, and `--repeat` stops there. So: count what the node did broadcast (its log's b
# lines), wait a moment and go on with the rest under a new prefix (payloads stay unique).
bcast_repeat() {
	local node=$1 algo=$2 prefix=$3 count=$4 part=0 done_n out
	while :; do
		done_n=$(grep -c '^b ' "$(log_of "$algo" "$node")")
		if [ "$done_n" -ge "$count" ] ||
			out=$("$STRATA" --dir "$DIR" -n "$node" bcast send "$prefix.$part" \
				--algo "$algo" --repeat $((count - done_n)) 2>&1); then
			echo "node $node: $count $algo broadcasts, $part window-full waits"
			return 0
		fi
		case "$out" in
		*"window full"*) part=$((part + 1)); sleep 0.05 ;;
		*) echo "$out"; return 1 ;;
		esac
		[ $part -lt 200 ] || { echo "still refused after $part waits: $out"; return 1; }
	done
}

# rejections: the sum of rej_payload over the correct nodes.
rejections() {
	local n sum=0 r
	for n in $CORRECT; do
		r=$(counter "$n" rej_payload)
		[ "$r" -ge 0 ] || fail "node $n has no rej_payload counter"
		sum=$((sum + r))
	done
	echo "$sum"
}

# reg_check ALGO MODEL: a 4-client workload on the correct nodes, then `strata check`.
reg_check() {
	local algo=$1 model=$2 h="$TMP/$BEHAVIOUR-$1.jsonl" ops reads
	"$STRATA" --dir "$DIR" workload --algo "$algo" --clients 4 --keys 2 --duration 4 \
		--nodes 1,2,3 --op-timeout 2000 --out "$h" >"$TMP/workload.out" 2>&1 ||
		fail "$algo workload with node 4 ${BEHAVIOUR} failed: $(tail -n 3 "$TMP/workload.out")"
	ops=$(grep -c '"type":"ok"' "$h")
	reads=$(grep '"type":"ok"' "$h" | grep -c '"f":"read"')
	[ "$ops" -ge 50 ] || fail "$algo with node 4 ${BEHAVIOUR}: only $ops operations completed"
	[ "$reads" -ge 10 ] || fail "$algo with node 4 ${BEHAVIOUR}: only $reads reads completed"
	"$STRATA" check --model "$model" "$h" >"$TMP/check.out" 2>&1 ||
		fail "$algo with node 4 ${BEHAVIOUR}: history is not $model: $(cat "$TMP/check.out")"
	pass "$algo with node 4 ${BEHAVIOUR}: $ops operations ($reads reads) by 4 clients on nodes 1-3, history $model"
}

run() {
	BEHAVIOUR=$1
	DIR=$TMP/$BEHAVIOUR
	export DIR
	say "$BEHAVIOUR: 4 nodes, fail-arbitrary, node 4 --byzantine-test $BEHAVIOUR"
	"$CLUSTER" start --model fail-arbitrary --byzantine "4:$BEHAVIOUR" --bcast-log --dir "$DIR" \
		>/dev/null || fail "scripts/cluster start failed"
	grep -q "TEST ONLY: this node misbehaves on purpose: $BEHAVIOUR" "$DIR/logs/node-4.log" ||
		fail "node 4 does not announce its test-only behaviour in its log"
	[ "$(ini_get cluster f)" = 1 ] || fail "a 4-node fail-arbitrary cluster should have f = 1"

	say "$BEHAVIOUR: brb, nodes 1-4 broadcast $MSGS messages each, concurrently"
	local pids=() s n
	for s in 1 2 3 4; do
		bcast_repeat $s brb "m$s" "$MSGS" >"$TMP/send-$s.out" 2>&1 &
		pids+=($!)
		BG_PIDS+=($!)
	done
	if [ "$BEHAVIOUR" = equivocate ]; then
		bcast_repeat 4 aeb e4 20 >"$TMP/send-aeb.out" 2>&1 ||
			fail "aeb sender 4 failed: $(tail -n 2 "$TMP/send-aeb.out")"
	fi
	for s in 1 2 3 4; do
		wait "${pids[$((s - 1))]}" ||
			fail "brb sender $s failed: $(tail -n 2 "$TMP/send-$s.out")"
	done
	for n in 1 2 3 4; do
		[ "$(grep -c '^b ' "$(log_of brb "$n")")" = "$MSGS" ] || fail "node $n did not broadcast $MSGS brb messages"
		echo "  $(tail -n 1 "$TMP/send-$n.out")"
	done
	wait_quiet brb $((3 * MSGS)) || fail "brb: the correct nodes did not deliver every correct broadcast"
	for p in validity no-dup agreement; do check_bcast brb "$DIR/bcast/brb" "$p"; done
	# Integrity for the correct senders and consistency among the correct nodes: node 4 is
	# Byzantine, so its (possibly equivocated) messages are not compared with what it claims to
	# have broadcast, and what it claims to have delivered is not judged.
	check_bcast brb "$DIR/bcast/brb" no-creation --byzantine
	grep -q "deliveries by or from Byzantine nodes not judged" "$TMP/check.out" ||
		fail "brb no-creation: node 4's deliveries were not set aside: $(cat "$TMP/check.out")"
	check_bcast brb "$DIR/bcast/brb" consistency --byzantine
	local from4
	from4=$(deliveries brb 1 4)
	pass "brb with node 4 ${BEHAVIOUR}: validity, no-dup, agreement, integrity, consistency hold ($from4 of node 4's messages delivered)"

	if [ "$BEHAVIOUR" = equivocate ]; then
		wait_quiet aeb 0 || true
		if "$STRATA" check-bcast --property agreement --crashed 4 "$DIR/bcast/aeb" >"$TMP/check.out" 2>&1; then
			fail "control: aeb agreement held although node 4 equivocates (is --byzantine-test live?): $(cat "$TMP/check.out")"
		fi
		grep -q "agreement violated: node 3 never delivered 4:" "$TMP/check.out" ||
			fail "control: unexpected aeb verdict: $(cat "$TMP/check.out")"
		pass "control: node 4's equivocation is live — aeb (no totality) splits the correct nodes: $(cat "$TMP/check.out")"
		check_bcast aeb "$DIR/bcast/aeb" consistency --byzantine
		pass "aeb with node 4 equivocating: consistency holds although agreement does not"
	fi

	local rej_bcast
	rej_bcast=$(rejections)
	if [ "$BEHAVIOUR" = forge ]; then
		[ "$rej_bcast" -gt 0 ] || fail "forge: the correct nodes rejected no payload (rej_payload = 0)"
		pass "forge: the correct nodes rejected $rej_bcast forged broadcast payloads"
	fi

	say "$BEHAVIOUR: registers, 4 clients x 4 s on nodes 1-3"
	reg_check adbq regular
	reg_check bql atomic
	if [ "$BEHAVIOUR" = forge ]; then
		local rej_reg
		rej_reg=$(rejections)
		[ "$rej_reg" -gt "$rej_bcast" ] ||
			fail "forge: node 4's forged register messages were not rejected (rej_payload $rej_bcast -> $rej_reg)"
		pass "forge: $((rej_reg - rej_bcast)) forged register payloads rejected by the correct nodes"
	fi
	"$CLUSTER" stop --dir "$DIR" >/dev/null
}

start=$(now_ms)
run equivocate
run forge
pass "total $(($(now_ms) - start)) ms"
