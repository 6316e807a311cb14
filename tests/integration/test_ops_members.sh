#!/usr/bin/env bash
# `strata member list` and `strata endpoint health`: every node with its addresses, key
# fingerprint and state as the asked node sees it; health exits 0 only while every node answers
# and names a killed one. Both parse as JSON with -w json.
. "$(dirname "$0")/lib.sh"

start_cluster 3 fail-noisy
S() { "$STRATA" --dir "$DIR" "$@"; }

say "member list"
S -w json member list >"$TMP/m.json" || fail "member list failed"
python3 - "$TMP/m.json" "$DIR/keys/node-2.key.pub" <<'PY' || fail "member list JSON is wrong"
import json, sys
a = json.load(open(sys.argv[1]))
assert [m["id"] for m in a] == [1, 2, 3], a
pub = open(sys.argv[2]).read().split()[1]
assert a[1]["key_fingerprint"] == pub[:16], (a[1], pub)
assert a[0]["state"] == "self" and a[1]["state"] == "alive" and a[2]["state"] == "alive", a
assert all(m["host"] == "127.0.0.1" and m["port"] > 0 and m["client_port"] > 0 for m in a), a
PY
pass "member list -w json: ids, hosts, ports, key fingerprints, states seen by node 1"
S member list >"$TMP/out" || fail "member list (text) failed"
grep -q "states as seen by node 1" "$TMP/out" || fail "text output: $(cat "$TMP/out")"
pass "member list text"

say "endpoint health"
S endpoint health >"$TMP/out" 2>"$TMP/err" || { cat "$TMP/out" "$TMP/err"; fail "endpoint health on a healthy cluster"; }
[ "$(grep -c "is healthy" "$TMP/out")" = 3 ] || fail "three healthy lines expected: $(cat "$TMP/out")"
pass "all three healthy, exit 0"
"$CLUSTER" kill 2 --dir "$DIR" >/dev/null
S --timeout 500 -w json endpoint health >"$TMP/h.json" 2>"$TMP/err"
rc=$?
[ $rc -eq 1 ] || fail "endpoint health with node 2 killed: exit $rc, expected 1"
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); assert [o["health"] for o in a]==[True,False,True], a; assert a[1]["node"]==2 and a[1]["error"], a' "$TMP/h.json" ||
	fail "health JSON should mark node 2 only: $(cat "$TMP/h.json")"
S --timeout 500 endpoint health >"$TMP/out" 2>&1
grep -q "node 2 .* is unhealthy" "$TMP/out" || fail "the text should name node 2: $(cat "$TMP/out")"
pass "a killed node: exit 1, named in text and JSON"
sleep 1
S -n 1 -w json member list >"$TMP/m.json" || fail "member list after the kill"
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); assert a[1]["state"]!="alive", a' "$TMP/m.json" ||
	fail "node 1 should no longer see node 2 alive: $(cat "$TMP/m.json")"
pass "member list shows node 2 no longer alive as seen by node 1"
