#!/usr/bin/env bash
# Layering checks on the built tree (no cluster):
#   1. the `strata` client contains no protocol module code: of every constructor in the family
#      constructor tables (src/*/ctors.c, lkv_ctors.c), and of the node core, links and stack
#      builder, none is linked into build/strata (nm), while the catalog is;
#   2. src/core includes no family header (fd/, bcast/, reg/, cons/, smr/) and no header of the
#      link layer (links/): the node reaches the links through its transport interface;
#   3. on a live 3-node cluster, an algorithm's modules exist only once used: nnar and wcb (and
#      wcb's erb and beb) are absent at start, nnar appears on every node after one write at
#      node 1 (node 1 by the request, the others by its first messages) with the beb it stands
#      on, and wcb with its lower
#      modules after one broadcast.
# Deliberately broken variant: the same nm check run on build/stratad must find the
# constructors, or the check is blind.
. "$(dirname "$0")/lib.sh"

ctors=$(sed -n 's/^[[:space:]]*{ "[^"]*", \([a-z_0-9]*\) },$/\1/p' "$top"/src/*/ctors.c "$top"/src/reg/lkv_ctors.c | sort -u)
[ -n "$ctors" ] || fail "no constructors found in src/*/ctors.c"
core="strata_node_new strata_links_recv strata_pl_send strata_stack_build strata_algo_create"
count_in() {
	local bin=$1 n=0 s
	local syms
	syms=$(nm "$bin" | awk '$2 ~ /^[Tt]$/ {print $3}' | sort -u)
	for s in $ctors $core; do
		grep -qx "$s" <<<"$syms" && n=$((n + 1))
	done
	echo "$n"
}
n_client=$(count_in "$STRATA")
[ "$n_client" -eq 0 ] || fail "build/strata links $n_client protocol symbols (constructors, node, links)"
nm "$STRATA" | grep -q ' T strata_algo_find$' || fail "build/strata lacks the catalog (strata_algo_find)"
say "strata: no constructor, node, link or stack-builder code linked; the catalog is"
n_daemon=$(count_in "$STRATAD")
[ "$n_daemon" -gt 10 ] || fail "broken variant: stratad shows only $n_daemon protocol symbols: the nm check is blind"
say "stratad (broken variant): $n_daemon protocol symbols found, so the check can fail"

if grep -n '#include "\(fd\|bcast\|reg\|cons\|smr\|links\|lkv\)/' "$top"/src/core/*.c "$top"/src/core/*.h; then
	fail "src/core includes a family or link-layer header"
fi
say "src/core includes no family or link-layer header"

DIR=$TMP/lazy
export DIR
start_cluster 3 fail-silent
mods() { status_json "$1" | json_get "' '.join(d['modules'])"; }
has() { [[ " $(mods "$1") " == *" $2 "* ]]; }
for m in nnar wcb erb beb; do
	has 1 "$m" && fail "node 1 runs $m before anyone used it: $(mods 1)"
done
say "at start node 1 runs: $(mods 1)"
"$STRATA" --dir "$DIR" -n 1 reg write k v --algo nnar >/dev/null || fail "nnar write failed"
for i in 1 2 3; do
	has "$i" nnar || fail "node $i has no nnar after a write: $(mods "$i")"
	# nnar stands on beb (READ and WRITE go through its beb instance): beb exists now too
	has "$i" beb || fail "node $i has nnar but no beb under it: $(mods "$i")"
done
has 2 wcb && fail "node 2 runs wcb before anyone broadcast with it"
"$STRATA" --dir "$DIR" -n 1 bcast send hello --algo wcb >/dev/null || fail "wcb broadcast failed"
sleep 0.5
for i in 1 2 3; do
	for m in wcb erb beb; do
		has "$i" "$m" || fail "node $i has no $m after a wcb broadcast: $(mods "$i")"
	done
done
say "nnar + its beb on every node after one write, wcb + erb + beb after one broadcast"
echo "ok: layers"
