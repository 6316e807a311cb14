#!/usr/bin/env bash
# Hostile clients on one node's TCP ports: the client port ([client]), the RESP port ([resp])
# and the metrics port ([metrics]), which share one connection discipline (src/rt/uv/listener.c,
# docs/security.md).
#
# 1. 1,000 idle connections and 100 slowloris connections (each trickles one byte of a request
#    every 300 ms) against node 1's client port (limit 1,024 connections); then the same against
#    its RESP port (limit 1,024) together with 100 idle + 10 slowloris against its metrics port
#    (limit 16). Each attacker reopens every slowloris connection the node closes and holds its
#    connections until told to stop. Once node 1 has accepted them, for 5 s, `strata status`
#    (and, in the second phase, a RESP PING and a GET /metrics) on node 1 must each answer
#    within one second, every time (a functional bound: without the limits nothing answers once
#    a port's connection limit is reached). Afterwards node 1 has counted, per port, evictions
#    (*_evicted), slowloris closures (*_frame_timeouts) and, on the client and RESP ports, idle
#    closures (*_idle_closed).
# 2. A reader that sends 20,000 status requests and never reads a reply is disconnected and
#    counted (client_slow_dropped); so is a RESP reader that sends 40,000 INFO commands
#    (resp_slow_dropped).
# 3. A module name with an embedded NUL ("nnar\0x") and one with a control character are refused
#    with a clear error and counted (client_bad_requests), and the connection stays usable.
. "$(dirname "$0")/lib.sh"
t0=$(now_ms)
say() { echo "== [$(($(now_ms) - t0)) ms] $*"; } # each step with the test's time so far

DIR=$TMP/c
export DIR
# A 3-node config on free loopback ports, with tight [client] limits. Client authentication is
# off ([client] auth = off, allowed on loopback): the attacks below speak the plain protocol to
# reach the frame decoder, which test_client_auth shows is behind the handshake otherwise.
python3 - >"$TMP/limits.ini" <<'PY' || fail "python3 could not pick free ports"
import socket
socks = []
for _ in range(8):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
ports = [s.getsockname()[1] for s in socks]
print("[cluster]\nid = limits\nmodel = fail-noisy\nf = 1\n")
for i in range(3):
    extra = f"resp_port = {ports[6]}\nmetrics_port = {ports[7]}\n" if i == 0 else ""
    print(f"[node.{i + 1}]\nhost = 127.0.0.1\nport = {ports[2 * i]}\n"
          f"client_port = {ports[2 * i + 1]}\n{extra}")
print("[client]\nauth = off\nmax_connections = 1024\nidle_timeout_ms = 3000\nframe_timeout_ms = 2000\n"
      "queue_max_bytes = 65536\n")
print("[resp]\nmax_connections = 1024\nidle_timeout_ms = 3000\nframe_timeout_ms = 2000\n"
      "queue_max_bytes = 65536\n")
print("[metrics]\nmax_connections = 16\nidle_timeout_ms = 3000\nframe_timeout_ms = 2000")
PY
say "starting 3 nodes with [client] limits in $DIR"
"$CLUSTER" start --config "$TMP/limits.ini" --dir "$DIR" >/dev/null || fail "cluster start failed"
wait_states 5000 1 alive 2 3
host=$(ini_get node.1 host)
cport=$(ini_get node.1 client_port)
rport=$(ini_get node.1 resp_port)
mport=$(ini_get node.1 metrics_port)

counters1() { # NAME...: node 1's counters, space-separated
	status_json 1 | python3 -c 'import json, sys
d = json.load(sys.stdin)
print(" ".join(str(d["counters"].get(k, -1)) for k in sys.argv[1:]))' "$@"
}

# The attacker: HOST PORT STOPFILE IDLE SLOW REQUEST-HEX. Opens IDLE connections that send
# nothing and SLOW ones that send REQUEST one byte every 300 ms, reopening a slow one whenever
# the node closes it, until STOPFILE exists (at most 60 s); what the node sends is read and
# ignored.
cat >"$TMP/attack.py" <<'PY'
import os, selectors, socket, sys, time
host, port, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
n_idle, n_slow, frame = int(sys.argv[4]), int(sys.argv[5]), bytes.fromhex(sys.argv[6])
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
for _ in range(n_idle):
    open_conn("idle")
for _ in range(n_slow):
    open_conn("slow")
