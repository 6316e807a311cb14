#!/usr/bin/env bash
# scripts/cluster: start is idempotent, stop ends every node it started, and a pid file that
# names some other process (a PID reused after a crash) is never signalled.
. "$(dirname "$0")/lib.sh"

stopped() { # PID...: fails if one still runs (a zombie counts as ended)
	local p
	for p in "$@"; do
		if [ -e /proc/$p ] && [ "$(awk '{print $3}' /proc/$p/stat)" != Z ]; then
			fail "pid $p ($(tr '\0' ' ' </proc/$p/cmdline | cut -c1-60)) still runs after stop"
		fi
	done
}

DIR=$TMP/c
export DIR
start_cluster 3 fail-noisy
pids=$(cat "$DIR"/pids/node-*.pid)
for p in $pids; do
	[ "$(basename "$(tr '\0' '\n' </proc/$p/cmdline | head -n1)")" = stratad ] || fail "pid $p is not a stratad"
done
pass "pid files name the 3 stratad processes"

# A loopback cluster's datagrams may carry up to 65000 bytes (lo's MTU is the path MTU;
# docs/links.md): the config says so, and the nodes act on it. Under puts of 30,000-byte values
# the leader's datagrams average more than 1,400 bytes only if they may be larger than --netns
# clusters' 1,400 (an average never exceeds the maximum; heartbeats only lower it).
grep -qx 'max_datagram = 65000' "$DIR/cluster.ini" || fail "cluster.ini of a loopback cluster lacks max_datagram = 65000"
"$STRATA" --dir "$DIR" --timeout 5000 kv put warm x >/dev/null || fail "kv put failed"
leader=$(status_json 1 | json_get "d['counters']['kv_leader']")
[ "$leader" -ge 1 ] 2>/dev/null || fail "no KV leader known to node 1 ($leader)"
read -r b0 d0 <<<"$(status_json "$leader" | json_get "'%d %d' % (d['counters']['bytes_out'], d['counters']['dgram_out'])")"
"$STRATA" --dir "$DIR" --timeout 5000 bench put --clients 4 --warmup 0 --total 60 --val-size 30000 \
	--key-space 50 --no-preload >"$TMP/bench.out" 2>&1 || fail "bench of 30,000-byte puts failed: $(tail -n 3 "$TMP/bench.out")"
read -r b1 d1 <<<"$(status_json "$leader" | json_get "'%d %d' % (d['counters']['bytes_out'], d['counters']['dgram_out'])")"
avg=$(((b1 - b0) / (d1 - d0)))
[ "$avg" -gt 1400 ] || fail "the leader's datagrams averaged $avg bytes under 30,000-byte puts (max_datagram 65000 not in effect?)"
pass "loopback datagrams carry up to 65000 bytes (the leader's averaged $avg bytes under 30,000-byte puts)"

