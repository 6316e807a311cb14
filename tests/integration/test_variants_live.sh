#!/usr/bin/env bash
# The consensus variants of chapter 6 on real processes (docs/consensus-variants.md): one
# cluster of 5 nodes (fail-stop: P from heartbeats), one start.
#   NBAC (Alg. 6.6): tx 1, every node votes yes -> commit at every node (exit 0); tx 2, node 5
#   votes no -> abort everywhere (exit 1); tx 3 begun, node 5 killed before voting, the others
#   vote yes -> abort at every survivor. `nbac watch --all` must show the same outcome per node.
#   TRB (Alg. 6.3): node 2 sends a message, delivered by every node; node 4 is killed; every
#   survivor delivers ⊥ for sender 4 (and for sender 5, killed before), seen by `trb listen --all`.
#   Group membership (Alg. 6.7): `strata members --watch` runs from the start; the two kills
#   (5, then 4) must show as the same two view changes at every survivor: view 1 = 1,2,3,4 and
#   view 2 = 1,2,3.
#   Fast consensus (Alg. 6.4, fast-uhier; N = 5, f = 1): one proposal decides at every node on
#   the fast path; five different proposals decide one of them at every node through uhier.
#   View synchrony (uvs, Alg. 6.10-6.11, and vs, Alg. 6.8-6.9): `strata vs listen --all` for each
#   runs from the start; node 1 sends in view 0, node 2 right after the kill of 5, node 3 right
#   after the kill of 4, with each: each message must be delivered by every survivor in the view
#   its sender's reply names, and the survivors must install the same views 1 = 1,2,3,4 and
#   2 = 1,2,3.
. "$(dirname "$0")/lib.sh"
t0=$(now_ms)
start_cluster 5 fail-stop
sleep 1 # heartbeats flow

"$STRATA" --dir "$DIR" -w json members --watch --duration 25 >"$TMP/members.jsonl" 2>"$TMP/members.err" &
BG_PIDS+=($!)

"$STRATA" --dir "$DIR" nbac watch --all -w json --duration 25 >"$TMP/nbac-watch.jsonl" 2>"$TMP/nbac-watch.err" &
BG_PIDS+=($!)
"$STRATA" --dir "$DIR" vs listen --all -w json --duration 25 >"$TMP/vs-uvs.jsonl" 2>"$TMP/vs-uvs.err" &
BG_PIDS+=($!)
"$STRATA" --dir "$DIR" vs listen --algo vs --all -w json --duration 25 >"$TMP/vs-vs.jsonl" 2>"$TMP/vs-vs.err" &
BG_PIDS+=($!)
sleep 0.3
# vs_send NODE MESSAGE: NODE broadcasts MESSAGE view-synchronously with uvs and with vs, in
# the background (a uvs send waits for its delivery, which a kill holds up until P reports it
# and the view changes; a vs send during a view change waits for the next view).
VS_PIDS=()
vs_send() {
	local algo
	for algo in uvs vs; do
		"$STRATA" --dir "$DIR" -n "$1" --timeout 10000 -w json vs send --algo $algo "$2" \
			>"$TMP/vs-send-$algo-$1.json" 2>&1 &
		VS_PIDS+=($!)
		BG_PIDS+=($!)
	done
}
vs_send 1 "m1 in view 0"

say "Fast consensus: one proposal (every node joins with it), then five different ones"
"$STRATA" --dir "$DIR" consensus watch --algo fast-uhier --all -w json --duration 25 >"$TMP/fast.jsonl" 2>"$TMP/fast.err" &
BG_PIDS+=($!)
sleep 0.3
[ "$("$STRATA" --dir "$DIR" -n 2 --timeout 10000 consensus propose --algo fast-uhier --instance 1 same)" = \
	"instance 1 decided: same" ] || fail "fast-uhier: instance 1 did not decide 'same'"
fpids=()
for q in 1 2 3 4 5; do
	"$STRATA" --dir "$DIR" -n $q --timeout 10000 -w json consensus propose --algo fast-uhier --instance 2 "v$q" \
		>"$TMP/fast-$q.json" 2>&1 &
	fpids+=($!)
done
for p in "${fpids[@]}"; do wait "$p" || fail "fast-uhier propose exited $?: $(cat "$TMP"/fast-*.json)"; done

