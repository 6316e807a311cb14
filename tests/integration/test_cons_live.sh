#!/usr/bin/env bash
# Consensus on real processes: 5 nodes, all five propose different values on one instance at
# once, just as the leader (leader-driven consensus, fail-noisy) or node 1 (flooding and
# hierarchical, fail-stop) is killed with SIGKILL (the kill is sent first, so the survivors can
# only decide by noticing the crash: an epoch change, or P's detection). Every surviving node must decide, all the
# same value, and it must be one of the proposals; `strata consensus watch --all` must show every
# survivor's decision with that value. A second instance proposed afterwards must decide too.
# rcons (randomized, threshold coin) runs the same case with node 1 killed, then rbc (binary:
# 0 and 1 proposed at once) on the same cluster.
# The nodes write decision logs (--cons-log): `strata check-consensus --crashed 1` must pass on
# them, and fail on a copy where one survivor's decision was altered (the checker can fail).
. "$(dirname "$0")/lib.sh"

# run_case MODEL ALGO VICTIM
run_case() {
	local model=$1 algo=$2 victim=$3
	DIR=$TMP/$model-$algo
	export DIR
	say "starting 5 nodes ($model, --cons-log) in $DIR"
	"$CLUSTER" start -n 5 --model "$model" --cons-log --dir "$DIR" >/dev/null || fail "start failed"
	sleep 1 # heartbeats flow, Omega settles on node 1
	local inst=7
	"$STRATA" --dir "$DIR" consensus watch --all -w json --algo "$algo" --duration 25 \
		>"$DIR/watch.jsonl" 2>"$DIR/watch.err" &
	local wpid=$!
	BG_PIDS+=("$wpid")
	sleep 0.3
	say "$algo: node $victim is killed as nodes 1-5 propose on instance $inst"
	"$CLUSTER" kill "$victim" --dir "$DIR" >/dev/null || fail "kill failed"
	local pids=()
	for q in 1 2 3 4 5; do
		"$STRATA" --dir "$DIR" -n "$q" --timeout 15000 -w json consensus propose "value-from-$q" \
			--algo "$algo" --instance $inst >"$DIR/p$q.json" 2>"$DIR/p$q.err" &
		pids+=($!)
	done
	local q
	for q in 1 2 3 4 5; do
		if wait "${pids[$((q - 1))]}"; then rc=0; else rc=$?; fi
		if [ "$q" != "$victim" ] && [ "$rc" != 0 ]; then
			cat "$DIR/p$q.err"
			fail "$algo: node $q's proposal exited $rc"
		fi
	done
	# A second instance, after the crash.
	"$STRATA" --dir "$DIR" -n 3 --timeout 15000 -w json consensus propose after-crash \
		--algo "$algo" --instance $((inst + 1)) >"$DIR/p-after.json" ||
		fail "$algo: no decision on instance $((inst + 1)) after the crash"
	sleep 1
	kill "$wpid" 2>/dev/null
	wait "$wpid" 2>/dev/null
	python3 - "$DIR" "$victim" "$inst" <<'EOF' || fail "$algo: decisions disagree or are invalid"
import json, sys
d, victim, inst = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
proposals = {f"value-from-{q}" for q in range(1, 6)}
replies = {}
for q in range(1, 6):
    if q == victim:
        continue
    r = json.load(open(f"{d}/p{q}.json"))
    assert r["instance"] == inst, r
    replies[q] = r["value"]
vals = set(replies.values())
print(f"  replies: {replies}")
assert len(vals) == 1, f"agreement: survivors decided {vals}"
v = vals.pop()
assert v in proposals, f"validity: {v!r} was not proposed"
seen = {}
for line in open(f"{d}/watch.jsonl"):
    e = json.loads(line)
    if e["instance"] == inst:
        assert e["node"] not in seen or seen[e["node"]] == e["value"], f"integrity: {e}"
        seen[e["node"]] = e["value"]
print(f"  watch: {seen}")
assert victim not in seen, f"node {victim} was killed before proposing, yet decided"

for q in range(1, 6):
    if q != victim:
        assert seen.get(q) == v, f"node {q} decided {seen.get(q)!r} per watch, expected {v!r}"
for q, val in seen.items():
    assert val == v, f"uniform agreement: node {q} decided {val!r}, others {v!r}"
after = json.load(open(f"{d}/p-after.json"))
assert after["value"] == "after-crash", after
EOF
	pass "$algo ($model): every survivor decided the same proposed value with node $victim killed"
	"$STRATA" check-consensus --crashed "$victim" "$DIR/cons/$algo" ||
		fail "$algo: check-consensus on the nodes' logs"
	# A copy in which node 3 decided another proposal on instance $inst must be caught.
	cp -r "$DIR/cons/$algo" "$DIR/tampered"
	python3 - "$DIR/tampered/node-3.log" "$inst" <<'PY'
import sys
path, inst = sys.argv[1], sys.argv[2]
lines = open(path).read().splitlines()
def swap(other):
    h = other.encode().hex()
    return [l if not l.startswith(f"d {inst} ") else f"d {inst} {h}" for l in lines]
out = swap("value-from-5")
if out == lines:
    out = swap("value-from-4")
open(path, "w").write("\n".join(out) + "\n")
PY
	if "$STRATA" check-consensus --crashed "$victim" "$DIR/tampered" >"$DIR/tampered.out"; then
		fail "$algo: check-consensus accepted a log with a disagreeing decision"
	fi
	cat "$DIR/tampered.out"
	pass "$algo: check-consensus passes on the real logs and catches a tampered one"
	if [ "$algo" = rcons ]; then
		# Values that look like options: after '--', and negative numbers without it.
		local got
		got=$("$STRATA" --dir "$DIR" -n 2 --timeout 15000 consensus propose --algo rcons \
			--instance 20 -- --dash) || fail "consensus propose -- --dash failed"
		[ "$got" = "instance 20 decided: --dash" ] || fail "propose -- --dash printed '$got'"
		got=$("$STRATA" --dir "$DIR" -n 2 --timeout 15000 consensus propose -3 --algo rcons \
			--instance 21) || fail "consensus propose -3 failed"
		[ "$got" = "instance 21 decided: -3" ] || fail "propose -3 printed '$got'"
		if "$STRATA" --dir "$DIR" -n 2 consensus propose --algo rcons --bogus x 2>/dev/null; then
			fail "consensus propose accepted an unknown option"
		fi
		pass "consensus propose takes '--' and negative numbers as values, refuses unknown options"

		rbc_case "$victim"
	fi
	"$CLUSTER" stop --dir "$DIR" >/dev/null
}

