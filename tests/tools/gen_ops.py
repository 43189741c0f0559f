#!/usr/bin/env python3
"""gen_ops.py N SEED — a deterministic JSONL stream for the state tests: receipts of a
few hundred customers over ten days (some anonymous), confirmed again now and then
(duplicates), with returns and cancels of earlier receipts in between."""
import json
import random
import sys

n, seed = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(seed)
cats = ["dairy/milk", "dairy/cheese", "coffee", "bread", "fruit"]
done = []  # (id, nlines, qtys)
out = []
refund = 0
for i in range(n):
    r = rnd.random()
    if done and r < 0.06:
        rid, qtys = rnd.choice(done)
        k = rnd.randrange(len(qtys))
        refund += 1
        out.append({"op": "return", "id": rid, "refund_id": "f%d" % refund,
                    "lines": [{"n": k, "qty": 1}]})
        continue
    if done and r < 0.08:
        out.append({"op": "cancel", "id": rnd.choice(done)[0]})
        continue
    if done and r < 0.10:
        out.append(out[rnd.randrange(len(out))])  # a confirm (or op) sent again
        continue
    day = 1 + i * 10 // n
    rc = {"id": "r%d" % i, "time": "2026-06-%02dT%02d:%02d:00" % (day, 8 + rnd.randrange(12), rnd.randrange(60)),
          "lines": []}
    if rnd.random() < 0.9:
        rc["customer"] = {"id": "customer-%d" % rnd.randrange(300)}
    qtys = []
    for _ in range(1 + rnd.randrange(4)):
        q = 1 + rnd.randrange(3)
        qtys.append(q)
        rc["lines"].append({"sku": str(rnd.randrange(50)), "category": rnd.choice(cats), "qty": q,
                            "price": rnd.randrange(1000, 40000) / 100})
    done.append((rc["id"], qtys))
    out.append(rc)
for o in out:
    print(json.dumps(o, separators=(",", ":")))
