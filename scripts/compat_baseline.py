#!/usr/bin/env python3
"""The psql baseline of the compat suite (scripts/compat.sh).

    compat_baseline.py plan LAYOUT DIR OUTDIR [--var k=v ...]

writes OUTDIR/NNNN.sql, one file per migration in the order the project's own tool applies
them, and prints one line per migration: `NNNN<TAB>tx|notx<TAB>label`. The rules per layout
are those of COMPAT.md ("psql baseline"):

- updown: `<version>[_*].up.sql` (and `<version>_*_up.sql`), by numeric version (then file name);
- plain: `<version>_*.sql` (not `.down.sql`), by numeric version (then file name);
- flyway: `V<version>__*.sql` (recursive) by version, components compared numerically, then
  `R__*.sql` by description; `U` files are not run; `${name}` rendered from --var;
- dbmate: `<version>*.sql`, the `-- migrate:up` section only; `transaction:false` -> notx;
- goose: `<version>_*.sql`, the `-- +goose Up` section only; `NO TRANSACTION` -> notx;
- diesel: `<version>_*/up.sql` by version; `run_in_transaction = false` in metadata.toml -> notx;
- sqitch: `deploy/<change>.sql` in plan order (a reworked change's earlier instances run
  `deploy/<change>@<tag>.sql`); sqitch runs them with psql without `--single-transaction`.

Go-template placeholders `{{ index .Options "k" }}` and `{{ .k }}` are rendered from --var too.
"""

import os
import re
import sys


def vkey(v):
    return tuple(int(p) for p in re.findall(r"\d+", v))


def render(text, vars_):
    for k, val in vars_.items():
        text = text.replace("${%s}" % k, val)
        text = re.sub(r"\{\{\s*index\s+\.Options\s+\"%s\"\s*\}\}" % re.escape(k), val, text)
        text = re.sub(r"\{\{\s*\.%s\s*\}\}" % re.escape(k), val, text)
    return text


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", errors="replace").replace("\r\n", "\n")


def updown(d):
    out = []
    for f in os.listdir(d):
        m = re.match(r"^(\d+)(?:_.*)?[._]up\.sql$", f)
        if m:
            out.append((vkey(m.group(1)), f, os.path.join(d, f), True))
    return sorted(out)


def plain(d):
    out = []
    for f in os.listdir(d):
        m = re.match(r"^(\d+(?:[._-]\d+)*)[_-].*\.sql$", f)
        if m and not f.endswith(".down.sql") and os.path.isfile(os.path.join(d, f)):
            out.append((vkey(m.group(1)), f, os.path.join(d, f), True))
    return sorted(out)


def flyway(d):
    vs, rs = [], []
    for root, _dirs, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            m = re.match(r"^V(\d+(?:[._]\d+)*)__.*\.sql$", f)
            if m:
                vs.append((vkey(m.group(1)), f, p, True))
            elif re.match(r"^R__.*\.sql$", f):
                rs.append(((), f, p, True))
    return sorted(vs) + sorted(rs, key=lambda r: r[1])


def section(text, start_re, end_re):
    lines = text.split("\n")
    out, on, found = [], False, False
    for line in lines:
        if re.match(start_re, line):
            on, found = True, True
            out.append("")
            continue
        if on and re.match(end_re, line):
            on = False
            continue
        out.append(line if on else "")
    return "\n".join(out), found


def dbmate(d):
    out = []
    for f in os.listdir(d):
        m = re.match(r"^(\d+).*\.sql$", f)
        if not m:
            continue
        p = os.path.join(d, f)
        text = read(p)
        up, found = section(text, r"^--\s*migrate:up", r"^--\s*migrate:down")
        if not found:
            continue
        first = next(l for l in text.split("\n") if re.match(r"^--\s*migrate:up", l))
        tx = "transaction:false" not in first
        out.append((vkey(m.group(1)), f, p, tx, up))
    return sorted(out)


def goose(d):
    out = []
    for f in os.listdir(d):
        m = re.match(r"^(\d+)_.*\.sql$", f)
        if not m:
            continue
        p = os.path.join(d, f)
        text = read(p)
        up, found = section(text, r"^--\s*\+goose\s+Up", r"^--\s*\+goose\s+Down")
        if not found:
            continue
        tx = not re.search(r"^--\s*\+goose\s+NO\s+TRANSACTION", text, re.M | re.I)
        out.append((vkey(m.group(1)), f, p, tx, up))
    return sorted(out)


