#!/usr/bin/env bash
# Hostile clients on one node's client port ([client] limits, docs/security.md).
#
# 1. 1,000 idle connections and 100 slowloris connections (each trickles one byte of a frame
#    every 300 ms) are opened against node 1 (limit 1,024 connections) and held for 7 s; the
#    attacker reopens every slowloris connection the node closes. Throughout, `strata status` on node 1 must answer within one
#    second, every time (a functional bound: without the limits no status answers at all once
#    the connection limit is reached). Afterwards the node has counted evictions
#    (client_evicted), slowloris closures (client_frame_timeouts) and idle closures
#    (client_idle_closed).
# 2. A reader that sends 20,000 status requests and never reads a reply is disconnected and
#    counted (client_slow_dropped).
# 3. A module name with an embedded NUL ("nnar\0x") and one with a control character are refused
#    with a clear error and counted (client_bad_requests), and the connection stays usable.
. "$(dirname "$0")/lib.sh"
t0=$(now_ms)

DIR=$TMP/c
export DIR
# A 3-node config on free loopback ports, with tight [client] limits. Client authentication is
# off ([client] auth = off, allowed on loopback): the attacks below speak the plain protocol to
# reach the frame decoder, which test_client_auth shows is behind the handshake otherwise.
python3 - >"$TMP/limits.ini" <<'PY' || fail "python3 could not pick free ports"
import socket
socks = []
for _ in range(6):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
ports = [s.getsockname()[1] for s in socks]
print("[cluster]\nid = limits\nmodel = fail-noisy\nf = 1\n")
for i in range(3):
    print(f"[node.{i + 1}]\nhost = 127.0.0.1\nport = {ports[2 * i]}\n"
          f"client_port = {ports[2 * i + 1]}\n")
print("[client]\nauth = off\nmax_connections = 1024\nidle_timeout_ms = 3000\nframe_timeout_ms = 2000\n"
      "queue_max_bytes = 65536")
PY
say "starting 3 nodes with [client] limits in $DIR"
"$CLUSTER" start --config "$TMP/limits.ini" --dir "$DIR" >/dev/null || fail "cluster start failed"
wait_states 5000 1 alive 2 3
host=$(ini_get node.1 host)
cport=$(ini_get node.1 client_port)

counters1() { # NAME...: node 1's counters, space-separated
	status_json 1 | python3 -c 'import json, sys
d = json.load(sys.stdin)
print(" ".join(str(d["counters"].get(k, -1)) for k in sys.argv[1:]))' "$@"
}

say "1,000 idle + 100 slowloris connections to node 1 ($host:$cport) for 7 s"
python3 - "$host" "$cport" 7 >"$TMP/attack.out" 2>&1 <<'PY' &
import selectors, socket, sys, time
host, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
sel = selectors.DefaultSelector()
opened = closed = 0
def open_conn(kind):
    global opened
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect((host, port))
    except BlockingIOError:
        pass
    sel.register(s, selectors.EVENT_READ, [kind, 0])
    opened += 1
# A frame announcing 16 bytes of body: the header, then body bytes, one at a time.
frame = b"\x00\x00\x00\x10" + b"\x08\x01" * 8
for _ in range(1000):
    open_conn("idle")
for _ in range(100):
    open_conn("slow")
end = time.time() + secs
next_drip = 0.0
while time.time() < end:
    for key, _ in sel.select(timeout=0.05):
        s = key.fileobj
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if not data:  # closed by the node: a slowloris attacker comes back
            kind = key.data[0]
            sel.unregister(s)
            s.close()
            closed += 1
            if kind == "slow":
                open_conn(kind)
    if time.time() >= next_drip:
        next_drip = time.time() + 0.3
        for key in list(sel.get_map().values()):
            if key.data[0] != "slow":
                continue
            pos = key.data[1] % len(frame)
            try:
                key.fileobj.send(frame[pos:pos + 1])
                key.data[1] += 1
            except OSError:
                pass
