#!/usr/bin/env python3
"""A strict reader of the Prometheus text exposition format 0.0.4, for the metrics test.

parse(text) -> {(name, frozenset(labels.items())): value}, plus the declared types; raises
ValueError naming the line on anything the format does not allow or a scraper would reject:
a malformed name, label or value, an escape other than \\\\ \\" \\n, a sample whose family has
no TYPE line or whose TYPE comes after it, a family split in two, a repeated series, a second
TYPE or HELP for one family, an unknown type, a histogram whose buckets are not cumulative or
lack le="+Inf" or disagree with _count, a missing final newline.

Run as a script: python3 prom_parse.py FILE... (exit 0 and a summary per file, or 1 and the
reason)."""
import math
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LNAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def _value(s, ln):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", s):
        raise ValueError(f"line {ln}: bad value {s!r}")
    return float(s)


def _labels(s, i, ln):
    """s[i] == '{'; returns (dict, index after '}')."""
    out = {}
    i += 1
    while True:
        if i < len(s) and s[i] == "}":
            return out, i + 1
        m = LNAME.match(s, i)
        if not m:
            raise ValueError(f"line {ln}: bad label name at column {i + 1}")
        name = m.group(0)
        i = m.end()
        if s[i:i + 2] != '="':
            raise ValueError(f"line {ln}: expected =\" after label {name}")
        i += 2
        val = []
        while True:
            if i >= len(s):
                raise ValueError(f"line {ln}: unterminated label value")
            c = s[i]
            if c == "\\":
                nxt = s[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    raise ValueError(f"line {ln}: bad escape \\{nxt} in label {name}")
                val.append("\n" if nxt == "n" else nxt)
                i += 2
                continue
            if c == "\n":
                raise ValueError(f"line {ln}: newline in label value")
            if c == '"':
                i += 1
                break
            val.append(c)
            i += 1
        if name in out:
            raise ValueError(f"line {ln}: label {name} twice")
        out[name] = "".join(val)
        if i < len(s) and s[i] == ",":
            i += 1
            continue
        if i < len(s) and s[i] == "}":
            return out, i + 1
        raise ValueError(f"line {ln}: expected , or }} after label {name}")


def _family(name, types):
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and types.get(name[: -len(suf)]) in ("histogram", "summary"):
            return name[: -len(suf)]
    return name


def parse(text):
    if text and not text.endswith("\n"):
        raise ValueError("the page does not end with a newline")
    types, helps, samples = {}, {}, {}
    done, current = set(), None
    for ln, line in enumerate(text.split("\n")[:-1], 1):
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[1] in ("HELP", "TYPE"):
                if len(parts) < 3 or not NAME.fullmatch(parts[2]):
                    raise ValueError(f"line {ln}: bad metric name in {parts[1]}")
                fam = parts[2]
                if parts[1] == "TYPE":
                    t = parts[3] if len(parts) == 4 else ""
                    if t not in TYPES:
                        raise ValueError(f"line {ln}: unknown type {t!r}")
                    if fam in types:
                        raise ValueError(f"line {ln}: second TYPE for {fam}")
                    if any(_family(n, {fam: t}) == fam for (n, _l) in samples):
                        raise ValueError(f"line {ln}: TYPE for {fam} after its samples")
                    types[fam] = t
                else:
                    if fam in helps:
                        raise ValueError(f"line {ln}: second HELP for {fam}")
                    helps[fam] = parts[3] if len(parts) == 4 else ""
            continue
        m = NAME.match(line)
        if not m:
            raise ValueError(f"line {ln}: bad metric name")
        name, i = m.group(0), m.end()
        labels = {}
        if i < len(line) and line[i] == "{":
            labels, i = _labels(line, i, ln)
        rest = line[i:]
        if not rest.startswith(" "):
            raise ValueError(f"line {ln}: expected a space before the value")
        fields = rest.split()
        if len(fields) not in (1, 2):
            raise ValueError(f"line {ln}: expected a value and an optional timestamp")
        v = _value(fields[0], ln)
        if len(fields) == 2 and not re.fullmatch(r"-?\d+", fields[1]):
            raise ValueError(f"line {ln}: bad timestamp")
        fam = _family(name, types)
        if fam not in types:
            raise ValueError(f"line {ln}: sample {name} without a TYPE line")
        if fam != current:
            if fam in done:
                raise ValueError(f"line {ln}: family {fam} is split in two")
            if current:
                done.add(current)
            current = fam
        key = (name, frozenset(labels.items()))
        if key in samples:
            raise ValueError(f"line {ln}: series {name}{labels} repeated")
        t = types[fam]
        if t == "histogram" and name == fam:
            raise ValueError(f"line {ln}: histogram {fam} sample without _bucket/_sum/_count")
        if t == "histogram" and name.endswith("_bucket") and "le" not in labels:
            raise ValueError(f"line {ln}: bucket without le")
        if t == "counter" and v < 0:
            raise ValueError(f"line {ln}: negative counter")
        samples[key] = v
    # histograms: per label set (without le), cumulative buckets ending in +Inf == _count
    for fam, t in types.items():
        if t != "histogram":
            continue
        groups = {}
        for (name, labels), v in samples.items():
            if name == fam + "_bucket":
                d = dict(labels)
                le = d.pop("le")
                groups.setdefault(frozenset(d.items()), []).append((_value(le, 0), v))
        for lab, buckets in groups.items():
            buckets.sort()
            if buckets[-1][0] != math.inf:
                raise ValueError(f"histogram {fam}{dict(lab)}: no le=\"+Inf\" bucket")
            for (a, x), (b, y) in zip(buckets, buckets[1:]):
                if y < x:
                    raise ValueError(f"histogram {fam}{dict(lab)}: bucket le={b} < le={a}")
            cnt = samples.get((fam + "_count", lab))
            if cnt is None or cnt != buckets[-1][1]:
                raise ValueError(f"histogram {fam}{dict(lab)}: _count {cnt} != +Inf bucket")
            if (fam + "_sum", lab) not in samples:
                raise ValueError(f"histogram {fam}{dict(lab)}: no _sum")
    return samples, types


def get(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


if __name__ == "__main__":
    for path in sys.argv[1:]:
        try:
            s, t = parse(open(path).read())
        except ValueError as e:
            print(f"{path}: invalid: {e}")
            sys.exit(1)
        print(f"{path}: valid: {len(s)} samples, {len(t)} families")