end = time.time() + 60
next_drip = 0.0
while time.time() < end and not os.path.exists(stop):
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
print(f"attacker on port {port}: opened {opened}, closed by the node {closed}")
PY
# A client frame announcing 16 bytes of body; a RESP PING as an array; an HTTP request head.
cframe=00000010$(printf '0801%.0s' 1 2 3 4 5 6 7 8)
rframe=$(printf '*1\r\n$4\r\nPING\r\n' | od -An -tx1 | tr -d ' \n')
mframe=$(printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n' | od -An -tx1 | tr -d ' \n')

ping_resp() { # one RESP PING on a new connection; true if +PONG came back within a second
	local fd line=""
	exec {fd}<>"/dev/tcp/$host/$rport" || return 1
	printf 'PING\r\n' >&"$fd"
	IFS= read -r -t 1 line <&"$fd"
	exec {fd}<&-
	[ "${line%$'\r'}" = "+PONG" ]
}
get_metrics() { # one GET /metrics on a new connection; true if its status line said 200 within a second
	local fd line=""
	exec {fd}<>"/dev/tcp/$host/$mport" || return 1
	printf 'GET /metrics HTTP/1.1\r\nHost: %s\r\n\r\n' "$host" >&"$fd"
	IFS= read -r -t 1 line <&"$fd"
	exec {fd}<&-
	[ "${line%$'\r'}" = "HTTP/1.1 200 OK" ]
}

# attack NAME PORT IDLE SLOW REQUEST-HEX: starts an attacker (stopped by stop_attacks).
attackers=()
attack() {
	python3 "$TMP/attack.py" "$host" "$2" "$TMP/stop" "$3" "$4" "$5" >"$TMP/atk.$1" 2>&1 &
	attackers+=("$!")
	BG_PIDS+=("$!")
}
stop_attacks() {
	touch "$TMP/stop"
	local p
	for p in "${attackers[@]}"; do
		wait "$p" || fail "an attacker script failed: $(cat "$TMP"/atk.*)"
	done
	attackers=()
	rm -f "$TMP/stop"
	cat "$TMP"/atk.*
	rm -f "$TMP"/atk.*
}
# accepted NAME=COUNT...: waits (up to 15 s) until node 1 has accepted COUNT more connections
# on each port than at the start of the phase (SYNs dropped by a full listen queue come back
# 1 and 3 s later), so that the probes below run while the attack holds its connections.
accepted() {
	local want=("$@") t_end=$(($(now_ms) + 15000)) ok k j got
	while [ "$(now_ms)" -lt "$t_end" ]; do
		ok=1
		# One status, read without python (this polls while the machine is busy).
		j=$("$STRATA" --dir "$DIR" -n 1 --timeout 1000 -w json status 2>/dev/null) || j=
		for k in "${want[@]}"; do
			got=0
			[[ $j =~ \"${k%=*}_accepted\":\ ?([0-9]+) ]] && got=${BASH_REMATCH[1]}
			[ "$got" -ge $((base[${k%=*}] + ${k#*=})) ] || ok=0
		done
		[ $ok = 1 ] && return 0
		sleep 0.3
	done
	echo "  (not every connection accepted after 15 s: the probes run anyway)"
}
declare -A base
# probe SECONDS PORTS...: for SECONDS, rounds of `strata status` and a request on each of the
# other PORTS (resp, metrics) on node 1; each must answer within one second.
probe() {
	local secs=$1 end kinds=(status "${@:2}") k a d
	declare -A worst=([status]=0 [resp]=0 [metrics]=0)
	n=0
	end=$(($(now_ms) + secs * 1000))
	while [ "$(now_ms)" -lt "$end" ]; do
		for k in "${kinds[@]}"; do
			a=$(now_ms)
			case $k in
			status) "$STRATA" --dir "$DIR" -n 1 --timeout 1000 status >/dev/null ||
				fail "strata status failed under the attack (after $n rounds)" ;;
			resp) ping_resp || fail "a RESP PING got no PONG within a second under the attack (after $n rounds)" ;;
			metrics) get_metrics || fail "a GET /metrics got no 200 within a second under the attack (after $n rounds)" ;;
			esac
			d=$(($(now_ms) - a))
			[ "$d" -gt "${worst[$k]}" ] && worst[$k]=$d
			[ "$d" -le 1000 ] || fail "a $k request took $d ms under the attack (bound 1000 ms)"
		done
		n=$((n + 1))
		sleep 0.1
	done
	slowest=
	for k in "${kinds[@]}"; do slowest+="${slowest:+, }$k ${worst[$k]} ms"; done
}

say "client port $cport: 1,000 idle + 100 slowloris connections, held while status is probed for 5 s"
read -r base[client] <<<"$(counters1 client_accepted)"
# A subscriber (failure-detector events), connected before the attack and silent after its
# subscription: the oldest connection, but exempt from eviction and from the idle timeout.
python3 - "$host" "$cport" "$TMP/stop.sub" >"$TMP/subscriber.out" 2>&1 <<'PY' &
import os, socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
req = bytes.fromhex("0801620208 01".replace(" ", ""))  # Request{id: 1, subscribe: {fd: true}}
s.sendall(len(req).to_bytes(4, "big") + req)
s.settimeout(0.2)
got = 0
end = time.time() + 60
while time.time() < end and not os.path.exists(sys.argv[3]):
    try:
        data = s.recv(65536)
    except socket.timeout:
        continue
    except OSError:
        data = b""
    if not data:
        print(f"subscriber: closed by the node after {got} bytes")
        sys.exit(1)
    got += len(data)
print(f"subscriber: still connected, {got} bytes of events")
PY
subscriber=$!
BG_PIDS+=("$subscriber")
sleep 0.5
attack c "$cport" 1000 100 "$cframe"
accepted client=1100
probe 5
stop_attacks
touch "$TMP/stop.sub"
wait "$subscriber" || fail "the subscriber was disconnected: $(cat "$TMP/subscriber.out")"
cat "$TMP/subscriber.out"
pass "$n status requests answered during the attack; slowest: $slowest; the subscriber stayed"
read -r ev ft idle ref <<<"$(counters1 client_evicted client_frame_timeouts client_idle_closed client_refused)"
echo "  client_evicted $ev, client_frame_timeouts $ft, client_idle_closed $idle, client_refused $ref"
[ "$ev" -ge 76 ] || fail "client_evicted is $ev: 1,100 connections against a limit of 1,024 must evict"
[ "$ft" -ge 100 ] || fail "client_frame_timeouts is $ft: the 100 slowloris connections were not cut"
[ "$idle" -ge 500 ] || fail "client_idle_closed is $idle: the idle connections did not time out after 3 s"
pass "client port: evictions, frame deadlines and idle timeouts counted"

say "RESP port $rport: 1,000 idle + 100 slowloris; metrics port $mport: 100 idle + 10 slowloris; status, PING and GET /metrics probed for 5 s"
read -r base[resp] base[metrics] <<<"$(counters1 resp_accepted metrics_accepted)"
attack r "$rport" 1000 100 "$rframe"
attack m "$mport" 100 10 "$mframe"
accepted resp=1100 metrics=110
probe 5 resp metrics
stop_attacks
pass "$n rounds answered during the attack; slowest: $slowest"
read -r ev ft idle ref <<<"$(counters1 resp_evicted resp_frame_timeouts resp_idle_closed resp_refused)"
echo "  resp_evicted $ev, resp_frame_timeouts $ft, resp_idle_closed $idle, resp_refused $ref"
[ "$ev" -ge 76 ] || fail "resp_evicted is $ev: 1,100 connections against a limit of 1,024 must evict"
[ "$ft" -ge 100 ] || fail "resp_frame_timeouts is $ft: the 100 slowloris connections were not cut"
[ "$idle" -ge 500 ] || fail "resp_idle_closed is $idle: the idle connections did not time out after 3 s"
read -r ev ft idle ref <<<"$(counters1 metrics_evicted metrics_frame_timeouts metrics_idle_closed metrics_refused)"
echo "  metrics_evicted $ev, metrics_frame_timeouts $ft, metrics_idle_closed $idle, metrics_refused $ref"
[ "$ev" -ge 94 ] || fail "metrics_evicted is $ev: 110 connections against a limit of 16 must evict"
[ "$ft" -ge 10 ] || fail "metrics_frame_timeouts is $ft: the 10 slowloris connections were not cut"
pass "RESP and metrics ports: evictions, frame deadlines and idle timeouts counted"

# slow_reader WHAT PORT COUNTER HEX COUNT: a client that never reads sends COUNT copies of the
# request HEX (hexadecimal bytes) on PORT, then one more every 0.2 s; the node must disconnect
# it within 10 s (a client that does not read is not buffered without bound) and count it in
# COUNTER.
slow_reader() {
	local what=$1 port=$2 counter=$3 req=$4 count=$5 slow0 slow1
	read -r slow0 <<<"$(counters1 "$counter")"
	python3 - "$host" "$port" "$req" "$count" <<'PY' || fail "the $what was not disconnected within 10 s"
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
req = bytes.fromhex(sys.argv[3])
s.settimeout(10)
try:
    s.sendall(req * int(sys.argv[4]))
    # The node must close the connection: wait for it without reading replies (a peek at the
    # socket state only: SO_ERROR / a zero-byte send eventually fails).
    deadline = time.time() + 10
    while time.time() < deadline:
        time.sleep(0.2)
        s.send(req)
except (BrokenPipeError, ConnectionResetError):
    sys.exit(0)
sys.exit(1)
PY
	read -r slow1 <<<"$(counters1 "$counter")"
	[ "$slow1" -gt "$slow0" ] || fail "$counter did not grow ($slow0 -> $slow1)"
	pass "the $what was disconnected and counted ($counter $slow0 -> $slow1)"
}

say "a reader that never reads: 20,000 status requests, no reply read"
# A frame: 4-byte length, then Request{id: 1, status: {}}.
slow_reader "slow reader" "$cport" client_slow_dropped 0000000408015200 20000

say "a RESP reader that never reads: 40,000 INFO commands, no reply read"
slow_reader "slow RESP reader" "$rport" resp_slow_dropped 494e464f0d0a 40000 # "INFO\r\n"

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