# vote_all TX "VOTES..." EXPECTED: node q votes the q-th word (skip: "-"), every vote must print
# the expected outcome with the matching exit code.
vote_all() {
	local tx=$1 votes=($2) want=$3 pids=() q
	for q in 1 2 3 4 5; do
		[ "${votes[$((q - 1))]}" = - ] && continue
		"$STRATA" --dir "$DIR" -n $q --timeout 10000 -w json nbac vote "$tx" "${votes[$((q - 1))]}" \
			>"$TMP/vote-$tx-$q.json" 2>&1 &
		pids[$q]=$!
	done
	for q in 1 2 3 4 5; do
		[ "${votes[$((q - 1))]}" = - ] && continue
		local rc=0
		wait "${pids[$q]}" || rc=$?
		local want_rc=0
		[ "$want" = abort ] && want_rc=1
		[ $rc = $want_rc ] || fail "tx $tx: node $q's vote exited $rc: $(cat "$TMP/vote-$tx-$q.json")"
		grep -q "\"tx\":$tx,\"node\":$q,\"outcome\":\"$want\"" "$TMP/vote-$tx-$q.json" ||
			fail "tx $tx: node $q: $(cat "$TMP/vote-$tx-$q.json"), expected $want"
	done
	pass "tx $tx: votes ${votes[*]} -> $want"
}

say "NBAC tx 1: every node votes yes"
[ "$("$STRATA" --dir "$DIR" -n 1 nbac begin --id 1)" = 1 ] || fail "nbac begin --id 1"
vote_all 1 "yes yes yes yes yes" commit
say "NBAC tx 2: node 5 votes no"
"$STRATA" --dir "$DIR" -n 2 nbac begin --id 2 >/dev/null || fail "nbac begin --id 2"
vote_all 2 "yes yes yes yes no" abort
say "NBAC tx 3: node 5 is killed before it votes"
"$STRATA" --dir "$DIR" -n 3 nbac begin --id 3 >/dev/null || fail "nbac begin --id 3"
"$CLUSTER" kill 5 --dir "$DIR" >/dev/null || fail "kill 5"
vs_send 2 "m2 after the kill of 5"
vote_all 3 "yes yes yes yes -" abort

say "TRB: node 2 sends, then sender 4 is killed"
"$STRATA" --dir "$DIR" trb listen --all -w json --duration 12 >"$TMP/trb.jsonl" 2>"$TMP/trb.err" &
trb_pid=$!
BG_PIDS+=($trb_pid)
sleep 0.3
"$STRATA" --dir "$DIR" -n 2 --timeout 10000 trb send "hello from 2" >"$TMP/trb-send.out" ||
	fail "trb send: $(cat "$TMP/trb-send.out")"
grep -q "^node 2: sender 2 instance 1: hello from 2\$" "$TMP/trb-send.out" ||
	fail "trb send printed $(cat "$TMP/trb-send.out")"
"$CLUSTER" kill 4 --dir "$DIR" >/dev/null || fail "kill 4"
vs_send 3 "m3 after the kill of 4"
for p in "${VS_PIDS[@]}"; do
	wait "$p" || fail "vs send exited $?: $(cat "$TMP"/vs-send-*.json)"
done

# Wait (at most 10 s) until every survivor delivered ⊥ for sender 4 and installed view 2.
for _ in $(seq 100); do
	n=$(grep -c '"sender":4,"instance":1,"message":null,"failed":true' "$TMP/trb.jsonl" || true)
	v=$(grep -c '"view":2,"members":\[1,2,3\]}' "$TMP/members.jsonl" || true)
	[ "$n" -ge 3 ] && [ "$v" -ge 3 ] && break
	sleep 0.1
done
sleep 0.5
python3 - "$TMP" <<'PY' || fail "nbac/trb outcomes differ from the expected ones"
import json, sys
d = sys.argv[1]
seen = {}
for line in open(f"{d}/nbac-watch.jsonl"):
    e = json.loads(line)
    if "outcome" in e:
        key = (e["tx"], e["node"])
        assert key not in seen, f"integrity: node {e['node']} decided tx {e['tx']} twice"
        seen[key] = e["outcome"]
want = {1: ("commit", range(1, 6)), 2: ("abort", range(1, 5)), 3: ("abort", range(1, 5))}
for tx, (outcome, nodes) in want.items():
    for q in nodes:
        assert seen.get((tx, q)) == outcome, f"nbac watch: tx {tx} node {q}: {seen.get((tx, q))}, expected {outcome}"
for (tx, q), o in seen.items():
    assert o == want[tx][0], f"uniform agreement: tx {tx} node {q} decided {o}"
print(f"  nbac watch: {len(seen)} decisions, tx 1 commit, tx 2 and 3 abort everywhere")
got = {}
for line in open(f"{d}/trb.jsonl"):
    e = json.loads(line)
    k = (e["node"], e["sender"], e["instance"])
    assert k not in got, f"integrity: {k} delivered twice"
    got[k] = e["message"]
for q in (1, 2, 3):
    assert got.get((q, 2, 1)) == "hello from 2", f"trb: node {q} delivered {got.get((q, 2, 1))!r} for (2, 1)"
    assert (q, 4, 1) in got and got[(q, 4, 1)] is None, f"trb: node {q} did not deliver ⊥ for sender 4"
    assert (q, 5, 1) in got and got[(q, 5, 1)] is None, f"trb: node {q} did not deliver ⊥ for sender 5"
