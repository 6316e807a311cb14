#!/usr/bin/env bash
# Client authentication and encrypted client sessions ([client] auth, docs/security.md).
#
# On a 3-node cluster started by scripts/cluster (which creates client.key; auth is on by
# default):
# 1. strata with the cluster's client key writes and reads; the node counts the handshakes.
# 2. Without the key: a clear error, no data, exit 1, counted (client_unauthenticated).
# 3. With another cluster's key: "authentication failed", no data, counted (client_auth_failed).
# 4. A session captured through a recording proxy carries no plaintext of the written value;
#    replayed byte for byte to the node it is refused at the handshake (client_auth_failed), and
#    the write it carried is not applied again.
# 5. A session whose first request frame has one bit flipped in transit is closed by the node
#    (client_decrypt_failed) and the request is not applied.
# 6. A config that turns auth off while a node serves clients on a non-loopback address is
#    refused at start, with the reason.
# 7. Encrypted peer links ([cluster] encrypt = on, set for this cluster): the cluster works, and
#    captured peer datagrams sent again are refused (rej_replay), with a flipped bit too
#    (rej_mac). (Whether a sealed datagram holds plaintext is checked by test_link_seal: a packet
#    capture on this machine's loopback was found to miss datagrams, so a grep of it could not
#    fail.)
. "$(dirname "$0")/lib.sh"
t0=$(now_ms)

say "starting 3 nodes (fail-noisy, [cluster] encrypt = on) in $DIR"
"$CLUSTER" start -n 3 --model fail-noisy --encrypt --dir "$DIR" || fail "scripts/cluster start failed"
[ "$(ini_get cluster encrypt)" = on ] || fail "the config does not say encrypt = on"
wait_states 5000 1 alive 2 3
[ -f "$DIR/client.key" ] || fail "scripts/cluster did not create client.key"
mode=$(stat -c %a "$DIR/client.key")
[ "$mode" = 600 ] || fail "client.key has mode $mode, not 600"
host=$(ini_get node.1 host)
cport=$(ini_get node.1 client_port)

say "1. with the client key"
"$STRATA" --dir "$DIR" -n 1 kv put auth/k v-one >/dev/null || fail "kv put with the key failed"
got=$("$STRATA" --dir "$DIR" -n 1 kv get auth/k) || fail "kv get with the key failed"
[ "$got" = v-one ] || fail "kv get returned '$got', not v-one"
ok0=$(counter 1 client_auth_ok)
[ "$ok0" -ge 2 ] || fail "client_auth_ok is $ok0 after two authenticated commands"
pass "authenticated put/get work (client_auth_ok = $ok0)"

say "2. without the client key"
mkdir -p "$TMP/nokey"
cp "$DIR/cluster.ini" "$TMP/nokey/"
u0=$(counter 1 client_unauthenticated)
out=$("$STRATA" --dir "$TMP/nokey" -n 1 kv get auth/k 2>&1)
rc=$?
echo "  $out"
[ $rc = 1 ] || fail "kv get without the key exited $rc, not 1"
case "$out" in *"client authentication required"*) ;; *) fail "no clear error without the key" ;; esac
case "$out" in *v-one*) fail "the value leaked to a client without the key" ;; esac
u1=$(counter 1 client_unauthenticated)
[ "$u1" -gt "$u0" ] || fail "client_unauthenticated did not grow ($u0 -> $u1)"
pass "refused with a clear error and counted ($u0 -> $u1)"

say "3. with another cluster's key"
"$STRATAD" client-keygen --out "$TMP/other.key" >/dev/null || fail "client-keygen failed"
f0=$(counter 1 client_auth_failed)
out=$(STRATA_CLIENT_KEY=$TMP/other.key "$STRATA" --dir "$DIR" -n 1 kv get auth/k 2>&1)
rc=$?
echo "  $out"
[ $rc != 0 ] || fail "kv get with a wrong key succeeded"
# A definite failure (exit 1): nothing was sent, and a retry with the same key cannot succeed.
[ $rc = 1 ] || fail "kv get with a wrong key exited $rc, expected 1 (definite failure)"
case "$out" in *"kv get: "*"authentication failed"*) ;; *) fail "no clear error with a wrong key" ;; esac
case "$out" in *v-one*) fail "the value leaked to a client with a wrong key" ;; esac
f1=$(counter 1 client_auth_failed)
[ "$f1" -gt "$f0" ] || fail "client_auth_failed did not grow ($f0 -> $f1)"
pass "refused and counted ($f0 -> $f1)"

