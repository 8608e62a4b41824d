#!/usr/bin/env python3
"""Linter throughput: `strata lint` against squawk on the same generated migration set.

Both tools read the same `.up.sql` files of a set written by bench/generate.py (golang-migrate
layout), in the same run, alternating tools round by round. The figure is statements per second:
the statement count comes from strata's own JSON report (the parser's count, the same for both
tools), divided by each tool's median wall time. squawk is installed from PyPI (`squawk-cli`) into
bench/.tools/venv when it is missing.

    python3 bench/lint.py                       # N = 10,000, 5 rounds, release build of HEAD's tree
    python3 bench/lint.py --n 1000 --rounds 3 --strata target/release/strata

Writes bench/results/lint-<UTC stamp>/results.json and prints a Markdown table for BENCHMARKS.md.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".tools" / "venv"


def squawk_binary() -> pathlib.Path:
    exe = VENV / "bin" / "squawk"
    if not exe.exists():
        print("installing squawk-cli from PyPI into bench/.tools/venv", file=sys.stderr)
        if not (VENV / "bin" / "pip").exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "squawk-cli"], check=True)
    return exe


def strata_binary(given: str | None) -> pathlib.Path:
    if given:
        return pathlib.Path(given).resolve()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "strata"], cwd=ROOT, check=True)
    return ROOT / "target" / "release" / "strata"


def timed(cmd: list[str], cwd: pathlib.Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000, help="migrations in the set (default 10000)")
    ap.add_argument("--rounds", type=int, default=5, help="timed runs per tool (default 5)")
    ap.add_argument("--strata", help="strata binary (default: cargo build --release)")
    ap.add_argument("--out", help="results directory (default bench/results/lint-<stamp>)")
    args = ap.parse_args()

    squawk = squawk_binary()
    strata = strata_binary(args.strata)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = pathlib.Path(args.out) if args.out else ROOT / "bench" / "results" / f"lint-{stamp}"
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), "--n", str(args.n), "--out", str(work)],
                       check=True, stdout=subprocess.DEVNULL)
        set_dir = work / f"n{args.n}" / "updown"
        ups = sorted(str(p.name) for p in set_dir.glob("*.up.sql"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}
        report = subprocess.run([str(strata), "--dir", str(set_dir), "--json", "lint"], cwd=work,
                                capture_output=True, text=True, env=env)
        doc = json.loads(report.stdout)
        statements = doc["statements"]
        squawk_check = subprocess.run([str(squawk), *ups], cwd=set_dir, capture_output=True, text=True)
        tools = {
            "strata lint": ([str(strata), "--dir", str(set_dir), "lint"], work),
            "squawk": ([str(squawk), *ups], set_dir),
        }
        # One untimed run each warms the page cache the same way for both.
        for cmd, cwd in tools.values():
            timed(cmd, cwd)
        times: dict[str, list[float]] = {name: [] for name in tools}
        for r in range(args.rounds):
            order = list(tools) if r % 2 == 0 else list(reversed(tools))
            for name in order:
                cmd, cwd = tools[name]
                times[name].append(timed(cmd, cwd))

    def version(cmd: list[str]) -> str:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()

    results = {
        "n": args.n,
        "statements": statements,
        "rounds": args.rounds,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "versions": {"strata": version([str(strata), "--version"]), "squawk": version([str(squawk), "--version"])},
        "strata_findings": len(doc["findings"]),
        "squawk_exit": squawk_check.returncode,
        "squawk_output_lines": len(squawk_check.stdout.splitlines()),
        "seconds": times,
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")

    print(f"Lint throughput, N = {args.n:,} migrations ({statements:,} statements), "
          f"{args.rounds} rounds, median (min–max) wall time:\n")
    print("| tool | median s | min–max s | statements/s | ratio to strata |")
    print("|---|---|---|---|---|")
    base = statistics.median(times["strata lint"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {name} ({results['versions']['strata' if name.startswith('strata') else 'squawk']}) "
              f"| {med:.3f} | {min(ts):.3f}–{max(ts):.3f} | {statements / med:,.0f} | {med / base:.2f}× |")
    print(f"\nraw results: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
