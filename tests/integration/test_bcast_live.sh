#!/usr/bin/env bash
# Live broadcast: on a 5-node cluster with delivery logs, 5 concurrent senders broadcast 1,000
# messages each while node 5 is killed mid-run; the logs of the correct nodes must pass the
# offline validators for the algorithm (majority-ack URB: validity, no duplication, no creation,
# agreement, uniform agreement; waiting causal broadcast: also FIFO and causal order).
. "$(dirname "$0")/lib.sh"

MSGS=${BCAST_MSGS:-1000}

run_algo() {
	local algo=$1 props=$2
	DIR=$TMP/$algo
	export DIR
	say "$algo: starting 5 nodes with delivery logs"
	"$CLUSTER" start -n 5 --model fail-noisy --bcast-log --dir "$DIR" >/dev/null || fail "start failed"
	# The KV's watch events are deliveries of module kv, not broadcasts: this write leaves no
	# delivery log of kv (daemon/stratad.c on_output), and as no log records them and nobody
	# watches, no node builds one (kv_watch_events; daemon/stratad.c records_deliveries).
	local rev
	rev=$("$STRATA" --dir "$DIR" --timeout 5000 -w json kv put bcast-log-probe x | json_get "d['revision']") ||
		fail "$algo: kv put failed"
	local applied=0
	for n in 1 2 3 4 5; do
		local a=0 t=0
		while [ $t -lt 50 ]; do
			a=$(counter $n kv_applied_index)
			[ "$a" -ge 1 ] && break
			sleep 0.1
			t=$((t + 1))
		done
		[ "$a" -ge 1 ] && applied=$((applied + 1))
		local w
		w=$(counter $n kv_watch_events)
		[ "$w" = 0 ] || fail "$algo: node $n built $w watch events for the delivery logs (nobody watches)"
	done
	[ $applied -ge 3 ] || fail "$algo: the kv write was applied on $applied nodes only"
	# A watcher on node 1 makes its KV build watch events; they still go to no delivery log
	# (checked with DIR/kv below). The watch prints the put above from the history once it is
	# subscribed, then the second put from the stream.
	timeout 30 "$STRATA" --dir "$DIR" -n 1 -w json kv watch bcast-log-probe --from "$rev" --count 2 \
		>"$TMP/$algo-watch.json" 2>"$TMP/$algo-watch.err" &
	local wpid=$! t=0
	BG_PIDS+=($wpid)
	while [ ! -s "$TMP/$algo-watch.json" ] && [ $t -lt 100 ]; do
		sleep 0.1
		t=$((t + 1))
	done
	[ -s "$TMP/$algo-watch.json" ] || fail "$algo: kv watch printed nothing: $(cat "$TMP/$algo-watch.err")"
	"$STRATA" --dir "$DIR" --timeout 5000 kv put bcast-log-probe y >/dev/null || fail "$algo: second kv put failed"
	wait $wpid || fail "$algo: kv watch on node 1 failed: $(cat "$TMP/$algo-watch.err")"
	local w1
	w1=$(counter 1 kv_watch_events)
	[ "$w1" -ge 1 ] || fail "$algo: node 1 built no watch event for its watcher"
	say "$algo: 5 senders x $MSGS messages, node 5 killed mid-run"
	local pids=()
	for s in 1 2 3 4 5; do
		"$STRATA" --dir "$DIR" -n $s bcast send "m$s" --algo "$algo" --repeat "$MSGS" \
			>"$TMP/$algo-send-$s.out" 2>&1 &
		pids+=($!)
		BG_PIDS+=($!)
	done
	sleep 1
	"$CLUSTER" kill 5 --dir "$DIR" >/dev/null || fail "kill failed"
	for s in 1 2 3 4; do
		wait "${pids[$((s - 1))]}" || fail "$algo: sender $s failed: $(tail -n 2 "$TMP/$algo-send-$s.out")"
	done
	wait "${pids[4]}" # node 5's sender dies with it (exit 3 expected)
	# Quiesce: every correct node has delivered what it will deliver.
	local want=$((4 * MSGS)) t=0
	while [ $t -lt 100 ]; do
		local done_n=0
		for n in 1 2 3 4; do
			local got
			got=$(grep -c '^d 1 \|^d 2 \|^d 3 \|^d 4 ' "$DIR/bcast/$algo/node-$n.log" 2>/dev/null || echo 0)
			[ "$got" -ge "$want" ] && done_n=$((done_n + 1))
		done
		[ $done_n -eq 4 ] && break
		sleep 0.2
		t=$((t + 1))
	done
	"$CLUSTER" stop --dir "$DIR" >/dev/null
	[ ! -e "$DIR/bcast/kv" ] || fail "$algo: the kv write was recorded as a broadcast in $DIR/bcast/kv"
	for p in $props; do
		"$STRATA" check-bcast --property "$p" --crashed 5 "$DIR/bcast/$algo" >"$TMP/check.out" 2>&1 ||
			fail "$algo: $p: $(cat "$TMP/check.out")"
	done
	local delivered
	delivered=$(grep -c '^d ' "$DIR/bcast/$algo/node-1.log")
	pass "$algo: $delivered deliveries at node 1; $props hold"
}

run_algo urb "validity no-dup no-creation agreement uniform"
run_algo wcb "validity no-dup no-creation agreement fifo causal"
