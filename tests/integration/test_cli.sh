#!/usr/bin/env bash
# The CLI's contract: usage errors exit 2, an unreachable or silent node exits 3 ("outcome
# unknown"), every -w json output parses, and a node's refusal is reported under the command
# the user typed.
. "$(dirname "$0")/lib.sh"

expect_rc() { # want description command...
	local want=$1 what=$2 rc
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	[ $rc -eq "$want" ] || { cat "$TMP/err"; fail "$what: exit $rc, expected $want ($*)"; }
	pass "$what: exit $want"
}
json_ok() { # description command...
	local what=$1
	shift
	"$@" >"$TMP/out" 2>"$TMP/err" || { cat "$TMP/err"; fail "$what: command failed ($*)"; }
	python3 -m json.tool <"$TMP/out" >/dev/null || { head -c 600 "$TMP/out"; fail "$what: output is not JSON"; }
	pass "$what: valid JSON"
}

say "usage errors (exit 2)"
expect_rc 2 "no command" "$STRATA"
expect_rc 2 "unknown command" "$STRATA" frobnicate
expect_rc 2 "bad -w" "$STRATA" -w yaml status
expect_rc 2 "bad -n" "$STRATA" -n zero status
expect_rc 2 "-n without value" "$STRATA" status -n
expect_rc 2 "bad --timeout" "$STRATA" --timeout -5 status
expect_rc 2 "bad -e" "$STRATA" -e nocolon status
expect_rc 2 "status extra argument" "$STRATA" -e 127.0.0.1:1 status extra
expect_rc 2 "watch extra argument" "$STRATA" -e 127.0.0.1:1 watch --bogus
expect_rc 2 "no cluster.ini" "$STRATA" --dir "$TMP/nowhere" status
expect_rc 2 "keygen without --out" "$STRATA" keygen
expect_rc 2 "check without --model" "$STRATA" check /dev/null
expect_rc 2 "check-bcast without --property" "$STRATA" check-bcast "$TMP"
grep -q "try 'strata" "$TMP/err" || fail "usage errors should point at --help"
expect_rc 0 "--help" "$STRATA" --help
expect_rc 0 "status --help" "$STRATA" status --help
expect_rc 0 "watch -h" "$STRATA" watch -h

say "unreachable (exit 3)"
free=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
expect_rc 3 "nothing listens on -e 127.0.0.1:$free" "$STRATA" -e "127.0.0.1:$free" --timeout 500 status
grep -qi "refused\|no answer" "$TMP/err" || fail "the error should say why: $(cat "$TMP/err")"

DIR=$TMP/c
export DIR
start_cluster 3 fail-noisy
expect_rc 2 "-n beyond the cluster" "$STRATA" --dir "$DIR" -n 9 status

say "-w json parses"
json_ok "status" "$STRATA" --dir "$DIR" -w json status
json_ok "status -n 2" "$STRATA" --dir "$DIR" -n 2 -w json status
json_ok "status --all" "$STRATA" --dir "$DIR" -w json status --all
python3 - "$TMP/out" <<'PY' || fail "status --all JSON lacks the documented keys"
import json, sys
a = json.load(open(sys.argv[1]))
assert isinstance(a, list) and len(a) == 3, a
for o in a:
    for k in ("node", "incarnation", "leader", "peers", "counters"):
        assert k in o, k
    assert all({"id", "state"} <= set(p) for p in o["peers"])
    assert isinstance(o["counters"], dict) and "rej_mac" in o["counters"]
PY
pass "status --all JSON has node, incarnation, leader, peers[{id,state}], counters{}"
json_ok "watch --once" "$STRATA" --dir "$DIR" -w json watch --once
json_ok "algos" "$STRATA" -w json algos

say "a node's refusal names the command as typed (kv put, not kv write)"
long=$(head -c 5000 /dev/zero | tr '\0' k)
refused_as_typed() { # family sub [value]
	expect_rc 1 "$1 $2 with a 5000-byte key" "$STRATA" --dir "$DIR" "$@"
	grep -q "^strata: $1 $2: .*5000" "$TMP/err" ||
		fail "$1 $2: the error does not start with 'strata: $1 $2:': $(cat "$TMP/err")"
}
for c in "kv put" "kv get" "kv del" "lkv put" "lkv get" "reg write" "reg read"; do
	case $c in *put | *write) refused_as_typed $c "$long" v ;; *) refused_as_typed $c "$long" ;; esac