# stratad's CPU scheduling policy (--sched, docs/daemon.md): batch by default on every thread
# (the storage and pool threads have run by now); STRATA_CLUSTER_SCHED=normal passes --sched
# normal. Field 41 of /proc/PID/task/TID/stat is the policy: 0 SCHED_OTHER, 3 SCHED_BATCH.
policies() { # PID: the distinct policies of its threads
	local t
	for t in /proc/"$1"/task/*; do awk '{print $41}' "$t/stat"; done | sort -u | tr '\n' ' '
}
for p in $pids; do
	[ "$(policies "$p")" = "3 " ] || fail "stratad $p: thread policies '$(policies "$p")', not SCHED_BATCH (3) on every thread"
done
STRATA_CLUSTER_SCHED=normal "$CLUSTER" restart 3 --dir "$DIR" >/dev/null || fail "restart 3 failed"
p3=$(cat "$DIR/pids/node-3.pid")
"$STRATA" --dir "$DIR" --timeout 5000 kv put sched y >/dev/null || fail "kv put after restart 3 failed"
[ "$(policies "$p3")" = "0 " ] || fail "stratad --sched normal (pid $p3): thread policies '$(policies "$p3")', not SCHED_OTHER (0)"
"$CLUSTER" restart 3 --dir "$DIR" >/dev/null || fail "restart 3 failed"
pids=$(cat "$DIR"/pids/node-*.pid)
out=$("$STRATAD" --config "$DIR/cluster.ini" --id 1 --sched fast 2>&1)
[ $? -eq 2 ] || fail "stratad --sched fast should exit 2"
echo "$out" | grep -q "is not batch or normal" || fail "stratad --sched fast: unclear error: $out"
pass "stratad runs SCHED_BATCH by default, SCHED_OTHER with --sched normal, and refuses another policy"

out=$("$CLUSTER" start --dir "$DIR") || fail "second start failed"
echo "$out" | grep -q "already running" || fail "second start should find the nodes running: $out"
[ "$(cat "$DIR"/pids/node-*.pid)" = "$pids" ] || fail "second start replaced running nodes"
pass "start on a running cluster starts nothing new"

"$CLUSTER" status --dir "$DIR" | grep -c running | grep -qx 3 || fail "status should show 3 running"
"$CLUSTER" pause 2 --dir "$DIR" >/dev/null
"$CLUSTER" status --dir "$DIR" | grep -E "^2 " | grep -q paused || fail "status should show node 2 paused"
"$CLUSTER" resume 2 --dir "$DIR" >/dev/null
pass "status shows running and paused nodes"

"$CLUSTER" stop --dir "$DIR" >/dev/null || fail "stop failed"
stopped $pids
pass "stop ended every node"

say "a cluster run from a stratad of another name"
# STRATAD=.../stratad-renamed: stop must still find the nodes (the pid file names the binary).
cp "$STRATAD" "$TMP/stratad-renamed" || fail "copy of stratad failed"
STRATAD="$TMP/stratad-renamed" "$CLUSTER" start --dir "$DIR" >/dev/null
rc=$?
rpids=$(cat "$DIR"/pids/node-*.pid 2>/dev/null | tr '\n' ' ')
for p in $rpids; do BG_PIDS+=("$p"); done # stopped by PID at exit if stop misses them
[ $rc = 0 ] || fail "start with a renamed stratad failed"
[ "$(echo $rpids | wc -w)" = 3 ] || fail "pid files after a renamed start: '$rpids'"
"$CLUSTER" stop --dir "$DIR" >/dev/null || fail "stop failed"
stopped $rpids
pass "stop ended every node of a renamed stratad"

say "a pid file naming an unrelated process"
sleep 30 &
decoy=$!
BG_PIDS+=("$decoy")
echo "$decoy" >"$DIR/pids/node-1.pid"
"$CLUSTER" kill 1 --dir "$DIR" >/dev/null 2>&1 && fail "kill signalled a non-stratad pid"
"$CLUSTER" pause 1 --dir "$DIR" >/dev/null 2>&1 && fail "pause signalled a non-stratad pid"
echo "$decoy" >"$DIR/pids/node-1.pid"
"$CLUSTER" stop --dir "$DIR" >/dev/null 2>&1
kill -0 "$decoy" 2>/dev/null || fail "the decoy process was killed"
[ "$(awk '{print $3}' /proc/$decoy/stat)" != T ] || fail "the decoy process was stopped"
pass "kill, pause and stop leave an unrelated process alone"

say "usage errors"
"$CLUSTER" kill --dir "$DIR" >/dev/null 2>&1
[ $? -eq 2 ] || fail "kill without an id should exit 2"
"$CLUSTER" kill 7 --dir "$DIR" >/dev/null 2>&1
[ $? -eq 2 ] || fail "kill 7 in a 3-node cluster should exit 2"
"$CLUSTER" frobnicate --dir "$DIR" >/dev/null 2>&1
[ $? -eq 2 ] || fail "an unknown subcommand should exit 2"
pass "usage errors exit 2"