print(f"attacker: opened {opened}, closed by the node {closed}")
PY
attacker=$!
BG_PIDS+=("$attacker")
sleep 1
worst=0
n=0
end=$(($(now_ms) + 5500))
while [ "$(now_ms)" -lt "$end" ]; do
	a=$(now_ms)
	"$STRATA" --dir "$DIR" -n 1 --timeout 1000 status >/dev/null ||
		fail "strata status failed under the attack (after $n answers)"
	d=$(($(now_ms) - a))
	n=$((n + 1))
	[ "$d" -gt "$worst" ] && worst=$d
	[ "$d" -le 1000 ] || fail "strata status took $d ms under the attack (bound 1000 ms)"
	sleep 0.1
done
wait "$attacker" || fail "the attacker script failed: $(cat "$TMP/attack.out")"
cat "$TMP/attack.out"
pass "$n status requests answered during the attack, the slowest in $worst ms"
read -r ev ft idle ref <<<"$(counters1 client_evicted client_frame_timeouts client_idle_closed client_refused)"
echo "  client_evicted $ev, client_frame_timeouts $ft, client_idle_closed $idle, client_refused $ref"
[ "$ev" -ge 76 ] || fail "client_evicted is $ev: 1,100 connections against a limit of 1,024 must evict"
[ "$ft" -ge 100 ] || fail "client_frame_timeouts is $ft: the 100 slowloris connections were not cut"
[ "$idle" -ge 500 ] || fail "client_idle_closed is $idle: the idle connections did not time out after 3 s"
pass "evictions, frame deadlines and idle timeouts counted"

say "a reader that never reads: 20,000 status requests, no reply read"
read -r slow0 <<<"$(counters1 client_slow_dropped)"
python3 - "$host" "$cport" <<'PY' || fail "the slow reader was not disconnected within 10 s"
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
req = b"\x08\x01\x52\x00"  # Request{id: 1, status: {}}
frame = len(req).to_bytes(4, "big") + req
s.settimeout(10)
try:
    s.sendall(frame * 20000)
    # The node must close the connection: wait for it without reading replies (a peek at the
    # socket state only: SO_ERROR / a zero-byte send eventually fails).
    deadline = time.time() + 10
    while time.time() < deadline:
        time.sleep(0.2)
        s.send(frame)
except (BrokenPipeError, ConnectionResetError):
    sys.exit(0)
sys.exit(1)
PY
read -r slow1 <<<"$(counters1 client_slow_dropped)"
[ "$slow1" -gt "$slow0" ] || fail "client_slow_dropped did not grow ($slow0 -> $slow1)"
pass "the slow reader was disconnected and counted (client_slow_dropped $slow0 -> $slow1)"

say "module names with a NUL byte or a control character are refused"
read -r bad0 <<<"$(counters1 client_bad_requests)"
python3 - "$host" "$cport" <<'PY' >"$TMP/nul.out" || fail "NUL name: $(cat "$TMP/nul.out")"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])
def field(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data
def ask(rid, module):
    op = field(1, module) + b"\x10\x01" + field(3, b"k")  # module, op 1 (read), key "k"
    req = b"\x08" + varint(rid) + field(11, op)
    s.sendall(len(req).to_bytes(4, "big") + req)
    n = int.from_bytes(s.recv(4, socket.MSG_WAITALL), "big")
    return s.recv(n, socket.MSG_WAITALL)
for rid, name, want in ((7, b"nnar\x00x", b"NUL"), (8, b"nn\tar", b"printable")):
    r = ask(rid, name)
    if want not in r:
        print(f"the reply to {name!r} does not say {want!r}: {r!r}")
        sys.exit(1)
    print(f"{name!r} refused: {r[r.find(want) - 20:r.find(want) + 20]!r}")
PY
cat "$TMP/nul.out"
read -r bad1 <<<"$(counters1 client_bad_requests)"
[ $((bad1 - bad0)) -ge 2 ] || fail "client_bad_requests grew by $((bad1 - bad0)), expected 2"
"$STRATA" --dir "$DIR" -n 1 reg write k v >/dev/null || fail "a plain write fails afterwards"
pass "NUL and control-character names refused and counted; the node still serves"
echo "test_client_limits: $(($(now_ms) - t0)) ms"
