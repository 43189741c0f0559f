#!/usr/bin/env python3
"""catalog_stream.py N SEED RULES_DIR > receipts.jsonl

A deterministic stream of N receipts (SPEC 4) that exercises the catalog: lines,
stores, codes, cards, tiers and segments are drawn from the example blocks of the
.rule files under RULES_DIR, times from March 2027, customers from a pool of 400 (so
per-customer limits and budgets come into play) or anonymous."""
import json, random, re, sys
from pathlib import Path

n, seed, rules = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
text = "\n".join(p.read_text() for p in sorted(rules.rglob("*.rule")))
lines = []
for m in re.finditer(r'line ((?:\w+ (?:"[^"]*"|[\d.]+) ?)+)', text):
    f = dict(re.findall(r'(\w+) ("[^"]*"|[\d.]+)', m.group(1)))
    if not {"sku", "qty", "price"} <= f.keys():
        continue
    line = {"sku": f["sku"].strip('"')}
    for k in ("category", "brand"):
        if k in f:
            line[k] = f[k].strip('"')
    line["price"] = float(f["price"])
    lines.append(line)
stores = sorted({int(s) for s in re.findall(r'\bstores?\s+(\d+)', text)}) or [1]
codes = sorted(set(re.findall(r'\bcode "([^"]+)"', text)))
cards = sorted(set(re.findall(r'\bcard "([^"]+)"', text)))
tiers = sorted(set(re.findall(r'\btier "([^"]+)"', text)))
segs = sorted(set(re.findall(r'"([a-z_]+)"', " ".join(re.findall(r'segments? \[?([^\]\n}]*)', text)))))
rnd = random.Random(seed)
out = sys.stdout
for i in range(n):
    day = 1 + i * 30 // n
    r = {"id": "g%05d" % i, "store": rnd.choice(stores),
         "time": "2027-03-%02dT%02d:%02d:00" % (day, rnd.randint(7, 22), rnd.randint(0, 59))}
    if rnd.random() < 0.75:
        c = {"id": "cust%03d" % rnd.randrange(400)}
        if cards and rnd.random() < 0.4:
            c["card"] = rnd.choice(cards)
        if tiers and rnd.random() < 0.3:
            c["tier"] = rnd.choice(tiers)
        if segs and rnd.random() < 0.2:
            c["segments"] = [rnd.choice(segs)]
        r["customer"] = c
    if codes and rnd.random() < 0.1:
        r["codes"] = [rnd.choice(codes)]
    if rnd.random() < 0.1:
        r["channel"] = "online"
    ls = []
    for _ in range(rnd.randint(1, 8)):
        l = dict(rnd.choice(lines))
        l["qty"] = rnd.choice([1, 1, 1, 2, 3, 4, 6])
        ls.append(l)
    r["lines"] = ls
    out.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")
