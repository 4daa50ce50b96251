"""The README's examples as a test (run by scripts/readme-check.sh).

`plan README BASE OUTDIR` turns every example block marked `<!-- readme-check: run -->` (or
`<!-- readme-check: run with VAR -->` for Python, VAR naming the interpreter) into one bash driver,
command by command in README order, and writes what each command must answer. `check OUTDIR N`
asserts command N's answer. Every ```sh and ```python block must be marked, as run or as
`<!-- readme-check: skip (why) -->`, so a new example cannot be left out unnoticed.

What a command must answer:
- it exits 0, and a command that calls curl got answers, every one below 400;
- a comment after it that starts with a status (`# 401`, `# 202 {...}`) asks for that status from
  its last curl call instead;
- a comment that is JSON (`# {"status":"ok"}`) is compared with the output: objects key by key
  (the output may hold more keys), a string in angle brackets (`"<uuid>"`, or bare `<seconds>`)
  matches any value, `{...}` and `[...]` any value, `, ...` whatever follows;
- a Python example's `print(...)   # text` asks for that line in its output;
- the checks in EXTRA below, found by a piece of the command's text (each must find exactly one).
"""
import json
import os
import re
import subprocess
import sys

README_URL = "http://127.0.0.1:8888"
MARK = re.compile(r"<!--\s*readme-check:\s*(run|skip)\b(.*?)-->")

# Checks a comment cannot express: (a piece of the command, [(what, argument)]). `contains`:
# the output holds the text; `matches`: a regular expression finds a match; `json`: a Python
# expression over `out` (the output parsed as JSON) is true; `statuses` "any": HTTP errors are
# expected (the other checks say which).
EXTRA = [
    ("uniq -c", [("statuses", "any"), ("matches", r"^\s*3[5-9] 200$"), ("matches", r"^\s*[1-5] 429$")]),
    ("grep -i -E '^(HTTP|retry-after|x-ratelimit)'", [("statuses", "any"), ("matches", r"(?im)^x-ratelimit-limit: 35")]),
    ("python3 -m json.tool | head -20", [("contains", '"serviceCatalog"')]),
    ("--table Keyspace1.users --incremental", [("json", "out['state'] == 'succeeded' and out['params']['incremental']")]),
    ("--new-instance copy1", [("json", "out['state'] == 'succeeded'")]),
    ("--same-nodes --truncate --table Keyspace1.users", [("json", "out['state'] == 'succeeded'")]),
    ("--new-cluster Test_Copy", [("json", "out['state'] == 'succeeded' and len(out['tasks']) == 3")]),
    ("-- verify $FULL", [("json", "out['state'] == 'succeeded'")]),
    ("$B/Test_Cluster/keyspaces", [("json", "set(out['Keyspace1']['column_families']) == {'users', 'dates'}")]),
    ("backup-activity?count=6", [("json", "len(out) >= 1 and out[0]['status'] == 'success'")]),
    ("backups?last_seen=", [("json", "len(out) >= 3 and all(b['time'] for b in out.values())")]),
    ("destinations                 # secrets", [("json", "len(out) == 2 and 'OPSC_ON_SERVER' in out")]),
    ("backups?destination=$DESTINATION_ID", [("json", "len(out) == 1 and all(k.startswith('opscenter_adhoc_') for k in out)")]),
    ("backup-activity?count=4", [("json", "[(a['type'], a['status']) for a in out] == [('restore', 'success')] * 4")]),
    ("$B/Test_Cluster/job-schedules\n", [("json", "len(out) == 1 and out[0]['interval_unit'] == 'days'")]),
    ("+ 3600", [("contains", "the latest valid point in time is")]),
    ("$B/provisioning/v1/$ID/backups          #", [("json", "len(out['clusterDataCentres'][0]['nodes']) == 3")]),
    ('.clusterStatus == "RUNNING"', [("matches", r"true\s*\Z")]),
    ('all(. == "COMPLETED")', [("matches", r"true\s*\Z")]),
    ('startswith("Completed")', [("matches", r"true\s*\Z")]),
    (".RestoreStateId == 3", [("matches", r"true\s*\Z")]),
    ("cat $TO/www/index.html", [("contains", "<h1>hello</h1>")]),
    ("system/activity", [("json", "{'Backup', 'Restore'} <= {row['Type'] for row in out}")]),
    ("--name ci", [("matches", r"^ck_")]),
    ("key list --user alice", [("contains", "ci")]),
]


