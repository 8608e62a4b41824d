#!/usr/bin/env python3
"""Turns one run of bench/run.sh (its results directory) into the measured sections of
BENCHMARKS.md and the plot bench/apply-vs-n.svg. Standard library only.

Usage: report.py RESULTS_DIR [--markdown FILE] [--svg FILE]

The generated text goes between the markers `<!-- report.py: begin -->` and
`<!-- report.py: end -->` of the Markdown file; anything outside them (hand-written analysis) is
kept. Every number printed comes from the run's raw hyperfine JSON files, /usr/bin/time output or
metadata: a scenario a tool did not run shows "—" with the reason, never an estimate.
"""

import argparse
import glob
import json
import math
import os
import re
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BEGIN = "<!-- report.py: begin -->"
END = "<!-- report.py: end -->"

TOOL_ORDER = ["strata", "psql1", "psqlfile", "dbmate", "sqlx", "node-pg-migrate", "yoyo", "sqitch"]
LABEL = {
    "strata": "strata",
    "psql1": "psql -1 (one transaction)",
    "psqlfile": "psql per file",
    "dbmate": "dbmate",
    "sqlx": "sqlx-cli",
    "node-pg-migrate": "node-pg-migrate",
    "yoyo": "yoyo-migrations",
    "sqitch": "sqitch",
}
SHORT = {"psql1": "psql -1", "psqlfile": "psql per file", "yoyo": "yoyo"}
COLOR = {
    "strata": "#d62728", "psql1": "#000000", "psqlfile": "#7f7f7f", "dbmate": "#1f77b4",
    "sqlx": "#8c564b", "node-pg-migrate": "#2ca02c", "yoyo": "#9467bd", "sqitch": "#ff7f0e",
}
SCENARIOS = [
    ("apply", "Apply all N migrations on an empty database",
     "Each run on a new empty database (hyperfine `--prepare`), tools alternating round by round."),
    ("noop", "No-op `up` with all N applied",
     "The same database, already up to date; hyperfine warm-up runs then timed runs. "
     "The psql row is the floor: one psql process connecting and running `SELECT 1`."),
    ("status", "`status` with all N applied",
     "As above, with the tool's status / info / list command. psql row: connect + `SELECT 1`."),
    ("pending", "1 pending migration on top of N applied",
     "Each run on a fresh copy of the tool's own database after its last apply, with migration "
     "N+1 added to the set. psql row: `psql -1 -f` of that one file."),
    ("revert", "Revert all N migrations",
     "Each run on a fresh copy of the tool's database with all N applied. psql row: "
     "`psql -1 -f all.down.sql`."),
]


def fmt_t(s):
    if s is None:
        return "—"
    if s < 1:
        return "%.1f ms" % (s * 1e3) if s < 0.1 else "%.0f ms" % (s * 1e3)
    return "%.2f s" % s


def fmt_axis(s):
    if s < 1:
        return "%g ms" % round(s * 1e3, 3)
    return "%g s" % round(s, 3)


def fmt_ratio(r):
    if r is None:
        return "—"
    return "%.2f×" % r if r < 10 else "%.1f×" % r


def load_tsv(path, ncols=None):
    rows = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if line:
                    rows.append(line.split("\t"))
    return rows


def load_meta(d):
    meta = {}
    with open(os.path.join(d, "meta", "meta.txt"), encoding="utf-8") as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    return meta


def load_results(d):
    """{(scen, n, tool): [times...]} merged over rounds."""
    res = {}
    for path in sorted(glob.glob(os.path.join(d, "raw", "*.json"))):
        name = os.path.basename(path)[:-5]
        parts = name.split("__")
        if len(parts) != 4:
            continue
        scen, n, tool, _tag = parts
        n = int(n[1:])
        try:
            with open(path, encoding="utf-8") as f:
                r = json.load(f)["results"][0]
        except (ValueError, KeyError, IndexError):
            print("report.py: skipping unreadable %s (interrupted measurement?)" % path, file=sys.stderr)
            continue
        res.setdefault((scen, n, tool), []).extend(r["times"])
    return res


