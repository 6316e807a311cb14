# Shared helpers of the integration tests (sourced, never run: only test_*.sh are tests).
#
# Each test starts its own clusters in subdirectories of a fresh temporary directory $TMP with free loopback ports and
# always stops it in an EXIT trap, by the PIDs in the pid files (scripts/cluster stop), even
# when the test fails or is interrupted. On failure the nodes' log tails are printed, and with
# KEEP_FAILED=DIR the whole temporary directory is copied under DIR before it is removed.
set -u

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STRATA=${STRATA:-$top/build/strata}
STRATAD=${STRATAD:-$top/build/stratad}
CLUSTER=$top/scripts/cluster
# A final read of every key appended to a workload history (see the script):
#   python3 "$FINAL_READS" HIST "$STRATA" DIR [NODE...]
FINAL_READS=$top/tests/integration/final_reads.py
export STRATA STRATAD
[ -x "$STRATA" ] || { echo "missing $STRATA: run make" >&2; exit 1; }
[ -x "$STRATAD" ] || { echo "missing $STRATAD: run make" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/strata-it.XXXXXX")
DIR=$TMP/cluster
export DIR
BG_PIDS=()
_failed=0

cleanup() {
	local rc=$?
	local p
	for p in "${BG_PIDS[@]+"${BG_PIDS[@]}"}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	local d
	for d in "$TMP"/*/; do
		# scripts/cluster stop signals by PID only (and resumes paused nodes first).
		[ -f "$d/cluster.ini" ] && "$CLUSTER" stop --dir "$d" >/dev/null 2>&1
	done
	if [ $rc -ne 0 ] || [ $_failed -ne 0 ]; then
		for f in "$TMP"/*/logs/node-*.log; do
			[ -f "$f" ] || continue
			echo "--- last lines of $f"
			tail -n 15 "$f"
		done
	fi
	# KEEP_FAILED=DIR: a failed test's whole temporary directory (logs, configs, histories)
	# is copied under DIR before it is removed, for the diagnosis.
	if [ -n "${KEEP_FAILED:-}" ] && { [ $rc -ne 0 ] || [ $_failed -ne 0 ]; }; then
		mkdir -p "$KEEP_FAILED" && cp -a "$TMP" "$KEEP_FAILED/" &&
			echo "--- kept $TMP in $KEEP_FAILED/$(basename "$TMP")"
	fi
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "== $*"; }
pass() { echo "ok: $*"; }
fail() {
	echo "FAIL: $*"
	_failed=1
	exit 1
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ini_set FILE SECTION KEY VALUE: sets KEY = VALUE in [SECTION] of the config FILE: in the
# section where the file has it (replacing the key's line if it is set there already), else in
# a new section at the end. The config refuses a second [SECTION] and a key set twice, so a test
# that adds its settings to a config scripts/cluster wrote (which may have [smr] already, e.g.
# with STRATA_CLUSTER_THRIFTY) uses this rather than appending a section.
ini_set() {
	python3 - "$@" <<'EOF' || fail "could not set [$2] $3 in $1"
import re, sys
path, section, key, value = sys.argv[1:5]
lines = open(path).read().split("\n")
head = re.compile(r"^\[\s*" + re.escape(section) + r"\s*\]")
keyre = re.compile(r"^" + re.escape(key) + r"\s*=")
start = next((i for i, l in enumerate(lines) if head.match(l)), None)
if start is None:
    if lines and lines[-1] == "":
        lines.pop()
    lines += ["", f"[{section}]", f"{key} = {value}", ""]
else:
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    at = next((i for i in range(start + 1, end) if keyre.match(lines[i])), None)
    if at is None:
        lines.insert(start + 1, f"{key} = {value}")
    else:
        lines[at] = f"{key} = {value}"
open(path, "w").write("\n".join(lines))
EOF
}

# start_cluster N MODEL: a fresh cluster of N nodes in $DIR.
start_cluster() {
	say "starting $1 nodes ($2) in $DIR"
	"$CLUSTER" start -n "$1" --model "$2" --dir "$DIR" || fail "scripts/cluster start failed"
}

# config_with_ports FILE N: a cluster config of N nodes on 127.0.0.1 with free ports (a UDP
# peer port and a TCP client port each, picked as scripts/cluster picks them): standard input
# (the [cluster] section and any others), then [node.1] .. [node.N].
config_with_ports() {
	local head
	head=$(cat)
	python3 - "$1" "$2" "$head" <<'EOF' || fail "could not write the config $1"
import socket, sys
path, n, head = sys.argv[1], int(sys.argv[2]), sys.argv[3]
socks = []
for i in range(2 * n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if i % 2 == 0 else socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
ports = [s.getsockname()[1] for s in socks]
with open(path, "w") as fh:
    fh.write(head + "\n")
    for i in range(n):
        fh.write(f"\n[node.{i + 1}]\nhost = 127.0.0.1\nport = {ports[2 * i]}\n"
                 f"client_port = {ports[2 * i + 1]}\n")
EOF
}

# ini_get SECTION KEY: a value of $DIR/cluster.ini.
ini_get() {
	awk -v sec="[$1]" -v key="$2" '
		/^[[:space:]]*\[/ { gsub(/[[:space:]]/, ""); in_sec = ($0 == sec); next }
		in_sec {
			n = index($0, "="); if (n == 0) next
			k = substr($0, 1, n - 1); v = substr($0, n + 1)
			gsub(/[[:space:]]/, "", k); gsub(/^[[:space:]]+|[[:space:]]+$/, "", v)
			if (k == key) { print v; exit }
		}' "$DIR/cluster.ini"
}

# status_json ID: node ID's status as JSON (fails the test if it does not answer).
status_json() {
	"$STRATA" --dir "$DIR" -n "$1" --timeout 1000 -w json status || fail "node $1 does not answer status"
}

# json_get EXPR: evaluates a Python expression on the JSON document on stdin (bound to d).
json_get() {
	python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# counter ID NAME: one counter of node ID.
counter() {
	status_json "$1" | json_get "d['counters'].get('$2', -1)"
}

# wait_states BOUND_MS PEER STATES OBSERVER...: polls every observer's status every 50 ms until
# each reports PEER in one of STATES (comma-separated); prints, per observer, the milliseconds it
# took (from the call) and fails if any observer exceeds BOUND_MS. T0_MS (ms since the epoch)
# may give an earlier start, e.g. the moment of a kill. WATCH_LOG (optional): the output of a
# `strata watch -w json` started before T0_MS; an observer's time is then the wall-clock stamp
# its node put on the event of that change (the detector's own time, not the time a status
# poll, one process per observer, saw it), and the polls only wait for every observer (up to
# POLL_MS, default BOUND_MS + 5000). An observer with no such event keeps its poll time.
wait_states() {
	local bound=$1 peer=$2 states=$3
	shift 3
	python3 - "$bound" "$peer" "$states" "${T0_MS:-0}" "$@" <<'EOF' || fail "peer $peer not in state {$states} at every observer within $bound ms"
import json, os, subprocess, sys, time
bound, peer, states, t0 = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(","), int(sys.argv[4])
observers = [int(x) for x in sys.argv[5:]]
watch_log = os.environ.get("WATCH_LOG", "")
poll_bound = int(os.environ.get("POLL_MS", bound + 5000)) if watch_log else bound
start = t0 / 1000.0 if t0 else time.time()
pending = set(observers)
seen = {}
while pending:
    for o in sorted(pending):
        r = subprocess.run([os.environ["STRATA"], "--dir", os.environ["DIR"], "-n", str(o),
                            "--timeout", "500", "-w", "json", "status"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            continue
        d = json.loads(r.stdout)
        st = {p["id"]: p["state"] for p in d["peers"]}
        if st.get(peer) in states:
            seen[o] = (int((time.time() - start) * 1000), st.get(peer))
            pending.discard(o)
    elapsed = int((time.time() - start) * 1000)
    if pending and elapsed > poll_bound:
        for o in sorted(pending):
            print(f"  node {o}: peer {peer} still not in {states} after {elapsed} ms")
        sys.exit(1)
    if pending:
        time.sleep(0.05)
if watch_log:
    time.sleep(0.3)  # the watch prints what the nodes streamed; let it catch up
    try:
        lines = open(watch_log).read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        o = e.get("node")
        if (e.get("kind") == "fd" and e.get("peer") == peer and e.get("state") in states
                and o in seen and e.get("source") == "event" and t0):
            ms = int(e["wall_ms"]) - t0
            if ms >= 0 and (len(seen[o]) == 2 or ms < seen[o][0]):
                seen[o] = (ms, e["state"], "event")
late = False
for o in observers:
    ms, state = seen[o][0], seen[o][1]
    how = "its event's stamp" if len(seen[o]) == 3 else "status polls"
    print(f"  node {o} reports peer {peer} {state} after {ms} ms (bound {bound} ms; {how})")
    late = late or ms > bound
sys.exit(1 if late else 0)
EOF
}
