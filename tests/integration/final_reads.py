#!/usr/bin/env python3
# Appends a final read of every key of a `strata workload --kv` history to that history, so that
# `strata check` also judges what the cluster holds at the end: a write that was acknowledged
# and then lost makes the history non-linearizable.
#
#   final_reads.py HISTORY STRATA DIR [NODE...]
#
# Each key is read with `strata kv get` (a linearizable read) from every NODE given, as process
# 10000 + NODE, or once from the CLI's default node as process 10000 when no NODE is given. The
# reads are stamped one after the other, a second after the history's last event. Exits 1 (and
# says which) if a read fails.
import json
import subprocess
import sys

path, strata, d = sys.argv[1:4]
nodes = [int(x) for x in sys.argv[4:]] or [None]
ev = [json.loads(line) for line in open(path) if line.strip()]
t = max(e["time"] for e in ev) + 10**9
keys = sorted({e["key"] for e in ev})
with open(path, "a") as f:
    for node in nodes:
        where = [] if node is None else ["-n", str(node)]
        for k in keys:
            r = subprocess.run([strata, "--dir", d] + where +
                               ["--timeout", "5000", "-w", "json", "kv", "get", k],
                               capture_output=True, text=True)
            if r.returncode != 0:
                at = "" if node is None else f" from node {node}"
                print(f"  get {k}{at}: exit {r.returncode}: {r.stderr.strip()}")
                sys.exit(1)
            v = json.loads(r.stdout)["value"]
            p = 10000 + (node or 0)
            f.write(json.dumps({"process": p, "type": "invoke", "f": "read", "key": k,
                                "value": None, "time": t}) + "\n")
            f.write(json.dumps({"process": p, "type": "ok", "f": "read", "key": k,
                                "value": v, "time": t + 1}) + "\n")
            t += 2
print(f"  {len(nodes) * len(keys)} final reads appended")
