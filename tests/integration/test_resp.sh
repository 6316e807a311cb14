#!/usr/bin/env bash
# The RESP endpoint with Debian's redis-cli against 3 real nodes (docs/resp.md):
#  1. SET/GET/INCR/DEL and the other commands through every node (followers forward);
#  2. redis-cli's interactive mode through a pipe; pipelined requests answered in order;
#     redis-cli --pipe -a with inline input; inline commands on a raw socket (Redis's quoting,
#     protocol errors, the 64 KiB line and 4 MiB request bounds, each error counted); inline
#     splits compared with redis-server's (when installed); 64 MB of inline lines with the
#     node's peak memory bounded; arrays nested in a command refused at their first byte;
#  3. live fault: INCR from 16 concurrent connections spread over all nodes while the leader is
#     SIGKILLed and restarted: the final counter (read on every node) must lie between the
#     number of INCRs that got an integer reply and that plus the number that got none.
# A checker that can fail: any lost acknowledged INCR, or any INCR applied twice beyond the
# unanswered ones, breaks the bounds.
. "$(dirname "$0")/lib.sh"
export STRATA_TESTS_PY=$top/tests/integration # resp_conn.py, for the Python parts

command -v redis-cli >/dev/null || fail "redis-cli missing (scripts/setup installs redis-tools)"

expect() { # WHAT GOT WANT
	[ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

start_cluster 3 fail-noisy
P=()
for i in 1 2 3; do P[$i]=$(ini_get "node.$i" resp_port); done

say "authentication ([client] auth is on by default; docs/security.md)"
pw=$(cat "$DIR/resp.password") || fail "scripts/cluster wrote no resp.password"
u0=$(counter 1 resp_unauthenticated)
f0=$(counter 1 resp_auth_failed)
expect "GET without AUTH" "$(timeout 10 redis-cli -p "${P[1]}" GET k 2>&1)" \
	"NOAUTH Authentication required."
expect "a wrong password" "$(timeout 10 redis-cli -p "${P[1]}" --no-auth-warning -a "x$pw" GET k 2>&1 | head -n1)" \
	"AUTH failed: WRONGPASS invalid username-password pair or user is disabled."
expect "-a" "$(timeout 10 redis-cli -p "${P[1]}" --no-auth-warning -a "$pw" PING)" "PONG"
expect "--user default --pass" "$(timeout 10 redis-cli -p "${P[1]}" --no-auth-warning --user default --pass "$pw" PING)" "PONG"
got=$(printf 'HELLO 2 AUTH default %s\nPING\n' "$pw" | timeout 10 redis-cli -p "${P[1]}" | tr '\n' ,)
case "$got" in server,strata,*PONG,) ;; *) fail "HELLO 2 AUTH: $got" ;; esac
u1=$(counter 1 resp_unauthenticated)
f1=$(counter 1 resp_auth_failed)
[ "$u1" -gt "$u0" ] && [ "$f1" -gt "$f0" ] || fail "not counted: resp_unauthenticated $u0 -> $u1, resp_auth_failed $f0 -> $f1"
pass "NOAUTH without the password, WRONGPASS with a wrong one (counted); -a, --user/--pass and HELLO AUTH work"
# Every redis-cli below authenticates (redis-cli reads REDISCLI_AUTH).
export REDISCLI_AUTH=$pw

rc() { # PORT ARGS...: one command, redis-cli's raw output
	local port=$1
	shift
	timeout 10 redis-cli -p "$port" "$@"
}

