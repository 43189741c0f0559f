#!/usr/bin/env python3
"""Mutation testing of the evaluator (issue 11; docs/semantics.md "How the rules are
pinned down").

Applies each single-line mutant of tests/mutation/mutants.txt to a COPY of the source
tree, rebuilds the copy incrementally (one build directory, reused across mutants and
runs, so a mutant costs one compile and a few links), and runs, until one fails:

  1. catalog       `promo test rules/` (the catalog's examples)
  2. settled       tests/test_settled (SPEC's settled rules, hand-computed)
  3. golden        tests/test_golden (golden results and listings)
  4. differential  tests/test_differential (DIFF_SEEDS random sets against the
                   reference evaluator, and its hand-written receipts)

A mutant is killed when a stage fails (or crashes, or times out). Every mutant must be
killed; the unmutated copy must pass every stage first. Prints one line per mutant and
a summary with the catalog's own score (mutants the examples alone kill).

usage: run.py [--src DIR] [--work DIR] [--only ID[,ID...]] [--jobs N]
              [--require-catalog]
  --src   the source tree (default: this script's repository)
  --work  where the copy and its build live (default: SRC/build-mutation)
  --require-catalog  also fail when the catalog alone does not kill every mutant
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = ["promo_cli", "test_golden", "test_settled", "test_differential"]
STAGE_TIMEOUT = 120


def parse_mutants(path):
    mutants, cur = [], {}
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line.startswith("#"):
                continue
            if not line.strip():
                if cur:
                    mutants.append(cur)
                    cur = {}
                continue
            key, sep, val = line.partition(":")
            if not sep or key.strip() not in ("id", "rule", "file", "from", "to", "nth"):
                sys.exit(f"mutants.txt: bad line: {line!r}")
            cur[key.strip()] = val.strip()
    if cur:
        mutants.append(cur)
    seen = set()
    for m in mutants:
        for k in ("id", "rule", "file", "from", "to"):
            if k not in m:
                sys.exit(f"mutants.txt: mutant {m.get('id', '?')} has no '{k}'")
        if m["id"] in seen:
            sys.exit(f"mutants.txt: duplicate id {m['id']}")
        seen.add(m["id"])
    return mutants


def tracked_files(src):
    try:
        out = subprocess.run(["git", "-C", src, "ls-files", "-co", "--exclude-standard", "-z"],
                             check=True, capture_output=True).stdout
        files = [p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for root, dirs, names in os.walk(src):
            dirs[:] = [d for d in dirs if not d.startswith((".git", "build"))]
            files += [os.path.relpath(os.path.join(root, n), src) for n in names]
    return [p for p in files if not p.startswith("build") and os.path.isfile(os.path.join(src, p))]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def sync(src, copy):
    """Mirrors the source files into the copy, rewriting only files whose content
    differs, so that the copy's build stays incremental."""
    files = set(tracked_files(src))
    for rel in files:
        s, d = os.path.join(src, rel), os.path.join(copy, rel)
        data = read(s)
        if os.path.exists(d) and read(d) == data:
            continue
        os.makedirs(os.path.dirname(d), exist_ok=True)
        with open(d, "wb") as f:
            f.write(data)
        shutil.copymode(s, d)
    for root, _, names in os.walk(copy):
        for n in names:
            rel = os.path.relpath(os.path.join(root, n), copy)
            if rel not in files:
                os.remove(os.path.join(root, n))


def apply(copy, m):
    """Returns (path, original text, mutated text) or raises ValueError."""
    path = os.path.join(copy, m["file"])
    text = read(path).decode("utf-8")
    lines = text.split("\n")
    hits = [i for i, l in enumerate(lines) if m["from"] in l]
    nth = int(m.get("nth", "0"))
    if not hits:
        raise ValueError(f"'from' not found in {m['file']}")
    if nth == 0 and len(hits) != 1:
        raise ValueError(f"'from' occurs {len(hits)} times in {m['file']}: add 'nth:'")
    if nth > len(hits):
        raise ValueError(f"'from' occurs only {len(hits)} times in {m['file']}")
    i = hits[nth - 1 if nth else 0]
    lines[i] = lines[i].replace(m["from"], m["to"], 1)
    return path, text, "\n".join(lines)


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def build(bld, jobs):
    r = subprocess.run(["cmake", "--build", bld, f"-j{jobs}", "--target"] + TARGETS,
                       capture_output=True, text=True)
    return r.returncode == 0, r.stdout + r.stderr


