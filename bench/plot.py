#!/usr/bin/env python3
"""plot.py - turns bench/results/results.json (Google Benchmark JSON written by
promo-bench) into the results tables of docs/performance.md and two SVG charts:

  docs/img/throughput_campaigns.svg   receipts/s vs campaign count (10 -> 1,000), 1 and 2 threads
  docs/img/throughput_lines.svg       receipts/s and lines/s vs lines per receipt

usage: plot.py results.json [--doc docs/performance.md] [--img docs/img]

Standard library only; the SVG is written by hand. The tables replace what lies between
the <!-- results:begin --> and <!-- results:end --> markers of the document.
"""
import argparse
import json
import math
import os
import re
import sys

BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"


def parse_name(name):
    """'bm_eval/campaigns:400/real_time/threads:2' -> ('bm_eval', {'campaigns': 400, 'threads': 2})"""
    parts = name.split("/")
    args = {}
    for p in parts[1:]:
        if ":" in p:
            k, v = p.split(":", 1)
            try:
                args[k] = int(v)
            except ValueError:
                args[k] = v
    return parts[0], args


def find(benchs, family, **want):
    for b in benchs:
        fam, args = parse_name(b["name"])
        if fam != family or b.get("run_type", "iteration") != "iteration":
            continue
        if all(args.get(k) == v for k, v in want.items()):
            return b
    return None


def seconds(b):
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b.get("time_unit", "ns")]
    return b["real_time"] * scale


def cpu_rate(b):
    """items/s had each thread kept its CPU: Google Benchmark's cpu_time is per thread,
    so on a machine shared with other work this shows the evaluator's own speed."""
    ips, rt, ct = b.get("items_per_second"), b.get("real_time"), b.get("cpu_time")
    if "receipts_per_cpu_second" in b:  # a spawned CLI: its own CPU time, all threads
        return b["receipts_per_cpu_second"] * parse_name(b["name"])[1].get("threads", 1)
    if not ips or not rt or not ct or ct < 0.2 * rt:
        return None
    return ips * rt / ct


def si(x, unit=""):
    if x is None:
        return "n/a"
    for f, s in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= f:
            return f"{x / f:.3g} {s}{unit}".strip()
    return f"{x:.3g} {unit}".strip()


def kib(x):
    if x is None:
        return "n/a"
    return f"{x / 1024:.1f} KiB" if x < 10 * 1024 * 1024 else f"{x / 1024 / 1024:.1f} MiB"


def duration(s):
    if s is None:
        return "n/a"
    if s >= 1:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    if s >= 1e-6:
        return f"{s * 1e6:.3g} µs"
    return f"{s * 1e9:.3g} ns"


def machine(ctx):
    cpu = ctx.get("cpu_model", "unknown CPU")
    n = ctx.get("nproc", ctx.get("num_cpus", "?"))
    mem = ctx.get("mem_total", "?")
    m = re.match(r"(\d+)\s*kB", str(mem))
    if m:
        mem = f"{int(m.group(1)) / 1024 / 1024:.1f} GiB"
    mhz = ctx.get("mhz_per_cpu")
    load = ctx.get("load_avg")
    load = ", load average at start " + " / ".join(f"{x:.2f}" for x in load) if load else ""
    return (f"{cpu}, nproc {n}" + (f" ({mhz} MHz)" if mhz else "") + f", {mem} RAM; "
            f"run {ctx.get('date', '?')}, promo {ctx.get('promo_version', '?')} "
            f"({ctx.get('promo_build', '?')} build, {ctx.get('allocator', '?')}); Google Benchmark "
            f"library built as {ctx.get('library_build_type', '?')}{load}")


def shape_runs(benchs, family, campaigns):
    """{shape name: benchmark} of bm_shapes_eval / bm_shapes_run at that size."""
    out = {}
    for b in benchs:
        fam, args = parse_name(b["name"])
        if fam != family or args.get("campaigns") != campaigns or b.get("error_occurred"):
            continue
        if b.get("run_type", "iteration") != "iteration":
            continue
        out[b.get("label") or f"shape {args.get('shape')}"] = b
    return out


def shape_cpu_rate(b):
    """cpu_rate without its plausibility floor: shapes are compared on a shared machine."""
    if "receipts_per_cpu_second" in b:
        return cpu_rate(b)
    ips, rt, ct = b.get("items_per_second"), b.get("real_time"), b.get("cpu_time")
    return ips * rt / ct if ips and rt and ct else None


def rank_rate(b):
    """The rate shapes are ranked by: the CPU-time rate (the evaluator's own speed, what
    counts on a shared machine), else the wall-clock rate."""
    return shape_cpu_rate(b) or b.get("items_per_second") or 0