say "basic commands through every node"
expect "PING" "$(rc "${P[1]}" PING)" "PONG"
expect "SET" "$(rc "${P[1]}" SET k v)" "OK"
for i in 1 2 3; do expect "GET via node $i" "$(rc "${P[$i]}" GET k)" "v"; done
expect "INCR 1" "$(rc "${P[2]}" INCR c)" "1"
expect "INCR 2" "$(rc "${P[3]}" INCR c)" "2"
expect "INCRBY" "$(rc "${P[1]}" INCRBY c 40)" "42"
expect "DECR" "$(rc "${P[2]}" DECR c)" "41"
expect "INCR of a non-number" "$(rc "${P[3]}" INCR k)" "ERR value is not an integer or out of range"
expect "SET NX on a present key" "$(rc "${P[2]}" SET k w NX)" ""
expect "SET XX" "$(rc "${P[3]}" SET k w XX)" "OK"
expect "GETSET" "$(rc "${P[1]}" GETSET k x)" "w"
expect "CAS hit" "$(rc "${P[2]}" CAS k x y)" "1"
expect "CAS miss" "$(rc "${P[3]}" CAS k x z)" "0"
expect "MSET" "$(rc "${P[2]}" MSET a 1 b 2)" "OK"
expect "MGET" "$(rc "${P[3]}" MGET a b nope | tr '\n' ,)" "1,2,,"
expect "EXISTS" "$(rc "${P[1]}" EXISTS a b nope)" "2"
expect "DEL" "$(rc "${P[2]}" DEL k a nope)" "2"
for i in 1 2 3; do expect "GET deleted via node $i" "$(rc "${P[$i]}" GET k)" ""; done
expect "unknown command" "$(rc "${P[1]}" FLUSHALL)" "ERR unknown command 'FLUSHALL'"
expect "SELECT 1" "$(rc "${P[1]}" SELECT 1)" "ERR DB index is out of range (only database 0 exists)"
rc "${P[1]}" INFO | grep -q '^kv_leader:[1-3]' || fail "INFO does not name the leader"
pass "basic commands"

say "SCAN with MATCH on a prefix, paged, through every node"
for i in $(seq 1 25); do echo "SET scan:$i v"; done | timeout 10 redis-cli -p "${P[1]}" >/dev/null
want=$(for i in $(seq 1 25); do echo "scan:$i"; done | sort)
for i in 1 2 3; do
	# redis-cli --scan follows the cursors (COUNT 10 by default: three pages).
	got=$(timeout 10 redis-cli -p "${P[$i]}" --scan --pattern 'scan:*' | sort)
	expect "SCAN MATCH scan:* via node $i" "$got" "$want"
done
page=$(rc "${P[2]}" SCAN 0 MATCH 'scan:*' COUNT 5 | tail -n +2 | tr '\n' ' ')
expect "SCAN COUNT 5, first page" "$page" "scan:1 scan:10 scan:11 scan:12 scan:13 "
expect "SCAN MATCH of one key" "$(rc "${P[3]}" SCAN 0 MATCH scan:7 | tail -n +2)" "scan:7"
expect "SCAN of an unknown cursor" "$(rc "${P[1]}" SCAN 12345 | cut -c1-18)" "ERR invalid cursor"
expect "SCAN MATCH with another glob" "$(rc "${P[1]}" SCAN 0 MATCH 's*n' | cut -c1-26)" \
	"ERR SCAN MATCH takes a pre"
pass "SCAN"

say "interactive mode through a pipe, pipelining in order"
out=$(printf 'SET i 1\nINCR i\nGET i\nCLIENT SETNAME t\nCLIENT GETNAME\nECHO hi\nQUIT\n' |
	timeout 10 redis-cli -p "${P[3]}" | tr '\n' ,)
expect "interactive" "$out" "OK,2,2,OK,t,hi,"
out=$( (for _ in $(seq 1 300); do printf '*2\r\n$4\r\nINCR\r\n$1\r\np\r\n'; done) |
	timeout 60 redis-cli -p "${P[2]}" --pipe) || fail "redis-cli --pipe: $out"
echo "$out" | grep -q "errors: 0, replies: 300" || fail "redis-cli --pipe: $out"
expect "pipelined INCRs" "$(rc "${P[1]}" GET p)" "300"
pass "interactive mode and pipelining"

