# Bash completion for strata, scripts/cluster and strata-cluster (the installed name).
# Installed by `make install` into $(PREFIX)/share/bash-completion/completions; to try it from
# the source tree: . scripts/completion/strata.bash
# Subcommands are completed from fixed lists; algorithm names are asked of `strata algos` (no
# cluster needed); node ids are read from the cluster.ini of --dir (or $STRATA_HOME, ./cluster).

_strata_dir() { # the --dir given on the line, else the default
	local i
	for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
		[ "${COMP_WORDS[i]}" = --dir ] && { echo "${COMP_WORDS[i + 1]}"; return; }
	done
	echo "${STRATA_HOME:-./cluster}"
}

_strata_nodes() { # node ids of the cluster.ini of the line's --dir
	local ini
	ini="$(_strata_dir)/cluster.ini"
	[ -r "$ini" ] && sed -n 's/^[[:space:]]*\[node\.\([0-9][0-9]*\)\].*/\1/p' "$ini"
}

_strata_algos() { # FAMILY
	local s="${COMP_WORDS[0]}"
	command -v "$s" >/dev/null 2>&1 || return
	"$s" algos $1 2>/dev/null | awk 'NF && $1 !~ /:$/ && $1 != "name" {print $1}'
}

_strata() {
	local cur prev cmd sub i
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()
	case "$prev" in
	--dir | --out | --value-file | -o) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	-n | --node) COMPREPLY=($(compgen -W "$(_strata_nodes)" -- "$cur")); return ;;
	-w | --format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
	--model) COMPREPLY=($(compgen -W "atomic regular safe" -- "$cur")); return ;;
	--nemesis) COMPREPLY=($(compgen -W "kill pause partition kill,pause kill,partition pause,partition kill,pause,partition" -- "$cur")); return ;;
	--algo) COMPREPLY=($(compgen -W "$(_strata_algos)" -- "$cur")); return ;;
	--property) COMPREPLY=($(compgen -W "validity no-duplication no-creation agreement uniform-agreement fifo causal total-order" -- "$cur")); return ;;
	esac
	# the command: the first word that is not a global flag or its value
	for ((i = 1; i < COMP_CWORD; i++)); do
		case "${COMP_WORDS[i]}" in
		--dir | -n | --node | -e | --endpoint | -w | --format | --timeout) ((i++)) ;;
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; sub=${COMP_WORDS[i + 1]:-}; [ $((i + 1)) -eq $COMP_CWORD ] && sub=; break ;;
		esac
	done
	if [ -z "${cmd:-}" ]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--dir -n --node -e --endpoint -w --format --timeout --help --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "status watch keygen algos check check-bcast check-consensus shiviz reg bcast lkv kv consensus job nbac trb members vs bench workload member endpoint nemesis top" -- "$cur"))
		fi
		return
	fi
	local words="" flags="--help"
	case "$cmd" in
	status) flags="--all --help" ;;
	watch) flags="--once --help" ;;
	top) flags="--interval --count --help" ;;
	algos) words="reg lkv bcast cons smr fd" ;;
	check) flags="--model --budget --help"; COMPREPLY=($(compgen -f -- "$cur")) ;;
	check-bcast) flags="--property --crashed --byzantine --help" ;;
	check-consensus) flags="--crashed --help" ;;
	reg) words="write read algos"; flags="--algo --value-file --help" ;;
	lkv) words="put get del algos"; flags="--r --w --value-file --help" ;;
	kv) words="put get del cas range watch status algos"; flags="--serializable --value-file --limit --after --help" ;;
	bcast) words="send listen algos"; flags="--algo --repeat --all --count --duration --help" ;;
	consensus) words="propose watch algos"; flags="--algo --value-file --all --help" ;;
	job) words="submit watch algos"; flags="--algo --delay-ms --no-wait --all --count --duration --help" ;;
	nbac) words="begin vote watch"; flags="--id --all --count --duration --help" ;;
	trb) words="send listen"; flags="--all --count --duration --help" ;;
	members) flags="--watch --count --duration --help" ;;
	vs) words="send listen"; flags="--algo --all --count --duration --help" ;;
	member) words="list" ;;
	endpoint) words="health" ;;
	nemesis)
		words="isolate partition oneway drop delay heal status"
		[ -n "$sub" ] && case "$sub" in isolate | oneway | drop | delay) words="$(_strata_nodes)" ;; *) words="" ;; esac
		;;
	workload) flags="--kv --algo --clients --keys --duration --nodes --read-ratio --op-timeout --out --r --w --nemesis --interval --prefix --help" ;;
	bench) words="put get"; flags="--clients --conns --total --key-size --val-size --key-space --target --warmup --no-preload --serializable --help" ;;
	esac
	[ -n "$sub" ] && [ "$cmd" != nemesis ] && words=""
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$flags" -- "$cur"))
	elif [ -n "$words" ]; then
		COMPREPLY=($(compgen -W "$words" -- "$cur"))
	fi
}

_strata_cluster() {
	local cur prev cmd i
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()
	case "$prev" in
	--dir | --config | --base-port) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--model) COMPREPLY=($(compgen -W "fail-stop fail-noisy fail-silent fail-recovery fail-arbitrary randomized" -- "$cur")); return ;;
	--log-level) COMPREPLY=($(compgen -W "error warn info debug trace" -- "$cur")); return ;;
	esac
	for ((i = 1; i < COMP_CWORD; i++)); do
		case "${COMP_WORDS[i]}" in
		--dir | --model | --base-port | --config | --log-level | -n | --byzantine) ((i++)) ;;
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "--dir -n --model --base-port --config --bcast-log --cons-log --log-level --byzantine --netns --version --help -f" -- "$cur"))
	elif [ -z "${cmd:-}" ]; then
		COMPREPLY=($(compgen -W "start stop status kill pause resume restart logs exec" -- "$cur"))
	else
		case "$cmd" in
		kill | pause | resume | restart | logs) COMPREPLY=($(compgen -W "$(_strata_nodes)" -- "$cur")) ;;
		esac
	fi
}

complete -F _strata strata
complete -F _strata_cluster strata-cluster cluster scripts/cluster
