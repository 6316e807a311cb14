#!/usr/bin/env bash
# strata workload --nemesis, live, and `nemesis delay`: on 5 nodes running nnar, a workload with
# the nemesis partitioning the cluster 2|3 (then healing, in turns) gives a history that
# `strata check --model atomic` accepts, with the nemesis events in it and printed by the check;
# every partition is healed at the end. A tampered copy of that history (a read of a value never
# written) is rejected, nemesis lines and all, and the verdict does not depend on the nemesis lines.
# kill,pause on the replicated KV (whose log survives a restart; nnar's crash-stop model does not
# cover one): a node SIGKILLed then restarted, another SIGSTOPped then resumed, all running at the
# end, the history accepted. delay: a node sends late (counted), operations still complete, heal
# ends it.
. "$(dirname "$0")/lib.sh"
t_start=$(now_ms)

start_cluster 5 fail-noisy
S() { "$STRATA" --dir "$DIR" "$@"; }

say "nemesis delay: node 2 sends everything 300 ms late"
S nemesis delay 2 300 >/dev/null || fail "nemesis delay 2 300 failed"
S reg write --algo nnar dk v1 >/dev/null || fail "a write with node 2 delayed failed"
[ "$(S -n 2 reg read --algo nnar dk)" = v1 ] || fail "a read through the delayed node 2 failed"
S --timeout 5000 -w json nemesis status >"$TMP/nem.json" || fail "nemesis status failed"
python3 - "$TMP/nem.json" <<'PY' || fail "nemesis status does not show node 2's delay and its delayed datagrams"
import json, sys
a = {o["node"]: o for o in json.load(open(sys.argv[1]))}
assert a[2]["delay_ms"] == 300 and a[2]["delayed"] > 0, a[2]
assert all(a[i]["delay_ms"] == 0 for i in (1, 3, 4, 5)), a
PY
S nemesis delay 2 70000 >/dev/null 2>&1; [ $? -eq 2 ] || fail "delay 70000 ms should be a usage error"
S nemesis heal >/dev/null || fail "nemesis heal failed"
S --timeout 5000 -w json nemesis status >"$TMP/nem1.json" 2>&1 || { cat "$TMP/nem1.json"; fail "nemesis status failed"; }
json_get 'all(o["delay_ms"] == 0 for o in d)' <"$TMP/nem1.json" | grep -q True ||
	{ cat "$TMP/nem1.json"; fail "heal should end the delay"; }
pass "delay applied by node 2 only, counted, operations complete, heal ends it"

say "workload --nemesis partition on nnar (1.5 s turns, 5 s)"
S workload --algo nnar --clients 6 --duration 5 --op-timeout 1000 --nemesis partition \
	--interval 1.5 --out "$TMP/h.jsonl" >"$TMP/wl.out" 2>"$TMP/wl.err" ||
	{ cat "$TMP/wl.out" "$TMP/wl.err"; fail "workload --nemesis partition failed"; }
cat "$TMP/wl.out"
python3 - "$TMP/h.jsonl" <<'PY' || fail "the history does not hold the expected nemesis events"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
nem = [e for e in ev if e["process"] == "nemesis"]
print("nemesis events:", [(e["f"], e["value"]) for e in nem])
assert all(e["type"] == "info" for e in nem)
parts = [e for e in nem if e["f"] == "partition"]
assert len(parts) >= 2, "expected two partitions in 5 s with 1.5 s turns"
for p in parts:
    a, b = p["value"].split("|")
    ga, gb = set(map(int, a.split(","))), set(map(int, b.split(",")))
    assert sorted((len(ga), len(gb))) == [2, 3] and ga | gb == {1, 2, 3, 4, 5}, p
assert nem[-1]["f"] == "heal", "the last nemesis event should heal"
assert not any(e["f"] == "error" for e in nem)
ops = [e for e in ev if e["process"] != "nemesis"]
assert sum(1 for e in ops if e["type"] == "ok") > 0
t = [e["time"] for e in ev]
# the nemesis events fall inside the run, between operations
assert min(e["time"] for e in nem) > min(t) and max(e["time"] for e in nem) <= max(t) + 10**10
PY
pass "a 2|3 partition twice, healed at the end, in the history"
S --timeout 5000 -w json nemesis status >"$TMP/nem2.json" 2>"$TMP/nem2.err" ||
	{ cat "$TMP/nem2.json" "$TMP/nem2.err"; fail "nemesis status after the workload failed"; }
