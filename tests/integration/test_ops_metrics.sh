#!/usr/bin/env bash
# Metrics, live: every node of a cluster made by scripts/cluster serves Prometheus text on
# loopback; `strata status -w json` names it (metrics_url); curl of it is valid exposition text
# by a strict parser (tests/integration/prom_parse.py, itself shown rejecting broken pages);
# the page has every status counter, per-peer failure-detector state, leader and epoch, per-module
# operation histograms and the sync histogram; under load (KV writes) the op and sync counts
# move; a killed peer shows as down; other paths and methods are refused.
. "$(dirname "$0")/lib.sh"
t_start=$(now_ms)
PARSE=$top/tests/integration/prom_parse.py
command -v curl >/dev/null || fail "curl is missing (scripts/setup installs it)"

say "the parser is strict: broken pages are rejected"
python3 - "$PARSE" <<'PY' || fail "the exposition parser accepted a broken page"
import importlib.util, sys
spec = importlib.util.spec_from_file_location("p", sys.argv[1]); p = importlib.util.module_from_spec(spec); spec.loader.exec_module(p)
good = '# TYPE a counter\na 1\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n'
p.parse(good)
bad = {
  "no TYPE": 'a 1\n',
  "bad escape": '# TYPE a gauge\na{x="\\q"} 1\n',
  "repeated series": '# TYPE a gauge\na 1\na 2\n',
  "split family": '# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x="1"} 1\n',
  "bad value": '# TYPE a gauge\na one\n',
  "unknown type": '# TYPE a meter\na 1\n',
  "no final newline": '# TYPE a gauge\na 1',
  "non-cumulative": '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
  "no +Inf": '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
  "count mismatch": '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n',
  "negative counter": '# TYPE a counter\na -1\n',
  "bad name": '# TYPE a gauge\n9a 1\n',
}
for why, text in bad.items():
    try:
        p.parse(text)
    except ValueError as e:
        print(f"  rejected ({why}): {e}")
        continue
    print("accepted a page with", why); sys.exit(1)
PY
pass "12 broken pages rejected, a good one accepted"

start_cluster 3 fail-noisy
S() { "$STRATA" --dir "$DIR" "$@"; }
S -w json status --all >"$TMP/all.json" || fail "status --all -w json failed"
read -r -a urls <<<"$(json_get '" ".join(o["metrics_url"] or "none" for o in sorted(d, key=lambda o: o["node"]))' <"$TMP/all.json")"
for i in 1 2 3; do
	url[$i]=${urls[$((i - 1))]}
	case "${url[$i]}" in http://127.0.0.1:*/metrics) ;; *) fail "node $i: metrics_url '${url[$i]}' is not a loopback URL" ;; esac
done
pass "status -w json has metrics_url on loopback for every node: ${url[*]}"
S status | grep -q "^metrics http://127.0.0.1:" || fail "status text should show the metrics URL"

scrape() { # ID FILE (fetched only; valid() parses)
	curl -sS -f --max-time 5 -D "$2.hdr" -o "$2" "${url[$1]}" || fail "curl of node $1's metrics failed"
	grep -qi '^content-type: text/plain; version=0.0.4' "$2.hdr" || fail "node $1: wrong content type: $(cat "$2.hdr")"
}
valid() { # FILE...
	python3 "$PARSE" "$@" >"$TMP/valid.out" || fail "a metrics page is not valid: $(cat "$TMP/valid.out")"
}
for i in 1 2 3; do scrape "$i" "$TMP/m$i.0"; done
valid "$TMP/m1.0" "$TMP/m2.0" "$TMP/m3.0"
pass "every node's page is valid Prometheus text ($(head -n1 "$TMP/valid.out" | sed 's/.*: valid/valid/'))"

say "what the page holds"
python3 - "$PARSE" "$TMP/m1.0" "$TMP/all.json" <<'PY' || fail "the page misses something of status"
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("p", sys.argv[1]); p = importlib.util.module_from_spec(spec); spec.loader.exec_module(p)
s, t = p.parse(open(sys.argv[2]).read())
st = [o for o in json.load(open(sys.argv[3])) if o["node"] == 1][0]
names = {n for (n, _l) in s}
rates = {"syncs_per_s", "stores_per_s", "batches_per_s", "stores_per_sync", "batches_per_sync"}
missing = [c for c in st["counters"] if c not in rates and "strata_" + c not in names]
assert not missing, f"status counters missing from the page: {missing}"
for peer in (1, 2, 3):
    assert p.get(s, "strata_peer_up", peer=str(peer)) == 1, peer
    assert p.get(s, "strata_peer_state", peer=str(peer), state="self" if peer == 1 else "alive") == 1
assert p.get(s, "strata_leader") == st["leader"] and st["leader"] > 0
assert "strata_leader_epoch" in names
assert t["strata_op_duration_seconds"] == "histogram" and t["strata_sync_duration_seconds"] == "histogram"
print(f"  {len(st['counters']) - len(rates)} status counters, 3 peers, leader {st['leader']}")
PY
pass "every status counter, each peer's state, the leader and epoch, both histograms"

say "under load the counters move"
# The KV is created on first use: one acknowledged put (retried up to 10 s) before the load.
for _ in $(seq 1 20); do S -n 1 kv put warm 1 >/dev/null 2>&1 && break; sleep 0.5; done
S -n 1 workload --kv --clients 4 --duration 2 --out "$TMP/h.jsonl" >"$TMP/wlkv.out" 2>&1 ||
	{ cat "$TMP/wlkv.out"; fail "a KV workload failed"; }