def stages(copy, bld, seeds):
    tests = os.path.join(bld, "tests")
    env = dict(os.environ, DIFF_SEEDS=str(seeds), DIFF_STATEFUL_SEEDS=str(seeds // 3))
    return [
        ("catalog", [os.path.join(bld, "promo"), "test", os.path.join(copy, "rules")], None),
        ("settled", [os.path.join(tests, "test_settled"), "--jobs", "2"], None),
        ("golden", [os.path.join(tests, "test_golden"), "--jobs", "2"], None),
        ("differential", [os.path.join(tests, "test_differential"), "--jobs", "2"], env),
    ]


def run_stage(cmd, env):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=STAGE_TIMEOUT)
        return r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    except subprocess.TimeoutExpired:
        return False, "timeout"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", default=os.path.dirname(os.path.dirname(HERE)))
    ap.add_argument("--work")
    ap.add_argument("--only")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=600, help="differential seeds per mutant")
    ap.add_argument("--require-catalog", action="store_true")
    a = ap.parse_args()
    src = os.path.abspath(a.src)
    work = os.path.abspath(a.work or os.path.join(src, "build-mutation"))
    copy, bld = os.path.join(work, "src"), os.path.join(work, "build")
    mutants = parse_mutants(os.path.join(src, "tests", "mutation", "mutants.txt"))
    if a.only:
        want = set(a.only.split(","))
        mutants = [m for m in mutants if m["id"] in want]
    t0 = time.time()
    os.makedirs(copy, exist_ok=True)
    sync(src, copy)
    if not os.path.exists(os.path.join(bld, "CMakeCache.txt")):
        # -O0: a mutant costs one compile, and the stages run in a second or two anyway
        # Ninja when present: its no-op checks and links cost far less than make's
        gen = ["-G", "Ninja"] if shutil.which("ninja") else []
        subprocess.run(["cmake", "-S", copy, "-B", bld] + gen + ["-DCMAKE_BUILD_TYPE=Debug",
                        "-DCMAKE_C_FLAGS_DEBUG=-O0", "-DCMAKE_CXX_FLAGS_DEBUG=-O0",
                        "-DPROMO_BENCH=OFF", "-DPROMO_FUZZ=OFF"], check=True,
                       capture_output=True)
    ok, log = build(bld, a.jobs)
    if not ok:
        print(log[-4000:])
        sys.exit("mutation: the unmutated copy does not build")
    st = stages(copy, bld, a.seeds)
    for name, cmd, env in st:
        ok, log = run_stage(cmd, env)
        if not ok:
            print(log)
            sys.exit(f"mutation: the unmutated copy fails stage '{name}'")
    print(f"mutation: baseline built and green in {time.time() - t0:.0f}s; "
          f"{len(mutants)} mutants", flush=True)

    killed = by_catalog = 0
    survivors, broken = [], []
    for m in mutants:
        t1 = time.time()
        try:
            path, orig, mutated = apply(copy, m)
        except ValueError as e:
            broken.append(m["id"])
            print(f"BROKEN    {m['id']}: {e}", flush=True)
            continue
        write(path, mutated)
        try:
            ok, log = build(bld, a.jobs)
            if not ok:
                broken.append(m["id"])
                print(f"BROKEN    {m['id']}: does not compile\n{log[-2000:]}", flush=True)
                continue
            by = None
            for name, cmd, env in st:
                ok, _ = run_stage(cmd, env)
                if not ok:
                    by = name
                    break
        finally:
            write(path, orig)  # a fresh mtime: the next build compiles the original again
        if by:
            killed += 1
            by_catalog += by == "catalog"
            print(f"killed    {m['id']:28} by {by:12} ({time.time() - t1:.0f}s)  [{m['rule']}]",
                  flush=True)
        else:
            survivors.append(m["id"])
            print(f"SURVIVED  {m['id']:28} ({time.time() - t1:.0f}s)  [{m['rule']}]", flush=True)
    build(bld, a.jobs)  # leave the copy built from the unmutated sources
    n = len(mutants)
    print(f"mutation: {n} mutants, {killed} killed ({by_catalog} by the catalog's examples "
          f"alone), {len(survivors)} survived, {len(broken)} broken; "
          f"{time.time() - t0:.0f}s")
    if survivors:
        print("survivors: " + ", ".join(survivors))
    fail = survivors or broken or (a.require_catalog and by_catalog != n)
    sys.exit(1 if fail else 0)


if __name__ == "__main__":
    main()
