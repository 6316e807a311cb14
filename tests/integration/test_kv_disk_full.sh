#!/usr/bin/env bash
# A full disk under the replicated KV store, on real processes (docs/smr.md "What survives
# what", docs/daemon.md "A full disk"). First two rounds: node 1's data directory is on a small tmpfs of its own
# (12 MiB: two record-log segments, the spare and LMDB fill it), mounted in a private mount
# namespace that every process of the test runs in (the mount goes with the namespace's last
# process). Two rounds, each with a cluster of its own: [smr] snapshot_entries = 0 (the record
# log's segment creation is the write that finds the disk full: the fatal line must name a file
# of DATA/wal/, and the failing spare preparation is logged once, not after every flush), then
# snapshot_entries = 20 (LMDB's snapshot commits grow too; either may be the one). In each, four
# writers put 60 KB values through node 1 until the disk is full:
#   - node 1 stops cleanly: exit status 1 (no abort, no signal), and its log's fatal line names
#     the file under its data directory and ENOSPC ("no space left on device");
#   - a writer whose request is in the node gets an error naming the storage failure and
#     ENOSPC, and exit status 3 (outcome unknown: the others may still commit the write); a
#     writer that connects during the node's 300 ms grace gets the same. At least one must
#     (before, every writer got a bare "connection closed by the node": `make
#     check-disk-full-broken`; and when the failing write was a timer's turn, the node's timer
#     re-armed itself for a deadline already past and the loop polled nothing for the whole
#     grace: three of four writers then saw resets). A writer that connects after node 1 is
#     gone finds its connection refused, or, if it was still in the listen backlog when the
#     node closed, reset or closed: tolerated, and counted. Any other error (a timeout, an
#     error without the cause) fails;
#   - nodes 2 and 3 go on taking writes;
#   - node 1 restarted on the still-full disk either runs or stops again the same clean way;
#   - after the tmpfs is grown (mount -o remount,size=...), node 1 restarts, takes a write, and
#     every acknowledged write reads back with its value from every node (--serializable:
#     each node's own copy).
# Node 1 is run by the test itself (same arguments as scripts/cluster gave it, its PID in the
# cluster's pid file), so that its exit status is seen.
# A third round puts every node's data directory on ONE tmpfs (the common case on one
# machine: the disk fills for all nodes at once), [smr] snapshot_entries = 0. After a first
# write (and 1 s for the spares) the tmpfs is shrunk to what is used plus 2 MiB, less than one
# 4 MiB segment: each node's next segment fails, after some tens of puts. All three nodes are
# run by the test as its children (as node 1 above: their exit status is seen), and six
# writers put 60 KB values through nodes 1, 2 and 3 (two each), going on to the next node
# after an error, until the nodes have exited:
#   - at least two nodes (a majority) stop within 120 s; each node that stops does so cleanly:
#     exit status 1, its log's fatal line names a file under its OWN data directory and
#     ENOSPC, no crash line in any log. The third, left without a majority, stops the same way
#     if it still has a write to store, else it runs on (nothing to store, nothing fails: seen
#     once in 8 runs); it gets 20 s more of the writers, and if it still runs, at least one put
#     through it must have timed out and SIGTERM must stop it with status 0;
#   - every writer error has exit status 3 (outcome unknown); a definite failure (exit 1: a
#     running node refusing the write) fails the test, as does any other error. Legitimate:
#     the stop's answer naming the storage failure and ENOSPC (at least one); a refused, reset
#     or closed connection, or a broken pipe while the value was sent (the node gone or going:
#     counted); a timeout (a running node with no majority left to commit: counted);
#   - after the tmpfs is grown to 96 MiB, `scripts/cluster start` restarts every node; after a
#     write through node 1 has reached every node, every acknowledged write reads back with
#     its value from every node (--serializable), and nodes 2 and 3 take new writes.
# Needs root and mount namespaces; skipped with the reason otherwise.
if [ -z "${STRATA_DISK_FULL_NS:-}" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: test_kv_disk_full needs root to mount a small tmpfs (uid $(id -u))"
		exit 0
	fi
	if ! command -v unshare >/dev/null 2>&1 ||
		! unshare -m --propagation private sh -c \
			'd=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs "$d" && umount "$d" && rmdir "$d"' \
			2>/dev/null; then
		echo "SKIP: test_kv_disk_full: a private mount namespace with a tmpfs is not allowed here"
		exit 0
	fi
	export STRATA_DISK_FULL_NS=1
	exec unshare -m --propagation private bash "$0" "$@"
fi

. "$(dirname "$0")/lib.sh"
t_start=$(date +%s)
N1_PID=
CPID=()
MOUNTS=()

# Node 1 and the tmpfs go before lib.sh's cleanup (which stops the other nodes by PID and
# removes $TMP): a mounted directory cannot be removed, and the mount is busy while a node
# has its files open.
disk_cleanup() {
	if [ -n "$N1_PID" ] && kill -0 "$N1_PID" 2>/dev/null; then
		kill "$N1_PID" 2>/dev/null
		wait "$N1_PID" 2>/dev/null
	fi
	local d m p
	for p in "${CPID[@]+"${CPID[@]}"}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	for d in "$TMP"/*/; do
		[ -f "$d/cluster.ini" ] && "$CLUSTER" stop --dir "$d" >/dev/null 2>&1
	done
	for m in "${MOUNTS[@]+"${MOUNTS[@]}"}"; do
		mountpoint -q "$m" 2>/dev/null && { umount "$m" 2>/dev/null || umount -l "$m"; }
	done
}
trap '_rc=$?; disk_cleanup; (exit $_rc); cleanup' EXIT

kv() { local node=$1; shift; "$STRATA" --dir "$DIR" -n "$node" --timeout 5000 "$@"; }

# start_n1: node 1 as this test's child, with the arguments scripts/cluster gave it.
start_n1() {
	echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) starting node 1 (test_kv_disk_full)" >>"$DIR/logs/node-1.log"
	"${N1_ARGV[@]}" </dev/null >>"$DIR/logs/node-1.log" 2>&1 &
	N1_PID=$!
	echo "$N1_PID" >"$DIR/pids/node-1.pid"
	echo "${N1_ARGV[0]}" >"$DIR/pids/node-1.bin"
}

