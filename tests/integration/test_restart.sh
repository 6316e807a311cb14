#!/usr/bin/env bash
# Restart a node: it comes back with a strictly larger incarnation, and the other nodes' status
# shows that new incarnation (their links recognised the restarted peer) with the peer alive.
. "$(dirname "$0")/lib.sh"

DIR=$TMP/c
export DIR
start_cluster 3 fail-noisy

old=$(status_json 2 | json_get "d['incarnation']")
seen=$(status_json 1 | json_get "[p['incarnation'] for p in d['peers'] if p['id']==2][0]")
[ "$old" -gt 0 ] 2>/dev/null || fail "node 2 reports incarnation '$old'"
[ "$seen" = "$old" ] || fail "node 1 sees node 2 at incarnation $seen, node 2 says $old"
pass "node 2 runs incarnation $old, as node 1 sees it"

say "restart node 2"
"$CLUSTER" restart 2 --dir "$DIR" >/dev/null || fail "restart failed"
new=$(status_json 2 | json_get "d['incarnation']")
[ "$new" -gt "$old" ] 2>/dev/null || fail "incarnation after restart $new is not larger than $old"
pass "node 2 restarted with incarnation $new > $old"

say "nodes 1 and 3 must show node 2 alive at incarnation $new within 3 s"
deadline=$(($(now_ms) + 3000))
for o in 1 3; do
	while :; do
		got=$(status_json $o | json_get "[(p['incarnation'], p['state']) for p in d['peers'] if p['id']==2][0]")
		[ "$got" = "($new, 'alive')" ] && break
		[ "$(now_ms)" -lt "$deadline" ] || fail "node $o shows node 2 as $got, expected ($new, 'alive')"
		sleep 0.05
	done
	pass "node $o sees node 2 alive at incarnation $new"
done