json_get 'all(o["block_out"] == [] and o["block_in"] == [] for o in d)' <"$TMP/nem2.json" |
	grep -q True || { cat "$TMP/nem2.json"; fail "after the workload some node still blocks a peer"; }
pass "every node's blocks cleared after the workload"

S check --model atomic "$TMP/h.jsonl" >"$TMP/chk.out" 2>&1
rc=$?
cat "$TMP/chk.out"
[ $rc -eq 0 ] || fail "check --model atomic on the partitioned run: exit $rc"
grep -q "^nemesis: [0-9]* event(s)" "$TMP/chk.out" || fail "check should print the nemesis events"
grep -q "partition" "$TMP/chk.out" || fail "check should show the partition"
pass "check accepts the history and prints the nemesis events"

say "the checker is not vacuous: a tampered copy is rejected, nemesis lines do not matter"
python3 - "$TMP/h.jsonl" "$TMP/bad.jsonl" "$TMP/nonem.jsonl" <<'PY' || fail "no read to tamper with"
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
done = False
with open(sys.argv[2], "w") as bad:
    for l in lines:
        e = json.loads(l)
        if not done and e["process"] != "nemesis" and e["f"] == "read" and e["type"] == "ok":
            e["value"] = "never-written"
            l = json.dumps(e) + "\n"
            done = True
        bad.write(l)
with open(sys.argv[3], "w") as nonem:
    nonem.writelines(l for l in lines if json.loads(l)["process"] != "nemesis")
sys.exit(0 if done else 1)
PY
S check --model atomic "$TMP/bad.jsonl" >/dev/null 2>&1
rc=$?
[ $rc -eq 1 ] || fail "a read of a value never written should be a violation (exit 1), got $rc"
S check --model atomic "$TMP/nonem.jsonl" >/dev/null 2>&1 || fail "the history without its nemesis lines should check ok too"
S -w json check --model atomic "$TMP/h.jsonl" | json_get 'len(d["nemesis"])' >"$TMP/n" || fail "check -w json failed"
[ "$(cat "$TMP/n")" -ge 3 ] || fail "check -w json should list the nemesis events, got $(cat "$TMP/n")"
printf '{"process":"nemisis","type":"info","f":"x","value":null,"time":1}\n' >"$TMP/typo.jsonl"
S check --model atomic "$TMP/typo.jsonl" >/dev/null 2>&1; [ $? -eq 2 ] || fail "a misspelt nemesis process should be a format error (exit 2)"
pass "tampered copy rejected (exit 1), same verdict without nemesis lines, -w json lists them, bad lines refused"

say "workload --kv --nemesis kill,pause (1 s turns, 6 s; the KV log survives restarts)"
S workload --kv --clients 6 --duration 6 --op-timeout 1000 --nemesis kill,pause \
	--interval 1 --out "$TMP/h2.jsonl" >"$TMP/wl2.out" 2>"$TMP/wl2.err" ||
	{ cat "$TMP/wl2.out" "$TMP/wl2.err"; fail "workload --nemesis kill,pause failed"; }
cat "$TMP/wl2.out"
python3 - "$TMP/h2.jsonl" <<'PY' || fail "the history does not hold kill/restart and pause/resume"
import json, sys
nem = [json.loads(l) for l in open(sys.argv[1]) if '"nemesis"' in l]
fs = [e["f"] for e in nem]
print("nemesis events:", [(e["f"], e["value"]) for e in nem])
assert fs[:4] == ["kill", "restart", "pause", "resume"], fs
assert fs[-1] in ("restart", "resume") and "error" not in fs, fs
PY
"$CLUSTER" status --dir "$DIR" >"$TMP/cs.out" || fail "cluster status failed"
cat "$TMP/cs.out"
[ "$(grep -c ' running ' "$TMP/cs.out")" -eq 5 ] || fail "every node should be running after the workload"
S check --model atomic "$TMP/h2.jsonl" >"$TMP/chk2.out" 2>&1 || { cat "$TMP/chk2.out"; fail "check on the kill/pause run failed"; }
pass "a node killed and restarted, one paused and resumed, all running at the end, history accepted"

S workload --nemesis partition,flood >/dev/null 2>&1; [ $? -eq 2 ] || fail "an unknown nemesis kind should exit 2"
S workload --interval 3 >/dev/null 2>&1; [ $? -eq 2 ] || fail "--interval without --nemesis should exit 2"
pass "bad --nemesis/--interval exit 2"
echo "test_ops_workload_nemesis: $(( ($(now_ms) - t_start) / 1000 )) s"