def stats(times):
    if not times:
        return None
    return {
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "stddev": statistics.stdev(times) if len(times) > 1 else None,
        "runs": len(times),
    }


def tools_in(res, scen=None):
    present = {t for (s, _n, t) in res if scen is None or s == scen}
    return [t for t in TOOL_ORDER if t in present]


def svg_plot(res, ns, path):
    """Two panels: apply time vs N (log-log, medians with min–max bars) and the same medians as a
    ratio to psql -1 of the same N (linear), one line per tool."""
    pts = {}
    for t in TOOL_ORDER:
        for n in ns:
            st = stats(res.get(("apply", n, t), []))
            if st:
                pts.setdefault(t, []).append((n, st))
    if not pts:
        return False
    base = {n: st["median"] for n, st in pts.get("psql1", [])}
    W, PH = 780, 400            # width, height of one panel
    L, R, T, B = 80, 170, 50, 50
    H = 2 * PH + 10
    all_n = sorted({n for v in pts.values() for n, _ in v})
    x0, x1 = math.log10(min(all_n)), math.log10(max(all_n))
    if x1 - x0 < 1e-9:
        x0, x1 = x0 - 0.5, x1 + 0.5
    x0, x1 = x0 - 0.15, x1 + 0.15

    def X(n):
        return L + (math.log10(n) - x0) / (x1 - x0) * (W - L - R)

    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
         'font-family="sans-serif" font-size="12">' % (W, H, W, H),
         '<rect width="100%" height="100%" fill="white"/>']

    def panel(top, title, ylab, Y, yticks, series_of, bars):
        bot = top + PH - B
        o.append('<text x="%d" y="%d" font-size="15" font-weight="bold">%s</text>' % (L, top + 28, title))
        for v, lab, major in yticks:
            y = Y(v)
            o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>' % (L, y, W - R, y, "#ccc" if major else "#eee"))
            if lab:
                o.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (L - 6, y + 4, lab))
        for n in all_n:
            x = X(n)
            o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (x, top + T, x, bot))
            o.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (x, bot + 18, "{:,}".format(n)))
        o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, bot, W - R, bot))
        o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, top + T, L, bot))
        o.append('<text x="%d" y="%d" text-anchor="middle">N (migrations, log scale)</text>' % ((L + W - R) // 2, bot + 38))
        mid = (top + T + bot) // 2
        o.append('<text x="18" y="%d" text-anchor="middle" transform="rotate(-90 18 %d)">%s</text>' % (mid, mid, ylab))
        k = 0
        for t in TOOL_ORDER:
            ser = series_of(t)
            if not ser:
                continue
            c = COLOR.get(t, "#333")
            dash = ' stroke-dasharray="5,4"' if t in ("psql1", "psqlfile") else ""
            width = 3 if t == "strata" else 2
            if len(ser) > 1:
                o.append('<polyline fill="none" stroke="%s" stroke-width="%d"%s points="%s"/>'
                         % (c, width, dash, " ".join("%.1f,%.1f" % (X(n), Y(v)) for n, v, _lo, _hi in ser)))
            for n, v, lo, hi in ser:
                x = X(n)
                if bars and lo is not None:
                    o.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>' % (x, Y(lo), x, Y(hi), c))
                o.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s N=%d: %s</title></circle>'
                         % (x, Y(v), c, LABEL[t], n, fmt_t(v) if bars else fmt_ratio(v)))
            ly = top + T + 10 + k * 20
            k += 1
            o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="%d"%s/>'
                     % (W - R + 12, ly, W - R + 40, ly, c, width, dash))
            o.append('<text x="%d" y="%d">%s</text>' % (W - R + 46, ly + 4, SHORT.get(t, LABEL[t])))

    # panel 1: time, log-log
    ymin = min(st["min"] for v in pts.values() for _, st in v)
    ymax = max(st["max"] for v in pts.values() for _, st in v)
    y0, y1 = math.floor(math.log10(ymin)), math.ceil(math.log10(ymax))
    if y1 == y0:
        y1 += 1

    def Y1(v):
        return T + (y1 - math.log10(v)) / (y1 - y0) * (PH - T - B)
    ticks = []
    for e in range(y0, y1 + 1):
        for m in (1, 2, 5):
            v = m * 10 ** e
            if 10 ** y0 <= v <= 10 ** y1:
                ticks.append((v, fmt_axis(v) if (m == 1 or y1 - y0 <= 2) else "", m == 1))
    panel(0, "Apply all N migrations on an empty database (median, min–max)", "wall time (log scale)", Y1, ticks,
          lambda t: [(n, st["median"], st["min"], st["max"]) for n, st in pts.get(t, [])], True)
    # panel 2: ratio to psql -1, linear
    rat = {t: [(n, st["median"] / base[n], None, None) for n, st in pts.get(t, []) if n in base] for t in pts}
    top2 = PH + 10
    rlo, rtop = 0.8, 2.5    # values above rtop are drawn on the top edge, labelled with their value

    def Y2(v):
        return top2 + T + (rtop - min(v, rtop)) / (rtop - rlo) * (PH - T - B)
    rticks = [(v, "%g×" % v, abs(v - 1) < 1e-9) for v in (0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.4)]
    panel(top2, "The same, as a ratio to psql -1 of the same N (median ÷ median)", "× psql -1", Y2, rticks,
          lambda t: rat.get(t, []), False)
    for t in TOOL_ORDER:
        for n, v, _a, _b in rat.get(t, []):
            if v > rtop:
                o.append('<text x="%.1f" y="%.1f" font-size="10" fill="%s" text-anchor="start">%s ↑</text>'
                         % (X(n) + 6, Y2(rtop) + 4 + 11 * [u for u in TOOL_ORDER if any(m == n and r > rtop for m, r, _c, _d in rat.get(u, []))].index(t),
                            COLOR.get(t, "#333"), fmt_ratio(v)))
    o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#d62728" stroke-dasharray="2,3"/>' % (L, Y2(1.05), W - R, Y2(1.05)))
    o.append('<text x="%d" y="%.1f" fill="#d62728" font-size="11">target ≤ 1.05×</text>' % (L + 6, Y2(1.05) + 14))
    o.append("</svg>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(o) + "\n")
    return True


def target_rows(res, rss, ns):
    """The targets of issue 7, each checked against what this run measured."""
    rows = []

    def med(s, n, t):
        st = stats(res.get((s, n, t), []))
        return st["median"] if st else None

    def runs(s, n, t):
        st = stats(res.get((s, n, t), []))
        return st["runs"] if st else 0

    def peers(s, n):
        return {t: med(s, n, t) for t in ("dbmate", "sqlx", "node-pg-migrate", "yoyo", "sqitch")
                if med(s, n, t) is not None}

    for n in (1000, 10000):
        s, p = med("apply", n, "strata"), med("apply", n, "psql1")
        if s is None or p is None:
            rows.append(("apply N=%s ≤ 1.05× psql -1" % "{:,}".format(n), "not measured", "—"))
        else:
            r = s / p
            rows.append(("apply N=%s ≤ 1.05× psql -1" % "{:,}".format(n),
                         "%s vs %s = %s%s" % (fmt_t(s), fmt_t(p), fmt_ratio(r),
                                              " (one run each)" if runs("apply", n, "strata") == 1 else ""),
                         "met" if r <= 1.05 else "**missed**: %.2f× instead of ≤ 1.05× (%.0f%% over the target)" % (r, (r / 1.05 - 1) * 100)))
        pe = peers("apply", n)
        if s is None or not pe:
            rows.append(("apply N=%s faster than every peer" % "{:,}".format(n), "not measured" if s is None else "no peer measured", "—"))
        else:
            best = min(pe, key=pe.get)
            rows.append(("apply N=%s faster than every peer" % "{:,}".format(n),
                         "strata %s; fastest peer %s %s" % (fmt_t(s), LABEL[best], fmt_t(pe[best])),
                         "met (%.2f× the fastest peer)" % (s / pe[best]) if s < pe[best]
                         else "**missed**: %.2f× the fastest peer" % (s / pe[best])))
    for scen, what in (("noop", "no-op up"), ("status", "status")):
        s = med(scen, 1000, "strata")
        rows.append(("%s ≤ 10 ms at N=1,000" % what, fmt_t(s) if s is not None else "not measured",
                     "—" if s is None else ("met" if s <= 0.010 else "**missed** by %s (%.1f× the 10 ms target)" % (fmt_t(s - 0.010), s / 0.010))))
        s = med(scen, 10000, "strata")
        pe = peers(scen, 10000)
        if s is None or not pe:
            rows.append(("%s ≤ ½ the fastest peer at N=10,000" % what,
                         "not measured" if s is None else "strata %s; no peer measured" % fmt_t(s), "—"))
        else:
            best = min(pe, key=pe.get)
            r = s / pe[best]
            rows.append(("%s ≤ ½ the fastest peer at N=10,000" % what,
                         "strata %s; %s %s (%.2f×)" % (fmt_t(s), LABEL[best], fmt_t(pe[best]), r),
                         "met" if r <= 0.5 else "**missed**: %.2f× instead of ≤ 0.5×" % r))
    big = max(ns) if ns else None
    p10 = med("pending", 10000, "strata")
    p0 = med("pending0", 1, "strata") or med("apply1", 1, "strata")
    if p10 is None or p0 is None:
        lab = "not measured" if p10 is None else "—"
        if p10 is None and big is not None and med("pending", big, "strata") is not None:
            lab = "not measured at 10,000 (N=%s: %s vs %s on an empty history = %s)" % (
                "{:,}".format(big), fmt_t(med("pending", big, "strata")), fmt_t(p0),
                fmt_ratio(med("pending", big, "strata") / p0) if p0 else "—")
        rows.append(("1 pending on 10,000 applied ≤ 2× 1 pending on an empty history", lab, "—"))
    else:
        r = p10 / p0
        rows.append(("1 pending on 10,000 applied ≤ 2× 1 pending on an empty history",
                     "%s vs %s = %s" % (fmt_t(p10), fmt_t(p0), fmt_ratio(r)),
                     "met" if r <= 2 else "**missed**: %.2f× instead of ≤ 2×" % r))
    r10 = [(label, kb) for (label, n, kb) in rss if n == 10000]
    if r10:
        label, kb = max(r10, key=lambda x: x[1])
        mb, mib = kb * 1024 / 1e6, kb / 1024
        names = {"up-all": "`up` of all", "noop": "no-op `up`", "status": "`status`"}
        meas = "peak %.1f MB = %.1f MiB (%s); %s" % (mb, mib, names.get(label, label), ", ".join(
            "%s %.1f MB" % (names.get(l, l), k * 1024 / 1e6) for l, k in r10))
        if mb < 50:
            verdict = "met"
        elif mib < 50:
            verdict = "borderline: under 50 MiB, %.1f MB over 50 MB (10⁶ bytes)" % (mb - 50)
        else:
            verdict = "**missed** by %.1f MB" % (mb - 50)
        rows.append(("strata peak RSS at N=10,000 < 50 MB", meas, verdict))
    else:
        lab = "not measured"
        rb = [(n, kb) for (label, n, kb) in rss if label == "up-all"]
        if rb:
            lab = "not measured at 10,000 (N=%s: %.1f MB)" % ("{:,}".format(rb[-1][0]), rb[-1][1] * 1024 / 1e6)
        rows.append(("strata peak RSS at N=10,000 < 50 MB", lab, "—"))
    v = med("start", 0, "strata")
    rows.append(("`strata --version` < 5 ms", fmt_t(v) if v is not None else "not measured",
                 "—" if v is None else ("met" if v < 0.005 else "**missed** by %s" % fmt_t(v - 0.005))))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--markdown", default=os.path.join(REPO, "BENCHMARKS.md"))
    ap.add_argument("--svg", default=os.path.join(HERE, "apply-vs-n.svg"))
    a = ap.parse_args()
    d = os.path.abspath(a.results)
    meta = load_meta(d)
    res = load_results(d)
    versions = load_tsv(os.path.join(d, "meta", "versions.tsv"))
    missing = load_tsv(os.path.join(d, "meta", "missing.tsv"))
    failures = load_tsv(os.path.join(d, "meta", "failures.tsv"))
    unsupported = load_tsv(os.path.join(d, "meta", "unsupported.tsv"))
    validation = load_tsv(os.path.join(d, "meta", "validation.tsv"))
    commands = load_tsv(os.path.join(d, "meta", "commands.tsv"))
    rss = [(r[0], int(r[1]), int(r[2])) for r in load_tsv(os.path.join(d, "meta", "rss.tsv"))]
    ns = sorted({n for (s, n, _t) in res if s == "apply"})
    unsup = {(r[0], int(r[1]), r[2]): re.sub(r" \(time budget: [^)]*\)", " (time budget)", r[3]) for r in unsupported}
    failed = {(r[0], int(r[1]) if r[1].isdigit() else r[1], r[2]) for r in failures}

    rel = os.path.relpath(d, REPO)
    svg_path = os.path.abspath(a.svg)
    have_svg = svg_plot(res, ns, svg_path)
    md_dir = os.path.dirname(os.path.abspath(a.markdown))

    out = []
    w = out.append
    w(BEGIN)
    w("")
    w("## Measured run")
    w("")
    w("- Date (UTC): %s; strata commit `%s`%s." % (
        meta.get("date_utc", "?"), meta.get("commit", "?"),
        "" if meta.get("dirty", "0") == "0" else (" (binary given without STRATA_COMMIT: its source commit is not known)" if meta.get("dirty") == "?" else " plus uncommitted changes in the work tree (see strata build below)")))
    nice = meta.get("nice", "0")
    w("- Command: `%s%s` (raw results: `%s/`; wall time of the whole run %s s)." % (
        "BENCH_NICE=%s " % nice if nice not in ("0", "") else "", meta.get("command", "?").strip(), rel, meta.get("elapsed_s", "?")))
    w("- strata binary: `%s` (%s)." % (os.path.relpath(meta.get("strata_bin", "?"), REPO) if meta.get("strata_bin", "").startswith(REPO) else meta.get("strata_bin", "?"), meta.get("strata_build", "?")))
    w("- Timer: %s; fresh-database scenarios (apply, pending, revert): %s round(s) up to N=%s and %s above it, "
      "every tool once per round in an order rotated each round, each run on a database made by hyperfine's "
      "`--prepare` (not timed); above N=%s only: %s." % (
          meta.get("timer", "?"), meta.get("rounds", "?"), "{:,}".format(int(meta.get("slow_max_n", "1000"))),
          meta.get("big_rounds", "?"), "{:,}".format(int(meta.get("slow_max_n", "1000"))),
          ", ".join(LABEL.get(t, t) for t in meta.get("big_tools", "").split())))
    if meta.get("loadavg_start"):
        w("- Load average (1/5/15 min) at the start: %s; at the end: %s. The machine is shared with other work "
          "(compiles, test suites), which shows up as spread%s." % (meta.get("loadavg_start"), meta.get("loadavg_end", "?"),
              "; the whole benchmark, PostgreSQL included, ran at CPU priority nice %s (`BENCH_NICE`) to keep that "
              "other work from dominating" % meta["nice"] if meta.get("nice", "0") not in ("0", "") else ""))
    w("")
    w("### Machine")
    w("")
    mem = int(meta.get("mem_kb", "0")) / 1024 / 1024
    w("| | |")
    w("|---|---|")
    w("| CPU | %s (%s cores visible, `nproc`) |" % (meta.get("cpu", "?"), meta.get("nproc", "?")))
    w("| memory | %.1f GiB |" % mem)
    w("| OS / kernel | %s / %s |" % (meta.get("os", "?"), meta.get("kernel", "?")))
    w("| PostgreSQL | %s, throwaway cluster started by the harness (`initdb -A trust`), TCP on 127.0.0.1 |" % meta.get("pg_server_version", "?"))
    w("| server settings | fsync=%s, synchronous_commit=%s, full_page_writes=%s, wal_sync_method=%s, shared_buffers=%s, max_wal_size=%s, max_locks_per_transaction=%s |" % tuple(
        meta.get("pg_" + k, "?") for k in ("fsync", "synchronous_commit", "full_page_writes", "wal_sync_method", "shared_buffers", "max_wal_size", "max_locks_per_transaction")))
    w("")
    w("### Versions")
    w("")
    w("| tool | version |")
    w("|---|---|")
    for v in versions:
        w("| %s | %s |" % (v[0], v[1] if len(v) > 1 else "?"))
    for mrow in missing:
        w("| %s | **missing**: %s |" % (mrow[0], mrow[1]))
    w("")

    for scen, title, how in SCENARIOS:
        sns = sorted({n for (s, n, _t) in res if s == scen})
        if not sns:
            continue
        tl = [t for t in TOOL_ORDER if any((scen, n, t) in res or (scen, n, t) in unsup or (scen, n, t) in failed for n in sns)]
        w("### %s" % title)
        w("")
        w(how + " Median (min–max over all timed runs); ratio = median ÷ the median of the psql row of the same N in "
          "this run, and in parentheses the best run ÷ psql's best run (less sensitive to other load on the machine).")
        w("")
        hdr = "| tool |" + "".join(" N=%s | × psql |" % "{:,}".format(n) for n in sns)
        w(hdr)
        w("|---|" + "---:|---:|" * len(sns))
        for t in tl:
            cells = []
            for n in sns:
                st = stats(res.get((scen, n, t), []))
                base = stats(res.get((scen, n, "psql1"), []))
                if st:
                    ratio = "—"
                    if base:
                        ratio = fmt_ratio(st["median"] / base["median"])
                        if st["runs"] > 1 and base["runs"] > 1 and t != "psql1":
                            ratio += " (min %s)" % fmt_ratio(st["min"] / base["min"])
                    cells.append("%s (%s–%s) | %s" % (fmt_t(st["median"]), fmt_t(st["min"]), fmt_t(st["max"]), ratio))
                elif (scen, n, t) in failed:
                    cells.append("**failed** | —")
                elif (scen, n, t) in unsup:
                    cells.append("n/a¹ | —")
                else:
                    cells.append("not run² | —")
            name = LABEL[t] if t != "psql1" or scen in ("apply", "pending", "revert") else "psql connect + `SELECT 1`"
            if t == "strata":
                name = "**strata**"
            w("| %s | %s |" % (name, " | ".join(cells)))
        w("")
        by_tool = {}
        for (s_, n_, t_), why in sorted(unsup.items()):
            if s_ == scen and why not in by_tool.setdefault(t_, []):
                by_tool[t_].append(why)
        if by_tool:
            w("¹ " + "; ".join("%s: %s" % (LABEL[t_], ", ".join(v)) for t_, v in sorted(by_tool.items(), key=lambda kv: TOOL_ORDER.index(kv[0]))) + ".")
        if any((scen, n, t) not in res and (scen, n, t) not in unsup and (scen, n, t) not in failed for n in sns for t in tl):
            w("² not run at that N (the tool's apply at that N failed, or it was not requested).")
        w("")

    a1 = [t for t in TOOL_ORDER if ("apply1", 1, t) in res or ("pending0", 1, t) in res]
    if a1:
        w("### 1 migration, nothing applied before (N=1)")
        w("")
        w("The reference for \"1 pending on N applied\": the same work with an empty history. *Fresh database*: "
          "a new empty database per run (the tool also creates its registry). *Empty history*: a copy of a database "
          "where the tool applied and reverted that migration, so its registry exists but records nothing applied "
          "(psql: an empty database). Median (min–max).")
        w("")
        w("| tool | fresh database | × psql -1 | empty history | × psql -1 |")
        w("|---|---:|---:|---:|---:|")
        for t in a1:
            cells = []
            for scen in ("apply1", "pending0"):
                st = stats(res.get((scen, 1, t), []))
                base = stats(res.get((scen, 1, "psql1"), []))
                if st:
                    cells.append("%s (%s–%s) | %s" % (fmt_t(st["median"]), fmt_t(st["min"]), fmt_t(st["max"]),
                                                     fmt_ratio(st["median"] / base["median"]) if base else "—"))
                elif (scen, 1, t) in failed or ("pending0-setup", 1, t) in failed:
                    cells.append("**failed** | —")
                else:
                    cells.append("— | —")
            w("| %s | %s |" % ("**strata**" if t == "strata" else LABEL[t], " | ".join(cells)))
        w("")
    st_tools = tools_in(res, "start")
    if st_tools:
        w("### Process start (`--version`)")
        w("")
        w("| tool | median | min–max | stddev | runs |")
        w("|---|---:|---:|---:|---:|")
        for t in st_tools:
            st = stats(res[("start", 0, t)])
            w("| %s | %s | %s–%s | %s | %d |" % ("**strata**" if t == "strata" else (LABEL[t] if t != "psql1" else "psql"), fmt_t(st["median"]),
                                                 fmt_t(st["min"]), fmt_t(st["max"]), fmt_t(st["stddev"]), st["runs"]))
        w("")
    if rss:
        w("### strata peak memory")
        w("")
        w("`/usr/bin/time -v`, maximum resident set size of one run.")
        w("")
        w("| command | N | peak RSS |")
        w("|---|---:|---:|")
        names = {"up-all": "`up`, all N pending (empty database)", "noop": "`up`, nothing pending", "status": "`status`, all N applied"}
        for label, n, kb in rss:
            w("| %s | %s | %.1f MB (%d KiB) |" % (names.get(label, label), "{:,}".format(n), kb * 1024 / 1e6, kb))
        w("")
    if have_svg:
        w("### Apply time vs N")
        w("")
        w("![apply time vs N](%s)" % os.path.relpath(svg_path, md_dir))
        w("")

    w("### Issue 7 targets, checked against this run")
    w("")
    w("| target | measured | verdict |")
    w("|---|---|---|")
    for row in target_rows(res, rss, ns):
        w("| %s | %s | %s |" % row)
    w("")
    if failures:
        w("### Failures")
        w("")
        w("| scenario | N | tool | exit / check | log |")
        w("|---|---:|---|---|---|")
        for r in failures:
            w("| %s | %s | %s | %s | `%s` |" % (r[0], r[1], r[2], r[3], os.path.relpath(r[4], REPO) if r[4].startswith(REPO) else r[4]))
        w("")
    if validation:
        bad = [v for v in validation if v[3] != v[4]]
        w("Checks after each scenario (number of benchmark tables in the tool's last database): %d checks, %d wrong%s." % (
            len(validation), len(bad), "" if not bad else ": " + "; ".join("%s %s n=%s expected %s got %s" % (v[2], v[0], v[1], v[3], v[4]) for v in bad)))
        w("")
    if commands:
        w("### Exact commands")
        w("")
        w("As run (paths shortened: `<bench>` = `bench/`, `<sets>` = the generated sets, port and temp paths as in this run).")
        w("")
        seen = set()
        w("```")
        for scen, n, tool, c in commands:
            c2 = c.replace(HERE, "<bench>")
            c2 = re.sub(r"'[^']*/\.work/sets/n\d+", "'<sets>/nN", c2)
            c2 = re.sub(r"'/tmp/strata-bench\.[^/']+/sets/n\d+", "'<sets>/nN", c2)
            c2 = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", c2)
            c2 = re.sub(r"/b_[a-z0-9_]+", "/<db>", c2)
            c2 = re.sub(r"plus1/psql/\d+\.sql", "plus1/psql/<N+1>.sql", c2)
            key = (scen if scen != "apply1" else "apply", tool, c2)
            if key in seen:
                continue
            seen.add(key)
            w("%-8s %-16s %s" % (scen, tool, c2))
        w("```")
        w("")
    w(END)
    block = "\n".join(out) + "\n"

    if os.path.exists(a.markdown):
        with open(a.markdown, encoding="utf-8") as f:
            text = f.read()
        if BEGIN in text and END in text:
            text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END) + 1:]
        else:
            text = text.rstrip("\n") + "\n\n" + block
    else:
        text = "# Benchmarks\n\n" + block
    with open(a.markdown, "w", encoding="utf-8") as f:
        f.write(text)
    print("report.py: wrote %s%s" % (a.markdown, " and " + a.svg if have_svg else ""))


if __name__ == "__main__":
    sys.exit(main())