def worst_best(runs):
    if not runs:
        return None, None
    order = sorted(runs.items(), key=lambda kv: rank_rate(kv[1]))
    return order[0], order[-1]


def shape_table(benchs):
    """Markdown lines: one row per shape, the worst marked."""
    cols = [("bm_shapes_eval", 400), ("bm_shapes_eval", 1000), ("bm_shapes_run", 400),
            ("bm_shapes_run", 1000)]
    runs = {c: shape_runs(benchs, *c) for c in cols}
    names = []
    for c in cols:
        for n in runs[c]:
            if n not in names:
                names.append(n)
    if not names:
        return []
    worst = {c: worst_best(runs[c])[0] for c in cols}
    lines = ["", "Per shape of campaign set (`bm_shapes_eval`: promo_eval + promo_commit, 1 thread, "
             "receipts in memory; `bm_shapes_run`: `promo run --threads 2` on 100,000 JSON "
             "receipts, wall clock). Each cell: receipts/s by wall clock (by CPU time in "
             "brackets when the machine was shared); the slowest shape of each column, by CPU "
             "time, in bold:", "",
             "| shape | eval, 400 campaigns | eval, 1,000 | `promo run --threads 2`, 400 | "
             "`promo run --threads 2`, 1,000 |", "|---|---|---|---|---|"]
    for n in names:
        cells = []
        for c in cols:
            b = runs[c].get(n)
            if not b:
                cells.append("")
                continue
            v, cpu = b.get("items_per_second"), shape_cpu_rate(b)
            t = si(v, "/s") + (f" ({si(cpu, '/s')})" if cpu and cpu > v * 1.15 else "")
            if worst[c] and worst[c][0] == n:
                t = f"**{t}**"
            cells.append(t)
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return lines


