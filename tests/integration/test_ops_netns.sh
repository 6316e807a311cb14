#!/usr/bin/env bash
# scripts/cluster start --netns (issue 12, multi-host): each node in a network namespace of its
# own, with an address that exists only inside the namespaces.
#   - 3 nodes start; each namespace holds exactly its node's address, the host holds none of
#     them; every node sees the others alive (peer datagrams cross the bridge);
#   - `scripts/cluster exec` reaches the nodes: a register write and read through node 2;
#   - a killed node is suspected by the others;
#   - `stop` deletes every namespace of the cluster;
#   - a start that fails (node 3 exits at start-up) stops the nodes it started and deletes the
#     namespaces (the script's EXIT trap).
# Needs root and `ip netns add`; skipped with the reason otherwise.
. "$(dirname "$0")/lib.sh"
t0=$(now_ms)
pass() { echo "ok: $* ($(($(now_ms) - t0)) ms)"; }

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: test_ops_netns needs root to create network namespaces (uid $(id -u))"
	exit 0
fi
if ! command -v ip >/dev/null 2>&1; then
	echo "SKIP: test_ops_netns needs the ip command (iproute2)"
	exit 0
fi
probe="strata-itprobe-$$"
if ! ip netns add "$probe" 2>/dev/null; then
	echo "SKIP: test_ops_netns: 'ip netns add' is not allowed on this machine"
	exit 0
fi
ip netns del "$probe"

# Belt and braces: whatever happens, no namespace of this test's clusters survives it
# (lib.sh's cleanup runs `scripts/cluster stop`, which deletes them too).
ns_tags=()
netns_cleanup() {
	local t ns
	for t in "${ns_tags[@]+"${ns_tags[@]}"}"; do
		for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^strata-$t-"); do
			ip netns del "$ns" 2>/dev/null
		done
	done
}
trap '_rc=$?; netns_cleanup; (exit $_rc); cleanup' EXIT

tag_of() { sed -n 's/^tag=//p' "$1/netns"; }
ns_count() { ip netns list | awk '{print $1}' | grep -c "^strata-$1-"; }

say "start --netns: 3 nodes"
"$CLUSTER" start --netns -n 3 --dir "$DIR" || fail "scripts/cluster start --netns failed"
tag=$(tag_of "$DIR")
ns_tags+=("$tag")
sub=$(sed -n 's/^subnet=//p' "$DIR/netns")
[ "$(ns_count "$tag")" = 5 ] || fail "expected 5 namespaces (3 nodes, hub, cli), found $(ns_count "$tag")"
for i in 1 2 3; do
	[ "$(ini_get "node.$i" host)" = "$sub.$i" ] || fail "node $i's host is $(ini_get "node.$i" host), not $sub.$i"
	addrs=$(ip -n "strata-$tag-$i" -4 -o addr show | awk '{print $4}' | LC_ALL=C sort | tr '\n' ' ')
	[ "$addrs" = "$sub.$i/24 127.0.0.1/8 " ] || fail "namespace strata-$tag-$i has addresses '$addrs'"
done
ip -4 -o addr show | grep -q " $sub\." && fail "the host has an address of $sub.0/24"
pass "each node has its own address $sub.ID, only inside its namespace; the host has none"

# Eventually perfect detectors: on this loaded machine a node may suspect a peer for a moment,
# so each node gets up to 10 s to see all three alive (peer datagrams cross the bridge).
for i in 1 2 3; do
	alive=0
	for _ in $(seq 1 50); do
		st=$("$CLUSTER" exec --dir "$DIR" -- "$STRATA" --dir "$DIR" -n "$i" --timeout 2000 -w json status) ||
			fail "node $i does not answer status through exec"
		alive=$(echo "$st" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(p["state"]=="alive" for p in d["peers"]))')
		[ "$alive" = 3 ] && break
		sleep 0.2
	done
	[ "$alive" = 3 ] || fail "node $i sees $alive of 3 nodes alive: $st"
done
pass "every node answers through the client namespace and sees the 3 nodes alive"

"$CLUSTER" exec --dir "$DIR" "$STRATA" --dir "$DIR" -n 2 --timeout 5000 reg write nk -- -42 >/dev/null ||
	fail "reg write through node 2 failed"
v=$("$CLUSTER" exec --dir "$DIR" "$STRATA" --dir "$DIR" -n 3 --timeout 5000 reg read nk) ||
	fail "reg read through node 3 failed"
[ "$v" = -42 ] || fail "reg read nk returned '$v', not -42"
pass "a register written through node 2 reads back -42 through node 3"

"$CLUSTER" kill 3 --dir "$DIR" >/dev/null || fail "kill 3 failed"
seen=""
for _ in $(seq 1 50); do
	st=$("$CLUSTER" exec --dir "$DIR" "$STRATA" --dir "$DIR" -n 1 --timeout 1000 -w json status) || true
	seen=$(echo "$st" | python3 -c 'import json,sys; d=json.load(sys.stdin); print([p["state"] for p in d["peers"] if p["id"]==3][0])' 2>/dev/null)
	[ "$seen" = suspected ] || [ "$seen" = crashed ] && break
	sleep 0.2
done
[ "$seen" = suspected ] || [ "$seen" = crashed ] || fail "node 1 still sees the killed node 3 as '$seen'"
pass "node 1 detects the killed node 3 ($seen)"

"$CLUSTER" stop --dir "$DIR" >/dev/null || fail "stop failed"
[ "$(ns_count "$tag")" = 0 ] || fail "stop left $(ns_count "$tag") namespaces of strata-$tag-*"
pass "stop deleted every namespace"

say "a --netns start that fails cleans up"
# A stratad that exits at once when started as node 3 (it passes --check-config through).
mkdir -p "$TMP/bin"
cat >"$TMP/bin/stratad" <<EOF
#!/usr/bin/env bash
for a in "\$@"; do [ "\$a" = --check-config ] && exec "$STRATAD" "\$@"; done
prev=""
for a in "\$@"; do
	[ "\$prev" = --id ] && [ "\$a" = 3 ] && exec "$STRATAD" --no-such-option
	prev=\$a
done
exec "$STRATAD" "\$@"
EOF
chmod +x "$TMP/bin/stratad"
D2=$TMP/failing
out=$(STRATAD=$TMP/bin/stratad "$CLUSTER" start --netns -n 3 --dir "$D2" 2>&1) &&
	fail "a start whose node 3 exits succeeded: $out"
tag2=$(tag_of "$D2")
ns_tags+=("$tag2")
echo "$out" | grep -q "node 3 exited during start-up" || fail "no reason given: $out"
echo "$out" | grep -q "deleted the network namespaces" || fail "no cleanup reported: $out"
[ "$(ns_count "$tag2")" = 0 ] || fail "the failed start left $(ns_count "$tag2") namespaces"
for i in 1 2; do
	[ -f "$D2/pids/node-$i.pid" ] && fail "the failed start left node $i's pid file"
done
pgrep -f -- "--config $D2/cluster.ini" >/dev/null && fail "a node of the failed start still runs"
pass "the failed start said why, stopped nodes 1 and 2 and deleted its namespaces"

echo "test_ops_netns: ok ($(($(now_ms) - t0)) ms)"