for (q, s, k), m in got.items():
    if s in (4, 5):
        assert m is None, f"trb: node {q} delivered {m!r} for crashed sender {s}"
print("  trb listen: 'hello from 2' at nodes 1-3, ⊥ for senders 4 and 5 at every survivor")
views = {}
for line in open(f"{d}/members.jsonl"):
    e = json.loads(line)
    if e.get("current"):
        continue
    views.setdefault(e["node"], []).append((e["view"], e["members"]))
for q in (1, 2, 3):
    assert views.get(q) == [(1, [1, 2, 3, 4]), (2, [1, 2, 3])], f"members: node {q} installed {views.get(q)}"
for q, vs in views.items():
    for v, m in vs:
        assert (v, m) in [(1, [1, 2, 3, 4]), (2, [1, 2, 3])], f"members: node {q} installed view {v} = {m}"
print("  members --watch: view 1 = 1,2,3,4 then view 2 = 1,2,3 at nodes 1, 2 and 3")
fast = {}
for line in open(f"{d}/fast.jsonl"):
    e = json.loads(line)
    k = (e["instance"], e["node"])
    assert k not in fast, f"fast-uhier: node {e['node']} decided instance {e['instance']} twice"
    fast[k] = (e["value"], e["fast_path"])
for q in range(1, 6):
    assert fast.get((1, q)) == ("same", True), f"fast-uhier: node {q} instance 1: {fast.get((1, q))}"
vals = {fast.get((2, q), (None,))[0] for q in range(1, 6)}
assert len(vals) == 1 and vals <= {f"v{q}" for q in range(1, 6)}, f"fast-uhier instance 2: {vals}"
for q in range(1, 6):
    r = json.load(open(f"{d}/fast-{q}.json"))
    assert r["value"] in vals, f"fast-uhier: node {q}'s propose answered {r}"
paths = sorted({fast[(2, q)][1] for q in range(1, 6)})
print(f"  fast-uhier: instance 1 'same' on the fast path at nodes 1-5; instance 2 {vals.pop()!r} at nodes 1-5 (fast path: {paths})")
for algo in ("uvs", "vs"):
    sent = {}
    for q in (1, 2, 3):
        e = json.load(open(f"{d}/vs-send-{algo}-{q}.json"))
        assert e["node"] == q and e["sender"] == q, f"vs send --algo {algo} at node {q}: {e}"
        sent[e["message"]] = (q, e["view"])
    vviews, vdel = {}, {}
    for line in open(f"{d}/vs-{algo}.jsonl"):
        e = json.loads(line)
        if "members" in e:
            vviews.setdefault(e["node"], []).append((e["view"], e["members"]))
            continue
        k = (e["node"], e["message"])
        assert k not in vdel, f"{algo}: node {e['node']} delivered {e['message']!r} twice"
        assert e["message"] in sent, f"{algo}: node {e['node']} delivered {e['message']!r}, never sent"
        s, v = sent[e["message"]]
        assert e["sender"] == s and e["view"] == v, f"{algo}: node {e['node']} delivered {e['message']!r} from {e['sender']} in view {e['view']}; sent by {s} in view {v}"
        vdel[k] = e["view"]
    for q in (1, 2, 3):
        for m, (s, v) in sent.items():
            assert vdel.get((q, m)) == v, f"{algo}: node {q} delivered {m!r} in view {vdel.get((q, m))}, sent in view {v}"
        got = [x for x in vviews.get(q, []) if x[0] > 0]
        assert got == [(1, [1, 2, 3, 4]), (2, [1, 2, 3])], f"{algo}: node {q} installed {got}"
    print(f"  vs listen --algo {algo}: " + ", ".join(f"{m!r} in view {v}" for m, (s, v) in sorted(sent.items())) + " at nodes 1-3; views 1 = 1,2,3,4, 2 = 1,2,3")
PY
# A stream that a kill closed is reported under the command as typed ("trb listen", not "trb watch").
for f in "members.err:members --watch" "nbac-watch.err:nbac watch" "vs-uvs.err:vs listen" "trb.err:trb listen"; do
	grep -q "^strata: ${f#*:}: node [45]: " "$TMP/${f%%:*}" ||
		fail "${f%%:*} does not name the command as typed (${f#*:}): $(head -n 3 "$TMP/${f%%:*}")"
done
pass "nbac: commit, abort on a no, abort on a crash; trb: ⊥ for a killed sender; two view changes seen identically; vs: each message in its view across two kills"
echo "test_variants_live: $(( ($(now_ms) - t0) / 1000 )) s"