say "redis-cli --pipe -a: AUTH, then inline commands (Redis's quoting) and arrays, all answered"
# redis-cli --pipe -a sends AUTH as an array and waits for its reply, then the input as it is
# (here inline lines: 4000 SETs, 1000 INCRs, quoted words, blank lines, arrays between them), then
# an empty line and an ECHO whose reply tells it everything was answered. About 200 KB of
# inline lines: the node discards their bytes from its read buffer as it goes (resp.c,
# reader_compact) while lines arrive split across reads.
pipe_in=$TMP/pipe.in
{
	for i in $(seq 1 4000); do printf 'SET pa:%d "value %d"\r\n' "$i" "$i"; done
	for i in $(seq 1 1000); do
		printf 'INCR pc\n'
		[ $((i % 100)) -eq 0 ] && printf '\r\n*2\r\n$4\r\nINCR\r\n$2\r\npc\r\n'
	done
	printf '%s\r\n' "SET 'pq k' \"tab\\there \\x41\\\"\"" "  SET   pq2   'it\\'s'  " "ECHO ''"
} >"$pipe_in"
out=$(timeout 60 redis-cli -p "${P[2]}" --no-auth-warning -a "$REDISCLI_AUTH" --pipe <"$pipe_in" 2>&1) ||
	fail "redis-cli --pipe -a: exit status $?: $out"
echo "$out" | grep -q "errors: 0, replies: 5013" || fail "redis-cli --pipe -a: $out"
expect "pipelined inline INCRs" "$(rc "${P[1]}" GET pc)" "1010"
expect "pipelined inline SET" "$(rc "${P[3]}" GET pa:4000)" "value 4000"
expect "double-quoted escapes" "$(rc "${P[1]}" GET 'pq k')" "$(printf 'tab\there A"')"
expect "single-quoted \\'" "$(rc "${P[1]}" GET pq2)" "it's"
pass "redis-cli --pipe -a: 5013 replies, no error"

say "inline commands on a raw socket: quoting, line ends, split lines, protocol errors (counted)"
b0=$(counter 1 resp_bad_requests)
python3 - "${P[1]}" <<'PYEOF' || fail "inline commands"
import os, socket, sys, time
port, pw = int(sys.argv[1]), os.environ["REDISCLI_AUTH"].encode()

sys.path.insert(0, os.environ["STRATA_TESTS_PY"])
from resp_conn import Conn

# AUTH alone, its reply awaited: what redis-cli --pipe -a does before its inline lines.
c = Conn(port)
c.s.sendall(b"AUTH " + pw + b"\r\n")
c.expect("AUTH", b"+OK")
c.s.sendall(b"PING\r\n" + b"\r\n" + b"  \t \r\n" + b"  ECHO   x  \n" +
            b'SET "il k" "a\\x00b\\"c\\\\d\\n"\r\n' + b'GET "il k"\r\n' +
            b"SET 'il q' 'it\\'s \\n'\r\n" + b"GET 'il q'\r\n" +
            b'ECHO "" \r\n' + b"ECHO ab\"c d\"\r\n" +
            b"MSET il:a 1 il:b 2\r\n" + b"MGET il:a 'il:b' \"il:c\"\r\n" +
            b"ECHO \"c d\"'e'\r\n" + b"PING\r\n")
c.expect("inline", b"+PONG", b"x", b"+OK", b'a\x00b"c\\d\n', b"+OK", b"it's \\n", b"",
         b"abc d", b"+OK", [b"1", b"2", None],
         b"-ERR Protocol error: unbalanced quotes in request")
c.closed("after a closing quote that does not end its word")

# One line a byte at a time, an array in between, then a quote left open: the error, counted,
# and the connection closes after the replies before it.
c = Conn(port)
c.s.sendall(b"AUTH " + pw + b"\r\n")
c.expect("AUTH", b"+OK")
for b in b"GET il:a\r\n":
    c.s.sendall(bytes([b]))
    time.sleep(0.002)
c.s.sendall(b"*2\r\n$3\r\nGET\r\n$4\r\nil:b\r\nMGET il:a \"il:b\"\r\nSET \"oops v\r\nPING\r\n")
c.expect("split line", b"1", b"2", [b"1", b"2"],
         b"-ERR Protocol error: unbalanced quotes in request")
c.closed("after a quote left open")

