#!/usr/bin/env bash
# Vector-clock siblings of the leaderless store (lkv-vc) on real processes: two puts without a
# context from different nodes are concurrent, a get returns both values and a context, a put
# with that context supersedes both, a delete with a context leaves no value, and a malformed
# context is a usage error.
. "$(dirname "$0")/lib.sh"

DIR=$TMP/c
export DIR
start_cluster 3 fail-noisy

say "two concurrent puts without a context"
"$STRATA" --dir "$DIR" -n 1 lkv put x apple --siblings >/dev/null || fail "put from node 1 failed"
"$STRATA" --dir "$DIR" -n 2 lkv put x pear --siblings >/dev/null || fail "put from node 2 failed"
out=$("$STRATA" --dir "$DIR" -n 3 -w json lkv get x --siblings) || fail "get failed"
vals=$(echo "$out" | json_get "','.join(sorted(d['values']))")
[ "$vals" = "apple,pear" ] || fail "expected siblings apple,pear, got '$vals' ($out)"
ctx=$(echo "$out" | json_get "d['context']")
[ -n "$ctx" ] || fail "no context returned"
pass "get returns both siblings and a context"

say "a put with the context supersedes both"
"$STRATA" --dir "$DIR" -n 2 lkv put x plum --context "$ctx" >/dev/null || fail "put with context failed"
out=$("$STRATA" --dir "$DIR" -n 1 -w json lkv get x --siblings) || fail "get failed"
vals=$(echo "$out" | json_get "','.join(sorted(d['values']))")
[ "$vals" = "plum" ] || fail "expected only plum, got '$vals'"
ctx=$(echo "$out" | json_get "d['context']")
pass "one value left"

say "delete with the context; malformed context"
"$STRATA" --dir "$DIR" -n 3 lkv del x --context "$ctx" >/dev/null || fail "delete failed"
out=$("$STRATA" --dir "$DIR" -n 2 -w json lkv get x --siblings) || fail "get failed"
n=$(echo "$out" | json_get "len(d['values'])")
[ "$n" = 0 ] || fail "expected no value after delete, got $out"
"$STRATA" --dir "$DIR" lkv put x v --context zz >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "malformed context: exit $rc, expected 2"
pass "delete leaves no value; malformed context is exit 2"