S -n 1 reg write x 1 --algo nnar >/dev/null || fail "a register write failed"
scrape 1 "$TMP/m1.1"
python3 - "$PARSE" "$TMP/m1.0" "$TMP/m1.1" <<'PY' || fail "the counters did not move under load"
import importlib.util, sys
spec = importlib.util.spec_from_file_location("p", sys.argv[1]); p = importlib.util.module_from_spec(spec); spec.loader.exec_module(p)
a, _ = p.parse(open(sys.argv[2]).read()); b, _ = p.parse(open(sys.argv[3]).read())
g = lambda s, n, **l: p.get(s, n, **l) or 0
kv0, kv1 = g(a, "strata_op_duration_seconds_count", module="kv"), g(b, "strata_op_duration_seconds_count", module="kv")
assert kv1 > kv0 + 10, (kv0, kv1)
assert g(b, "strata_op_duration_seconds_count", module="nnar") >= 1
assert g(b, "strata_op_duration_seconds_sum", module="kv") > 0
assert g(b, "strata_sync_duration_seconds_count") > g(a, "strata_sync_duration_seconds_count")
assert g(b, "strata_syncs") > g(a, "strata_syncs")
assert g(b, "strata_dgram_out") > g(a, "strata_dgram_out")
assert g(b, "strata_metrics_scrapes") > g(a, "strata_metrics_scrapes")
print(f"  kv ops {kv0:.0f} -> {kv1:.0f}, syncs {g(a, 'strata_syncs'):.0f} -> {g(b, 'strata_syncs'):.0f}")
PY
pass "kv and nnar op counts, syncs and their histogram, datagrams and scrapes all grew"

say "strata top: per-node rates"
S -w json top --count 1 --interval 0.5 >"$TMP/top.json" || fail "strata top failed"
python3 - "$TMP/top.json" <<'PY' || fail "strata top -w json should give one line per node with rates"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert sorted(r["node"] for r in rows) == [1, 2, 3], rows
assert all(r["reachable"] and r["dgram_in_per_s"] > 0 and r["dgram_out_per_s"] > 0 for r in rows), rows
PY
S top --count 1 --interval 0.2 | grep -q "^node  leader" || fail "strata top text should print its header"
S top --interval 0 >/dev/null 2>&1; [ $? -eq 2 ] || fail "top --interval 0 should exit 2"
pass "top: one row per node with datagram rates (heartbeats) above 0; bad interval exits 2"

say "workload progress: a line on a terminal, nothing when piped"
python3 - "$STRATA" "$DIR" <<'PY' || fail "workload on a terminal should redraw a progress line on stderr"
import os, pty, subprocess, sys
m, sl = pty.openpty()
p = subprocess.Popen([sys.argv[1], "--dir", sys.argv[2], "workload", "--duration", "2", "--out", os.devnull],
                     stdout=subprocess.DEVNULL, stderr=sl)
os.close(sl)
buf = b""
while True:
    try:
        d = os.read(m, 4096)
    except OSError:
        break
    if not d:
        break
    buf += d
p.wait()
text = buf.decode(errors="replace")
assert p.returncode == 0, p.returncode
assert text.count("\rworkload: ") >= 3 and " ok " in text, repr(text[:300])
print(f"  {text.count(chr(13) + 'workload: ')} progress redraws on the terminal")
PY
S workload --duration 1 --out /dev/null >/dev/null 2>"$TMP/wl.err" || fail "piped workload failed"
! grep -q $'\r' "$TMP/wl.err" || fail "a piped workload should print no progress line"
pass "progress redrawn on a terminal, none when piped"

say "a killed peer shows as down"
"$CLUSTER" kill 3 --dir "$DIR" >/dev/null || fail "kill 3 failed"
ok=0
for _ in $(seq 1 50); do
	curl -sS -f --max-time 5 -o "$TMP/m1.2" "${url[1]}" 2>/dev/null &&
		grep -q '^strata_peer_up{peer="3"} 0$' "$TMP/m1.2" && { ok=1; break; }
	sleep 0.2
done
[ $ok = 1 ] || fail "node 1's metrics never showed peer 3 down"
valid "$TMP/m1.2"
curl -s --max-time 5 "${url[3]}" >/dev/null 2>&1 && fail "the killed node still serves metrics"
pass "peer 3 down on node 1's page; node 3 serves nothing"

say "only GET /metrics"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${url[1]%/metrics}/other")
[ "$code" = 404 ] || fail "GET /other: $code, expected 404"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST "${url[1]}")
[ "$code" = 405 ] || fail "POST /metrics: $code, expected 405"
pass "404 for another path, 405 for POST"

say "malformed and oversized requests: 400 and 431, counted"
b0=$(counter 1 metrics_bad_requests)
mhp=${url[1]#http://}
mhp=${mhp%/metrics}
exec {mfd}<>"/dev/tcp/${mhp%:*}/${mhp##*:}" || fail "cannot connect to the metrics port"
printf 'NONSENSE\r\n\r\n' >&"$mfd"
IFS= read -r -t 5 line <&"$mfd" || line=
exec {mfd}<&-
[ "${line%$'\r'}" = "HTTP/1.1 400 Bad Request" ] || fail "a malformed request line got '$line', expected 400"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" "${url[1]}")
[ "$code" = 431 ] || fail "a 9,000-byte header: $code, expected 431"
b1=$(counter 1 metrics_bad_requests)
[ "$b1" -ge $((b0 + 2)) ] || fail "metrics_bad_requests grew from $b0 to $b1, expected +2"
curl -sS -f --max-time 5 -o /dev/null "${url[1]}" || fail "node 1's metrics stopped serving"
pass "400 for a malformed request line, 431 for a head over 8 KiB, both counted ($b0 -> $b1); still serving"
echo "test_ops_metrics: $(( ($(now_ms) - t_start) / 1000 )) s"
