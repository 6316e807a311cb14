#!/usr/bin/env bash
# Snapshots, compaction and catch-up of the replicated KV store on real processes (LMDB):
# 3 nodes with [smr] snapshot_entries = 10, snapshot_tail = 3. Node 3 is SIGKILLed, 40 keys
# are written through nodes 1 and 2 (one log entry each: the log is compacted past node 3's),
# node 3 restarts and must catch up by installing the leader's snapshot (its
# kv_snapshot_installs counter), then read every key locally (--serializable). `kv status`
# shows snapshot indexes and logs bounded by compaction. Finally every node is SIGKILLed and
# restarted: each restores its snapshot and replays its log tail, and `kv range` from every
# node returns all 40 keys with their values. `kv watch` replays node 1's history from revision
# 1, refuses revision 1 on node 3 (restored from a snapshot) naming the oldest it holds, and
# streams a put and a delete of one key live from another node; only that watched node built
# watch events (kv_watch_events), none before a watcher connected.
. "$(dirname "$0")/lib.sh"
t_start=$(date +%s)

start_cluster 3 fail-noisy
"$CLUSTER" stop --dir "$DIR" >/dev/null || fail "stop failed"
# Into the [smr] section scripts/cluster may have written (STRATA_CLUSTER_THRIFTY=on,
# STRATA_CLUSTER_LEADER_SYNC_PARALLEL): the config refuses a second one.
ini_set "$DIR/cluster.ini" smr snapshot_entries 10
ini_set "$DIR/cluster.ini" smr snapshot_tail 3
[ "$(grep -c '^\[smr\]' "$DIR/cluster.ini")" = 1 ] || fail "cluster.ini has no single [smr] section"
"$CLUSTER" start --dir "$DIR" >/dev/null || fail "start with [smr] snapshots failed"
thrifty=$(sed -n '/^\[smr\]/,/^\[/p' "$DIR/cluster.ini" | sed -n 's/^thrifty *= *//p')
[ -n "$thrifty" ] && say "with [smr] thrifty = $thrifty"

kv() { local node=$1; shift; "$STRATA" --dir "$DIR" -n "$node" --timeout 5000 "$@"; }

say "node 3 down; 40 writes through nodes 1 and 2"
kv 1 kv put warm up >/dev/null || fail "first put failed"
"$CLUSTER" kill 3 --dir "$DIR" >/dev/null || fail "kill 3 failed"
for i in $(seq 1 40); do
	kv $((i % 2 + 1)) kv put "key/$i" "value-$i" >/dev/null || fail "put key/$i failed"
done
snap1=$(counter 1 kv_snapshot_index)
first1=$(counter 1 kv_log_first)
[ "$snap1" -ge 30 ] && [ "$first1" -gt 1 ] ||
	fail "node 1: snapshot index $snap1, log first $first1 after 41 writes (expected >= 30, > 1)"
pass "leader side: snapshot at $snap1, log compacted below $first1"
if [ "$thrifty" = on ]; then
	tb=$(($(counter 1 kv_thrifty_batches) + $(counter 2 kv_thrifty_batches)))
	[ "$tb" -ge 1 ] || fail "[smr] thrifty = on, yet no batch went out thrifty"
	pass "[smr] thrifty on: $tb thrifty batches"
fi

say "node 3 restarts behind the compacted log: it must install the snapshot"
"$CLUSTER" restart 3 --dir "$DIR" >/dev/null 2>&1 || fail "restart 3 failed"
ok=0
for _ in $(seq 1 100); do
	v=$(kv 3 kv get key/40 --serializable 2>/dev/null)
	[ "$v" = value-40 ] && { ok=1; break; }
	sleep 0.1
done
[ $ok = 1 ] || fail "node 3 did not catch up within 10 s (key/40 reads '$v')"
inst=$("$STRATA" --dir "$DIR" -n 3 -w json status | json_get "d['counters'].get('kv_snapshot_installs', -1)")
[ "$inst" -ge 1 ] || fail "node 3 caught up without installing a snapshot (installs $inst)"
for i in 1 13 27 39 40; do
	v=$(kv 3 kv get "key/$i" --serializable)
	[ "$v" = "value-$i" ] || fail "node 3 reads key/$i as '$v'"
done
pass "node 3 installed the snapshot ($inst) and serves every key locally"

say "kv watch: history replay, a compacted revision, live changes"
# Nobody watched yet: no node built a watch event for the 41 writes (kv_watch_events), yet the
# history below has them all.
for id in 1 2 3; do
	w=$(counter $id kv_watch_events)
	[ "$w" = 0 ] || fail "node $id built $w watch events with no watcher connected"
