#!/usr/bin/env bash
# The CLI and the cluster script never report success on nothing, and say clearly what is wrong:
# a workload where no operation succeeded exits non-zero with the reason; `check` refuses a
# history in which nothing completed and takes only the documented model names; --version on
# strata, stratad and the cluster script; a flag typo before the command; an unknown algorithm
# family; values that start with '-' (after "--" or as negative numbers) and --value-file on
# reg and lkv; the cluster script's options before or after the command, its refusal of a
# --model other than the directory's, its config check before any node is launched, and a
# readable lkv warning in the node logs; a register without its quorum answers within --timeout
# naming the quorum and the nodes that answered.
. "$(dirname "$0")/lib.sh"

expect_rc() { # want description command...
	local want=$1 what=$2 rc
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	[ $rc -eq "$want" ] || { cat "$TMP/out" "$TMP/err"; fail "$what: exit $rc, expected $want ($*)"; }
	pass "$what: exit $want"
}
err_has() { # pattern description
	grep -qi -- "$1" "$TMP/err" || { cat "$TMP/err"; fail "$2: stderr lacks '$1'"; }
	pass "$2: says '$1'"
}

say "--version"
expect_rc 0 "strata --version" "$STRATA" --version
grep -Eq '^strata [0-9]+\.[0-9]+' "$TMP/out" || fail "strata --version printed: $(cat "$TMP/out")"
expect_rc 0 "stratad --version" "$STRATAD" --version
grep -Eq '^stratad [0-9]+\.[0-9]+' "$TMP/out" || fail "stratad --version printed: $(cat "$TMP/out")"
expect_rc 0 "scripts/cluster --version" "$CLUSTER" --version
grep -Eq '^scripts/cluster [0-9]+\.[0-9]+' "$TMP/out" || fail "cluster --version printed: $(cat "$TMP/out")"
# Installed under another name, the script calls itself by that name.
ln -s "$CLUSTER" "$TMP/strata-cluster"
STRATAD=$STRATAD expect_rc 2 "strata-cluster bogus" "$TMP/strata-cluster" bogus
err_has "^strata-cluster: unknown command" "the installed script names itself"

say "usage mistakes are named"
expect_rc 2 "flag typo before the command" "$STRATA" --dri x status
err_has "unknown global flag '--dri'" "flag typo"
expect_rc 2 "algos foo" "$STRATA" algos foo
err_has "unknown family 'foo'" "algos foo"
expect_rc 0 "algos reg" "$STRATA" algos reg
expect_rc 2 "check --model linearizable (undocumented)" "$STRATA" check --model linearizable "$top/tests/data/lin-ok-cas.jsonl"
err_has "unknown model 'linearizable'" "check --model"

say "check refuses a history in which nothing completed"
cat >"$TMP/nothing.jsonl" <<'H'
{"process":0,"type":"invoke","f":"write","key":"x","value":"1","time":1000}
{"process":0,"type":"fail","f":"write","key":"x","value":"1","time":2000}
{"process":1,"type":"invoke","f":"read","key":"x","value":null,"time":1500}
{"process":1,"type":"info","f":"read","key":"x","value":null,"time":3000}
H
expect_rc 1 "check on only fail and info" "$STRATA" check --model atomic "$TMP/nothing.jsonl"
err_has "no operation completed" "check on nothing"

say "scripts/cluster: options on either side of the command; config checked before launch"
D=$TMP/c
expect_rc 0 "start with --dir before the command" "$CLUSTER" --dir "$D" -n 3 --model fail-noisy start
expect_rc 0 "status with --dir before the command" "$CLUSTER" --dir "$D" status
expect_rc 1 "start --model fail-stop on a fail-noisy directory" "$CLUSTER" start --model fail-stop --dir "$D"
err_has "created with model fail-noisy, not fail-stop" "model mismatch"
"$STRATA" --dir "$D" status >/dev/null || fail "the running cluster was disturbed by the refused start"
pass "the running cluster still answers"

say "a readable lkv warning (5 nodes: replicas 3 cannot tolerate f = 2)"
D5=$TMP/c5
expect_rc 0 "start 5 nodes" "$CLUSTER" start -n 5 --dir "$D5"
grep -q "warn: lkv: each key lives on 3 nodes" "$D5/logs/node-1.log" ||
	{ grep lkv "$D5/logs/node-1.log"; fail "the lkv warning is not the readable one"; }
