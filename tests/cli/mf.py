"""mf.py: the Python pieces the CLI tests' check scripts share (tests/cli/*.sh write a check.py
that imports this module; scene_lib.sh puts tests/cli on PYTHONPATH).

    import mf as mfl
    mf = mfl.load(dump)                      # manifest: kind -> [words after the kind, ...]
    c = mfl.Check(ntkd, dump, symp, tag)     # c.fail(msg), c.fails, c.run(cmds, js)
    secs = mfl.sections(p)                   # text output split at the "N: kd> " prompts
    objs = mfl.jobjs(p, c.fail)              # JSON objects of a run, without the final "q"
"""
import collections
import json
import re
import subprocess


def load(dump):
    """The manifest next to DUMP: for each kind (first word of a line), the lists of the other
    words of its lines, in order; blank lines and '#' comments are skipped."""
    mf = collections.defaultdict(list)
    for line in open(dump + ".manifest"):
        p = line.split()
        if p and not p[0].startswith("#"):
            mf[p[0]].append(p[1:])
    return mf


def hexv(v):
    """A hex string from the manifest or JSON ("0x..", "fffff..."), or a number as is."""
    return int(v, 16) if isinstance(v, str) else int(v)


SANITIZER = ("AddressSanitizer", "runtime error:", "LeakSanitizer")


class Check:
    """Failures of one check run (printed as "FAIL: TAG: msg") and the ntkd runner."""

    def __init__(self, ntkd, dump, symp, tag):
        self.ntkd, self.dump, self.symp, self.tag = ntkd, dump, symp, tag
        self.fails = []

    def fail(self, msg):
        self.fails.append(msg)
        print("FAIL: %s: %s" % (self.tag, msg))

    def run(self, cmds, js, errors=None):
        """ntkd -z DUMP -y SYMP -c "CMDS; q" [--json] within 100 s. The completed process, or
        None when it hung; a crash (status < 0 or >= 124) or a sanitizer report is a failure.
        errors: how undecodable output bytes are handled (None: strict)."""
        args = [self.ntkd, "-z", self.dump, "-y", self.symp, "-c", "; ".join(cmds + ["q"])]
        if js:
            args.append("--json")
        try:
            p = subprocess.run(args, capture_output=True, text=True, errors=errors, timeout=100)
        except subprocess.TimeoutExpired:
            self.fail("ntkd hung (over 100 s) on: %s" % "; ".join(cmds)[:300])
            return None
        if p.returncode < 0 or p.returncode >= 124:
            self.fail("ntkd died (status %d) on: %s\n%s" % (p.returncode, "; ".join(cmds)[:300], p.stderr[-2000:]))
        for bad in SANITIZER:
            if bad in p.stderr:
                self.fail("sanitizer report: %s" % p.stderr[-3000:])
                break
        return p


def sections(p):
    """The text output of a run (None: nothing) as one list of lines per command prompt."""
    secs, cur = [], None
    for line in (p.stdout if p else "").splitlines():
        if re.match(r"^\d+: kd> ", line):
            cur = []
            secs.append(cur)
        elif cur is not None:
            cur.append(line)
    return secs


def jobjs(p, fail):
    """The JSON objects of a --json run (None: nothing), but the closing "q"'s; a line starting
    with '{' that does not parse is a failure."""
    out = []
    for line in (p.stdout if p else "").splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                o = json.loads(line)
            except ValueError:
                fail("bad JSON line: %s" % line[:200])
                continue
            if o.get("command") != "q":
                out.append(o)
    return out


def by_command(p, fail):
    """The JSON objects of a --json run grouped by their command (stripped)."""
    res = collections.defaultdict(list)
    for l in p.stdout.splitlines():
        if l.startswith("{"):
            try:
                j = json.loads(l)
            except ValueError:
                fail("bad JSON line: %s" % l[:200])
                continue
            res[j.get("command", "").strip()].append(j)
    return res