# The 64 KiB bound: a 64 KiB line is a command, a longer one an error with or without its "\n".
c = Conn(port)
c.s.sendall(b"AUTH " + pw + b"\r\n")
c.expect("AUTH", b"+OK")
c.s.sendall(b"ECHO " + b"y" * (65536 - 6) + b"\r\n")
c.expect("a 64 KiB line", b"y" * (65536 - 6))
c.s.sendall(b"ECHO " + b"y" * 65536 + b"\r\nPING\r\n")
c.expect("a longer line", b"-ERR Protocol error: too big inline request")
c.closed("after a too big line")
c = Conn(port)
c.s.sendall(b"AUTH " + pw + b"\r\n" + b"y" * 70000)
c.expect("70000 bytes without a line end", b"+OK", b"-ERR Protocol error: too big inline request")
c.closed("after 70000 bytes without a line end")

# A NUL byte in a line: refused (Redis never finds that line's end; "\x00" writes one).
c = Conn(port)
c.s.sendall(b"AUTH " + pw + b"\r\nSET il:n v\x00junk\r\nGET il:n\r\n")
c.expect("a NUL byte", b"+OK", b"-ERR Protocol error: NUL byte in inline request")
c.closed("after a NUL byte")

# The 4 MiB bound holds for an array still arriving too (it used to be checked only once the
# ring was full or a command held, so a partial request could grow until its deadline).
c = Conn(port)
c.s.sendall(b"AUTH " + pw + b"\r\n*2\r\n$4\r\nECHO\r\n$5000000\r\n")
c.expect("AUTH", b"+OK")
try:
    c.s.sendall(b"x" * 4500000)
except OSError:
    pass # the node may close before it has everything
c.expect("a partial 5 MB request", b"-ERR Protocol error: request larger than 4 MiB")
c.closed("after a partial 5 MB request")

# ... and for an array whose elements are each below it: hiredis moves parsed elements out of
# its buffer, so the bound counts from the array's first byte (it used to count the buffer only:
# this 6 MB MSET reached the KV).
c = Conn(port)
v = b"v" * 3000000
c.s.sendall(b"AUTH " + pw + b"\r\n")
c.expect("AUTH", b"+OK")
try:
    c.s.sendall(b"*5\r\n$4\r\nMSET\r\n$1\r\na\r\n$%d\r\n%s\r\n$1\r\nb\r\n$%d\r\n%s\r\n" %
                (len(v), v, len(v), v))
except OSError:
    pass
c.expect("an array of 6 MB in two elements", b"-ERR Protocol error: request larger than 4 MiB")
c.closed("after an array of 6 MB")

# An array announcing more elements than a command takes: refused at its header (it used to
# wait for the elements, each taking memory once parsed, until the deadline).
c = Conn(port)
c.s.sendall(b"AUTH " + pw + b"\r\n*100000\r\n$4\r\nPING\r\n")
c.expect("*100000", b"+OK", b"-ERR Protocol error: too many arguments")
c.closed("after *100000")
PYEOF
b1=$(counter 1 resp_bad_requests)
[ "$b1" -eq $((b0 + 8)) ] || fail "resp_bad_requests went from $b0 to $b1, not up by 8"
pass "inline quoting and escapes, split lines, unbalanced quotes, a NUL byte, the 64 KiB and 4 MiB bounds, an array's element count (8 protocol errors counted)"

say "inline splitting agrees with redis-server's"
# The same lines (the quoting cases of the unit test, then 20,000 random lines over quotes,
# backslashes, hex digits and blanks) split by resp_inline.c (test_resp_inline --split) and by
# redis-server, as the arguments of RPUSH read back with LRANGE: the same words, or both refuse
# the line. No NUL bytes: redis-server never finds the end of such a line (strata refuses it).
if ! command -v redis-server >/dev/null; then
	echo "   redis-server not installed: the comparison is skipped"
else
	rport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p "$TMP/redis"
	redis-server --port "$rport" --bind 127.0.0.1 --dir "$TMP/redis" --save "" --appendonly no \
		>"$TMP/redis/log" 2>&1 &
	rpid=$!
	BG_PIDS+=("$rpid")
	seed=$RANDOM
	python3 - "$rport" "$seed" "$top/build/tests/test_resp_inline" <<'PYEOF' || fail "inline splitting differs from redis-server's (seed $seed)"
