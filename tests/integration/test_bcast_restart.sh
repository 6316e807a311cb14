#!/usr/bin/env bash
# Broadcast logs across restarts (--bcast-log): on a 3-node fail-recovery cluster running logged
# majority-ack URB (lurb, Alg. 3.8), node 1 broadcasts while it is SIGKILLed (mid-stream) and
# restarted twice and node 2 is SIGKILLed and restarted once; node 3 broadcasts meanwhile. Each node keeps one log across its incarnations
# ("i <incarnation>" lines). After every node has recovered and the run is quiet, check-bcast
# must find validity, no duplication, no creation, agreement and uniform agreement - every node
# is correct in the crash-recovery sense (it recovered). A tampered copy (one delivery dropped
# from node 3's log) must be rejected, and a log whose restarted node reuses a broadcast number
# must be refused.
# Then, on the same cluster (its nodes started again), logged uniform total-order broadcast (ltob,
# Alg. 6.12, over lurb and lldc): nodes 1 and 2 broadcast while node 1 is SIGKILLed mid-stream and
# restarted; check-bcast must find validity, no duplication, no creation, agreement, uniform
# agreement and total order over every node's log across its incarnations.
# Last, logged best-effort broadcast (lbeb, Alg. 3.7): a `bcast listen` subscribed at node 3
# while it recovers must not take what lbeb replays on recovery for new deliveries.
. "$(dirname "$0")/lib.sh"
t0=$(now_ms)
ALGO=lurb
DIR=$TMP/fr
export DIR
say "starting 3 fail-recovery nodes with delivery logs"
"$CLUSTER" start -n 3 --model fail-recovery --bcast-log --dir "$DIR" >/dev/null || fail "start failed"
LOGS=$DIR/bcast/$ALGO

send() { # NODE COUNT TAG: broadcasts from NODE; a send cut by a kill is fine
	"$STRATA" --dir "$DIR" -n "$1" --timeout 3000 bcast send "$3" --algo $ALGO --repeat "$2" \
		>>"$TMP/send-$1.out" 2>&1
}

say "node 1 broadcasts for 0.5 s, SIGKILLed mid-stream, twice; node 2 killed once; then 40 more"
for round in 1 2 3; do
	n1=5000
	[ $round -eq 3 ] && n1=40
	send 1 $n1 "r$round" &
	sp=$!
	BG_PIDS+=("$sp")
	send 3 5 "n3r$round" &
	sp3=$!
	BG_PIDS+=("$sp3")
	if [ $round -lt 3 ]; then
		sleep 0.5
		"$CLUSTER" kill 1 --dir "$DIR" >/dev/null || fail "kill 1 failed"
		[ $round -eq 1 ] && { "$CLUSTER" kill 2 --dir "$DIR" >/dev/null || fail "kill 2 failed"; }
		wait "$sp" && fail "round $round: node 1 finished its $n1 broadcasts before the kill"
		"$CLUSTER" restart 1 --dir "$DIR" >/dev/null || fail "restart 1 failed"
		[ $round -eq 1 ] && { "$CLUSTER" restart 2 --dir "$DIR" >/dev/null || fail "restart 2 failed"; }
	else
		wait "$sp" || fail "node 1's last round failed: $(tail -n 2 "$TMP/send-1.out")"
	fi
	wait "$sp3" || fail "node 3's broadcasts failed: $(tail -n 2 "$TMP/send-3.out")"
done

# Quiet: the three logs stop growing (lurb retransmits until every node has what it must).
prev="" same=0
for _ in $(seq 1 120); do
	cur=$(cat "$LOGS"/node-*.log | wc -l)
	if [ "$cur" = "$prev" ]; then
		same=$((same + 1))
		[ $same -ge 4 ] && break
	else
		same=0
	fi
	prev=$cur
	sleep 0.5
done
"$CLUSTER" stop --dir "$DIR" >/dev/null
[ -n "${KEEP_LOGS:-}" ] && cp -r "$DIR" "$KEEP_LOGS"
for n in 1 2 3; do
	echo "  node $n: $(grep -c '^i ' "$LOGS/node-$n.log") incarnations, $(grep -c '^b ' "$LOGS/node-$n.log") broadcasts, $(grep -c '^d ' "$LOGS/node-$n.log") deliveries"
