"""Installs pyrepro/requirements.txt into the running interpreter's environment.

    python pyrepro/requirements.py [--force] [--file requirements.txt]

Run with the environment's own python (``.venv/bin/python`` by ``make
setup``; one per interpreter by ``repro canary``). Each requirement line is
installed on its own, so one without a wheel for this interpreter costs only
the variants that need it. Progress goes to stderr; the last line on stdout
is JSON: ``{"missing": ["<line>: <why>", ...]}``, empty when everything
installed. Exit status 0 when that report could be made, 2 when not (no such
file, a malformed line).

Nothing is reinstalled while the file and the interpreter are unchanged
since a run that installed every line: a stamp in the environment
(``<prefix>/repro-requirements.json``) says so. ``--force`` ignores it.

The file's format (tags ``[sdist]``, ``[gil]`` and ``[side=NAME]``) is described at the
top of requirements.txt. Runs on every interpreter pyrepro supports (3.6+).
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig

HERE = os.path.dirname(os.path.abspath(__file__))
FILE = os.path.join(HERE, "requirements.txt")
TAG = re.compile(r"^\[(sdist|gil|side=([A-Za-z0-9_-]+))\]\s*")
# A free-threaded build (CPython --disable-gil): [gil] lines are not for it.
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


class Malformed(Exception):
    pass


def parse(text, free_threaded=FREE_THREADED):
    """(line number, requirement, sdist allowed, side name or None) per line
    to install here: a ``[gil]`` line is left out on a free-threaded build."""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        sdist, side, gil = False, None, False
        while True:
            m = TAG.match(line)
            if not m:
                break
            if m.group(1) == "sdist":
                sdist = True
            elif m.group(1) == "gil":
                gil = True
            else:
                side = m.group(2)
            line = line[m.end():]
        if not line or line.startswith("["):
            raise Malformed("line %d: %r: expected a requirement after the "
                            "tags [sdist] / [gil] / [side=NAME]" % (n, raw))
        if not (gil and free_threaded):
            out.append((n, line, sdist, side))
    return out


def side_dir(name):
    """Where a ``[side=NAME]`` line is installed (see runner.use_side)."""
    return os.path.join(sysconfig.get_paths()["purelib"], "repro-" + name)


def pip(args):
    cmd = [sys.executable, "-m", "pip", "install", "--quiet",
           "--disable-pip-version-check", "--no-input"] + args
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    if p.returncode == 0:
        return None
    lines = [l.strip() for l in (p.stderr + p.stdout).splitlines() if l.strip()]
    errors = [l for l in lines if l.startswith("ERROR")]
    return (errors or lines or ["pip exited %d" % p.returncode])[0][:300]


def install(entries):
    missing = []
    for side in set(side for _, _, _, side in entries if side is not None):
        # Made afresh: pip --target does not replace what is there.
        shutil.rmtree(side_dir(side), ignore_errors=True)
    for n, req, sdist, side in entries:
        args = [] if sdist else ["--only-binary=:all:"]
        if side is not None:
            args += ["--target", side_dir(side)]
        sys.stderr.write("requirements: %s%s\n"
                         % (req, " (into %s)" % side_dir(side) if side else ""))
        why = pip(args + [req])
        if why is not None:
            missing.append("%s: %s" % (req, why))
    return missing


def main(argv):
    force = "--force" in argv
    path = argv[argv.index("--file") + 1] if "--file" in argv[:-1] else FILE
    try:
        with open(path, "rb") as f:
            data = f.read()
        entries = parse(data.decode("utf-8"))
    except (OSError, Malformed) as e:
        sys.stderr.write("requirements: error: %s: %s\n" % (path, e))
        return 2
    key = hashlib.sha256(data + sys.version.encode()).hexdigest()
    stamp = os.path.join(sys.prefix, "repro-requirements.json")
    if not force:
        try:
            with open(stamp) as f:
                last = json.load(f)
            if last.get("key") == key:
                print(json.dumps({"missing": last["missing"]}))
                return 0
        except (OSError, ValueError, KeyError):
            pass
    if pip(["--help"]) is not None:
        missing = ["%s: pip is not available in %s" % (req, sys.prefix)
                   for _, req, _, _ in entries]
    else:
        missing = install(entries)
        if not missing:
            # A failure is retried next time (it may have been the network).
            with open(stamp, "w") as f:
                json.dump({"key": key, "missing": missing}, f)
    print(json.dumps({"missing": missing}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
