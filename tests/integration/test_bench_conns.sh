#!/usr/bin/env bash
# `strata bench --conns`: closed-loop clients that share connections (client/cmd_bench.c).
# Client i sends on connection i mod N, the requests of one turn toward a connection leave in
# one write, and every reply is matched to its client by its request id. What can fail here:
#   - every run must end with exit 0, ops = total, errors = 0 and the conns asked for: a reply
#     given to the wrong client ends a crash-KV run with an error at once, and on a BFT
#     cluster leaves the right client without its f + 1 replies (a stall, exit 3);
#   - the nodes' client_accepted counters must show exactly the connections the bench says it
#     opened (besides its status requests and ours): --target all spreads 3 connections over
#     3 nodes (one each), the BFT KV gets 2 per replica, and the leader run stays below what
#     one connection per client would take;
#   - the server writes a connection's replies of one step together (lsn_cork): with 8 clients
#     on 2 connections the nodes' client_writes must stay below 3/4 of their client_replies
#     (one write per reply without it);
#   - keys the bench wrote read back with its value (`strata kv get`; on the BFT KV itself an
#     f + 1 vote);
#   - (with valgrind) the client allocates nothing per reply: 200 and 600 gets make the same
#     number of allocation calls.
# Runs on a 3-node crash cluster (fail-noisy, client auth on: sealed frames) and a 4-node
# fail-arbitrary cluster with [smr] log = btob. 6-12 s (quiet to load average 4).
. "$(dirname "$0")/lib.sh"

bench() { # DIR ARGS...: strata bench put -w json; fails the test on a non-zero exit
	local d=$1
	shift
	timeout 60 "$STRATA" --dir "$d" --timeout 5000 -w json bench put --total 400 --warmup 50 \
		--key-space 50 "$@" 2>"$TMP/bench.err" ||
		fail "bench $*: exit $?: $(cat "$TMP/bench.err")"
}

# check JSON CONNS BEFORE AFTER: ops = total = 400, errors = 0, conns = CONNS; prints the
# client connections each node accepted between the two `status --all` documents, less our own
# status request (one per node).
check() {
	python3 - "$@" <<'PY' || fail "bench: $1"
import json, sys
d, conns = json.loads(sys.argv[1]), int(sys.argv[2])
got = (d["total"], d["errors"], d["conns"])
if got != (400, 0, conns):
    print(f"(total, errors, conns) = {got}, expected (400, 0, {conns})", file=sys.stderr)
    sys.exit(1)
cnt = lambda doc, k: [n["counters"][k] for n in json.loads(doc)]
acc0, acc1 = cnt(sys.argv[3], "client_accepted"), cnt(sys.argv[4], "client_accepted")
print(" ".join(str(b - a - 1) for a, b in zip(acc0, acc1)))
# the replies and the socket writes toward clients, summed over the nodes
rep = sum(cnt(sys.argv[4], "client_replies")) - sum(cnt(sys.argv[3], "client_replies"))
wr = sum(cnt(sys.argv[4], "client_writes")) - sum(cnt(sys.argv[3], "client_writes"))
open(sys.argv[5], "w").write(f"{rep} {wr}\n") if len(sys.argv) > 5 else None
PY
}

snap() { # DIR: every node's status, a JSON array
	"$STRATA" --dir "$1" --timeout 2000 -w json status --all || fail "a node does not answer status"
}

# coalesced LABEL: the replies and socket writes toward clients that check() wrote to $TMP/rw
# (into $replies and $writes); with 8 clients on 2 connections the writes stay below 3/4 of the
# replies when a connection's replies of one step leave together (one write per reply without).
coalesced() {
	read -r replies writes <"$TMP/rw"
	[ $((writes * 4)) -lt $((replies * 3)) ] ||
		fail "$1: $replies replies to clients in $writes socket writes: a connection's replies of one step do not leave together"
}

# drained DIR LABEL: every node read its datagrams with recvmmsg calls of which at most a quarter
# found nothing. A call that returns fewer datagrams than it had room for means the socket is
# drained, and the runtime then ends the read round instead of asking again (rt/uv/runtime.c,
# rx_drained); without that, each wake's read is followed by an empty one (half the calls).
drained() {
	snap "$1" | python3 -c '
import json, sys
for n in json.load(sys.stdin):
    c = n["counters"]
    calls, empty = c.get("udp_recv_calls", -1), c.get("udp_recv_empty", -1)
    if calls <= 0 or empty < 0 or empty * 4 >= calls:
        nid = n.get("node")
        sys.exit(f"node {nid}: {calls} recvmmsg calls, {empty} found nothing")
' || fail "$2: a drained socket was read again"
}

