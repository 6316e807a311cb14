#!/usr/bin/env bash
# Garbage on the wire. UDP: random bytes, truncated datagrams, datagrams from another cluster
# and well-formed datagrams with a wrong MAC are sent to node 1's peer port; each kind must be
# dropped and counted in its rej_* counter, and node 1 must keep working (status answers, its
# failure detector and the others' still see everyone alive). TCP: random bytes, an oversized
# length prefix, a malformed protobuf frame and a half frame on the client port: the node
# survives and keeps answering.
. "$(dirname "$0")/lib.sh"

DIR=$TMP/c
export DIR
start_cluster 3 fail-noisy
host=$(ini_get node.1 host)
port=$(ini_get node.1 port)
cport=$(ini_get node.1 client_port)
cluster=$(ini_get cluster id)

snap() { status_json 1 | json_get "' '.join(str(d['counters'].get(k, -1)) for k in ('rej_short','rej_malformed','rej_cluster','rej_mac'))"; }
read -r short0 malformed0 cluster0 mac0 <<<"$(snap)"
[ "$mac0" -ge 0 ] 2>/dev/null || fail "node 1 does not report rej_* counters"

say "sending 20 random, 5 truncated, 5 foreign-cluster and 5 wrong-MAC datagrams to node 1 ($host:$port)"
python3 - "$host" "$port" "$cluster" <<'PY' || fail "python3 could not send"
import hashlib, os, random, socket, sys
host, port, cluster = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rng = random.Random(42)
def send(b):
    s.sendto(b, (host, port))
# Random bytes, 60..1000 long, never starting like a datagram of ours (version 1, 0).
for _ in range(20):
    b = bytearray(os.urandom(rng.randint(60, 1000)))
    if b[0] == 1:
        b[0] = 2
    send(bytes(b))
# Truncated: shorter than the prefix and the MAC.
for n in (0, 1, 13, 14, 45):
    send(os.urandom(n))
# The prefix: version 1, 0, the cluster hash (the first 8 bytes of SHA-256(id), as they are),
# sender 2, receiver 1 (16-bit little-endian).
h = hashlib.sha256(cluster.encode()).digest()[:8]
foreign = bytes([h[0] ^ 1]) + h[1:]
def prefix(ch):
    return bytes([1, 0]) + ch + (2).to_bytes(2, "little") + (1).to_bytes(2, "little")
for _ in range(5):
    send(prefix(foreign) + os.urandom(40) + os.urandom(32))
for _ in range(5):
    send(prefix(h) + os.urandom(40) + os.urandom(32))
PY
sleep 0.3
read -r short1 malformed1 cluster1 mac1 <<<"$(snap)"
echo "  rej_short $short0 -> $short1, rej_malformed $malformed0 -> $malformed1," \
	"rej_cluster $cluster0 -> $cluster1, rej_mac $mac0 -> $mac1"
[ $((short1 - short0)) -eq 5 ] || fail "rej_short grew by $((short1 - short0)), expected 5"
[ $((malformed1 - malformed0)) -ge 20 ] || fail "rej_malformed grew by $((malformed1 - malformed0)), expected >= 20"
[ $((cluster1 - cluster0)) -eq 5 ] || fail "rej_cluster grew by $((cluster1 - cluster0)), expected 5"
[ $((mac1 - mac0)) -eq 5 ] || fail "rej_mac grew by $((mac1 - mac0)), expected 5"
pass "every garbage datagram was dropped and counted"

say "node 1 still works: everyone alive in every view"
wait_states 2000 1 alive 2 3
wait_states 2000 2 alive 1
wait_states 2000 3 alive 1
pass "failure detectors unaffected"

say "garbage on node 1's client port ($host:$cport)"
python3 - "$host" "$cport" <<'PY' || fail "python3 could not connect to the client port"
import os, socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
def conn(data, hold=0.05):
    s = socket.create_connection((host, port), timeout=2)
    try:
        s.sendall(data)
        time.sleep(hold)
    except OSError:
        pass  # the node may close on us: that is fine
    s.close()
conn(os.urandom(4096))                              # random bytes
conn(b"\xff\xff\xff\xff" + os.urandom(64))          # a 4 GiB length prefix
conn(b"\x00\x00\x00\x10" + os.urandom(16))          # a frame that is not a Request
conn(b"\x00\x00\x10\x00" + b"half")                 # half a frame, then close
conn(b"")                                           # connect and close
PY
sleep 0.2
status_json 1 >/dev/null
pass "node 1 survives client-port garbage and answers status"
bad=$(counter 1 client_bad_requests)
[ "$bad" -ge 1 ] 2>/dev/null && pass "client_bad_requests = $bad" ||
	echo "  note: client_bad_requests = $bad"
wait_states 2000 1 alive 2 3
pass "node 1 still alive in the others' views"