# A one-connection TCP proxy to node 1: records what the client sends (MODE record) or flips
# one bit of the first request frame after the handshake (MODE flip: the hello frame is 4 + 40
# bytes and message 3 is 4 + 56, so byte 118 is inside the first sealed request).
proxy() { # MODE PORTFILE CAPTURE
	python3 - "$host" "$cport" "$@" <<'PY' &
import select, socket, sys
host, port, mode, portfile, capture = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
open(portfile + ".tmp", "w").write(str(ls.getsockname()[1]))
import os; os.rename(portfile + ".tmp", portfile)
ls.settimeout(20)
c, _ = ls.accept()
u = socket.create_connection((host, port))
sent = bytearray()
flip_at = 118
while True:
    r, _, _ = select.select([c, u], [], [], 20)
    if not r:
        break
    if c in r:
        b = c.recv(65536)
        if not b:
            break
        b = bytearray(b)
        if mode == "flip" and len(sent) <= flip_at < len(sent) + len(b):
            b[flip_at - len(sent)] ^= 0x01
        sent += b
        u.sendall(b)
    if u in r:
        b = u.recv(65536)
        if not b:
            break
        c.sendall(b)
open(capture, "wb").write(bytes(sent))
PY
	BG_PIDS+=($!)
}
wait_file() {
	for _ in $(seq 1 100); do [ -s "$1" ] && return 0; sleep 0.05; done
	fail "$1 did not appear"
}

say "4. a captured session: no plaintext, and replaying it is refused"
proxy record "$TMP/p1.port" "$TMP/p1.cap"
wait_file "$TMP/p1.port"
"$STRATA" --dir "$DIR" -e "127.0.0.1:$(cat "$TMP/p1.port")" kv put auth/r secret-value-4242 >/dev/null ||
	fail "kv put through the recording proxy failed"
wait_file "$TMP/p1.cap"
bytes=$(stat -c %s "$TMP/p1.cap")
[ "$bytes" -gt 104 ] || fail "the capture holds only $bytes bytes"
if grep -q -a "secret-value-4242" "$TMP/p1.cap" || grep -q -a "auth/r" "$TMP/p1.cap"; then
	fail "the captured session contains the written key or value in clear"
fi
pass "$bytes captured bytes, neither the key nor the value in clear"
"$STRATA" --dir "$DIR" -n 1 kv put auth/r after-capture >/dev/null || fail "second put failed"
f0=$(counter 1 client_auth_failed)
reply=$(python3 - "$host" "$cport" "$TMP/p1.cap" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
s.sendall(open(sys.argv[3], "rb").read())
got = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
except socket.timeout:
    print("node kept the replayed connection open")
print("".join(ch for ch in got[4 + 96:].decode("latin-1") if ch.isprintable()))
PY
)
echo "  node answered: $(echo "$reply" | tr -cd '[:print:]' | head -c 120)"
case "$reply" in *"kept the replayed connection open"*) fail "the node kept the replayed session open" ;; esac
case "$reply" in *"authentication failed"*) ;; *) fail "no authentication error for the replay" ;; esac
f1=$(counter 1 client_auth_failed)
[ "$f1" -gt "$f0" ] || fail "client_auth_failed did not grow on the replay ($f0 -> $f1)"
got=$("$STRATA" --dir "$DIR" -n 1 kv get auth/r) || fail "kv get failed"
[ "$got" = after-capture ] || fail "the replayed write was applied: auth/r = '$got'"
pass "the replay was refused and counted ($f0 -> $f1); auth/r is still after-capture"

say "5. one bit flipped in a session frame"
d0=$(counter 1 client_decrypt_failed)
proxy flip "$TMP/p2.port" "$TMP/p2.cap"
wait_file "$TMP/p2.port"
out=$("$STRATA" --dir "$DIR" -e "127.0.0.1:$(cat "$TMP/p2.port")" --timeout 2000 kv put auth/t tampered 2>&1)
rc=$?
echo "  $out"
[ $rc != 0 ] || fail "a tampered request was answered with success"
d1=$(counter 1 client_decrypt_failed)
[ "$d1" -gt "$d0" ] || fail "client_decrypt_failed did not grow ($d0 -> $d1)"
got=$("$STRATA" --dir "$DIR" -n 1 kv get auth/t 2>&1)
case "$got" in *tampered*) fail "the tampered write was applied" ;; esac
pass "the tampered frame was refused and counted ($d0 -> $d1); auth/t was not written"