def marked_blocks(lines):
    """(mark, language, first line number, text) of every fenced block; mark is (run|skip, the
    rest of the comment) from the line before it, or None."""
    blocks, mark, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        m = MARK.search(line)
        if m:
            mark = (m.group(1), m.group(2).strip())
        fence = re.match(r"^```(\w*)\s*$", line)
        if fence:
            lang, start, body = fence.group(1), i + 2, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            blocks.append((mark, lang, start, "\n".join(body) + "\n"))
            mark = None
        elif line.strip() and not m:
            mark = None
        i += 1
    return blocks


def complete(text):
    """Whether `text` is one or more complete bash commands."""
    if text.rstrip().endswith("\\"):
        return False
    return subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True).returncode == 0


def commands(start, text):
    """(line number, command) for each command of a shell block, comment lines left out."""
    out, pending, first = [], [], None
    for n, line in enumerate(text.splitlines(), start):
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if not pending:
            first = n
        pending.append(line)
        if complete("\n".join(pending) + "\n"):
            out.append((first, "\n".join(pending)))
            pending = []
    if pending:
        raise SystemExit(f"README.md:{first}: an incomplete command: {' '.join(pending)}")
    return out


def trailing_comment(line):
    """The `# comment` after a command on `line`, outside quotes."""
    for m in re.finditer(r"\s#\s?", line):
        before = line[: m.start()]
        if before.count("'") % 2 == 0 and before.count('"') % 2 == 0:
            return line[m.end():].strip()
    return None


def loose_json(text):
    """The JSON value at the start of `text` with the README's wildcards, or None."""
    text = text.replace("{...}", '"<...>"').replace("[...]", '"<...>"').replace(", ...", "")
    text = re.sub(r'(?<!")<[^<>"]*>(?!")', '"<...>"', text)
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return None
    return value


def expectation(command):
    """What a command's comment asks for: (status or None, JSON or None)."""
    for line in command.splitlines():
        comment = trailing_comment(line)
        if comment is None:
            continue
        status = None
        m = re.match(r"^(\d{3})\b\s*(.*)$", comment)
        if m:
            status, comment = int(m.group(1)), m.group(2)
        expected = loose_json(comment) if comment[:1] in "{[\"" else None
        if status or expected is not None:
            return status, expected
    return None, None


def rewrite(text, base, admin_password):
    """The README's text as run here: this server, this binary, the printed password."""
    text = text.replace(README_URL, base)
    text = text.replace("cargo run --release -- ", '"$COFFER_BIN" ')
    return text.replace("export P='<the printed admin password>'", f"export P='{admin_password}'")


def plan(readme, base, outdir):
    lines = open(readme).read().split("\n")
    admin_password = os.environ["COFFER_ADMIN_PASSWORD"]
    steps, driver, found = [], [], {piece: 0 for piece, _ in EXTRA}
    for mark, lang, start, text in marked_blocks(lines):
        if lang not in ("sh", "python"):
            continue
        where = f"README.md:{start}"
        if mark is None:
            raise SystemExit(f"{where}: a {lang} example without a <!-- readme-check: run|skip (why) --> mark")
        kind, argument = mark
        if kind == "skip":
            print(f"readme-check: not run ({argument.strip('() ') or 'no reason given'}): {where}", file=sys.stderr)
            continue
        if lang == "python":
            var = argument.removeprefix("with").strip()
            if not re.fullmatch(r"[A-Z_]+", var):
                raise SystemExit(f"{where}: a python example needs `run with VAR`, VAR naming its interpreter")
            code = rewrite(text, base, admin_password)
            printed = [trailing_comment(line) for line in text.splitlines() if line.lstrip().startswith("print(")]
            n = len(steps)
            extra = [("line", p) for p in printed if p]
            steps.append({"line": start, "command": f"python ({var})", "status": None, "json": None, "extra": extra, "python": var})
            driver.append(f"__python {n} {var} {start} <<'__COFFER_README_PY__'\n{code}__COFFER_README_PY__\n")
            continue
        for line, command in commands(start, text):
            status, expected = expectation(command)
            extra = []
            for piece, checks in EXTRA:
                if piece in command + "\n":
                    found[piece] += 1
                    extra.extend(checks)
            n = len(steps)
            steps.append({"line": line, "command": command, "status": status, "json": expected, "extra": extra})
            driver.append(f"__step {n} <<'__COFFER_README_CMD__'\n{rewrite(command, base, admin_password)}\n__COFFER_README_CMD__\n")
    for piece, count in found.items():
        if count != 1:
            raise SystemExit(f"readme-check: the check for {piece!r} found {count} commands, not one: update EXTRA")
    with open(os.path.join(outdir, "steps.json"), "w") as f:
        json.dump(steps, f)
    with open(os.path.join(outdir, "steps.sh"), "w") as f:
        f.write("".join(driver))