import os, random, socket, subprocess, sys, time
port, seed, split = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        break
    except OSError:
        time.sleep(0.05)
sys.path.insert(0, os.environ["STRATA_TESTS_PY"])
from resp_conn import Conn
random.seed(seed)
alpha = b"ab \t\r\v\f\"'\\x4F0"
lines = [b'SET "a b" \'c\'', b'"\\x41\\x7a\\xff"', b"'it\\'s'", b'ab"c d"', b'"a"b', b"'a'b",
         b'"abc\\', b"'abc\\'", b'"\\q\\x\\xg1\\x4"', b'x "\\x4', b"a\vb\fc \v d", b'"a"\vb',
         b'""', b"''", b'"a\\nb\\rc\\td\\be\\af"', b"'a\\nb'", b'"\'" \'"\''] + \
        [bytes(random.choice(alpha) for _ in range(random.randint(0, 14))) for _ in range(20000)]
ours = subprocess.run([split, "--split"], input=b"".join(l.hex().encode() + b"\n" for l in lines),
                      capture_output=True, check=True).stdout.decode().split("\n")
c, bad = Conn(port), 0
for i, l in enumerate(lines):
    c.s.sendall(b"RPUSH l " + l + b"\r\n")
    r = c.reply()
    if r is None or r.startswith(b"-ERR Protocol error"):
        theirs = "ERR"
        c = Conn(port)
    elif r.startswith(b":"):
        c.s.sendall(b"LRANGE l 0 -1\r\nDEL l\r\n")
        theirs = ",".join("w" + w.hex() for w in c.reply())
        c.reply()
    else:
        theirs = "" # RPUSH without a value: no words
    if theirs != ours[i]:
        bad += 1
        if bad <= 5:
            print("line %r: redis-server %s, strata %s" % (l, theirs, ours[i]))
print("   %d lines, %d split differently" % (len(lines), bad))
sys.exit(1 if bad else 0)
PYEOF
	kill "$rpid"
	wait "$rpid" 2>/dev/null
	BG_PIDS=()
	pass "inline splitting: the same words as redis-server's, or both refuse (seed $seed)"
fi

say "64 MB of inline lines on one connection: the node's read buffer stays bounded"
# hiredis drops the bytes of the arrays it parsed; the bytes of inline lines are dropped by
# resp.c (reader_compact). 1,100 blank lines of 61,000 spaces each (no words: no reply, nothing
# queued), then a PING: the node's peak resident memory (VmHWM) must grow by less than 16 MB.
# Without the dropping, the read buffer holds all 64 MB and the peak grows by at least that.
n1pid=$(cat "$DIR/pids/node-1.pid")
hwm() { awk '/^VmHWM:/ { print int($2 / 1024) }' "/proc/$1/status"; }
peak_bounded() { # BEFORE_MB WHAT WHY: node 1's peak resident memory grew by less than 16 MB
	local m1
	m1=$(hwm "$n1pid")
	echo "   node 1 peak resident memory: $1 MB before, $m1 MB after"
	if ldd "$STRATAD" 2>/dev/null | grep -q libasan; then
		# AddressSanitizer keeps freed memory in quarantine: the peak says nothing here.
		pass "$2 (memory not checked: a sanitized stratad)"
	else
		[ $((m1 - $1)) -lt 16 ] ||
			fail "node 1's peak resident memory grew from $1 to $m1 MB: $3"
		pass "$2; node 1's peak memory $1 -> $m1 MB"
	fi
}
m0=$(hwm "$n1pid")
python3 - "${P[1]}" <<'PYEOF' || fail "64 MB of blank lines"
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=60)
s.sendall(b"AUTH " + os.environ["REDISCLI_AUTH"].encode() + b"\r\n")
f = s.makefile("rb")
assert f.readline() == b"+OK\r\n"
line = b" " * 61000 + b"\r\n"
for _ in range(1100):
    s.sendall(line)
s.sendall(b"PING\r\n")
got = f.readline()
if got != b"+PONG\r\n":
    print("after 64 MB of blank lines: got %r" % got)
    sys.exit(1)