def diesel(d):
    out = []
    for f in os.listdir(d):
        p = os.path.join(d, f)
        m = re.match(r"^(\d[\d_-]*\d|\d)_", f)
        if m and os.path.isdir(p) and os.path.isfile(os.path.join(p, "up.sql")):
            tx = True
            meta = os.path.join(p, "metadata.toml")
            if os.path.isfile(meta) and re.search(r"run_in_transaction\s*=\s*false", read(meta)):
                tx = False
            out.append((m.group(1).replace("-", "").replace("_", ""), f + "/up.sql",
                        os.path.join(p, "up.sql"), tx))
    return sorted(out)


def sqitch(d):
    plan = read(os.path.join(d, "sqitch.plan")).split("\n")
    entries = []  # [name, script, tags seen since this instance]
    last_index = {}
    for line in plan:
        s = line.strip()
        if not s or s.startswith("#") or s.startswith("%"):
            continue
        if s.startswith("@"):
            tag = s.split()[0][1:]
            for e in entries:
                e[2].append(tag)
            continue
        name = s.split()[0].lstrip("+")
        if name in last_index:
            # a rework: the earlier instance runs deploy/<name>@<tag>.sql, for the newest tag
            # between it and the rework whose file exists (as sqitch looks it up)
            prev = entries[last_index[name]]
            tags = prev[2][: len(prev[2])]
            pick = next((t for t in reversed(tags)
                         if os.path.exists(os.path.join(d, "deploy", "%s@%s.sql" % (name, t)))),
                        tags[0] if tags else None)
            prev[1] = "%s@%s" % (name, pick)
        last_index[name] = len(entries)
        entries.append([name, name, []])
    out = []
    for i, (_name, script, _tags) in enumerate(entries):
        p = os.path.join(d, "deploy", script + ".sql")
        out.append((i, "deploy/%s.sql" % script, p, False))
    return out


# Statements PostgreSQL refuses inside a transaction block: a file holding one runs without -1
# (golang-migrate opens no transaction, Flyway runs such statements outside one, strata too).
NO_TX = re.compile(
    r"\b(CREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY|DROP\s+INDEX\s+CONCURRENTLY|REINDEX\b[^;]*\bCONCURRENTLY"
    r"|VACUUM\b|(CREATE|DROP)\s+DATABASE\b|ALTER\s+SYSTEM\b|(CREATE|DROP)\s+TABLESPACE\b"
    r"|DETACH\s+PARTITION\b[^;]*\bCONCURRENTLY)", re.I)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"--[^\n]*", " ", text)


def main():
    if len(sys.argv) < 5 or sys.argv[1] != "plan":
        print(__doc__, file=sys.stderr)
        return 2
    layout, d, outdir = sys.argv[2:5]
    vars_ = {}
    args = sys.argv[5:]
    while args:
        a = args.pop(0)
        if a == "--var" and args:
            k, _, v = args.pop(0).partition("=")
            vars_[k] = v
    fn = {"updown": updown, "plain": plain, "flyway": flyway, "dbmate": dbmate,
          "goose": goose, "diesel": diesel, "sqitch": sqitch}.get(layout)
    if fn is None:
        print("unknown layout %s" % layout, file=sys.stderr)
        return 2
    os.makedirs(outdir, exist_ok=True)
    for n, item in enumerate(fn(d), 1):
        _k, label, path, tx = item[:4]
        text = item[4] if len(item) > 4 else (read(path) if os.path.exists(path) else None)
        if tx and NO_TX.search(strip_comments(text or "")):
            tx = False
        target = os.path.join(outdir, "%04d.sql" % n)
        if text is None:  # a planned sqitch change without its deploy script
            text = "DO $$ BEGIN RAISE EXCEPTION 'missing script %s'; END $$;\n" % label
        with open(target, "w") as f:
            f.write(render(text, vars_))
        print("%04d\t%s\t%s" % (n, "tx" if tx else "notx", label))
    return 0


if __name__ == "__main__":
    sys.exit(main())
