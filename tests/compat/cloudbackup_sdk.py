"""Installs and loads Rackspace's python-cloudbackup-sdk 0.20.0 (the SDK its Cloud Backup
integration tests used) on Python 3.

PyPI has the SDK only as a bdist_dumb tarball (a tar of /usr/local/lib/python2.7/dist-packages),
which pip cannot install. scripts/test.sh has pip download it with --require-hashes (pip checks the
sha256, unpacks it, then stops: it is no Python project) and --no-clean (what it unpacked stays),
and runs, with the virtualenv's Python,
    python cloudbackup_sdk.py install SOURCE   # SOURCE: that directory, or the tarball itself:
                                               # copies cloudbackup/ into this Python's site-packages
    python cloudbackup_sdk.py check            # exit 0 when it is installed and patched Its dependencies (requests, six, pytz, tzlocal==1.1.1: newer tzlocal
has no `zone` attribute and breaks cloudbackup.utils.tz) come from pip.

The SDK is Python 2 code. Everything done to it to run on Python 3 is listed here, and none of it
changes which requests it sends, which status codes it accepts or which fields it reads:
  1. At install, four setters of cloudbackup/client/backup.py (StartTimeHour, StartTimeMinute,
     DayOfWeekId, HourInterval) test `(x >= lo and x <= hi) or x is None`. Python 2 evaluates
     `None >= 1` as False, so None passes; Python 3 raises TypeError. The test is reordered to
     `x is None or (x >= lo and x <= hi)`, which answers the same for every value. (The SDK's
     from_dict calls these setters with the nulls of a manual configuration.)
  2. At install, the Python 2 .pyc files of the tarball are left out.
  3. At load, the Python 2 aliases the SDK's setters use are added to `types`: IntType (int),
     StringTypes ((str,)), BooleanType (bool), NoneType (type(None)).
  4. At load, TZ is set to Etc/UTC: the SDK fills a new configuration's TimeZoneId from the local
     zone mapped to a Windows zone name (tzlocal's table), so the machine's zone would otherwise
     decide what the test sends ("UTC" here).
  5. At load, the SyntaxWarnings Python 3 prints while compiling the SDK (`status_code is 200`,
     "\\/" in docstrings) are silenced; `is 200` still holds in CPython for the small integers
     status codes are.
Beware: importing cloudbackup.utils replaces builtins.print with the SDK's own (it drops the
separator between arguments), so callers write their output with sys.stdout.write.
"""
import os
import shutil
import sys
import sysconfig
import tarfile
import tempfile
import types
import warnings

# Bump when the patches change: `check` then fails and scripts/test.sh installs the SDK again.
PATCH_LEVEL = "coffer-py3-1"
MARKER = "COFFER_PATCHED"
INSIDE = "usr/local/lib/python2.7/dist-packages/cloudbackup"

# (file, old, new): each old text must occur exactly once.
SOURCE_PATCHES = [
    (
        "client/backup.py",
        "if (hour >= 1 and hour <= 12) or hour is None:",
        "if hour is None or (hour >= 1 and hour <= 12):",
    ),
    (
        "client/backup.py",
        "if (minute >= 0 and minute <= 59) or minute is None:",
        "if minute is None or (minute >= 0 and minute <= 59):",
    ),
    (
        "client/backup.py",
        "if (dowid >= 0 and dowid <= 6) or dowid is None:",
        "if dowid is None or (dowid >= 0 and dowid <= 6):",
    ),
    (
        "client/backup.py",
        "if (hourinterval >= 0 and hourinterval <= 23) or hourinterval is None:",
        "if hourinterval is None or (hourinterval >= 0 and hourinterval <= 23):",
    ),
]


def site_packages():
    return sysconfig.get_paths()["purelib"]


def find_package(source):
    """The SDK's cloudbackup/ directory somewhere under `source` (what pip unpacked)."""
    for d, _, _ in os.walk(source):
        if d.replace(os.sep, "/").endswith("/" + INSIDE):
            return d
    raise SystemExit(f"no {INSIDE} under {source}: did pip download python-cloudbackup-sdk 0.20.0?")


def install(source):
    target = os.path.join(site_packages(), "cloudbackup")
    with tempfile.TemporaryDirectory() as tmp:
        if os.path.isdir(source):
            package = find_package(source)
        else:
            with tarfile.open(source) as tar:
                safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(tmp, **safe)
            package = find_package(tmp)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(package, target, ignore=shutil.ignore_patterns("*.pyc"))
    for rel, old, new in SOURCE_PATCHES:
        path = os.path.join(target, rel)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if text.count(old) != 1:
            raise SystemExit(f"{rel}: expected exactly one `{old}`; is this python-cloudbackup-sdk 0.20.0?")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new))
    with open(os.path.join(target, MARKER), "w", encoding="utf-8") as f:
        f.write(PATCH_LEVEL + "\n")


def check():
    try:
        with open(os.path.join(site_packages(), "cloudbackup", MARKER), encoding="utf-8") as f:
            installed = f.read().strip() == PATCH_LEVEL
    except OSError:
        installed = False
    if installed:
        load()
    return installed


def load():
    """Applies the run-time shims and imports the SDK's client modules: answers (auth, agents, backup)."""
    for name, value in (("IntType", int), ("StringTypes", (str,)), ("BooleanType", bool), ("NoneType", type(None))):
        if not hasattr(types, name):
            setattr(types, name, value)
    os.environ["TZ"] = "Etc/UTC"
    warnings.filterwarnings("ignore", category=SyntaxWarning)
    from cloudbackup.client import agents, auth, backup

    return auth, agents, backup


if __name__ == "__main__":
    if sys.argv[1:2] == ["install"] and len(sys.argv) == 3:
        install(sys.argv[2])
    elif sys.argv[1:] == ["check"]:
        sys.exit(0 if check() else 1)
    else:
        raise SystemExit("usage: cloudbackup_sdk.py install SOURCE | check")