PYEOF
peak_bounded "$m0" "64 MB of inline lines answered" "the read buffer kept the inline lines"

say "arrays nested in a command are refused at their first byte, as Redis does"
# A command is one array of bulk strings. hiredis would parse nested arrays, allocating each
# one's announced elements and an object per element (about 14 bytes of memory per byte sent):
# four connections each sending 2 MB of an unfinished nested request used to hold some 100 MB
# until the frame deadline. Now the first nested array ends the request with Redis's error.
b0=$(counter 1 resp_bad_requests)
m0=$(hwm "$n1pid")
python3 - "${P[1]}" <<'PYEOF' || fail "nested arrays"
import os, socket, sys, time
port = int(sys.argv[1])
def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"AUTH " + os.environ["REDISCLI_AUTH"].encode() + b"\r\n")
    f = s.makefile("rb")
    assert f.readline() == b"+OK\r\n"
    return s, f
s, f = conn()
s.sendall(b"*2\r\n*1\r\n$3\r\nGET\r\n")
got = f.readline()
if got != b"-ERR Protocol error: expected '$', got '*'\r\n":
    print("a nested array: got %r" % got)
    sys.exit(1)
if f.readline() != b"":
    print("the connection stayed open after the protocol error")
    sys.exit(1)
child = b"*2049\r\n" + b":1\r\n" * 2049
big = []
for _ in range(4):
    c, _f = conn()
    try:
        c.sendall(b"*2049\r\n" + child * 240)
    except OSError:
        pass  # refused and closed while sending
    big.append(c)
time.sleep(1)  # let the node read what it will of them
p, pf = conn()
p.sendall(b"PING\r\n")
if pf.readline() != b"+PONG\r\n":
    print("no PONG after the nested requests")
    sys.exit(1)
PYEOF
b1=$(counter 1 resp_bad_requests)
[ "$b1" -eq $((b0 + 5)) ] || fail "resp_bad_requests went from $b0 to $b1, not up by 5"
peak_bounded "$m0" "nested arrays refused at their first byte and counted" "nested arrays were parsed"

say "one connection, many commands in the KV at once, replies in order"
# 200 SETs on distinct keys, a SET/GET/SET/GET on one key, 200 GETs and two INCRs, written in
# one go on one connection: every reply in order and right, commands on one key in the order
# sent, and INFO shows more than one command of the connection in the KV at once.
# The node's replies of one step toward a connection leave in one write (lsn_cork, as on the
# client port): the pipeline's 407 replies (AUTH too) must take fewer than 407 / 4 socket
# writes (the node's resp_replies and resp_writes, from INFO before and after). With the cork
# left out (a stratad built with -DSTRATA_RESP_CORK_BROKEN=1, make check-resp-cork-broken) each
# reply the KV releases is its own write, and this fails.
info_get() { # PORT FIELD...: the fields' values from one INFO, on one line
	local port=$1
	shift
	rc "$port" INFO | tr -d '\r' | awk -F: -v want="$*" \
		'BEGIN { n = split(want, w, " ") } { v[$1] = $2 } END { for (i = 1; i <= n; i++) printf "%s ", v[w[i]]; print "" }'
}
for i in 1 2; do
	read -r r0 w0 < <(info_get "${P[$i]}" resp_replies resp_writes)
	python3 - "${P[$i]}" "n$i" <<'PYEOF' || fail "pipeline through node $i"
import socket, sys
port, tag = int(sys.argv[1]), sys.argv[2].encode()
def enc(*a):
    return b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a)
import os
cmds, want = [enc(b"AUTH", os.environ["REDISCLI_AUTH"].encode())], [b"+OK"]
for i in range(200):
    cmds.append(enc(b"SET", tag + b"-r%d" % i, b"x%d" % i)); want.append(b"+OK")
for v in (b"1", b"2"):
    cmds.append(enc(b"SET", tag + b"-same", v)); want.append(b"+OK")
    cmds.append(enc(b"GET", tag + b"-same")); want.append(v)
