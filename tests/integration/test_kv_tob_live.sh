#!/usr/bin/env bash
# The KV over total-order broadcast ([smr] log = tob, src/smr/tob_log.c) on real processes:
# 5 nodes, fail-noisy, tob over ldc, from a config with `[smr] log = tob` and `[tob] consensus`
# (tob 6.1 is crash-stop: a node that restarts with its old data refuses requests, checked at
# the end). Then:
# `strata kv` put/get/cas/del/range across nodes; `strata workload --kv` (8 clients, 3 keys,
# 4 s) while node 5 is SIGKILLed at 1 s (for good: crash-stop) and node 4 is paused from 2 s to
# 3.5 s; a final read of every key from every live node is appended, and `strata check --model
# atomic` must find the history linearizable (which also covers every acknowledged write).
# `kv watch` replays and streams changes; only a watched node builds watch events
# (kv_watch_events).
. "$(dirname "$0")/lib.sh"

T_START=$(now_ms)
# The config: free loopback ports (picked as scripts/cluster picks them), [smr] log = tob.
config_with_ports "$TMP/tob-5.ini" 5 <<'EOF'
[cluster]
id = kv-tob-live
model = fail-noisy
f = 2

[fd]
heartbeat_ms = 50
timeout_ms = 250

[smr]
log = tob

[tob]
consensus = ldc
EOF
"$CLUSTER" start --config "$TMP/tob-5.ini" --dir "$DIR" >/dev/null ||
	fail "start with [smr] log = tob failed"
echo "  cluster up with log = tob after $(($(now_ms) - T_START)) ms"

say "stratad --check-config refuses what tob and the tob log cannot run on"
while IFS='|' read -r edit expect; do
	sed "$edit" "$DIR/cluster.ini" >"$DIR/bad.ini"
	out=$("$STRATAD" --check-config --config "$DIR/bad.ini" --id 1 --key "$DIR/keys/node-1.key" 2>&1)
	rc=$?
	[ $rc -eq 2 ] && echo "$out" | grep -qF -- "$expect" ||
		fail "check-config after '$edit': exit $rc, '$out' (expected exit 2 and '$expect')"
done <<'EOF'
s/consensus = ldc/consensus = rbc/|[tob] consensus: 'rbc' is not a consensus
s/consensus = ldc/consensus = flood/|needs the fail-stop model
s/log = tob/log = raft/|[smr] log: unknown log 'raft'
s/consensus = ldc/consensus = hier/;s/model = fail-noisy/model = fail-stop/|needs a uniform consensus under tob
EOF
sed 's/consensus = ldc/consensus = uhier/;s/model = fail-noisy/model = fail-stop/' "$DIR/cluster.ini" >"$DIR/ok.ini"
out=$("$STRATAD" --check-config --config "$DIR/ok.ini" --id 1 --key "$DIR/keys/node-1.key" 2>&1) ||
	fail "check-config refused log = tob over uhier on a fail-stop cluster: $out"
pass "check-config: rbc, flood on fail-noisy, an unknown log and log = tob over hier refused; uhier accepted"

kv() { # NODE ARGS...: strata -n NODE -w json kv ARGS...
	local node=$1
	shift
	"$STRATA" --dir "$DIR" -n "$node" --timeout 5000 -w json kv "$@"
}

say "log = tob: put, get from other nodes, cas, del, range"
out=$(kv 2 put x 42) || fail "put x 42 failed"
[ "$(echo "$out" | json_get "(d['key'], d['value'], d['revision'])")" = "('x', '42', 1)" ] ||
	fail "put printed '$out'"
for n in 1 5; do
	v=$(kv "$n" get x | json_get "(d['value'], d['revision'])") || fail "get x from node $n failed"
	[ "$v" = "('42', 1)" ] || fail "get x from node $n gave '$v', expected ('42', 1)"
done
"$STRATA" --dir "$DIR" -n 3 kv cas x 41 50 >/dev/null 2>"$TMP/err"; rc=$?
[ $rc -eq 1 ] && grep -q "compare failed" "$TMP/err" || fail "cas with a wrong expectation: exit $rc, $(cat "$TMP/err")"
v=$(kv 4 cas x 42 50 | json_get "(d['value'], d['revision'])") || fail "cas x 42 50 failed"
[ "$v" = "('50', 2)" ] || fail "cas printed '$v'"
kv 1 del x >/dev/null || fail "del x failed"
v=$(kv 3 get x | json_get "d['value']")
[ "$v" = None ] || fail "a deleted key read as '$v', expected null"
for k in r/b r/a r/c; do kv 5 put "$k" "v-$k" >/dev/null || fail "put $k failed"; done
v=$("$STRATA" --dir "$DIR" -n 2 kv range r/ | tr '\t\n' '=,')
[ "$v" = "r/a=v-r/a,r/b=v-r/b,r/c=v-r/c," ] || fail "range r/ printed '$v'"
pass "put/get/cas/del/range across nodes over tob"