done
# Node 1 never restored a snapshot: its history holds every change from revision 1 ("warm").
kv 1 -w json kv watch --prefix key/ --from 1 --count 40 >"$TMP/w1.json" ||
	fail "watch --prefix key/ --from 1 on node 1 failed"
python3 - "$TMP/w1.json" <<'PY' || fail "node 1's replayed history is wrong: $(head -3 "$TMP/w1.json")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert len(ev) == 40, len(ev)
for i, e in enumerate(ev, 1):
    assert e["type"] == "put" and e["key"] == f"key/{i}" and e["value"] == f"value-{i}", e
    assert e["revision"] == i + 1 and e["version"] == 1, e
PY
# Node 3 installed a snapshot: its history starts after it, and revision 1 is refused.
if out=$(kv 3 kv watch --prefix key/ --from 1 --count 1 2>&1); then
	fail "watch --from 1 on node 3 (restored from a snapshot) succeeded: $out"
fi
echo "$out" | grep -q "revision 1 is compacted: the oldest revision node 3 still holds is [0-9]" ||
	fail "watch of a compacted revision: '$out'"
# Live: a watcher on node 2 from revision R+1 gets the put at R+1 from the history; once it has
# printed it, it is on the stream, which must bring a second put and a delete of the key made
# through nodes 1 and 3 (and not the change of another key in between).
rev=$(kv 1 -w json kv put live/other x | json_get "d['revision']")
kv 1 kv put live/k v1 >/dev/null || fail "put live/k failed"
timeout 30 "$STRATA" --dir "$DIR" -n 2 -w json kv watch live/k --from $((rev + 1)) --count 3 \
	>"$TMP/w2.json" 2>"$TMP/w2.err" &
wpid=$!
for _ in $(seq 1 100); do
	[ -s "$TMP/w2.json" ] && break
	sleep 0.1
done
[ -s "$TMP/w2.json" ] || fail "watch on node 2 printed nothing from its history: $(cat "$TMP/w2.err")"
kv 3 kv put live/other y >/dev/null && kv 1 kv put live/k v2 >/dev/null &&
	kv 3 kv del live/k >/dev/null || fail "live writes failed"
wait $wpid || fail "watch live/k on node 2 failed: $(cat "$TMP/w2.err")"
python3 - "$TMP/w2.json" "$rev" <<'PY' || fail "live watch: $(cat "$TMP/w2.json")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
r = int(sys.argv[2])
assert [(e["type"], e["key"], e["value"], e["revision"]) for e in ev] == \
    [("put", "live/k", "v1", r + 1), ("put", "live/k", "v2", r + 3),
     ("delete", "live/k", None, r + 4)], ev
PY
# The stream's changes were built on node 2 (its watcher), and on no node without one.
w2=$(counter 2 kv_watch_events)
[ "$w2" -ge 3 ] || fail "node 2 built $w2 watch events for its watcher (expected >= 3)"
for id in 1 3; do
	w=$(counter $id kv_watch_events)
	[ "$w" = 0 ] || fail "node $id built $w watch events, never watched"
done
pass "watch: 40 changes replayed from revision 1, compacted revision refused, history then live stream, events built only on the watched node ($w2)"

say "kv status shows snapshots and bounded logs"
"$STRATA" --dir "$DIR" -w json kv status >"$TMP/st.json" || fail "kv status failed"
python3 - "$TMP/st.json" <<'PY' || fail "kv status: $(cat "$TMP/st.json")"
import json, sys
st = json.load(open(sys.argv[1]))
for n in st:
    assert n["up"], n
    assert n["snapshot_index"] >= 30, n
    assert n["log_entries"] <= 10 + 3 + 10, n
print("  " + ", ".join(f"node {n['node']}: snapshot {n['snapshot_index']}, {n['log_entries']} entries" for n in st))
PY
pass "every node has a snapshot and at most snapshot_entries + tail (+ a few) entries"

say "SIGKILL every node, restart: each restores its snapshot and replays its tail"
for i in 1 2 3; do "$CLUSTER" kill "$i" --dir "$DIR" >/dev/null; done
"$CLUSTER" start --dir "$DIR" >/dev/null || fail "restart after SIGKILL of all failed"
kv 2 kv put after restart >/dev/null || fail "put after the total restart failed"
for n in 1 2 3; do
	kv "$n" -w json kv range key/ --limit 1000 >"$TMP/range-$n.json" || fail "range from node $n failed"
	python3 - "$TMP/range-$n.json" <<'PY' || fail "node $n: range after the restart is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
got = {x["key"]: x["value"] for x in d["kvs"]}
want = {f"key/{i}": f"value-{i}" for i in range(1, 41)}
assert got == want and not d["more"], (len(got), d["more"])
PY
done
pass "all 40 keys with their values from every node after the total restart"
echo "test_kv_snapshot: $(( $(date +%s) - t_start )) s"