grep -q "warn: lkv: warning:" "$D5/logs/node-1.log" && fail "the lkv warning still says warn: ... warning:"
pass "node 1 logs the lkv warning once, readably"
"$CLUSTER" stop --dir "$D5" >/dev/null

# A broken config: copy the cluster, make f impossible; nothing must be launched.
DB=$TMP/bad
mkdir -p "$DB"
cp -r "$D/keys" "$DB/"
sed 's/^f = 1/f = 7/' "$D/cluster.ini" >"$DB/cluster.ini"
expect_rc 1 "start on a config with f >= n" "$CLUSTER" start --dir "$DB"
err_has "no node was started" "config checked first"
grep -q "keep running" "$TMP/err" && fail "claims nodes keep running: $(cat "$TMP/err")"
[ ! -d "$DB/pids" ] || [ -z "$(ls "$DB/pids")" ] || fail "a node was launched: $(ls "$DB/pids")"
pass "no node was launched"

say "values starting with '-' and --value-file"
expect_rc 0 "reg write x -- -5" "$STRATA" --dir "$D" reg write x -- -5
expect_rc 0 "reg read x" "$STRATA" --dir "$D" reg read x
[ "$(cat "$TMP/out")" = "-5" ] || fail "reg read x gave '$(cat "$TMP/out")', expected -5"
expect_rc 0 "reg write y -7 (a negative number)" "$STRATA" --dir "$D" reg write y -7
expect_rc 0 "reg read y" "$STRATA" --dir "$D" reg read y
[ "$(cat "$TMP/out")" = "-7" ] || fail "reg read y gave '$(cat "$TMP/out")'"
expect_rc 2 "reg write x --bogus" "$STRATA" --dir "$D" reg write x --bogus
expect_rc 0 "lkv put k -- --dash" "$STRATA" --dir "$D" lkv put k -- --dash
expect_rc 0 "lkv get k" "$STRATA" --dir "$D" lkv get k
[ "$(cat "$TMP/out")" = "--dash" ] || fail "lkv get k gave '$(cat "$TMP/out")'"
printf 'from a file' >"$TMP/v"
expect_rc 0 "lkv put f --value-file" "$STRATA" --dir "$D" lkv put f --value-file "$TMP/v"
expect_rc 0 "lkv get f" "$STRATA" --dir "$D" lkv get f
[ "$(cat "$TMP/out")" = "from a file" ] || fail "lkv get f gave '$(cat "$TMP/out")'"
expect_rc 2 "lkv put f --value-file missing" "$STRATA" --dir "$D" lkv put f --value-file "$TMP/none"
expect_rc 0 "kv put k -- --dash" "$STRATA" --dir "$D" kv put k -- --dash
expect_rc 0 "kv get k" "$STRATA" --dir "$D" kv get k
[ "$(cat "$TMP/out")" = "--dash" ] || fail "kv get k gave '$(cat "$TMP/out")'"
expect_rc 0 "kv put n -3 (a negative number)" "$STRATA" --dir "$D" kv put n -3
expect_rc 0 "kv cas n -3 -- -4" "$STRATA" --dir "$D" kv cas n -3 -- -4
expect_rc 0 "kv get n" "$STRATA" --dir "$D" kv get n
[ "$(cat "$TMP/out")" = "-4" ] || fail "kv get n gave '$(cat "$TMP/out")'"
expect_rc 2 "kv put k --bogus" "$STRATA" --dir "$D" kv put k --bogus
S_listen() { "$STRATA" --dir "$D" -n 2 bcast listen --count 2 --duration 10 >"$TMP/deliv" 2>&1; }
S_listen &
lpid=$!
BG_PIDS+=("$lpid")
sleep 0.5
expect_rc 0 "bcast send -- -dash" "$STRATA" --dir "$D" bcast send -- -dash
expect_rc 0 "bcast send --value-file" "$STRATA" --dir "$D" bcast send --value-file "$TMP/v"
wait "$lpid" || { cat "$TMP/deliv"; fail "node 2 did not deliver both broadcasts"; }
grep -q -- "-dash" "$TMP/deliv" && grep -q "from a file" "$TMP/deliv" ||
	fail "deliveries lack the values: $(cat "$TMP/deliv")"
pass "node 2 delivered '-dash' and the file's text"
expect_rc 2 "bcast send -x (an option, not a value)" "$STRATA" --dir "$D" bcast send -x