say "log = tob: kv watch, history replay then the live stream"
# No watcher yet: no node built a watch event for the writes above; the history has them.
for n in 1 2 3 4 5; do
	w=$(counter "$n" kv_watch_events)
	[ "$w" = 0 ] || fail "node $n built $w watch events with no watcher connected"
done
kv 3 watch --prefix r/ --from 1 --count 3 >"$TMP/w1.json" || fail "watch --prefix r/ --from 1 on node 3 failed"
python3 - "$TMP/w1.json" <<'PY' || fail "node 3's replayed history is wrong: $(cat "$TMP/w1.json")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert [(e["type"], e["key"], e["value"], e["revision"]) for e in ev] == \
    [("put", "r/b", "v-r/b", 4), ("put", "r/a", "v-r/a", 5), ("put", "r/c", "v-r/c", 6)], ev
PY
rev=$(kv 1 put w/other x | json_get "d['revision']") || fail "put w/other failed"
kv 1 put w/k v1 >/dev/null || fail "put w/k failed"
timeout 30 "$STRATA" --dir "$DIR" -n 4 -w json kv watch w/k --from $((rev + 1)) --count 3 \
	>"$TMP/w2.json" 2>"$TMP/w2.err" &
wpid=$!
BG_PIDS+=("$wpid")
for _ in $(seq 1 100); do
	[ -s "$TMP/w2.json" ] && break
	sleep 0.1
done
[ -s "$TMP/w2.json" ] || fail "watch on node 4 printed nothing from its history: $(cat "$TMP/w2.err")"
kv 2 put w/other y >/dev/null && kv 5 put w/k v2 >/dev/null && kv 3 del w/k >/dev/null ||
	fail "live writes failed"
wait $wpid || fail "watch w/k on node 4 failed: $(cat "$TMP/w2.err")"
python3 - "$TMP/w2.json" "$rev" <<'PY' || fail "live watch: $(cat "$TMP/w2.json")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
r = int(sys.argv[2])
assert [(e["type"], e["key"], e["value"], e["revision"]) for e in ev] == \
    [("put", "w/k", "v1", r + 1), ("put", "w/k", "v2", r + 3),
     ("delete", "w/k", None, r + 4)], ev
PY
w4=$(counter 4 kv_watch_events)
[ "$w4" -ge 3 ] || fail "node 4 built $w4 watch events for its watcher (expected >= 3)"
for n in 1 2 5; do
	w=$(counter "$n" kv_watch_events)
	[ "$w" = 0 ] || fail "node $n built $w watch events, never watched"
done
pass "watch over tob: 3 changes replayed from revision 1, then the history and live stream of one key; events built only on the watched node ($w4)"

echo "  basics done after $(($(now_ms) - T_START)) ms"
say "workload --kv: 8 clients, 4 s; node 5 SIGKILLed at 1 s (crash-stop), node 4 paused 2-3.5 s"
(
	sleep 1
	"$CLUSTER" kill 5 --dir "$DIR" >/dev/null
	sleep 1
	"$CLUSTER" pause 4 --dir "$DIR" >/dev/null
	sleep 1.5
	"$CLUSTER" resume 4 --dir "$DIR" >/dev/null
) &
BG_PIDS+=($!)
T0=$(now_ms)
"$STRATA" --dir "$DIR" --timeout 2000 workload --kv --clients 8 --keys 3 --duration 4 \
	--out "$TMP/history.jsonl" || fail "workload failed"
wait
ok=$(grep -c '"type":"ok"' "$TMP/history.jsonl")
cas_ok=$(grep '"type":"ok"' "$TMP/history.jsonl" | grep -c '"f":"cas"')
[ "$ok" -gt 100 ] || fail "only $ok operations completed"
[ "$cas_ok" -gt 0 ] || fail "no cas succeeded"
python3 "$FINAL_READS" "$TMP/history.jsonl" "$STRATA" "$DIR" 1 2 3 4 || fail "final reads failed"
"$STRATA" check --model atomic "$TMP/history.jsonl" || fail "history is not linearizable"
pass "$ok operations ($cas_ok cas) in $(($(now_ms) - T0)) ms, linearizable with final reads from every live node"

say "a node restarted with its old data refuses requests (crash-stop)"
"$CLUSTER" restart 3 --dir "$DIR" >/dev/null 2>&1 || fail "restart 3 failed"
"$STRATA" --dir "$DIR" -n 3 --timeout 3000 kv get r/a >/dev/null 2>"$TMP/err"; rc=$?
[ $rc -ne 0 ] && grep -q "crash-stop" "$TMP/err" || fail "restarted node 3: exit $rc, $(cat "$TMP/err")"
v=$(kv 1 get r/a | json_get "d['value']") || fail "get r/a from node 1 after node 3's restart failed"
[ "$v" = v-r/a ] || fail "get r/a from node 1 gave '$v'"
pass "restarted node refuses with a clear error; the others go on"
echo "test_kv_tob_live: $(($(now_ms) - T_START)) ms"
