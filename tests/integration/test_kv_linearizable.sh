#!/usr/bin/env bash
# Live linearizability and durability of the replicated KV store (src/smr): 5 nodes, fail-noisy.
# `strata kv` basics first (put/get/cas/del, -w json with revision, exit codes, usage errors).
# Then `strata workload --kv` (put, get, cas; 8 clients spread over all nodes, 8 s, 3 keys)
# while the KV leader is SIGKILLed at 1.5 s and restarted at 3.5 s, and a follower is paused
# from 4.5 s to 6.5 s. After the workload every node is SIGKILLed at once and the cluster restarted; a
# final read of every key from every node is appended to the history, so `strata check --model
# atomic` verifies both linearizability and that no acknowledged write was lost.
. "$(dirname "$0")/lib.sh"

start_cluster 5 fail-noisy

kv() { # NODE ARGS...: strata -n NODE -w json kv ARGS...
	local node=$1
	shift
	"$STRATA" --dir "$DIR" -n "$node" --timeout 5000 -w json kv "$@"
}

kv_leader() { # the node every live node names as the KV leader (0 if they disagree or none)
	local n l seen=0
	for n in 1 2 3 4 5; do
		l=$("$STRATA" --dir "$DIR" -n "$n" --timeout 500 -w json status 2>/dev/null |
			json_get "d['counters'].get('kv_leader', 0)") || continue
		[ "$l" = 0 ] && { echo 0; return; }
		[ "$seen" = 0 ] && seen=$l
		[ "$seen" = "$l" ] || { echo 0; return; }
	done
	echo "$seen"
}

say "put, get from other nodes, cas, del"
out=$(kv 2 put x 42) || fail "put x 42 failed"
[ "$(echo "$out" | json_get "(d['key'], d['value'], d['revision'])")" = "('x', '42', 1)" ] ||
	fail "put printed '$out'"
for n in 1 3 4 5; do
	v=$(kv "$n" get x | json_get "(d['value'], d['revision'])") || fail "get x from node $n failed"
	[ "$v" = "('42', 1)" ] || fail "get x from node $n gave '$v', expected ('42', 1)"
done
"$STRATA" --dir "$DIR" -n 3 kv cas x 41 50 >/dev/null 2>"$TMP/err"; rc=$?
[ $rc -eq 1 ] && grep -q "compare failed" "$TMP/err" || fail "cas with a wrong expectation: exit $rc, $(cat "$TMP/err")"
v=$(kv 4 cas x 42 50 | json_get "(d['value'], d['revision'])") || fail "cas x 42 50 failed"
[ "$v" = "('50', 2)" ] || fail "cas printed '$v'"
v=$(kv 5 get x --serializable | json_get "d['value']")
[ "$v" = 50 ] || [ "$v" = 42 ] || fail "serializable get gave '$v'"
kv 1 del x >/dev/null || fail "del x failed"
v=$(kv 3 get x | json_get "d['value']")
[ "$v" = None ] || fail "a deleted key read as '$v', expected null"
v=$("$STRATA" --dir "$DIR" -n 2 kv get never-written)
[ "$v" = null ] || fail "text output for a key never written: '$v', expected null"
head -c 200000 /dev/urandom >"$TMP/blob"
kv 1 put blob --value-file "$TMP/blob" >/dev/null || fail "put --value-file failed"
"$STRATA" --dir "$DIR" -n 4 kv get blob | head -c 200000 | cmp -s - "$TMP/blob" ||
	fail "the 200 kB value read back differs"
"$STRATA" --dir "$DIR" kv put "" v >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "empty key: exit $rc, expected 2"
"$STRATA" --dir "$DIR" kv put k >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "put without a value: exit $rc, expected 2"
"$STRATA" --dir "$DIR" kv put k v --serializable >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "put --serializable: exit $rc, expected 2"
pass "put/get/cas/del across nodes, revisions, --value-file, null, usage errors"

