#!/usr/bin/env bash
# No reply before sync, on real processes: every node's storage sync is made 300 ms slower
# (stratad --test-sync-delay-ms 300, test only). An lmv write's acknowledgement must then take at
# least 300 ms (the peers' acknowledgements and the writer's reply each wait for a sync), the
# writer's log must show the sync that covers the reply completing right before the reply is
# released, and the sync counters must have moved. A build whose node releases replies before
# the sync fails this test (shown in docs/architecture.md).
. "$(dirname "$0")/lib.sh"

DELAY_MS=300
REAL_STRATAD=$STRATAD
cat >"$TMP/stratad-slow-sync" <<WRAP
#!/usr/bin/env bash
[ "\${1:-}" = keygen ] && exec "$REAL_STRATAD" "\$@"
exec "$REAL_STRATAD" "\$@" --test-sync-delay-ms $DELAY_MS
WRAP
chmod +x "$TMP/stratad-slow-sync"
STRATAD=$TMP/stratad-slow-sync
export STRATAD

DIR=$TMP/c
export DIR
say "starting 3 nodes (fail-recovery), every sync $DELAY_MS ms slower, log level debug"
"$CLUSTER" start -n 3 --model fail-recovery --dir "$DIR" --log-level debug >/dev/null ||
	fail "scripts/cluster start failed"
writer=$(ini_get cluster writer)
writer=${writer:-1}
grep -q "TEST ONLY: every storage sync is $DELAY_MS ms slower" "$DIR/logs/node-$writer.log" ||
	fail "node $writer does not announce the slow syncs"
syncs_before=$(counter "$writer" syncs)

say "lmv writes on node $writer: each acknowledgement must take >= $DELAY_MS ms"
for i in 1 2 3; do
	t0=$(now_ms)
	"$STRATA" --dir "$DIR" -n "$writer" --timeout 10000 reg write --algo lmv "k$i" "v$i" >/dev/null ||
		fail "write $i failed"
	t1=$(now_ms)
	ms=$((t1 - t0))
	echo "  write $i acknowledged after $ms ms"
	[ "$ms" -ge "$DELAY_MS" ] || fail "write $i acknowledged after $ms ms, before a $DELAY_MS ms sync could finish"
done
pass "every acknowledgement took at least $DELAY_MS ms"

say "the writer's log: a completed sync right before every lmv reply"
python3 - "$DIR/logs/node-$writer.log" <<'PY' || fail "a reply was not released by a completed sync"
import sys
lines = open(sys.argv[1]).read().splitlines()
replies = 0
for i, l in enumerate(lines):
    if "lmv: reply to request" in l:
        replies += 1
        # The reply is released in the sync's completion callback, right after its log line
        # (other outputs of the same batches may come between, but no new batch's work).
        j = i - 1
        while j >= 0 and "sync done" not in lines[j] and ": reply to request" in lines[j]:
            j -= 1
        if j < 0 or "sync done" not in lines[j]:
            print("reply not preceded by a completed sync:\n  " + lines[j] + "\n  " + l)
            sys.exit(1)
if replies < 3:
    print(f"only {replies} lmv replies in the log")
    sys.exit(1)
print(f"  {replies} replies, each released right after a completed sync")
PY
syncs_after=$(counter "$writer" syncs)
[ "$syncs_after" -gt "$syncs_before" ] || fail "syncs did not move ($syncs_before -> $syncs_after)"
pass "syncs $syncs_before -> $syncs_after; a read sees the last write"
got=$("$STRATA" --dir "$DIR" -n 2 --timeout 10000 reg read --algo lmv k3) || fail "read failed"
case "$got" in *v3*) ;; *) fail "read k3 returned '$got'" ;; esac
pass "read k3 = v3"
