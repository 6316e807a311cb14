#!/usr/bin/env bash
# Layering checks on the built tree (no cluster):
#   1. the `strata` client contains no protocol module code: of every constructor in the family
#      constructor tables (src/*/ctors.c, lkv_ctors.c), and of the node core, links and stack
#      builder, none is linked into build/strata (nm), while the catalog is;
#   2. src/core includes no family header (fd/, bcast/, reg/, cons/, smr/). core/node.c still
#      includes links/links.h (the node owns its link layer; see docs/architecture.md).
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

if grep -n '#include "\(fd\|bcast\|reg\|cons\|smr\)/' "$top"/src/core/*.c "$top"/src/core/*.h; then
	fail "src/core includes a family header"
fi
say "src/core includes no family header"
echo "ok: layers"