def matches(expected, actual):
    if isinstance(expected, str) and expected.startswith("<") and expected.endswith(">"):
        return True
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and matches(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) <= len(actual) and all(matches(e, a) for e, a in zip(expected, actual))
    return expected == actual


def statuses(headers_dir):
    """The final HTTP status of each curl call, in the order they were made."""
    found = []
    for name in sorted(os.listdir(headers_dir)):
        codes = re.findall(r"^HTTP/\S+ (\d{3})", open(os.path.join(headers_dir, name), errors="replace").read(), re.M)
        codes = [int(c) for c in codes if not c.startswith("1")]
        if codes:
            found.append(codes[-1])
    return found


def check(outdir, n):
    step = json.load(open(os.path.join(outdir, "steps.json")))[int(n)]
    here = os.path.join(outdir, "step")
    out = open(os.path.join(here, "out"), errors="replace").read()
    rc = int(open(os.path.join(here, "rc")).read().strip() or "1")
    failures, asserted = [], 0

    def expect(ok, why):
        nonlocal asserted
        asserted += 1
        if not ok:
            failures.append(why)

    expect(rc == 0, f"exit status {rc}")
    if "python" not in step:
        codes = statuses(os.path.join(here, "headers"))
        if step["status"] is not None:
            expect(codes[-1:] == [step["status"]], f"HTTP status {codes[-1:]} where the README says {step['status']}")
        elif ("statuses", "any") in [tuple(e) for e in step["extra"]]:
            pass
        elif re.search(r"(^|[\s($])curl\s", step["command"]) and not re.match(r"^\w+\(\)\s*\{", step["command"]):
            expect(codes and all(c < 400 for c in codes), f"HTTP statuses {codes}, wanted answers below 400")
        if step["json"] is not None:
            try:
                actual = json.loads(out)
            except ValueError:
                actual = ValueError
            expect(actual is not ValueError and matches(step["json"], actual), f"output is not {json.dumps(step['json'])}")
    for what, argument in step["extra"]:
        if what == "statuses":
            continue
        if what == "contains":
            expect(argument in out, f"output lacks {argument!r}")
        elif what == "line":
            expect(argument in [line.strip() for line in out.splitlines()], f"output lacks the line {argument!r}")
        elif what == "matches":
            expect(re.search(argument, out, re.M) is not None, f"output does not match {argument!r}")
        elif what == "json":
            try:
                ok = bool(eval(argument, {}, {"out": json.loads(out)}))
            except Exception as e:  # noqa: BLE001 - any failure of the expression is a failed check
                ok, argument = False, f"{argument} ({type(e).__name__}: {e})"
            expect(ok, f"output fails {argument}")
    with open(os.path.join(outdir, "assertions"), "a") as f:
        f.write(f"{asserted}\n")
    if failures:
        err = open(os.path.join(here, "err"), errors="replace").read()
        print(f"\nFAILED README.md:{step['line']}:\n{step['command']}\n-- " + "\n-- ".join(failures), file=sys.stderr)
        print(f"-- output:\n{out[-4000:]}\n-- stderr:\n{err[-4000:]}", file=sys.stderr)
        sys.exit(1)
    print(f"ok   README.md:{step['line']}: {step['command'].splitlines()[0][:100]}")


if __name__ == "__main__":
    {"plan": plan, "check": check}[sys.argv[1]](*sys.argv[2:])