# rbc_case VICTIM: Randomized Binary Consensus on the randomized cluster of the rcons case (node
# VICTIM already killed): the survivors propose 0 and 1 at once on one instance and must all
# decide one of them, the same everywhere (replies and `consensus watch`); on a second
# instance every survivor proposes 1 and the decision must be 1 (validity: only a proposed
# value can be decided, and nobody proposed 0). A value other than 0 or 1 is refused.
rbc_case() {
	local victim=$1 inst=40 q k
	"$STRATA" --dir "$DIR" consensus watch --all -w json --algo rbc --duration 20 \
		>"$DIR/watch-rbc.jsonl" 2>"$DIR/watch-rbc.err" &
	local wpid=$!
	BG_PIDS+=("$wpid")
	sleep 0.3
	local pids=() nodes=()
	for q in 1 2 3 4 5; do
		[ "$q" = "$victim" ] && continue
		nodes+=("$q")
		"$STRATA" --dir "$DIR" -n "$q" --timeout 15000 -w json consensus propose $((q % 2)) \
			--algo rbc --instance $inst >"$DIR/rbc$q.json" 2>"$DIR/rbc$q.err" &
		pids+=($!)
	done
	for k in "${!pids[@]}"; do
		wait "${pids[$k]}" ||
			{ cat "$DIR/rbc${nodes[$k]}.err"; fail "rbc: node ${nodes[$k]}'s proposal failed"; }
	done
	pids=()
	for q in "${nodes[@]}"; do
		"$STRATA" --dir "$DIR" -n "$q" --timeout 15000 -w json consensus propose 1 --algo rbc \
			--instance $((inst + 1)) >"$DIR/rbc-ones$q.json" 2>"$DIR/rbc-ones$q.err" &
		pids+=($!)
	done
	for k in "${!pids[@]}"; do
		wait "${pids[$k]}" ||
			{ cat "$DIR/rbc-ones${nodes[$k]}.err"; fail "rbc: node ${nodes[$k]}'s proposal of 1 failed"; }
	done
	sleep 1
	kill "$wpid" 2>/dev/null
	wait "$wpid" 2>/dev/null
	python3 - "$DIR" "$inst" "${nodes[@]}" <<'EOF' || fail "rbc: decisions disagree or are invalid"
import json, sys
d, inst, nodes = sys.argv[1], int(sys.argv[2]), [int(x) for x in sys.argv[3:]]
replies = {q: json.load(open(f"{d}/rbc{q}.json")) for q in nodes}
assert all(r["instance"] == inst for r in replies.values()), replies
vals = {r["value"] for r in replies.values()}
print(f"  rbc proposals {dict((q, q % 2) for q in nodes)}, replies {dict((q, r['value']) for q, r in replies.items())}")
assert len(vals) == 1, f"agreement: survivors decided {vals}"
v = vals.pop()
assert v in ("0", "1"), f"validity: {v!r} is not binary"
seen = {}
for line in open(f"{d}/watch-rbc.jsonl"):
    e = json.loads(line)
    if e["instance"] in (inst, inst + 1):
        k = (e["node"], e["instance"])
        assert k not in seen or seen[k] == e["value"], f"integrity: {e}"
        seen[k] = e["value"]
for q in nodes:
    assert seen.get((q, inst)) == v, f"node {q} decided {seen.get((q, inst))!r} per watch, expected {v!r}"
    assert seen.get((q, inst + 1)) == "1", f"node {q} decided {seen.get((q, inst + 1))!r} on an all-1 instance"
    r = json.load(open(f"{d}/rbc-ones{q}.json"))
    assert r["value"] == "1", f"node {q} answered {r} on an all-1 instance"
print(f"  rbc watch: {len(seen)} decisions; instance {inst}: {v} everywhere, instance {inst + 1}: 1")
EOF
	if "$STRATA" --dir "$DIR" -n 2 consensus propose 2 --algo rbc --instance 50 2>/dev/null; then
		fail "rbc accepted a non-binary proposal"
	fi
	pass "rbc: survivors proposing 0 and 1 decide one of them everywhere; all-1 decides 1; 2 refused"
}

run_case fail-noisy ldc 1
run_case fail-stop uhier 1
run_case fail-stop flood 1
# Randomized Consensus with Large Domain on the threshold coin (scripts/cluster deals it).
run_case randomized rcons 1