for i in range(200):
    cmds.append(enc(b"GET", tag + b"-r%d" % i)); want.append(b"x%d" % i)
cmds += [enc(b"INCR", tag + b"-c"), enc(b"INCR", tag + b"-c")]; want += [b":1", b":2"]
s = socket.create_connection(("127.0.0.1", port), timeout=20)
s.sendall(b"".join(cmds))
f = s.makefile("rb")
got = []
for _ in want:
    line = f.readline().rstrip(b"\r\n")
    if line.startswith(b"$"):
        line = f.read(int(line[1:]) + 2)[:-2]
    got.append(line)
bad = [k for k in range(len(want)) if got[k] != want[k]]
if bad:
    print("reply %d: got %r, expected %r" % (bad[0], got[bad[0]], want[bad[0]]))
    sys.exit(1)
PYEOF
	read -r conc r1 w1 < <(info_get "${P[$i]}" resp_concurrent_max resp_replies resp_writes)
	[ "${conc:-0}" -gt 1 ] || fail "node $i: at most ${conc:-?} commands of a connection in the KV at once"
	pass "node $i: 405 pipelined replies in order, up to $conc commands in the KV at once"
	# Between the two INFO snapshots: the first INFO's reply, the pipeline's AUTH and 406
	# commands, the second redis-cli's AUTH (each redis-cli reply its own write).
	replies=$((r1 - r0))
	writes=$((w1 - w0 - 2))
	[ "$replies" -eq 409 ] || fail "node $i: resp_replies counted $replies replies, not 1 + 407 + 1"
	[ "$writes" -ge 1 ] && [ $((writes * 4)) -lt 407 ] ||
		fail "node $i: 407 pipelined replies in $writes socket writes: the replies of one step do not leave together"
	pass "node $i: 407 pipelined replies in $writes socket writes"
done

say "INCR from 16 connections while the leader is killed and restarted"
leader=$(rc "${P[1]}" INFO | sed -n 's/^kv_leader:\([0-9]*\).*/\1/p' | tr -d '\r')
[ -n "$leader" ] && [ "$leader" -ge 1 ] || fail "no leader"
res=$TMP/incr
mkdir -p "$res"
stop_at=$(($(now_ms) + 9000))
for w in $(seq 1 16); do
	port=${P[$(((w - 1) % 3 + 1))]}
	(
		ok=0 none=0
		while [ "$(now_ms)" -lt "$stop_at" ]; do
			r=$(timeout 5 redis-cli -p "$port" INCR ctr 2>/dev/null)
			if [[ "$r" =~ ^[0-9]+$ ]]; then ok=$((ok + 1)); else none=$((none + 1)); fi
		done
		echo "$ok $none" >"$res/$w"
	) &
	BG_PIDS+=($!)
done
sleep 2
"$CLUSTER" kill "$leader" --dir "$DIR" >/dev/null || fail "kill $leader"
sleep 3
"$CLUSTER" restart "$leader" --dir "$DIR" >/dev/null || fail "restart $leader"
for p in "${BG_PIDS[@]}"; do wait "$p"; done
BG_PIDS=()
ok=0 none=0
for w in $(seq 1 16); do
	read -r a b <"$res/$w" || fail "worker $w left no result"
	ok=$((ok + a))
	none=$((none + b))
done
echo "   $ok INCRs answered, $none without an answer"
[ "$ok" -gt 0 ] || fail "no INCR was answered"
for i in 1 2 3; do
	v=""
	for _ in $(seq 1 50); do
		v=$(rc "${P[$i]}" GET ctr 2>/dev/null) && [[ "$v" =~ ^[0-9]+$ ]] && break
		sleep 0.2
	done
	[[ "$v" =~ ^[0-9]+$ ]] || fail "node $i: GET ctr gave '$v'"
	[ "$v" -ge "$ok" ] || fail "node $i: counter $v < $ok answered INCRs (an acknowledged INCR lost)"
	[ "$v" -le $((ok + none)) ] || fail "node $i: counter $v > $ok + $none (an INCR applied twice)"
	echo "   node $i: counter $v"
done
pass "counter within [answered, answered + unanswered] on every node"