def targets(benchs):
    """(what, goal text, measured text, status text, command) rows."""
    rows = []
    cmd_bench = "build-bench/bench/promo-bench --benchmark_filter="

    # The headline: the worst shape of campaign set, not the best (bench_shapes.c).
    run400 = shape_runs(benchs, "bm_shapes_run", 400)
    ev400 = shape_runs(benchs, "bm_shapes_eval", 400)
    for what, runs, goal, flt in (
            ("every shape, 400 campaigns, `promo run --threads 2`: the slowest shape", run400,
             300e3, "bm_shapes_run/.*campaigns:400"),
            ("every shape, 400 campaigns, evaluation only (eval+commit), 1 thread: the slowest "
             "shape", ev400, 300e3, "bm_shapes_eval/.*campaigns:400")):
        (wn, wb), _ = worst_best(runs) if runs else ((None, None), None)
        if not wb:
            rows.append((what, f"≥ {si(goal, '/s')}", "n/a", "not measured", f"`{cmd_bench}'{flt}'`"))
            continue
        v = wb["items_per_second"]
        cpu = shape_cpu_rate(wb)
        shown = f"{wn}: {si(v)} receipts/s" + (f" (CPU-time rate {si(cpu, '/s')})"
                                                if cpu and cpu > v * 1.15 else "")
        met = rank_rate(wb) >= goal
        st = "**met**" if met else f"missed: {goal / rank_rate(wb):.1f}× below"
        rows.append((what, f"≥ {si(goal, '/s')}", shown, st, f"`{cmd_bench}'{flt}'`"))
    for what, runs, flt in (("slowest / fastest shape, evaluation, 400 campaigns", ev400,
                             "bm_shapes_eval/.*campaigns:400"),
                            ("slowest / fastest shape, `promo run --threads 2`, 400 campaigns",
                             run400, "bm_shapes_run/.*campaigns:400")):
        w, bst = worst_best(runs)
        if not w:
            continue
        ratio = rank_rate(bst[1]) / max(rank_rate(w[1]), 1e-9)
        rows.append((what, "≤ 1.5×", f"{ratio:.2f}× ({w[0]} vs {bst[0]})",
                     "**met**" if ratio <= 1.5 else "missed", f"`{cmd_bench}'{flt}'`"))
    mem = [b for b in benchs if parse_name(b["name"])[0] == "bm_memory_shapes"
           and not b.get("error_occurred")]
    if mem:
        worst_alloc = max(b.get("eval_allocs_per_receipt", 0) for b in mem)
        worst_bytes = max(b.get("eval_alloc_bytes_per_receipt", 0) for b in mem)
        rows.append(("heap allocations per receipt after warm-up (promo_eval), every shape", "0",
                     f"at most {worst_alloc:g} ({worst_bytes:g} bytes) over {len(mem)} shapes",
                     "**met**" if worst_alloc == 0 and worst_bytes == 0 else "missed",
                     f"`{cmd_bench}'bm_memory_shapes'`"))

    def rate_row(what, b, goal, flt):
        v = b.get("items_per_second") if b and not b.get("error_occurred") else None
        if v is None:
            st = "not measured" + (f" ({b.get('error_message')})" if b else "")
        elif v >= goal:
            st = "**met**"
        else:
            st = f"missed: {goal / v:.1f}× below"
        shown = si(v) + " receipts/s"
        cpu = cpu_rate(b) if v is not None else None
        if cpu and cpu > v * 1.15:
            shown += f" (CPU-time rate {si(cpu, '/s')})"
        rows.append((what, f"≥ {si(goal, '/s')}", shown, st, f"`{cmd_bench}'{flt}'`"))

    rate_row("evaluation only (eval+commit), 400 campaigns, 1 thread",
             find(benchs, "bm_eval", campaigns=400, threads=1), 500e3,
             "bm_eval/campaigns:400/real_time/threads:1")
    rate_row("evaluation only (eval+commit), 400 campaigns, 2 threads",
             find(benchs, "bm_eval", campaigns=400, threads=2), 1e6,
             "bm_eval/campaigns:400/real_time/threads:2")
    rate_row("end to end `promo run --threads 2` on JSONL, 400 campaigns",
             find(benchs, "bm_e2e_run", threads=2), 300e3, "bm_e2e_run/threads:2")

    def time_row(what, b, goal_s, flt):
        v = seconds(b) if b and not b.get("error_occurred") else None
        if v is None:
            st = "not measured"
        elif v < goal_s:
            st = f"**met** ({goal_s / v:.0f}× margin)"
        else:
            st = f"missed: {v / goal_s:.1f}× over"
        shown = duration(v)
        if v is not None and b["cpu_time"] * 1.15 < b["real_time"]:
            shown += f" (CPU time {duration(v * b['cpu_time'] / b['real_time'])})"
        rows.append((what, f"< {duration(goal_s)}", shown, st, f"`{cmd_bench}'{flt}'`"))

    time_row("compile 10,000 campaigns (in memory)", find(benchs, "bm_compile", campaigns=10000),
             1.0, "bm_compile/campaigns:10000")
    time_row("load + verify a 400-campaign bundle", find(benchs, "bm_bundle_load", campaigns=400),
             5e-3, "bm_bundle_load/campaigns:400")

    m = find(benchs, "bm_memory", campaigns=400)
    ok = m and not m.get("error_occurred")
    allocs = m.get("eval_allocs_per_receipt") if ok else None
    abytes = m.get("eval_alloc_bytes_per_receipt") if ok else None
    st = "not measured" if allocs is None else ("**met**" if allocs == 0 and abytes == 0
                                                else "missed")
    rows.append(("heap allocations per receipt after warm-up (promo_eval)", "0",
                 "n/a" if allocs is None else f"{allocs:g} ({abytes:g} bytes)", st,
                 f"`{cmd_bench}'bm_memory/campaigns:400'`"))
    callocs = m.get("commit_allocs_per_receipt") if ok else None
    cbytes = m.get("commit_alloc_bytes_per_receipt") if ok else None
    st = "not measured" if callocs is None else ("**met**" if callocs == 0 and cbytes == 0
                                                 else "missed (state store)")
    rows.append(("… with promo_commit, customers already known", "0",
                 "n/a" if callocs is None else f"{callocs:.3g} ({cbytes:.3g} bytes)", st,
                 f"`{cmd_bench}'bm_memory/campaigns:400'`"))
    ctx = m.get("ctx_bytes") if ok else None
    st = "not measured" if ctx is None else ("**met**" if ctx < 256 * 1024 else "missed")
    eng = m.get("engine_bytes") if ok else None
    m1k = find(benchs, "bm_memory", campaigns=1000)
    ctx1k = m1k.get("ctx_bytes") if m1k and not m1k.get("error_occurred") else None
    measured = kib(ctx)
    if ctx1k is not None:
        measured += f"; {kib(ctx1k)} at 1,000 campaigns"
    if eng is not None:
        measured += f" (the engine, shared by its ctxs, holds {kib(eng)} with the prefilter index)"
    rows.append(("per-thread ctx (promo_ctx_new + scratch after warm-up)", "< 256 KiB", measured,
                 st, f"`{cmd_bench}'bm_memory/campaigns:400'`"))
    return rows