say "6. auth = off on a non-loopback client address is refused at start"
mkdir -p "$TMP/open"
sed -e 's/^host = .*/host = 192.0.2.1/' -e 's/^auth = on/auth = off/' "$DIR/cluster.ini" \
	>"$TMP/open/cluster.ini"
grep -q '^auth = off' "$TMP/open/cluster.ini" || fail "the config has no auth line to turn off"
out=$("$STRATAD" --check-config --config "$TMP/open/cluster.ini" --id 1 \
	--key "$DIR/keys/node-1.key" 2>&1)
rc=$?
echo "  $out"
[ $rc = 2 ] || fail "stratad accepted auth = off on 192.0.2.1 (exit $rc)"
case "$out" in *"not a loopback address"*) ;; *) fail "the refusal does not say why" ;; esac
sed -i -e 's/^host = .*/host = 127.0.0.1/' "$TMP/open/cluster.ini"
"$STRATAD" --check-config --config "$TMP/open/cluster.ini" --id 1 --key "$DIR/keys/node-1.key" \
	>/dev/null 2>&1 || fail "auth = off on loopback was refused"
pass "refused with the reason; the same config on loopback is accepted"

say "7. encrypted peer links"
ports=""
for i in 1 2 3; do ports="$ports $(ini_get "node.$i" port)"; done
uport=$(ini_get node.1 port)
python3 - "$TMP/lo.cap" $ports <<'PY' &
# Every packet on the loopback interface for 4 s (AF_PACKET: the test runs as root); writes
# "udp <dst port> <hex payload>" per peer datagram and "raw <hex>" per other packet.
import binascii, socket, sys, time
out, peer_ports = sys.argv[1], {int(p) for p in sys.argv[2:]}
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(3))
s.bind(("lo", 0))
s.settimeout(0.2)
end = time.time() + 4
lines = []
while time.time() < end:
    try:
        pkt = s.recv(70000)
    except socket.timeout:
        continue
    ip = pkt[14:]
    if len(ip) > 28 and ip[0] >> 4 == 4 and ip[9] == 17:
        ihl = (ip[0] & 15) * 4
        dport = int.from_bytes(ip[ihl + 2:ihl + 4], "big")
        if dport in peer_ports:
            lines.append(f"udp {dport} {binascii.hexlify(ip[ihl + 8:]).decode()}")
            continue
    lines.append("raw " + binascii.hexlify(pkt).decode())
open(out + ".tmp", "w").write("\n".join(lines) + "\n")
import os; os.rename(out + ".tmp", out)
PY
cap_pid=$!
BG_PIDS+=($cap_pid)
sleep 0.5
"$STRATA" --dir "$DIR" -n 2 kv put enc/k plaintext-probe-7731 >/dev/null || fail "kv put failed"
wait "$cap_pid" 2>/dev/null
wait_file "$TMP/lo.cap"
ndg=$(grep -c '^udp ' "$TMP/lo.cap")
[ "$ndg" -ge 10 ] || fail "only $ndg peer datagrams captured"
got=$("$STRATA" --dir "$DIR" -n 3 kv get enc/k) || fail "kv get on node 3 failed"
[ "$got" = plaintext-probe-7731 ] || fail "node 3 read '$got'"
pass "the encrypted cluster writes and reads; $ndg peer datagrams captured"
r0=$(counter 1 rej_replay)
m0=$(counter 1 rej_mac)
python3 - "$TMP/lo.cap" "$uport" <<'PY' || fail "no captured datagram to node 1 to replay"
import binascii, socket, sys
cap, port = sys.argv[1], int(sys.argv[2])
dg = [binascii.unhexlify(l.split()[2]) for l in open(cap) if l.startswith(f"udp {port} ")]
if not dg:
    sys.exit(1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for d in dg[:20]:
    s.sendto(d, ("127.0.0.1", port))              # a replay, byte for byte
for d in dg[:20]:
    b = bytearray(d)
    b[40] ^= 0x10                                  # one bit of the sealed body
    s.sendto(bytes(b), ("127.0.0.1", port))
PY
sleep 0.3
r1=$(counter 1 rej_replay)
m1=$(counter 1 rej_mac)
[ "$r1" -gt "$r0" ] || fail "replayed datagrams not counted (rej_replay $r0 -> $r1)"
[ "$m1" -ge $((m0 + 1)) ] || fail "altered datagrams not counted (rej_mac $m0 -> $m1)"
wait_states 2000 1 alive 2 3
pass "replayed datagrams refused (rej_replay $r0 -> $r1), altered ones too (rej_mac $m0 -> $m1); node 1 fine"

echo "test_client_auth: ok ($(($(now_ms) - t0)) ms)"
