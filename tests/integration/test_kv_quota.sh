#!/usr/bin/env bash
# The replicated KV's space quota on real processes: 3 nodes with [smr] quota_bytes = 256 KiB.
# Puts of 16 KiB values (--value-file) through the leader until one is refused: the CLI exits 1
# with "kv: space exceeded: the store holds N bytes of its quota 262144 ([smr] quota_bytes);
# delete keys to make room", and the same put sent to a follower (forwarded to the leader) is
# refused the same way, and so is a SET over RESP (-OOM). The leader counts them
# (kv_quota_rejects); `kv status` shows every
# node's state bytes (<= the quota, equal on every node) and the quota; reads still work; a
# delete makes room and a put succeeds again. Then every node is SIGKILLed and restarted: the
# same keys, the same state bytes on every node, and the same behaviour (refused when full, a
# delete makes room).
. "$(dirname "$0")/lib.sh"
t_start=$(date +%s)
QUOTA=262144

start_cluster 3 fail-noisy
"$CLUSTER" stop --dir "$DIR" >/dev/null || fail "stop failed"
ini_set "$DIR/cluster.ini" smr quota_bytes $QUOTA
"$CLUSTER" start --dir "$DIR" >/dev/null || fail "start with [smr] quota_bytes failed"

kv() { local node=$1; shift; "$STRATA" --dir "$DIR" -n "$node" --timeout 5000 "$@"; }
head -c 16384 /dev/zero | tr '\0' 'v' >"$TMP/v16k"

kv 1 kv put warm up >/dev/null || fail "first put failed"
leader=$(counter 1 kv_leader)
[ "$leader" -ge 1 ] && [ "$leader" -le 3 ] || fail "no leader known to node 1 ($leader)"
follower=$((leader % 3 + 1))
say "leader $leader; 16 KiB puts through it until the quota refuses one"

# put_refused NODE KEY: the put must exit 1 with the space-exceeded text.
put_refused() {
	local out rc
	out=$(kv "$1" kv put "$2" --value-file "$TMP/v16k" 2>&1)
	rc=$?
	[ $rc = 1 ] || fail "put $2 through node $1: exit $rc, expected 1 (refused): $out"
	echo "$out" | grep -Eq "kv: space exceeded: the store holds [0-9]+ bytes of its quota $QUOTA \(\[smr\] quota_bytes\); delete keys to make room" ||
		fail "put $2 through node $1: unexpected refusal text: $out"
	echo "$out"
}

n=0
refused=""
for i in $(seq 1 40); do
	if out=$(kv "$leader" kv put "fill/$i" --value-file "$TMP/v16k" 2>&1); then
		n=$i
		continue
	fi
	refused=$i
	break
done
[ -n "$refused" ] || fail "40 puts of 16 KiB all accepted under a 256 KiB quota"
# 16 KiB + key + 64 bytes of overhead each: 15 fit in 256 KiB beside "warm", the 16th does not.
[ "$n" = 15 ] || fail "$n puts accepted before the refusal (expected 15): $out"
put_refused "$leader" "fill/$refused" >/dev/null
pass "leader: $n puts accepted, put $refused refused: $(put_refused "$leader" "fill/$refused")"

say "the same put through follower $follower"
put_refused "$follower" "fill/$refused" >/dev/null
pass "follower $follower: refused the same way (exit 1, the same text)"
if command -v redis-cli >/dev/null; then
	# The RESP endpoint (docs/resp.md): Redis's OOM error, a follower's port.
	port=$(ini_get "node.$follower" resp_port)
	got=$(REDISCLI_AUTH=$(cat "$DIR/resp.password") timeout 10 redis-cli -p "$port" \
		SET "fill/$refused" "$(cat "$TMP/v16k")" 2>&1)
	echo "$got" | grep -Eq "^OOM kv: space exceeded: the store holds [0-9]+ bytes of its quota $QUOTA" ||
		fail "RESP SET when full: $got"
	pass "RESP SET through node $follower: $(echo "$got" | cut -c1-60)..."
fi
rej=$(counter "$leader" kv_quota_rejects)
[ "$rej" -ge 4 ] || fail "leader counted $rej quota refusals (expected >= 4)"
pass "kv_quota_rejects on the leader: $rej"

# status_check [DIR QUOTA]: every node up, state bytes <= quota and equal everywhere (polled: a
# follower applies a little after the leader), the quota shown; prints the bytes.
status_check() {
	local _
	for _ in $(seq 1 50); do
		"$STRATA" --dir "${1:-$DIR}" -w json kv status >"$TMP/st.json" || fail "kv status failed"
		python3 - "$TMP/st.json" "${2:-$QUOTA}" <<'PY' && return 0
import json, sys
st, quota = json.load(open(sys.argv[1])), int(sys.argv[2])
b = set()
for n in st:
    assert n["up"], n
    assert n["quota_bytes"] == quota, n
    assert 0 < n["state_bytes"] <= quota, n
    b.add(n["state_bytes"])
assert len(b) == 1, st
print(b.pop())
PY
		sleep 0.1
	done
	fail "kv status: $(cat "$TMP/st.json")"
}
bytes=$(status_check)
"$STRATA" --dir "$DIR" kv status >"$TMP/st.txt" || fail "kv status (text) failed"
grep -q "bytes/quota" "$TMP/st.txt" && grep -q " $bytes/$QUOTA " "$TMP/st.txt" ||
	fail "kv status text does not show $bytes/$QUOTA: $(cat "$TMP/st.txt")"
