#!/usr/bin/env bash
# `strata watch` on an 80x24 terminal keeps its header and every node's row while events
# accumulate: each frame fits 24 rows and 80 columns (the events area gets what is left).
. "$(dirname "$0")/lib.sh"

start_cluster 5 fail-noisy

say "watch in an 80x24 pseudo-terminal while nodes crash and come back"
python3 - "$STRATA" "$DIR" "$CLUSTER" >"$TMP/frames" 2>"$TMP/err" <<'PY' &
import fcntl, os, pty, select, signal, struct, subprocess, sys, termios, time
strata, d, cluster = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.execv(strata, [strata, "--dir", d, "watch"])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
os.kill(pid, signal.SIGWINCH)
buf = b""
end = time.time() + 9
while time.time() < end:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
os.kill(pid, signal.SIGINT)
os.waitpid(pid, 0)
sys.stdout.buffer.write(buf)
PY
wpid=$!
BG_PIDS+=("$wpid")
sleep 1.5
# Crashes and restarts make events: suspicions and leader changes on every node.
for id in 1 2; do
	"$CLUSTER" kill "$id" --dir "$DIR" >/dev/null
	sleep 1
done
"$CLUSTER" start --dir "$DIR" >/dev/null || fail "restart failed"
wait "$wpid" || { cat "$TMP/err"; fail "the watch driver failed"; }
python3 - "$TMP/frames" <<'PY' || fail "a frame does not fit 80x24"
import re, sys
data = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
frames = [f for f in data.split("\x1b[H\x1b[2J") if f.strip()]
assert len(frames) >= 3, "only %d frames" % len(frames)
last = frames[-1].replace("\r", "")
lines = last.rstrip("\n").split("\n")
events = sum(1 for l in lines if re.match(r"  \d\d:\d\d:\d\d", l))
print("frames:", len(frames), "last frame rows:", len(lines), "events shown:", events)
assert events >= 5, "the last frame shows only %d events: not enough happened" % events
for f in frames:
    ls = f.replace("\r", "").rstrip("\n").split("\n")
    assert len(ls) <= 23, "a frame of %d rows on a 24-row terminal:\n%s" % (len(ls), f)
    for l in ls:
        assert len(l) <= 80, "a row of %d columns: %r" % (len(l), l)
    assert ls[0].startswith("strata watch"), "the header is gone: %r" % ls[0]
    assert sum(1 for l in ls if l.startswith("node ")) == 5, "not every node row is shown"
PY
pass "every frame fits 80x24 with the header and all 5 node rows"
