#!/usr/bin/env bash
# No reply before sync, on real processes: every node's storage sync is made 500 ms slower
# (stratad --test-sync-delay-ms 500, test only; with it every turn-batch goes through the sync
# thread). An lmv write's path crosses three turn-batches, each of whose outputs must wait for
# its sync: the writer's (it stores the value, then sends WRITE), each peer's (it stores, then
# ACKs), and the writer's batch that sees the majority of ACKs and produces the reply. So the
# acknowledgement must take at least 3 x 500 ms. A build that releases replies before the sync
# acknowledges after two syncs (1.4-1.9 s here) and fails on some write. The writer's log must
# also say, for every lmv reply, that it was released by a completed sync (the runtime logs, at
# debug, whether a reply left from a sync's completion), and the sync counters must move.
. "$(dirname "$0")/lib.sh"

DELAY_MS=500
MIN_MS=$((3 * DELAY_MS))
REAL_STRATAD=$STRATAD
cat >"$TMP/stratad-slow-sync" <<WRAP
#!/usr/bin/env bash
case "\${1:-}" in keygen | client-keygen | coin-deal) exec "$REAL_STRATAD" "\$@" ;; esac
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

say "lmv writes on node $writer: each acknowledgement must take >= $MIN_MS ms (3 syncs)"
early=
for i in 1 2 3 4 5; do
	t0=$(now_ms)
	"$STRATA" --dir "$DIR" -n "$writer" --timeout 10000 reg write --algo lmv "k$i" "v$i" >/dev/null ||
		fail "write $i failed"
	t1=$(now_ms)
	ms=$((t1 - t0))
	echo "  write $i acknowledged after $ms ms"
	[ "$ms" -ge "$MIN_MS" ] || early="$early $i:${ms}ms"
done
early=${early:-}

say "the writer's log: every lmv reply released by a completed sync"
python3 - "$DIR/logs/node-$writer.log" <<'PY' || fail "a reply was released before the sync of its batch"
import sys
replies = 0
for l in open(sys.argv[1]).read().splitlines():
    if "lmv: reply to request" not in l:
        continue
    replies += 1
    if "released: batches up to" not in l:
        print("  " + l)
        sys.exit(1)
if replies < 5:
    print(f"only {replies} lmv replies in the log")
    sys.exit(1)
print(f"  {replies} replies, each released when the sync covering its batch completed")
PY
[ -z "$early" ] || fail "acknowledged in under $MIN_MS ms (write:latency):$early -- a reply left before the sync of its batch ($DELAY_MS ms each, 3 on the path)"
pass "every acknowledgement took at least $MIN_MS ms"
syncs_after=$(counter "$writer" syncs)
[ "$syncs_after" -gt "$syncs_before" ] || fail "syncs did not move ($syncs_before -> $syncs_after)"
pass "syncs $syncs_before -> $syncs_after; a read sees the last write"
got=$("$STRATA" --dir "$DIR" -n 2 --timeout 10000 reg read --algo lmv k5) || fail "read failed"
case "$got" in *v5*) ;; *) fail "read k5 returned '$got'" ;; esac
pass "read k5 = v5"
