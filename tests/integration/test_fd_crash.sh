#!/usr/bin/env bash
# Kill one of 5 nodes (SIGKILL): every survivor must report it (crashed under fail-stop's P,
# suspected or crashed under fail-noisy's <>P) within the configured detection bound, and under
# fail-noisy the survivors must agree on a new leader when the leader is killed.
. "$(dirname "$0")/lib.sh"

for model in fail-stop fail-noisy; do
	DIR=$TMP/$model
	export DIR
	start_cluster 5 "$model"
	hb=$(ini_get fd heartbeat_ms)
	if [ "$model" = fail-stop ]; then
		to=$(ini_get fd timeout_ms)
		states=crashed
	else
		to=$(ini_get fd evp_timeout_ms)
		states=suspected,crashed
	fi
	# A crash is noticed at the first check after `to` ms of silence; checks run every `to` ms
	# (heartbeats every `hb`), so 2*to + hb, plus 700 ms of slack for a loaded machine
	# (SLACK_MS overrides it; SLACK_MS=-500 shows the test failing).
	bound=$((2 * to + hb + ${SLACK_MS:-700}))

	victim=5
	# The detection times are the nodes' own stamps on their view changes, streamed to a
	# `strata watch` started before the kill (wait_states), not the polls' times: a status
	# poll is a new process per observer, which under load added more than the slack.
	WATCH_LOG=$DIR/watch.jsonl
	export WATCH_LOG
	"$STRATA" --dir "$DIR" -w json watch >"$WATCH_LOG" 2>/dev/null &
	BG_PIDS+=($!)
	sleep 1.5 # its subscriptions are made (each starts with the node's current view)
	say "$model: kill node $victim; survivors 1-4 must report it within $bound ms"
	T0_MS=$(now_ms)
	export T0_MS
	"$CLUSTER" kill $victim --dir "$DIR" >/dev/null || fail "kill failed"
	wait_states "$bound" $victim "$states" 1 2 3 4
	unset T0_MS WATCH_LOG
	kill "${BG_PIDS[-1]}" 2>/dev/null; wait "${BG_PIDS[-1]}" 2>/dev/null
	pass "$model: every survivor reports node $victim ($states) within $bound ms"

	if [ "$model" = fail-noisy ]; then
		leader=$(status_json 2 | json_get "d['leader']")
		[ "$leader" -ge 1 ] 2>/dev/null || fail "no leader reported"
		say "fail-noisy: kill the leader (node $leader); the others must agree on a new one"
		"$CLUSTER" kill "$leader" --dir "$DIR" >/dev/null || fail "kill failed"
		others=()
		for i in 1 2 3 4; do [ "$i" != "$leader" ] && others+=("$i"); done
		deadline=$(($(now_ms) + 3000))
		while :; do
			ls=()
			for i in "${others[@]}"; do ls+=("$(status_json "$i" | json_get "d['leader']")"); done
			uniq=$(printf '%s\n' "${ls[@]}" | sort -u)
			if [ "$(echo "$uniq" | wc -l)" = 1 ] && [ "$uniq" != "$leader" ] && [ "$uniq" != 0 ]; then
				break
			fi
			[ "$(now_ms)" -lt "$deadline" ] || fail "leaders after killing $leader: ${ls[*]}"
			sleep 0.05
		done
		pass "survivors ${others[*]} agree on leader $uniq"
	fi
	"$CLUSTER" stop --dir "$DIR" >/dev/null
done