say "kv range: prefix, byte order, --limit and --after, -w json"
for k in r/b r/a r/c rr; do kv 2 put "$k" "v-$k" >/dev/null || fail "put $k failed"; done
v=$("$STRATA" --dir "$DIR" -n 3 kv range r/ | tr '\t\n' '=,')
[ "$v" = "r/a=v-r/a,r/b=v-r/b,r/c=v-r/c," ] || fail "range r/ printed '$v'"
kv 4 range r/ --limit 2 >"$TMP/range.json" 2>"$TMP/err" || fail "range --limit 2 failed"
v=$(json_get "([(x['key'], x['value'], x['revision'] > 0) for x in d['kvs']], d['more'])" <"$TMP/range.json")
[ "$v" = "([('r/a', 'v-r/a', True), ('r/b', 'v-r/b', True)], True)" ] || fail "range --limit 2 -w json: '$v'"
v=$(kv 5 range r/ --after r/b | json_get "[x['key'] for x in d['kvs']]")
[ "$v" = "['r/c']" ] || fail "range --after r/b: '$v'"
"$STRATA" --dir "$DIR" -n 1 kv range r/ --limit 1 2>"$TMP/err" >/dev/null
grep -q -- "--after r/a" "$TMP/err" || fail "range --limit 1 did not name the continuation: $(cat "$TMP/err")"
"$STRATA" --dir "$DIR" kv range r/ --limit 0 >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "range --limit 0: exit $rc, expected 2"
pass "kv range through followers and the leader: order, limit, continuation, json"

say "kv status: every node follows one leader and has applied what is committed"
"$STRATA" --dir "$DIR" -w json kv status >"$TMP/st.json" || fail "kv status failed"
python3 - "$TMP/st.json" <<'EOF' || fail "kv status: $(cat "$TMP/st.json")"
import json, sys
st = json.load(open(sys.argv[1]))
assert len(st) == 5 and all(n["up"] for n in st), "a node did not answer"
assert len({n["leader"] for n in st}) == 1 and st[0]["leader"] in range(1, 6), "leaders differ"
assert all(n["last_index"] >= 6 and n["commit_index"] >= n["applied_index"] for n in st)
print(f"  leader {st[0]['leader']}, term {st[0]['term']}, last index {st[0]['last_index']}")
EOF
pass "kv status"

leader=$(kv_leader)
[ "$leader" != 0 ] || fail "the nodes do not agree on a KV leader"
follower=$((leader % 5 + 1))
say "workload --kv: 8 clients, 8 s; kill leader $leader at 1.5 s, restart at 3.5 s; pause $follower 4.5-6.5 s"
(
	sleep 1.5
	"$CLUSTER" kill "$leader" --dir "$DIR" >/dev/null
	sleep 2
	"$CLUSTER" restart "$leader" --dir "$DIR" >/dev/null 2>&1
	sleep 1
	"$CLUSTER" pause "$follower" --dir "$DIR" >/dev/null
	sleep 2
	"$CLUSTER" resume "$follower" --dir "$DIR" >/dev/null
) &
BG_PIDS+=($!)
T0=$(now_ms)
"$STRATA" --dir "$DIR" --timeout 3000 workload --kv --clients 8 --keys 3 --duration 8 \
	--out "$TMP/history.jsonl" || fail "workload failed"
wait
ok=$(grep -c '"type":"ok"' "$TMP/history.jsonl")
cas_ok=$(grep '"type":"ok"' "$TMP/history.jsonl" | grep -c '"f":"cas"')
[ "$ok" -gt 200 ] || fail "only $ok operations completed"
[ "$cas_ok" -gt 0 ] || fail "no cas succeeded"
"$STRATA" check --model atomic "$TMP/history.jsonl" || fail "history is not linearizable"
pass "$ok operations ($cas_ok cas) in $(($(now_ms) - T0)) ms, linearizable"

say "SIGKILL every node at once, restart, read every key from every node"
pids=$(cat "$DIR"/pids/node-*.pid)
kill -KILL $pids 2>/dev/null
sleep 0.3
"$CLUSTER" start --dir "$DIR" >/dev/null || fail "restart after the total crash failed"
python3 "$FINAL_READS" "$TMP/history.jsonl" "$STRATA" "$DIR" 1 2 3 4 5 || fail "final reads failed"
"$STRATA" check --model atomic "$TMP/history.jsonl" ||
	fail "after the total restart the history is not linearizable: an acknowledged write was lost"
pass "every acknowledged write readable after SIGKILL of all nodes (history with final reads linearizable)"