# n1_exit BOUND_S: waits up to BOUND_S seconds for node 1 to exit; N1_ST is then its exit
# status, or "running" (not in a command substitution: only this shell can wait for it).
n1_exit() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		kill -0 "$N1_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$N1_PID" 2>/dev/null; then
		N1_ST=running
		return
	fi
	N1_ST=0
	wait "$N1_PID" || N1_ST=$?
	N1_PID=
}

n1_answers() {
	local i
	for i in $(seq 1 100); do
		"$STRATA" --dir "$DIR" -n 1 --timeout 500 status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# The fatal line of node 1's log since line $1: it must name a file under $2 (in node 1's data
# directory) and the full disk.
check_fatal_line() {
	local line
	line=$(tail -n +"$1" "$DIR/logs/node-1.log" | grep "fatal: stable storage failed" | tail -n1)
	[ -n "$line" ] || fail "node 1 exited without its fatal line: $(tail -n 5 "$DIR/logs/node-1.log")"
	echo "$line" | grep -qF "$2" || fail "the fatal line names no file under $2: $line"
	echo "$line" | grep -qi "no space left on device" || fail "the fatal line does not say 'no space left on device': $line"
	echo "$line" | grep -q "ENOSPC" || fail "the fatal line does not name ENOSPC: $line"
	if tail -n +"$1" "$DIR/logs/node-1.log" | grep -qi "assertion failed\|sanitizer\|segmentation"; then
		fail "node 1's log shows a crash: $(tail -n +"$1" "$DIR/logs/node-1.log" | grep -i "assertion failed\|sanitizer\|segmentation" | head -3)"
	fi
}

# after_remount_everywhere: the write "after" = "remount" (made through one node after the
# restart) is in every node's own copy (--serializable) within 10 s.
after_remount_everywhere() {
	local n ok
	for n in 1 2 3; do
		ok=0
		for _ in $(seq 1 100); do
			[ "$(kv "$n" kv get after --serializable 2>/dev/null)" = remount ] && { ok=1; break; }
			sleep 0.1
		done
		[ $ok = 1 ] || fail "node $n does not have the write made after the remount"
	done
}

# check_acked EXPECTED: every key listed in $W/acked-W reads back from every node's own copy
# with writer W's value ($W/val-W); EXPECTED keys in all.
check_acked() {
	local f w key n total=0
	for f in "$W"/acked-*; do
		w=${f##*-}
		while read -r key; do
			[ -n "$key" ] || continue
			total=$((total + 1))
			for n in 1 2 3; do
				kv "$n" kv get "$key" --serializable >"$W/got" 2>&1 || fail "node $n: get $key failed: $(head -c 200 "$W/got")"
				# the CLI ends the value with a newline
				[ "$(cat "$W/got")" = "$(cat "$W/val-$w")" ] || fail "node $n: $key reads back wrong ($(wc -c <"$W/got") bytes)"
			done
		done <"$f"
	done
	[ "$total" = "$1" ] || fail "checked $total keys, expected $1"
	pass "all $total acknowledged writes read back with their values from every node"
}

# round SNAPSHOT_ENTRIES SUBDIR: one cluster in $TMP/rSNAPSHOT_ENTRIES, filled until node 1
# stops; its fatal line must name a file under SUBDIR of node 1's data directory.
round() {
	DIR=$TMP/r$1
	export DIR
	DISK=$DIR/data/node-1
	W=$TMP/files-$1
	mkdir -p "$W"
	say "round $1: 3 nodes; node 1's data directory on a 12 MiB tmpfs; [smr] snapshot_entries = $1"
	start_cluster 3 fail-noisy
	"$CLUSTER" stop --dir "$DIR" >/dev/null || fail "stop failed"
	ini_set "$DIR/cluster.ini" smr snapshot_entries "$1"
	ini_set "$DIR/cluster.ini" smr snapshot_tail 3
	mv "$DISK" "$DIR/node-1.first"
	mkdir "$DISK"
	mount -t tmpfs -o size=12m tmpfs "$DISK" || fail "mount of the tmpfs on $DISK failed"
	MOUNTS+=("$DISK")
	cp -a "$DIR/node-1.first/." "$DISK/" || fail "copy of node 1's data directory failed"
	"$CLUSTER" start --dir "$DIR" >/dev/null || fail "start on the tmpfs failed"
	pid1=$(cat "$DIR/pids/node-1.pid")
	mapfile -t N1_ARGV < <(tr '\0' '\n' <"/proc/$pid1/cmdline")
	[ "${#N1_ARGV[@]}" -ge 3 ] && [ "$(basename "${N1_ARGV[0]}")" = "$(basename "$STRATAD")" ] ||
		fail "node 1's command line: ${N1_ARGV[*]}"
	"$CLUSTER" kill 1 --dir "$DIR" >/dev/null || fail "kill 1 failed"
	life=$(($(wc -l <"$DIR/logs/node-1.log") + 1))
	start_n1
	n1_answers || fail "node 1 (run by the test) does not answer"
	kv 1 kv put warm up >/dev/null || fail "first put failed"

	say "4 writers put 60 KB values through node 1 until its disk is full"
	for w in 1 2 3 4; do
		python3 -c "import sys; sys.stdout.write(chr(ord('a') + $w) * 60000)" >"$W/val-$w"
	done
	writer() {
		local w=$1 i out
		: >"$W/acked-$w"
		for i in $(seq 1 100); do
			if out=$(kv 1 kv put "w$w/$i" --value-file "$W/val-$w" 2>&1); then
				echo "w$w/$i" >>"$W/acked-$w"
			else
				echo $? >"$W/rc-$w"
				echo "$out" >"$W/err-$w"
				return
			fi
		done
	}
	wpids=()
	for w in 1 2 3 4; do
		writer "$w" &
		wpids+=($!)
		BG_PIDS+=($!)
	done
	for p in "${wpids[@]}"; do wait "$p"; done
	nacked=$(cat "$W"/acked-* | wc -l)
	nerr=$(cat "$W"/err-* 2>/dev/null | grep -c .)
	[ "$nerr" -ge 1 ] || fail "the disk never filled: $nacked puts acknowledged, none failed"
	n1_exit 30
	st=$N1_ST
	[ "$st" = 1 ] || fail "node 1 on the full disk: exit status $st (expected 1: the clean stop)"
	check_fatal_line "$life" "$DISK/$2"
	if [ "$1" = 0 ]; then
		nspare=$(tail -n +"$life" "$DIR/logs/node-1.log" | grep -c "/wal/spare: ")
		[ "$nspare" -le 1 ] || fail "the failing spare preparation was logged $nspare times in one life of node 1"
	fi
	pass "node 1 stopped cleanly (exit status 1) after $nacked acknowledged puts: $(grep "fatal:" "$DIR/logs/node-1.log" | tail -n1 | sed 's/^.* error: //')"
	df -h "$DISK" | tail -n1 | awk '{print "  tmpfs: " $2 " size, " $4 " free"}'

	clear=0 gone=0
	for f in "$W"/err-*; do
		[ -f "$f" ] || continue
		e=$(cat "$f")
		if echo "$e" | grep -q "stable storage failed" && echo "$e" | grep -qi "no space left on device"; then
			# the outcome is unknown (the write may be committed by the others): exit 3
			wrc=$(cat "${f/err-/rc-}")
			[ "$wrc" = 3 ] || fail "writer $(basename "$f"): exit status $wrc for the stop's answer (expected 3: outcome unknown)"
			clear=$((clear + 1))
		elif echo "$e" | grep -q "no answer from node 1 .*: \(\(read: \)\?Connection \(refused\|reset by peer\)\|connection closed by the node\)"; then
			gone=$((gone + 1)) # not in the node: see the header
		else
			fail "writer $(basename "$f"): unclear error: $e"
		fi
	done
	for f in "$W"/err-*; do [ -f "$f" ] && echo "  $(basename "$f"): $(cut -c1-160 "$f")"; done
	[ "$clear" -ge 1 ] || fail "no writer got the error naming the full disk"
	pass "writers' errors: $clear named the full disk (request in the node), $gone refused, reset or closed (not in the node)"

	say "nodes 2 and 3 go on"
	for i in 1 2 3 4 5; do
		kv 2 kv put "n2/$i" --value-file "$W/val-1" >/dev/null || fail "put n2/$i through node 2 failed"
		echo "n2/$i" >>"$W/acked-1"
	done
	pass "5 puts through node 2 with node 1 down"

	say "node 1 restarted on the still-full disk"
	from=$(($(wc -l <"$DIR/logs/node-1.log") + 1))
	start_n1
	n1_exit 20
	st=$N1_ST
	if [ "$st" = running ]; then
		kill "$N1_PID"
		n1_exit 30
		st=$N1_ST
		[ "$st" = 0 ] || fail "node 1 on the full disk did not stop on SIGTERM with status 0 ($st)"
		pass "node 1 runs on the full disk (stopped by SIGTERM, status 0)"
	else
		[ "$st" = 1 ] || fail "node 1 restarted on the full disk: exit status $st (expected 1)"
		check_fatal_line "$from" "$DISK/"
		pass "node 1 restarted on the full disk stops again the clean way (exit status 1, ENOSPC named)"
	fi

	say "the tmpfs grows to 64 MiB; node 1 restarts and catches up"
	mount -o remount,size=64m "$DISK" || fail "remount failed"
	start_n1
	n1_answers || fail "node 1 does not answer after the remount: $(tail -n 5 "$DIR/logs/node-1.log")"
	kv 1 kv put after remount >/dev/null || fail "put through node 1 after the remount failed"
	after_remount_everywhere
	n1_exit 0
	[ "$N1_ST" = running ] || fail "node 1 exited after the remount"
	check_acked $((nacked + 5))
}

# ---- every node on one disk ----
# start_node N: node N as this test's child, with the arguments saved in $DIR/argv-N.
start_node() {
	local argv
	mapfile -d '' -t argv <"$DIR/argv-$1"
	echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) starting node $1 (test_kv_disk_full)" >>"$DIR/logs/node-$1.log"
	"${argv[@]}" </dev/null >>"$DIR/logs/node-$1.log" 2>&1 &
	CPID[$1]=$!
	echo "$!" >"$DIR/pids/node-$1.pid"
	echo "${argv[0]}" >"$DIR/pids/node-$1.bin"
}

# node_exit N BOUND_S: as n1_exit, for node N run by start_node; NODE_ST is its exit status
# or "running".
node_exit() {
	local i p=${CPID[$1]}
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$p" 2>/dev/null; then
		NODE_ST=running
		return
	fi
	NODE_ST=0
	wait "$p" || NODE_ST=$?
	CPID[$1]=
}

# round_all: the three data directories on one tmpfs, which fills for all nodes at once.
round_all() {
	DIR=$TMP/rall
	export DIR
	DISK=$DIR/data
	W=$TMP/files-all
	mkdir -p "$W"
	say "round all: 3 nodes, every data directory on one tmpfs; [smr] snapshot_entries = 0"
	start_cluster 3 fail-noisy
	"$CLUSTER" stop --dir "$DIR" >/dev/null || fail "stop failed"
	ini_set "$DIR/cluster.ini" smr snapshot_entries 0
	ini_set "$DIR/cluster.ini" smr snapshot_tail 3
	mv "$DISK" "$DIR/data.first"
	mkdir "$DISK"
	mount -t tmpfs -o size=64m tmpfs "$DISK" || fail "mount of the tmpfs on $DISK failed"
	MOUNTS+=("$DISK")
	cp -a "$DIR/data.first/." "$DISK/" || fail "copy of the data directories failed"
	"$CLUSTER" start --dir "$DIR" >/dev/null || fail "start on the tmpfs failed"
	local n p
	for n in 1 2 3; do
		p=$(cat "$DIR/pids/node-$n.pid")
		tr '\0' '\n' <"/proc/$p/cmdline" | grep -q . || fail "node $n's command line"
		cp "/proc/$p/cmdline" "$DIR/argv-$n"
		[ "$(basename "$(head -z -n1 "$DIR/argv-$n" | tr -d '\0')")" = "$(basename "$STRATAD")" ] ||
			fail "node $n's command line: $(tr '\0' ' ' <"$DIR/argv-$n")"
	done
	"$CLUSTER" stop --dir "$DIR" >/dev/null || fail "stop failed"
	declare -A life
	for n in 1 2 3; do
		life[$n]=$(($(wc -l <"$DIR/logs/node-$n.log") + 1))
		start_node "$n"
	done
	for n in 1 2 3; do
		ok=0
		for _ in $(seq 1 100); do
			"$STRATA" --dir "$DIR" -n "$n" --timeout 500 status >/dev/null 2>&1 && { ok=1; break; }
			sleep 0.1
		done
		[ $ok = 1 ] || fail "node $n (run by the test) does not answer"
	done
	kv 1 kv put warm up >/dev/null || fail "first put failed"
	# Every node's spare prepared; then the disk is shrunk to what is used plus 2 MiB: less
	# than one 4 MiB segment, so the next spare or segment of any node does not fit.
	sleep 1
	used=$(df -k --output=used "$DISK" | tail -n1 | tr -d ' ')
	mount -o remount,size=$((used + 2048))k "$DISK" || fail "shrinking the tmpfs to ${used} KiB + 2 MiB failed"
	df -h "$DISK" | tail -n1 | awk '{print "  tmpfs: " $2 " size, " $4 " free"}'

	say "6 writers put 60 KB values through nodes 1, 2 and 3 until every node has stopped"
	for w in 1 2 3 4 5 6; do
		python3 -c "import sys; sys.stdout.write(chr(ord('a') + $w) * 60000)" >"$W/val-$w"
	done
	rm -f "$W/stop"
	writer_all() {
		local w=$1 i=0 n out rc
		n=$(((w - 1) % 3 + 1))
		: >"$W/acked-$w"
		while [ ! -e "$W/stop" ] && [ $i -lt 400 ]; do
			i=$((i + 1))
			rc=0
			out=$(kv "$n" kv put "w$w/$i" --value-file "$W/val-$w" 2>&1) || rc=$?
			if [ $rc = 0 ]; then
				echo "w$w/$i" >>"$W/acked-$w"
			else
				echo "$rc" >"$W/rc-$w-$i"
				echo "$out" >"$W/err-$w-$i"
				n=$((n % 3 + 1)) # on to the next node
				sleep 0.2
			fi
		done
	}
	wpids=()
	for w in 1 2 3 4 5 6; do
		writer_all "$w" &
		wpids+=($!)
		BG_PIDS+=($!)
	done
	# Each node stops when its next segment does not fit. Once two have stopped, the third
	# commits nothing: it stops too if it still has to store a write, else it runs on (nothing
	# to store, nothing to fail); it gets 20 s more of the writers before it is judged.
	declare -A st
	local t=0 nst last_at= lone=
	while :; do
		nst=0
		for n in 1 2 3; do
			if [ -z "${st[$n]:-}" ]; then
				node_exit "$n" 0
				[ "$NODE_ST" = running ] || st[$n]=$NODE_ST
			fi
			[ -n "${st[$n]:-}" ] && nst=$((nst + 1))
		done
		[ "$nst" = 3 ] && break
		if [ "$nst" = 2 ]; then
			[ -n "$last_at" ] || last_at=$t
			[ $((t - last_at)) -ge 200 ] && break
		fi
		[ $t -ge 1200 ] && break
		sleep 0.1
		t=$((t + 1))
	done
	[ "$nst" -ge 2 ] || fail "after 120 s only $nst node(s) stopped on the full disk"
	for n in 1 2 3; do
		[ -n "${st[$n]:-}" ] || { lone=$n; continue; }
		[ "${st[$n]}" = 1 ] || fail "node $n on the full disk: exit status ${st[$n]} (expected 1: the clean stop)"
	done
	touch "$W/stop"
	for p in "${wpids[@]}"; do wait "$p"; done
	nacked=$(cat "$W"/acked-* | wc -l)
	for n in 1 2 3; do
		[ "$n" = "$lone" ] && continue
		line=$(tail -n +"${life[$n]}" "$DIR/logs/node-$n.log" | grep "fatal: stable storage failed" | tail -n1)
		[ -n "$line" ] || fail "node $n exited without its fatal line: $(tail -n 5 "$DIR/logs/node-$n.log")"
		echo "$line" | grep -qF "$DISK/node-$n/" || fail "node $n's fatal line names no file under its data directory $DISK/node-$n/: $line"
		echo "$line" | grep -qi "no space left on device" || fail "node $n's fatal line does not say 'no space left on device': $line"
		echo "$line" | grep -q "ENOSPC" || fail "node $n's fatal line does not name ENOSPC: $line"
		if tail -n +"${life[$n]}" "$DIR/logs/node-$n.log" | grep -qi "assertion failed\|sanitizer\|segmentation"; then
			fail "node $n's log shows a crash"
		fi
		echo "  node $n: $(echo "$line" | sed 's/^.* error: //' | cut -c1-200)"
	done
	if [ -z "$lone" ]; then
		pass "every node stopped cleanly (exit status 1, its own file and ENOSPC named) after $nacked acknowledged puts"
	else
		pass "nodes $(echo 1 2 3 | tr -d "$lone" | tr -s ' ' | sed 's/^ //;s/ $//;s/ / and /') stopped cleanly (exit status 1, their own files and ENOSPC named) after $nacked acknowledged puts"
		# the node left has no majority: its writers' puts time out; SIGTERM stops it cleanly
		kill "${CPID[$lone]}"
		node_exit "$lone" 30
		[ "$NODE_ST" = 0 ] || fail "node $lone, left without a majority, did not stop on SIGTERM with status 0 ($NODE_ST)"
		pass "node $lone, left without a majority on the full disk, ran on until SIGTERM (status 0)"
	fi

	clear=0 gone=0 tmo=0
	for f in "$W"/err-*; do
		[ -f "$f" ] || continue
		e=$(cat "$f")
		wrc=$(cat "${f/err-/rc-}")
		# every error is an unknown outcome (exit 3): a definite failure (exit 1) is a refusal
		# by a running node, which a full disk must not cause
		[ "$wrc" = 3 ] || fail "writer $(basename "$f"): exit status $wrc (expected 3: outcome unknown): $e"
		if echo "$e" | grep -q "stable storage failed" && echo "$e" | grep -qi "no space left on device"; then
			clear=$((clear + 1))
		elif echo "$e" | grep -q "no answer from node .*: \(\(read: \|send: \)\?\(Connection \(refused\|reset by peer\)\|Broken pipe\)\|connection closed by the node\)"; then
			gone=$((gone + 1)) # the node gone, or going while the 60 KB were sent
		elif echo "$e" | grep -q "timed out"; then
			tmo=$((tmo + 1))
		else
			fail "writer $(basename "$f"): unclear error: $e"
		fi
	done
	for f in "$W"/err-*; do [ -f "$f" ] && echo "  $(basename "$f"): $(cut -c1-160 "$f" | head -n2 | tr '\n' ' ')"; done
	[ "$clear" -ge 1 ] || fail "no writer got the error naming the full disk"
	[ -z "$lone" ] || [ "$tmo" -ge 1 ] || fail "node $lone ran on without a majority, yet no put through it timed out"
	pass "writers' errors: $clear named the full disk, $gone refused, reset or closed, $tmo timed out"

	say "the tmpfs grows to 96 MiB; every node restarts"
	mount -o remount,size=96m "$DISK" || fail "remount failed"
	"$CLUSTER" start --dir "$DIR" >/dev/null || fail "restart of the cluster failed"
	for n in 1 2 3; do
		ok=0
		for _ in $(seq 1 100); do
			"$STRATA" --dir "$DIR" -n "$n" --timeout 500 status >/dev/null 2>&1 && { ok=1; break; }
			sleep 0.1
		done
		[ $ok = 1 ] || fail "node $n does not answer after the remount: $(tail -n 5 "$DIR/logs/node-$n.log")"
	done
	kv 1 kv put after remount >/dev/null || fail "put after the remount failed"
	after_remount_everywhere
	check_acked "$nacked"
	for n in 2 3; do
		kv "$n" kv put "new/$n" x >/dev/null || fail "new put through node $n failed"
	done
	pass "the cluster takes new writes"
}

round 0 wal/
round 20 ""
round_all
echo "test_kv_disk_full: $(($(date +%s) - t_start)) s"