pass "kv status: every node holds $bytes of $QUOTA bytes"

say "reads work; a delete makes room"
v=$(kv "$follower" kv get fill/7)
[ "${#v}" = 16384 ] || fail "get fill/7 through node $follower: ${#v} bytes"
kv "$follower" kv range fill/ --limit 100 >"$TMP/r.txt" || fail "range failed when full"
[ "$(wc -l <"$TMP/r.txt")" = 15 ] || fail "range lists $(wc -l <"$TMP/r.txt") keys, expected 15"
kv "$follower" kv del fill/1 >/dev/null || fail "delete when full failed"
kv "$follower" kv put "fill/$refused" --value-file "$TMP/v16k" >/dev/null ||
	fail "put after the delete failed"
put_refused "$follower" fill/next >/dev/null
pass "get and range answer when full; after a delete a put succeeds, then the next is refused"
bytes=$(status_check)

say "SIGKILL every node, restart: the same state, the same quota"
for i in 1 2 3; do "$CLUSTER" kill "$i" --dir "$DIR" >/dev/null; done
"$CLUSTER" start --dir "$DIR" >/dev/null || fail "restart after SIGKILL of all failed"
ok=0
for _ in $(seq 1 100); do
	out=$(kv 1 kv put fill/again --value-file "$TMP/v16k" 2>&1)
	rc=$?
	[ $rc = 1 ] && { ok=1; break; }
	[ $rc = 0 ] && fail "put after the restart accepted with the store full"
	sleep 0.1
done
[ $ok = 1 ] || fail "no answer to a put after the restart: $out"
echo "$out" | grep -q "kv: space exceeded: the store holds [0-9]* bytes of its quota $QUOTA" ||
	fail "after the restart: $out"
after=$(status_check)
[ "$after" = "$bytes" ] || fail "state bytes $bytes before the restart, $after after"
kv 2 kv range fill/ --limit 100 >"$TMP/r2.txt" || fail "range after the restart failed"
[ "$(wc -l <"$TMP/r2.txt")" = 15 ] || fail "after the restart: $(wc -l <"$TMP/r2.txt") keys"
kv 3 kv del fill/2 >/dev/null || fail "delete after the restart failed"
kv 3 kv put fill/again --value-file "$TMP/v16k" >/dev/null || fail "put after delete failed"
pass "after the restart: $after bytes on every node, refused when full, a delete makes room"

say "the BFT KV (log = btob, 4 nodes, f = 1): the quota decided at apply, voted by the client"
BQ=65536
config_with_ports "$TMP/bft.ini" 4 <<EOF
[cluster]
id = kv-quota-bft
model = fail-arbitrary
f = 1

[fd]
heartbeat_ms = 50
timeout_ms = 250

[smr]
log = btob
quota_bytes = $BQ
EOF
"$CLUSTER" start --config "$TMP/bft.ini" --dir "$TMP/bft" >/dev/null || fail "bft: start failed"
head -c 4096 /dev/zero | tr '\0' 'w' >"$TMP/v4k"
bkv() { "$STRATA" --dir "$TMP/bft" --timeout 5000 "$@"; }
n=0
for i in $(seq 1 40); do
	out=$(bkv kv put "b/$i" --value-file "$TMP/v4k" 2>&1)
	rc=$?
	[ $rc = 0 ] && { n=$i; continue; }
	[ $rc = 1 ] || fail "bft: put b/$i: exit $rc (expected 0, or 1 when refused): $out"
	break
done
# 4 KiB + key + 64 each: 15 fit in 64 KiB, the 16th does not.
[ "$n" = 15 ] || fail "bft: $n puts accepted before the refusal (expected 15): $out"
echo "$out" | grep -Eq "kv: space exceeded: the store holds [0-9]+ bytes of its quota $BQ" ||
	fail "bft: unexpected refusal: $out"
bytes=$(status_check "$TMP/bft" $BQ)
v=$(bkv kv get b/3)
[ "${#v}" = 4096 ] || fail "bft: get b/3: ${#v} bytes"
bkv kv del b/1 >/dev/null || fail "bft: delete when full failed"
bkv kv put b/again --value-file "$TMP/v4k" >/dev/null || fail "bft: put after the delete failed"
out=$(bkv kv put b/more --value-file "$TMP/v4k" 2>&1) && fail "bft: put accepted when full again"
echo "$out" | grep -q "kv: space exceeded" || fail "bft: second refusal: $out"
pass "bft: 15 puts, the 16th refused by f + 1 replicas ($bytes of $BQ bytes on every node); a delete makes room"
echo "test_kv_quota: $(( $(date +%s) - t_start )) s"