done
[ "$(grep -c '^i ' "$LOGS/node-1.log")" -eq 3 ] || fail "node 1's log does not record 3 incarnations"
[ "$(grep -c '^i ' "$LOGS/node-2.log")" -eq 2 ] || fail "node 2's log does not record 2 incarnations"
[ "$(grep -c '^b ' "$LOGS/node-1.log")" -ge 41 ] || fail "node 1 recorded 40 broadcasts or fewer"
for p in validity no-dup no-creation agreement uniform; do
	"$STRATA" check-bcast --property $p "$LOGS" >"$TMP/check.out" 2>&1 ||
		fail "$p: $(cat "$TMP/check.out")"
	echo "  $(cat "$TMP/check.out")"
done
echo "  deliveries logged before a crash and first announced after it (replays recorded):" \
	"$(cat "$DIR"/logs/node-*.log | grep -c 'announced only now')"
pass "validity, no-dup, no-creation, agreement and uniform hold over the restarts"

say "the checkers see a dropped delivery and a reused broadcast number"
mkdir -p "$TMP/bad1" "$TMP/bad2"
cp "$LOGS"/node-*.log "$TMP/bad1/"
line=$(grep -n '^d 1 ' "$TMP/bad1/node-3.log" | tail -n 1 | cut -d: -f1)
sed -i "${line}d" "$TMP/bad1/node-3.log"
"$STRATA" check-bcast --property agreement "$TMP/bad1" >"$TMP/check.out" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "agreement on a log missing a delivery: exit $rc, expected 1: $(cat "$TMP/check.out")"
echo "  $(cat "$TMP/check.out")"
cp "$LOGS"/node-*.log "$TMP/bad2/"
printf 'i 99999999999999999\nb 1 0 00\n' >>"$TMP/bad2/node-1.log"
"$STRATA" check-bcast --property no-dup "$TMP/bad2" >"$TMP/check.out" 2>&1
rc=$?
[ $rc -eq 2 ] || fail "a reused broadcast number: exit $rc, expected 2: $(cat "$TMP/check.out")"
echo "  $(cat "$TMP/check.out")"
pass "a dropped delivery violates agreement; a reused number is refused"

t1=$(now_ms)
say "ltob on the same cluster: nodes 1 and 2 broadcast, node 1 SIGKILLed mid-stream and restarted"
for n in 1 2 3; do
	"$CLUSTER" restart $n --dir "$DIR" >/dev/null || fail "restart $n failed"
done
ALGO=ltob
LOGS=$DIR/bcast/$ALGO
send 1 5000 "t1" &
sp=$!
BG_PIDS+=("$sp")
send 2 10 "t2" &
sp2=$!
BG_PIDS+=("$sp2")
sleep 0.5
"$CLUSTER" kill 1 --dir "$DIR" >/dev/null || fail "kill 1 failed"
wait "$sp" && fail "ltob: node 1 finished its 5000 broadcasts before the kill"
"$CLUSTER" restart 1 --dir "$DIR" >/dev/null || fail "restart 1 failed"
send 1 10 "t1b" || fail "ltob: node 1's broadcasts after its restart failed: $(tail -n 2 "$TMP/send-1.out")"
wait "$sp2" || fail "ltob: node 2's broadcasts failed: $(tail -n 2 "$TMP/send-2.out")"
prev="" same=0
for _ in $(seq 1 60); do
	cur=$(cat "$LOGS"/node-*.log | wc -l)
	if [ "$cur" = "$prev" ]; then
		same=$((same + 1))
		[ $same -ge 4 ] && break
	else
		same=0
	fi
	prev=$cur
	sleep 0.5
done
"$CLUSTER" stop --dir "$DIR" >/dev/null
for n in 1 2 3; do
	echo "  node $n: $(grep -c '^i ' "$LOGS/node-$n.log") incarnations, $(grep -c '^b ' "$LOGS/node-$n.log") broadcasts, $(grep -c '^d ' "$LOGS/node-$n.log") deliveries"
