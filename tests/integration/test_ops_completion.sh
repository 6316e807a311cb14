#!/usr/bin/env bash
# Bash completion (scripts/completion/strata.bash): commands, subcommands, flags and node ids
# from the cluster.ini of --dir, for strata and for the cluster script; and the man pages that
# scripts/gen-man writes from the programs' --help (every command of `strata --help` has its
# section). No cluster is started.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/strata-comp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
. "$top/scripts/completion/strata.bash"
mkdir -p "$TMP/c"
printf '[cluster]\nid = t\n[node.1]\nport = 1\n[node.2]\nport = 2\n[node.3]\nport = 3\n' >"$TMP/c/cluster.ini"
fails=0
# expect "WORDS..." "EXPECTED (sorted, space-separated)"  (the last word is the one completed)
expect() {
	local fn=$1 line=$2 want=$3 got
	read -r -a COMP_WORDS <<<"$line"
	[[ $line == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	"$fn"
	got=$(printf '%s\n' "${COMPREPLY[@]+"${COMPREPLY[@]}"}" | sort | tr '\n' ' ' | sed 's/ $//')
	if [ "$got" = "$want" ]; then
		echo "ok: '$line' -> $got"
	else
		echo "FAIL: '$line' -> '$got', expected '$want'"
		fails=$((fails + 1))
	fi
}
expect _strata "strata nem" "nemesis"
expect _strata "strata -w json ch" "check check-bcast check-consensus"
expect _strata "strata nemesis d" "delay drop"
expect _strata "strata --dir $TMP/c nemesis isolate " "1 2 3"
expect _strata "strata --dir $TMP/c -n " "1 2 3"
expect _strata "strata workload --nem" "--nemesis"
expect _strata "strata workload --nemesis kill,pause,p" "kill,pause,partition"
expect _strata "strata check --model a" "atomic"
expect _strata "strata kv r" "range"
expect _strata_cluster "strata-cluster re" "restart resume"
expect _strata_cluster "strata-cluster --dir $TMP/c kill " "1 2 3"
expect _strata_cluster "strata-cluster start --model fail-s" "fail-silent fail-stop"
[ $fails -eq 0 ] || { echo "FAIL: $fails completion(s) wrong"; exit 1; }
python3 "$top/scripts/gen-man" "$TMP/man" >/dev/null || { echo "FAIL: scripts/gen-man failed"; exit 1; }
for p in strata.1 stratad.8 strata-cluster.1; do
	head -n1 "$TMP/man/$p" | grep -q '^\.TH ' || { echo "FAIL: $p has no .TH line"; exit 1; }
done
cmds=$("$top/build/strata" --help | sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF {print $1}')
[ "$(echo "$cmds" | wc -w)" -ge 15 ] || { echo "FAIL: could not read the command list"; exit 1; }
for c in $cmds; do
	grep -q "^\.SS $c\$" "$TMP/man/strata.1" || { echo "FAIL: strata.1 has no section for $c"; exit 1; }
done
grep -q -- '--check-config' "$TMP/man/stratad.8" || { echo "FAIL: stratad.8 lacks its options"; exit 1; }
if command -v man >/dev/null; then
	MANWIDTH=80 man -l "$TMP/man/strata.1" 2>/dev/null | grep -q "nemesis delay N MS" ||
		{ echo "FAIL: man -l strata.1 does not render the nemesis help"; exit 1; }
fi
echo "ok: man pages strata.1 ($(echo "$cmds" | wc -w) command sections), stratad.8, strata-cluster.1"
echo "test_ops_completion: all completions as expected"