VAL=$(python3 -c 'print("".join(chr(97 + i % 26) for i in range(100)))')
readback() { # DIR KEY: the value bench wrote
	local v
	v=$("$STRATA" --dir "$1" --timeout 5000 -w json kv get "$2" | json_get "d['value']") ||
		fail "kv get $2 failed"
	[ "$v" = "$VAL" ] || fail "kv get $2 = '$v', expected the bench's value"
}

T0=$(now_ms)
start_cluster 3 fail-noisy
[ "$(ini_get client auth)" = on ] || fail "the cluster's client auth is not on"

# 9 clients over 3 connections spread over 3 nodes: one connection per node; the bench's
# status requests: 2 per node (store_syncs before and after).
b0=$(snap "$DIR")
js=$(bench "$DIR" --clients 9 --conns 3 --target all)
d=$(check "$js" 3 "$b0" "$(snap "$DIR")") || fail "bench printed '$js'"
[ "$d" = "3 3 3" ] || fail "target all, 3 conns: client connections per node (bench's own + 2 status) '$d', expected '3 3 3'"
pass "crash KV, 9 clients, --conns 3 --target all: one connection per node ($js)"

# 8 clients over 2 connections to the leader. Besides the 2: one request that wakes the store,
# 1 to 3 status requests that find the leader, 2 x 3 for store_syncs: 10 to 12 in all. One
# connection per client would be at least 8 + 1 + 1 + 6 = 16.
b0=$(snap "$DIR")
js=$(bench "$DIR" --clients 8 --conns 2)
d=$(check "$js" 2 "$b0" "$(snap "$DIR")" "$TMP/rw") || fail "bench printed '$js'"
coalesced "leader, 2 conns"
sum=$(echo "$d" | awk '{s=0; for (i=1;i<=NF;i++) s+=$i; print s}')
[ "$sum" -ge 10 ] && [ "$sum" -le 12 ] || fail "leader, 8 clients, 2 conns: $sum client connections ($d), expected 10 to 12"
js=$(bench "$DIR" --clients 8 --no-preload)
check "$js" 1 "$b0" "$b0" >/dev/null || fail "bench printed '$js'"
for k in k000000000000000 k000000000000049; do readback "$DIR" "$k"; done
pass "crash KV, 8 clients on 2 connections ($sum with the status ones; $replies replies in $writes writes), then on auto (1): 0 errors; keys read back"
drained "$DIR" "crash KV"
pass "crash KV: no node read a drained socket again (udp_recv_empty under a quarter of udp_recv_calls)"

# The client decodes replies into its reader's arena (client/conn.c cli_breader): no allocation
# per reply. Under valgrind, 200 and 600 measured gets (sealed frames, 8 clients on 2
# connections) make the same number of allocation calls; the earlier reader made 3 per get.
if command -v valgrind >/dev/null; then
	allocs() { # OPS: the allocation calls of one bench get run
		valgrind --tool=memcheck --leak-check=no "$STRATA" --dir "$DIR" --timeout 5000 -w json \
			bench get --serializable --no-preload --clients 8 --conns 2 --warmup 50 \
			--key-space 50 --total "$1" 2>"$TMP/vg.err" >"$TMP/vg.json" ||
			fail "bench get under valgrind: $(tail -n 3 "$TMP/vg.err")"
		sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p' "$TMP/vg.err" | tr -d ,
	}
	a200=$(allocs 200)
	a600=$(allocs 600)
	[ -n "$a200" ] && [ "$a200" = "$a600" ] ||
		fail "bench get: $a200 allocations for 200 gets, $a600 for 600: the client allocates per reply"
	pass "bench client: $a200 allocations for 200 gets and for 600 (none per reply)"
else
	say "valgrind not installed: the bench client's allocations per reply are not checked"
fi
"$CLUSTER" stop --dir "$DIR" >/dev/null

# The BFT KV: 4 replicas, f = 1, 2 connections to each.
DIR=$TMP/btob
config_with_ports "$TMP/btob.ini" 4 <<'EOF'
[cluster]
id = bench-conns
model = fail-arbitrary
f = 1

[smr]
log = btob
EOF
"$CLUSTER" start --config "$TMP/btob.ini" --dir "$DIR" >/dev/null || fail "btob: start failed"
b0=$(snap "$DIR")
js=$(bench "$DIR" --clients 8 --conns 2)
d=$(check "$js" 2 "$b0" "$(snap "$DIR")" "$TMP/rw") || fail "bench printed '$js'"
coalesced "btob, 2 conns"
[ "$d" = "4 4 4 4" ] || fail "btob, 2 conns: client connections per replica (2 bench + 2 status) '$d', expected '4 4 4 4'"
readback "$DIR" k000000000000007
drained "$DIR" "BFT KV"
pass "BFT KV, 8 clients on 2 connections per replica ($replies replies in $writes writes), 0 errors; a key read back by f + 1 vote ($js)"
pass "total $(($(now_ms) - T0)) ms"