done

say "a killed node: status -n exits 3, status --all exits 3 and still prints the others"
"$CLUSTER" kill 3 --dir "$DIR" >/dev/null || fail "kill failed"
expect_rc 3 "status -n 3 (killed)" "$STRATA" --dir "$DIR" -n 3 --timeout 500 status
grep -q "^strata: status: no answer from node 3 " "$TMP/err" ||
	fail "status at a killed node: the error does not name the command and node: $(cat "$TMP/err")"
h3=$(ini_get node.3 host)
expect_rc 3 "watch --once of node 3 (killed)" "$STRATA" --dir "$DIR" -e "${h3:-127.0.0.1}:$(ini_get node.3 client_port)" --timeout 500 watch --once
grep -q "^strata: watch: no node answered" "$TMP/err" ||
	fail "watch --once of a killed node: the error does not name the command: $(cat "$TMP/err")"
expect_rc 3 "kv put -n 3 (killed)" "$STRATA" --dir "$DIR" -n 3 --timeout 500 kv put a b
grep -q "^strata: kv put: no answer from node 3 " "$TMP/err" ||
	fail "kv put at a killed node: the error does not name the command and node: $(cat "$TMP/err")"
expect_rc 3 "status --all with node 3 down" "$STRATA" --dir "$DIR" -w json --timeout 500 status --all
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); assert [o["reachable"] for o in a]==[True,True,False], a' "$TMP/out" ||
	fail "status --all JSON should mark only node 3 unreachable"
pass "status --all marks node 3 unreachable"
expect_rc 0 "status (default: first node that answers)" "$STRATA" --dir "$DIR" status

say "a paused node: the CLI times out with exit 3 instead of hanging"
"$CLUSTER" pause 2 --dir "$DIR" >/dev/null || fail "pause failed"
t0=$(now_ms)
expect_rc 3 "status -n 2 (paused)" "$STRATA" --dir "$DIR" -n 2 --timeout 300 status
el=$(($(now_ms) - t0))
[ $el -lt 2000 ] || fail "status on a paused node took $el ms with --timeout 300"
pass "gave up after $el ms"
"$CLUSTER" resume 2 --dir "$DIR" >/dev/null

say "offline checkers: exit 0 when the property holds, 1 on a violation"
data=$top/tests/data
for f in "$data"/lin-ok-*.jsonl; do
	[ -f "$f" ] && expect_rc 0 "check atomic $(basename "$f")" "$STRATA" check --model atomic "$f"
done
for f in "$data"/lin-bad-*.jsonl; do
	[ -f "$f" ] && expect_rc 1 "check atomic $(basename "$f")" "$STRATA" check --model atomic "$f"
done
if [ -d "$data/bcast/causal-bad-but-fifo-ok" ]; then
	expect_rc 0 "check-bcast fifo on causal-bad-but-fifo-ok" "$STRATA" check-bcast --property fifo "$data/bcast/causal-bad-but-fifo-ok"
	expect_rc 1 "check-bcast causal on causal-bad-but-fifo-ok" "$STRATA" check-bcast --property causal "$data/bcast/causal-bad-but-fifo-ok"
	json_ok "check-bcast -w json" sh -c "\"$STRATA\" -w json check-bcast --property fifo \"$data/bcast/causal-bad-but-fifo-ok\""
	expect_rc 0 "shiviz" "$STRATA" shiviz "$data/bcast/causal-bad-but-fifo-ok"
fi
expect_rc 2 "check on a missing file" "$STRATA" check --model atomic "$TMP/missing.jsonl"

say "JSON string escaping (quotes, backslashes, control characters, non-UTF-8 bytes)"
odd=$(printf '%s/we"ird\\na\tme\001\351x' "$TMP")
"$STRATA" -w json keygen --out "$odd" >"$TMP/out" 2>"$TMP/err" || { cat "$TMP/err"; fail "keygen to an odd file name failed"; }
python3 - "$TMP/out" "$odd" <<'PY' || fail "keygen JSON did not round-trip the file name"
import json, os, sys
d = json.load(open(sys.argv[1]))
want = os.fsencode(sys.argv[2])
got = d["secret_file"]
# Valid UTF-8 comes back as is; each invalid byte comes back as the code point of that byte.
assert got.encode("latin-1") == want, (got, want)
assert len(d["public_key"]) == 64
PY
pass "keygen -w json escapes an odd file name correctly"
