#!/usr/bin/env bash
# Consensus from total-order broadcast (seed 8.6) on real processes: 5 nodes (fail-noisy), all
# five propose a different value on the same instance at once with
# `strata consensus propose --algo tob-consensus`; every proposer must print the same decided
# value, that value must be one of the five proposals, and `consensus watch --all` (started
# before) must show every node deciding it. Twice, on instances 1 and 2.
. "$(dirname "$0")/lib.sh"
t0=$(now_ms)
start_cluster 5 fail-noisy
sleep 1

for inst in 1 2; do
	say "instance $inst: 5 concurrent proposals"
	"$STRATA" --dir "$DIR" consensus watch --all --algo tob-consensus --count 5 --duration 20 \
		>"$TMP/watch-$inst.out" 2>&1 &
	wpid=$!
	BG_PIDS+=($wpid)
	sleep 0.5
	pids=()
	for q in 1 2 3 4 5; do
		"$STRATA" --dir "$DIR" -n $q --timeout 15000 consensus propose "value-$q-$inst" \
			--algo tob-consensus --instance "$inst" >"$TMP/prop-$q-$inst.out" 2>&1 &
		pids+=($!)
	done
	for q in 1 2 3 4 5; do
		wait "${pids[$((q - 1))]}" || fail "node $q: $(cat "$TMP/prop-$q-$inst.out")"
	done
	cat "$TMP"/prop-*-"$inst".out
	decided=$(sed -n 's/^instance [0-9]* decided: //p' "$TMP"/prop-*-"$inst".out | sort -u)
	[ "$(echo "$decided" | wc -l)" = 1 ] || fail "instance $inst: proposers decided differently: $decided"
	echo "$decided" | grep -qx "value-[1-5]-$inst" || fail "instance $inst: decided '$decided', not a proposal"
	wait "$wpid" || fail "instance $inst: watch did not see 5 decisions: $(cat "$TMP/watch-$inst.out")"
	cat "$TMP/watch-$inst.out"
	for q in 1 2 3 4 5; do
		grep -q "^node $q decided instance $inst (tob-consensus, proposer [1-5]): $decided\$" \
			"$TMP/watch-$inst.out" || fail "instance $inst: node $q did not decide $decided"
	done
	pass "instance $inst: all 5 nodes decided $decided"
done
echo "test_tob_cons_live: $(( ($(now_ms) - t0) / 1000 )) s"
