#!/usr/bin/env bash
# Live linearizability of the leaderless store (lkv, src/reg/lkv.c) in its strong setting: a
# 5-node cluster with [lkv] replicas = 5, r = 3, w = 3 (r + w > replicas, so every key must behave
# as an atomic register), 8 concurrent clients for 8 s on 3 keys while node 4 is killed at 2 s and
# node 5 paused from 3 s to 5 s (then only nodes 1-3 are up: exactly a read and a write quorum).
# The recorded history must be linearizable (`strata check --model atomic`), and writes must
# complete while node 5 is paused. Also: `strata lkv put/get/del` basics with -w json, null for a
# key never written and for a deleted one, usage errors, and the workload's --r/--w overrides
# (after the main workload, on its keys deleted again: each workload's checker assumes keys that
# start never written, so the main one runs on keys nothing touched before).
. "$(dirname "$0")/lib.sh"

DIR=$TMP/c
export DIR

# The config: config/local-5.ini's failure-detector settings, free loopback ports, and the strong
# quorums. `scripts/cluster start --config` copies it and adds every node's public key.
say "writing a 5-node config with [lkv] replicas = 5, r = 3, w = 3"
python3 - "$TMP/lkv5.ini" <<'EOF' || fail "could not write the config"
import os, socket, sys
socks, ports = [], []
while len(ports) < 10:
    kind = socket.SOCK_DGRAM if len(ports) % 2 == 0 else socket.SOCK_STREAM
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    if p in ports:
        s.close()
        continue
    socks.append(s)
    ports.append(p)
with open(sys.argv[1], "w") as f:
    f.write("; test_lkv_linearizable.sh: strong leaderless quorums on five nodes\n")
    f.write(f"[cluster]\nid = lkv-it-{os.getpid()}\nmodel = fail-silent\nf = 2\n\n")
    f.write("[fd]\nheartbeat_ms = 50\ntimeout_ms = 250\nevp_timeout_ms = 250\nevp_increment_ms = 100\n\n")
    f.write("[lkv]\nreplicas = 5\nr = 3\nw = 3\n")
    for i in range(5):
        f.write(f"\n[node.{i + 1}]\nhost = 127.0.0.1\nport = {ports[2 * i]}\n"
                f"client_port = {ports[2 * i + 1]}\n")
EOF
"$CLUSTER" start --config "$TMP/lkv5.ini" --dir "$DIR" >/dev/null || fail "scripts/cluster start failed"
[ "$(ini_get lkv replicas)/$(ini_get lkv r)/$(ini_get lkv w)" = 5/3/3 ] ||
	fail "cluster.ini lost the [lkv] section: $(ini_get lkv replicas)/$(ini_get lkv r)/$(ini_get lkv w)"
pass "5 nodes up, [lkv] 5/3/3"

lkv() { # NODE ARGS...: strata -n NODE -w json lkv ARGS...
	local node=$1
	shift
	"$STRATA" --dir "$DIR" -n "$node" -w json lkv "$@"
}

say "put, get from other nodes, delete"
out=$(lkv 1 put x 42) || fail "put x 42 failed"
[ "$(echo "$out" | json_get "(d['key'], d['value'])")" = "('x', '42')" ] || fail "put printed '$out'"
for n in 2 4 5; do
	v=$(lkv "$n" get x | json_get "d['value']") || fail "get x from node $n failed"
	[ "$v" = 42 ] || fail "get x from node $n gave '$v', expected 42"
done
lkv 3 put x 43 >/dev/null || fail "overwrite failed"
v=$(lkv 5 get x | json_get "d['value']")
[ "$v" = 43 ] || fail "get x after the overwrite gave '$v', expected 43"
v=$(lkv 2 get never-written | json_get "d['value']")
[ "$v" = None ] || fail "a key never written read as '$v', expected null"
v=$("$STRATA" --dir "$DIR" -n 2 lkv get never-written)
[ "$v" = null ] || fail "text output for a key never written: '$v', expected null"
lkv 2 del x >/dev/null || fail "del x failed"
v=$(lkv 4 get x | json_get "d['value']")
[ "$v" = None ] || fail "a deleted key read as '$v', expected null"
v=$(lkv 1 get x --r 5 | json_get "d['value']")
[ "$v" = None ] || fail "a deleted key read with --r 5 as '$v', expected null"
pass "put/get/del across nodes, null for never written and deleted keys"

