#!/usr/bin/env bash
# Logged leader-driven consensus (lldc, fail-recovery) on real processes, 5 nodes. Instances 1-3
# are decided by proposals from every node. Then nodes 3-5 are paused (no majority), nodes 1 and
# 2 propose on instances 4-6 (their proposals are stored but cannot be decided), and all five
# nodes are killed with SIGKILL at once while those proposals are in flight. The nodes are
# started again and recover from their LMDB stores; every node proposes again on every instance:
# each instance must decide one value on all five nodes, instances 1-3 the values clients saw
# before the kill, and `strata check-consensus` must pass on the decision logs of both lives.
. "$(dirname "$0")/lib.sh"

DIR=$TMP/recovery
export DIR
say "starting 5 nodes (fail-recovery, --cons-log) in $DIR"
"$CLUSTER" start -n 5 --model fail-recovery --cons-log --dir "$DIR" >/dev/null || fail "start failed"
sleep 1

say "instances 1-3: every node proposes; the cluster decides"
for i in 1 2 3; do
	pids=()
	for q in 1 2 3 4 5; do
		"$STRATA" --dir "$DIR" -n "$q" --timeout 10000 -w json consensus propose "v$i-from-$q" \
			--algo lldc --instance "$i" >"$DIR/before-$i-$q.json" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || fail "instance $i undecided before the kill"; done
done
say "instances 4-6: nodes 3-5 are paused (no majority), nodes 1-2 propose; then kill -9 all five"
for q in 3 4 5; do "$CLUSTER" pause "$q" --dir "$DIR" >/dev/null || fail "pause $q"; done
pids=()
for i in 4 5 6; do
	for q in 1 2; do
		"$STRATA" --dir "$DIR" -n "$q" --timeout 1500 -w json consensus propose "v$i-from-$q" \
			--algo lldc --instance "$i" >"$DIR/before-$i-$q.json" 2>/dev/null &
		pids+=($!)
	done
	for q in 3 4 5; do : >"$DIR/before-$i-$q.json"; done
done
sleep 0.5
# SIGKILL by PID (from the cluster's pid files), all five at once, proposals still running.
kill -9 $(cat "$DIR"/pids/node-*.pid) || fail "kill -9 failed"
for p in "${pids[@]}"; do wait "$p" && fail "a proposal was answered without a majority"; done
say "restarting all five (recovery from stable storage)"
"$CLUSTER" start --dir "$DIR" >/dev/null || fail "restart failed"
sleep 1
for i in 1 2 3 4 5 6; do
	for q in 1 2 3 4 5; do
		"$STRATA" --dir "$DIR" -n "$q" --timeout 15000 -w json consensus propose "retry$i-from-$q" \
			--algo lldc --instance "$i" >"$DIR/after-$i-$q.json" ||
			fail "node $q: no decision on instance $i after the restart"
	done
done
python3 - "$DIR" <<'EOF' || fail "decisions after the restart disagree with each other or with before"
import json, os, sys
d = sys.argv[1]
for i in range(1, 7):
    after = {json.load(open(f"{d}/after-{i}-{q}.json"))["value"] for q in range(1, 6)}
    assert len(after) == 1, f"instance {i}: nodes report {after}"
    v = after.pop()
    before = set()
    for q in range(1, 6):
        p = f"{d}/before-{i}-{q}.json"
        if os.path.getsize(p):
            before.add(json.load(open(p))["value"])
    assert before <= {v}, f"instance {i}: decided {before} before the kill, {v!r} after"
    assert v.startswith(f"v{i}-from-") or v.startswith(f"retry{i}-from-"), v
    print(f"  instance {i}: {v}" + (" (same as before the kill)" if before else " (undecided before)"))
EOF
pass "every instance decided one value on every node; earlier decisions survived kill -9 of all"
"$STRATA" check-consensus "$DIR/cons/lldc" || fail "check-consensus on both lives' logs"
ls "$DIR/cons/lldc"
pass "check-consensus holds over both lives of every node"
"$CLUSTER" stop --dir "$DIR" >/dev/null