done
[ "$(grep -c '^d ' "$LOGS/node-3.log")" -ge 21 ] || fail "ltob: node 3 delivered 20 messages or fewer"
for p in validity no-dup no-creation agreement uniform total-order; do
	"$STRATA" check-bcast --property $p "$LOGS" >"$TMP/check.out" 2>&1 ||
		fail "ltob $p: $(cat "$TMP/check.out")"
	echo "  $(cat "$TMP/check.out")"
done
pass "ltob: validity, no-dup, no-creation, agreement, uniform and total order hold over a kill and restart ($(($(now_ms) - t1)) ms)"

# lbeb (Alg. 3.7) announces again, on recovery, the deliveries and own broadcasts it logged
# before the crash (their first announcement may have been lost with it), marked as replays. A
# live `bcast listen` subscriber must not see them as new deliveries. Node 3 alone (lbeb needs no
# majority, and a sender delivers its own messages) broadcasts 3 messages, is killed, and restarts
# with every sync 1.5 s slower (test only), so its recovery's outputs, the replays among them,
# leave after its first sync, once the listener has subscribed; the listener must print node 3's
# next new message, not a replay.
t2=$(now_ms)
say "lbeb: a listener subscribed while node 3 recovers does not see its replays as deliveries"
REAL_STRATAD=$STRATAD
cat >"$TMP/stratad-slow-sync" <<WRAP
#!/usr/bin/env bash
case "\${1:-}" in keygen | client-keygen | coin-deal) exec "$REAL_STRATAD" "\$@" ;; esac
exec "$REAL_STRATAD" "\$@" --test-sync-delay-ms 1500
WRAP
chmod +x "$TMP/stratad-slow-sync"
LOGS=$DIR/bcast/lbeb
"$CLUSTER" restart 3 --dir "$DIR" >/dev/null || fail "restart 3 failed"
"$STRATA" --dir "$DIR" -n 3 bcast send pre --algo lbeb --repeat 3 >/dev/null ||
	fail "lbeb: node 3's broadcasts failed"
for _ in $(seq 1 100); do
	[ "$(grep -c '^d 3 ' "$LOGS/node-3.log" 2>/dev/null)" -ge 3 ] && break
	sleep 0.1
done
[ "$(grep -c '^d 3 ' "$LOGS/node-3.log" 2>/dev/null)" -ge 3 ] || fail "lbeb: node 3 did not deliver its 3 messages"
"$CLUSTER" kill 3 --dir "$DIR" >/dev/null || fail "kill 3 failed"
STRATAD=$TMP/stratad-slow-sync "$CLUSTER" restart 3 --dir "$DIR" >/dev/null || fail "slow restart of 3 failed"
"$STRATA" --dir "$DIR" -n 3 bcast listen --algo lbeb --count 1 --duration 20 >"$TMP/listen.out" 2>&1 &
lp=$!
BG_PIDS+=("$lp")
sleep 0.3
"$STRATA" --dir "$DIR" -n 3 --timeout 10000 bcast send post --algo lbeb >/dev/null ||
	fail "lbeb: node 3's broadcast after its restart failed"
wait "$lp" || fail "lbeb: bcast listen at node 3 failed: $(cat "$TMP/listen.out")"
replays=$(grep -c 'lbeb: 3:[0-9]* announced again after the recovery' "$DIR/logs/node-3.log")
"$CLUSTER" stop --dir "$DIR" >/dev/null
echo "  listener at node 3: $(cat "$TMP/listen.out")"
[ "$replays" -ge 3 ] || fail "lbeb: node 3 replayed $replays deliveries on recovery, expected 3: the check proves nothing"
grep -q 'pre-' "$TMP/listen.out" && fail "lbeb: the listener took a replay for a delivery: $(cat "$TMP/listen.out")"
grep -q ' post$' "$TMP/listen.out" || fail "lbeb: the listener did not print the new message: $(cat "$TMP/listen.out")"
pass "lbeb: $replays replayed deliveries on recovery, the listener printed only the new message ($(($(now_ms) - t2)) ms)"
echo "test_bcast_restart: $(($(now_ms) - t0)) ms"
