#!/usr/bin/env bash
# Pause a node (SIGSTOP) under fail-noisy: the others must suspect it; resume it (SIGCONT): the
# eventually perfect detector must restore it (alive) again. A paused node is not crashed, so
# <>P may suspect it falsely and must take the suspicion back.
. "$(dirname "$0")/lib.sh"

DIR=$TMP/c
export DIR
start_cluster 3 fail-noisy
hb=$(ini_get fd heartbeat_ms)
to=$(ini_get fd evp_timeout_ms)
inc=$(ini_get fd evp_increment_ms)
bound=$((2 * to + hb + ${SLACK_MS:-700}))

say "precondition: nodes 1 and 2 see node 3 alive"
wait_states 3000 3 alive 1 2

say "pause node 3; nodes 1 and 2 must suspect it within $bound ms"
T0_MS=$(now_ms)
export T0_MS
"$CLUSTER" pause 3 --dir "$DIR" >/dev/null || fail "pause failed"
wait_states "$bound" 3 suspected,crashed 1 2
pass "node 3 suspected by 1 and 2"

# While paused it must stay suspected (nothing comes from it).
sleep 0.5
for o in 1 2; do
	s=$(status_json $o | json_get "[p['state'] for p in d['peers'] if p['id']==3][0]")
	[ "$s" = suspected ] || [ "$s" = crashed ] || fail "node $o: paused node 3 is '$s'"
done
pass "node 3 still suspected after 0.5 s of silence"

# After a false suspicion the timeout grows by evp_increment_ms; restoring needs one heartbeat
# to arrive and one check of the detector.
rbound=$((2 * (to + inc) + hb + ${SLACK_MS:-700}))
say "resume node 3; nodes 1 and 2 must restore it (alive) within $rbound ms"
T0_MS=$(now_ms)
"$CLUSTER" resume 3 --dir "$DIR" >/dev/null || fail "resume failed"
wait_states "$rbound" 3 alive 1 2
pass "node 3 restored by 1 and 2"
status_json 3 >/dev/null
pass "node 3 answers status again"