SKIP_KEYS = {"name", "family_index", "per_family_instance_index", "run_name", "run_type",
             "repetitions", "repetition_index", "threads", "iterations", "real_time", "cpu_time",
             "time_unit", "items_per_second", "bytes_per_second", "label", "error_occurred",
             "error_message", "aggregate_name", "aggregate_unit"}


def all_rows(benchs):
    out = []
    for b in benchs:
        if b.get("run_type", "iteration") != "iteration":
            continue
        if b.get("error_occurred"):
            out.append((b["name"], "error", "", "", "", b.get("error_message", "")))
            continue
        extra = []
        for k, v in b.items():
            if k in SKIP_KEYS or not isinstance(v, (int, float)):
                continue
            if k.endswith("_bytes") or k.endswith("_kib"):
                v = v * 1024 if k.endswith("_kib") else v
                extra.append(f"{k.replace('_kib', '')}={kib(v)}")
            elif k.endswith("_seconds"):
                extra.append(f"{k}={duration(v)}")
            else:
                extra.append(f"{k}={si(v)}")
        cpu = cpu_rate(b)
        out.append((b["name"], duration(seconds(b)), si(b.get("items_per_second"), "/s"),
                    si(cpu, "/s") if cpu else "", si(b.get("bytes_per_second"), "B/s"),
                    ", ".join(extra)))
    return out


def markdown(data):
    ctx = data.get("context", {})
    benchs = data.get("benchmarks", [])
    lines = [BEGIN, "", f"Machine: {machine(ctx)}.", "",
             "| target | goal | measured | status | command |", "|---|---|---|---|---|"]
    for r in targets(benchs):
        lines.append("| " + " | ".join(r) + " |")
    lines += shape_table(benchs)
    lines += ["", "All benchmarks of the run (`bench/results/results.json`; time is wall "
              "clock per iteration, per thread for multi-threaded runs; rates are totals; the "
              "CPU-time rate is what the rate would be had each thread kept its core, which "
              "differs when the machine is busy with other work):", "",
              "| benchmark | time | items/s | items/s by CPU time | bytes/s | counters |",
              "|---|---|---|---|---|---|"]
    for r in all_rows(benchs):
        lines.append("| `" + r[0] + "` | " + " | ".join(r[1:]) + " |")
    lines += ["", "![receipts/s vs campaigns](img/throughput_campaigns.svg)",
              "![receipts/s vs lines per receipt](img/throughput_lines.svg)", "", END]
    return "\n".join(lines)


# ---------------------------------------------------------------------- SVG ----

W, H = 640, 400
ML, MR, MT, MB = 80, 150, 40, 55
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def nice_ticks(lo, hi, n=5):
    if hi <= lo:
        hi = lo + 1
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for m in (1, 2, 2.5, 5, 10):
        if (hi - lo) / (step * m) <= n:
            step *= m
            break
    t = math.floor(lo / step) * step
    ticks = []
    while t <= hi + step * 1e-9:
        ticks.append(t)
        t += step
    return ticks


