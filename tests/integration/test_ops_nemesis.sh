#!/usr/bin/env bash
# The built-in nemesis, live: on 5 nodes, isolating the leader makes the other four elect a new
# one while the isolated node suspects everyone; heal restores every view. A oneway block and a
# drop rate are applied by the named nodes only and counted; a cluster whose config does not
# enable the nemesis refuses it.
. "$(dirname "$0")/lib.sh"

start_cluster 5 fail-noisy
S() { "$STRATA" --dir "$DIR" "$@"; }

views() { S -w json --timeout 1000 status --all >"$TMP/st.json" 2>/dev/null; }

# wait_for DESCRIPTION PYTHON-EXPR (over a = the status --all array), 10 s
wait_for() {
	local what=$1 expr=$2 i
	for i in $(seq 1 50); do
		views
		if python3 - "$TMP/st.json" "$expr" <<'PY' 2>/dev/null; then
import json, sys
a = json.load(open(sys.argv[1]))
by = {o["node"]: o for o in a if o.get("reachable", True)}
def alive(o): return {p["id"] for p in o["peers"] if p["state"] == "alive"}
def susp(o): return {p["id"] for p in o["peers"] if p["state"] != "alive"}
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
			pass "$what"
			return 0
		fi
		sleep 0.2
	done
	cat "$TMP/st.json"
	fail "$what: not within 10 s"
}

say "every node sees every node, one leader"
wait_for "all alive, one leader" 'len(by)==5 and all(len(susp(o))==0 for o in by.values()) and len({o["leader"] for o in by.values()})==1'
old=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["leader"])' "$TMP/st.json")
pass "the leader is node $old"

say "isolate the leader"
S nemesis isolate "$old" >"$TMP/out" 2>"$TMP/err" || { cat "$TMP/err"; fail "nemesis isolate $old failed"; }
cat "$TMP/out"
wait_for "the other four elect a new leader" "all(o['leader'] not in (0, $old) for n, o in by.items() if n != $old) and len({o['leader'] for n, o in by.items() if n != $old})==1"
wait_for "the isolated node $old suspects everyone" "susp(by[$old]) == set(range(1,6)) - {$old}"
wait_for "the others suspect node $old only" "all(susp(o) == {$old} for n, o in by.items() if n != $old)"
S -w json nemesis status >"$TMP/nem.json" || fail "nemesis status failed"
python3 - "$TMP/nem.json" "$old" <<'PY' || fail "nemesis status does not show the isolation and its drops"
import json, sys
a = json.load(open(sys.argv[1])); old = int(sys.argv[2])
for o in a:
    want = [i for i in range(1, 6) if i != old] if o["node"] == old else [old]
    assert o["block_out"] == want and o["block_in"] == want, o
    assert o["dropped_out"] > 0, o
PY
pass "nemesis status -w json shows every node's blocks, and drops counted"

say "heal"
S nemesis heal >/dev/null || fail "nemesis heal failed"
wait_for "every view restored, one leader" 'len(by)==5 and all(len(susp(o))==0 for o in by.values()) and len({o["leader"] for o in by.values()})==1'

say "oneway: node 1 stops hearing node 2 only"
S nemesis oneway 2 1 >/dev/null || fail "nemesis oneway failed"
wait_for "node 1 suspects 2, node 2 suspects nobody" 'susp(by[1]) == {2} and len(susp(by[2])) == 0'
S nemesis heal >/dev/null || fail "nemesis heal failed"
wait_for "healed again" 'all(len(susp(o))==0 for o in by.values())'

say "drop: node 3 loses all it sends"
S nemesis drop 3 100 >/dev/null || fail "nemesis drop failed"
wait_for "everyone else suspects 3" 'all(3 in susp(o) for n, o in by.items() if n != 3)'
S nemesis drop 3 0 >/dev/null || fail "nemesis drop 3 0 failed"
wait_for "3 is back" 'all(len(susp(o))==0 for o in by.values())'

say "usage and a cluster without the nemesis"
S nemesis isolate 9 >/dev/null 2>&1; [ $? -eq 2 ] || fail "isolate 9 on 5 nodes should exit 2"
S nemesis partition 1,2 2,3 >/dev/null 2>&1; [ $? -eq 2 ] || fail "overlapping groups should exit 2"
pass "bad arguments exit 2"
D2=$TMP/off
"$CLUSTER" start --dir "$D2" --config "$top/config/local-3.ini" >/dev/null 2>&1 ||
	fail "starting a cluster from config/local-3.ini failed"
"$STRATA" --dir "$D2" nemesis isolate 1 >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc -eq 1 ] || { cat "$TMP/err"; fail "nemesis on a cluster without it: exit $rc, expected 1"; }
grep -q "nemesis = on" "$TMP/err" || fail "the refusal should say how to enable it: $(cat "$TMP/err")"
pass "a cluster without [cluster] nemesis = on refuses, naming the setting"