say "usage errors"
"$STRATA" --dir "$DIR" lkv put "" v >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "empty key: exit $rc, expected 2"
"$STRATA" --dir "$DIR" lkv get x --w 2 >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "get with --w: exit $rc, expected 2"
"$STRATA" --dir "$DIR" workload --algo nnar --r 2 --duration 1 --out "$TMP/none.jsonl" >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "workload --r for a register: exit $rc, expected 2"
pass "empty key, --w on a get, --r on a register workload"

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
T0=$(now_ms)
"$STRATA" --dir "$DIR" --timeout 2000 workload --algo lkv --clients 8 --keys 3 --duration 8 \
	--out "$TMP/history.jsonl" || fail "workload failed"
wait
ops=$(grep -c '"type":"ok"' "$TMP/history.jsonl")
[ "$ops" -gt 100 ] || fail "only $ops operations completed"
# Writes must have completed while only nodes 1-3 were up (3.3 s .. 4.8 s after the start, with
# margins for the signals): w = 3 of 5 replicas is still reachable.
python3 - "$TMP/history.jsonl" <<'EOF' || fail "no write completed while node 4 was dead and node 5 paused"
import json, sys
t = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
n = sum(1 for e in t if e["type"] == "ok" and e["f"] == "write" and 3.3e9 <= e["time"] <= 4.8e9)
print(f"  {n} writes completed while nodes 4 (dead) and 5 (paused) were down")
sys.exit(0 if n > 0 else 1)
EOF
"$STRATA" check --model atomic "$TMP/history.jsonl" || fail "history is not linearizable"
pass "$ops completed operations in $(($(now_ms) - T0)) ms, history linearizable"

say "workload --r/--w: passed in every request (R = 6 > replicas is refused by the nodes)"
# A workload in which every operation is refused exits 1 (it did not do what was asked).
rc=0
out=$("$STRATA" --dir "$DIR" -w json workload --algo lkv --r 6 --clients 2 --duration 1 \
	--out "$TMP/r6.jsonl") || rc=$?
[ $rc -eq 1 ] || fail "workload --r 6: exit $rc, expected 1 (every operation refused)"
[ "$(echo "$out" | json_get "(d['ok'], d['fail'] > 0)")" = "(0, True)" ] ||
	fail "workload --r 6: expected every operation refused, got $out"
"$STRATA" --dir "$DIR" lkv get k0 --r 6 >/dev/null 2>"$TMP/err"; rc=$?
[ $rc -eq 1 ] && grep -q "at most replicas=5" "$TMP/err" ||
	fail "lkv get --r 6: exit $rc, expected 1 and the limit named: $(cat "$TMP/err")"
# Each workload writes keys of its own (a fresh prefix per run): the checker takes every key to
# start empty, and a run on the first run's keys would read its values (a violation).
"$STRATA" --dir "$DIR" -w json workload --algo lkv --r 2 --w 4 --clients 4 --keys 3 --duration 2 \
	--out "$TMP/override.jsonl" >"$TMP/override.json" || fail "workload --r 2 --w 4 failed"
first=$(python3 -c 'import json,sys; print(sorted({json.loads(l)["key"] for l in open(sys.argv[1]) if l.strip()}))' "$TMP/history.jsonl")
second=$(python3 -c 'import json,sys; print(sorted({json.loads(l)["key"] for l in open(sys.argv[1]) if l.strip()}))' "$TMP/override.jsonl")
[ "$first" != "$second" ] || fail "two workloads used the same keys: $first"
grep -q '"keys":' "$TMP/override.json" || fail "the workload's summary names no keys: $(cat "$TMP/override.json")"
ops=$(grep -c '"type":"ok"' "$TMP/override.jsonl")
[ "$ops" -gt 20 ] || fail "with --r 2 --w 4 only $ops operations completed"
"$STRATA" check --model atomic "$TMP/override.jsonl" >/dev/null ||
	fail "history with --r 2 --w 4 (R + W > replicas) is not linearizable"
pass "--r 6 refused by every node; $ops operations with --r 2 --w 4 (node 4 down), linearizable"