def chart(path, title, xlabel, ylabel, series, xlog=False, ylog=False, marks=()):
    """series: [(label, [(x, y), ...])]; y axis from 0 (or log, decades)."""
    pts = [p for _, s in series for p in s if p[1] > 0 or not ylog]
    pts += [(x, y) for x, y, _ in marks] if pts else []
    if not pts:
        return False
    xs = sorted({p[0] for p in pts})
    if ylog:
        lo = math.floor(math.log10(min(p[1] for p in pts)))
        hi = math.ceil(math.log10(max(p[1] for p in pts)))
        hi = hi if hi > lo else lo + 1
        yt = [10 ** e * m for e in range(lo, hi) for m in (1, 2, 5)] + [10 ** hi]
        ymin, ymax = 10 ** lo, 10 ** hi
    else:
        ymax = max(p[1] for p in pts) * 1.1 or 1
        yt = nice_ticks(0, ymax)
        ymin, ymax = 0, yt[-1]
    fx = (lambda x: math.log10(x)) if xlog else (lambda x: x)
    x0, x1 = fx(xs[0]), fx(xs[-1])
    if x1 == x0:
        x1 = x0 + 1
    pw, ph = W - ML - MR, H - MT - MB

    def X(x):
        return ML + (fx(x) - x0) / (x1 - x0) * pw

    def Y(y):
        if ylog:
            return MT + ph - (math.log10(y) - math.log10(ymin)) / (
                math.log10(ymax) - math.log10(ymin)) * ph
        return MT + ph - y / ymax * ph

    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="15">{esc(title)}</text>']
    for t in yt:
        o.append(f'<line x1="{ML}" y1="{Y(t):.1f}" x2="{ML + pw}" y2="{Y(t):.1f}" '
                 f'stroke="#ddd"/>')
        o.append(f'<text x="{ML - 6}" y="{Y(t) + 4:.1f}" text-anchor="end">{esc(si(t))}</text>')
    for x in xs:
        o.append(f'<line x1="{X(x):.1f}" y1="{MT + ph}" x2="{X(x):.1f}" y2="{MT + ph + 5}" '
                 f'stroke="black"/>')
        o.append(f'<text x="{X(x):.1f}" y="{MT + ph + 19}" text-anchor="middle">{x:g}</text>')
    o.append(f'<line x1="{ML}" y1="{MT + ph}" x2="{ML + pw}" y2="{MT + ph}" stroke="black"/>')
    o.append(f'<line x1="{ML}" y1="{MT}" x2="{ML}" y2="{MT + ph}" stroke="black"/>')
    o.append(f'<text x="{ML + pw / 2}" y="{H - 12}" text-anchor="middle">{esc(xlabel)}</text>')
    o.append(f'<text x="18" y="{MT + ph / 2}" text-anchor="middle" '
             f'transform="rotate(-90 18 {MT + ph / 2})">{esc(ylabel)}</text>')
    for i, (label, s) in enumerate(series):
        c = COLORS[i % len(COLORS)]
        s = sorted(s)
        o.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' %
                 (c, " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in s)))
        for x, y in s:
            o.append(f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="3.5" fill="{c}"/>')
        ly = MT + 10 + i * 20
        o.append(f'<line x1="{ML + pw + 12}" y1="{ly}" x2="{ML + pw + 32}" y2="{ly}" '
                 f'stroke="{c}" stroke-width="2"/>')
        o.append(f'<text x="{ML + pw + 37}" y="{ly + 4}">{esc(label)}</text>')
    for x, y, label in marks:  # targets: hollow diamonds
        cx, cy = X(x), Y(y)
        o.append(f'<path d="M{cx:.1f},{cy - 6:.1f} L{cx + 6:.1f},{cy:.1f} L{cx:.1f},{cy + 6:.1f} '
                 f'L{cx - 6:.1f},{cy:.1f} Z" fill="none" stroke="black" stroke-width="1.5"/>')
        o.append(f'<text x="{cx - 10:.1f}" y="{cy + 4:.1f}" text-anchor="end" '
                 f'font-size="11">{esc(label)}</text>')
    o.append("</svg>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(o) + "\n")
    return True


def charts(data, img):
    benchs = [b for b in data.get("benchmarks", []) if not b.get("error_occurred")]
    os.makedirs(img, exist_ok=True)
    by_threads = {}
    for b in benchs:
        fam, a = parse_name(b["name"])
        if fam == "bm_eval" and "items_per_second" in b:
            by_threads.setdefault(a.get("threads", 1), []).append((a["campaigns"],
                                                                   b["items_per_second"]))
    chart(os.path.join(img, "throughput_campaigns.svg"),
          "Evaluation throughput vs campaign count", "campaigns (log scale)",
          "receipts/s (log scale)",
          [(f"{t} thread{'s' if t > 1 else ''}", s) for t, s in sorted(by_threads.items())],
          xlog=True, ylog=True,
          marks=[(400, 500e3, "target, 1 thread"), (400, 1e6, "target, 2 threads")]
          if by_threads else ())
    rec, lin = [], []
    for b in benchs:
        fam, a = parse_name(b["name"])
        if fam == "bm_eval_lines" and "items_per_second" in b:
            rec.append((a["lines"], b["items_per_second"]))
            if "lines_per_second" in b:
                lin.append((a["lines"], b["lines_per_second"] / 10))
    chart(os.path.join(img, "throughput_lines.svg"),
          "Throughput vs lines per receipt (400 campaigns, 1 thread)", "lines per receipt",
          "per second", [("receipts/s", rec), ("lines/s ÷ 10", lin)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results")
    ap.add_argument("--doc", help="Markdown file whose results section is regenerated")
    ap.add_argument("--img", help="directory for the SVG charts")
    o = ap.parse_args()
    with open(o.results, encoding="utf-8") as f:
        data = json.load(f)
    md = markdown(data)
    if o.doc:
        text = open(o.doc, encoding="utf-8").read() if os.path.exists(o.doc) else ""
        if BEGIN in text and END in text:
            text = text[:text.index(BEGIN)] + md + text[text.index(END) + len(END):]
        else:
            text = text + ("\n" if text and not text.endswith("\n") else "") + md + "\n"
        with open(o.doc, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        print(md)
    if o.img:
        charts(data, o.img)
    return 0


if __name__ == "__main__":
    sys.exit(main())