say "a read of another algorithm's key says why it is null"
expect_rc 0 "reg read x --algo mv (written with nnar)" "$STRATA" --dir "$D" reg read x --algo mv
[ "$(cat "$TMP/out")" = null ] || fail "stdout should be exactly null: '$(cat "$TMP/out")'"
err_has "each register algorithm keeps its own keys" "null read"
err_has "^strata: reg read: null: " "null read, under the command as typed"

say "a register without its quorum: the error names the quorum, within --timeout"
"$CLUSTER" kill 2 --dir "$D" >/dev/null
"$CLUSTER" kill 3 --dir "$D" >/dev/null
t0=$(now_ms)
expect_rc 3 "reg read x with 2 of 3 nodes down" "$STRATA" --dir "$D" --timeout 1000 reg read x
el=$(($(now_ms) - t0))
err_has "majority quorum of 2 of 3 nodes" "quorum named"
err_has "node 1 sees 1 of 3 nodes alive" "how many are alive"
err_has "1 of 3 answered its current phase (answered: 1)" "who answered"
err_has "^strata: reg read: node 1 sees" "the view, under the command as typed"
[ $el -lt 3000 ] || fail "the read took $el ms with --timeout 1000"
pass "gave up after $el ms (--timeout 1000)"
"$CLUSTER" start --dir "$D" >/dev/null || fail "restarting nodes 2 and 3 failed"

say "nodes up but silent (SIGSTOP): the node itself says who answered, within --timeout"
"$CLUSTER" pause 2 --dir "$D" >/dev/null
"$CLUSTER" pause 3 --dir "$D" >/dev/null
t0=$(now_ms)
expect_rc 3 "reg write tq 1 with 2 of 3 nodes stopped" "$STRATA" --dir "$D" -n 1 --timeout 2000 reg write tq 1 --algo nnar
el=$(($(now_ms) - t0))
# The node's own answer, not the client's give-up: it names the quorum and who answered.
err_has "register 'nnar' at node 1 needs a majority quorum of 2 of 3 nodes" "the node names the quorum"
err_has "1 of 3 answered its current phase (answered: 1)" "the node names who answered"
err_has "outcome unknown" "an unknown outcome"
grep -q "no answer in time" "$TMP/err" && { cat "$TMP/err"; fail "the client gave up instead of the node answering"; }
# Loaded machines are slow: only that it comes back before the old 10 s.
[ $el -lt 10000 ] || fail "the write took $el ms with --timeout 2000"
pass "answered after $el ms (--timeout 2000)"
"$CLUSTER" resume 2 --dir "$D" >/dev/null
"$CLUSTER" resume 3 --dir "$D" >/dev/null
# The timed-out write went on: a read at node 1 queues behind it on the key and sees it.
expect_rc 0 "reg read tq after resuming" "$STRATA" --dir "$D" -n 1 --timeout 8000 reg read tq --algo nnar
[ "$(cat "$TMP/out")" = 1 ] || fail "read after the timed-out write gave '$(cat "$TMP/out")'"
pass "the write completed after its client was told the outcome is unknown"

say "a workload where nothing succeeds exits non-zero and says why"
expect_rc 0 "workload against the running nodes" "$STRATA" --dir "$D" workload --duration 1 --clients 2 --out "$TMP/h2.jsonl"
expect_rc 0 "check of that history" "$STRATA" check --model atomic "$TMP/h2.jsonl"
# riwa needs a perfect failure detector: a fail-noisy cluster's nodes refuse every operation.
expect_rc 1 "workload --algo riwa on fail-noisy" "$STRATA" --dir "$D" workload --algo riwa --duration 1 --clients 2 --out "$TMP/h0.jsonl"
err_has "the first refusal said" "workload with only refusals"
expect_rc 1 "check of that history" "$STRATA" check --model atomic "$TMP/h0.jsonl"
# All nodes paused: every operation times out.
for i in 1 2 3; do "$CLUSTER" pause "$i" --dir "$D" >/dev/null; done
expect_rc 3 "workload against paused nodes" "$STRATA" --dir "$D" workload --duration 1 --clients 2 --op-timeout 200 --out "$TMP/h.jsonl"
err_has "no operation succeeded" "workload with 0 ok"
for i in 1 2 3; do "$CLUSTER" resume "$i" --dir "$D" >/dev/null; done
expect_rc 1 "check of that history" "$STRATA" check --model atomic "$TMP/h.jsonl"
err_has "no operation completed" "check of the workload's empty history"
