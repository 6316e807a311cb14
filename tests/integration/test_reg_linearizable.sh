#!/usr/bin/env bash
# Live linearizability of the (N,N) atomic register (nnar, Alg. 4.10-4.11): 8 concurrent clients
# on a 5-node cluster for 8 s while one node is killed and another paused and resumed; the
# recorded history must be linearizable (`strata check --model atomic`). Also: reads of a key
# never written print null, bad input gets clear errors and the documented exit codes.
. "$(dirname "$0")/lib.sh"

DIR=$TMP/c
export DIR
start_cluster 5 fail-noisy

say "write then read from another node"
"$STRATA" --dir "$DIR" -n 1 reg write x 42 --algo nnar >/dev/null || fail "write failed"
v=$("$STRATA" --dir "$DIR" -n 4 -w json reg read x --algo nnar | json_get "d['value']")
[ "$v" = 42 ] || fail "read x from node 4 gave '$v', expected 42"
v=$("$STRATA" --dir "$DIR" -w json reg read never-written --algo nnar | json_get "d['value']")
[ "$v" = None ] || fail "a register never written read as '$v', expected null"
pass "write/read, never-written reads null"

say "bad input"
"$STRATA" --dir "$DIR" reg write "" v --algo nnar >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "empty key: exit $rc, expected 2"
"$STRATA" --dir "$DIR" reg write k v --algo no-such-algo >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "unknown algorithm: exit $rc, expected 2"
head -c 1500000 /dev/zero | tr '\0' a >"$TMP/big"
"$STRATA" --dir "$DIR" reg write k --value-file "$TMP/big" --algo nnar >/dev/null 2>"$TMP/err"; rc=$?
[ $rc -eq 1 ] && grep -qiE "too large|limit" "$TMP/err" || fail "oversized value: exit $rc: $(cat "$TMP/err")"
"$STRATA" --dir "$DIR" -n 2 reg write k v --algo mv >/dev/null 2>"$TMP/err"; rc=$?
[ $rc -eq 1 ] && grep -q "single-writer" "$TMP/err" || fail "write to a reader-only node: exit $rc: $(cat "$TMP/err")"
"$STRATA" --dir "$DIR" reg write k v --algo rowa >/dev/null 2>"$TMP/err"; rc=$?
[ $rc -eq 1 ] && grep -q "needs the fail-stop model" "$TMP/err" || fail "algorithm the model cannot run: exit $rc: $(cat "$TMP/err")"
pass "empty key, unknown algorithm, oversized value, write to a reader-only node, algorithm the model cannot run"

say "workload: 8 clients, 8 s, kill node 4 at 2 s, pause node 5 from 3 s to 5 s"
(
	sleep 2
	"$CLUSTER" kill 4 --dir "$DIR" >/dev/null
	sleep 1
	"$CLUSTER" pause 5 --dir "$DIR" >/dev/null
	sleep 2
	"$CLUSTER" resume 5 --dir "$DIR" >/dev/null
) &
BG_PIDS+=($!)
"$STRATA" --dir "$DIR" workload --algo nnar --clients 8 --keys 3 --duration 8 \
	--out "$TMP/history.jsonl" || fail "workload failed"
wait
ops=$(grep -c '"type":"ok"' "$TMP/history.jsonl")
[ "$ops" -gt 100 ] || fail "only $ops operations completed"
"$STRATA" check --model atomic "$TMP/history.jsonl" || fail "history is not linearizable"
pass "$ops completed operations, history linearizable"
