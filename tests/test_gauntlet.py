"""Hostile and odd input: every class of the gauntlet of issue 14, on data generated here.

Each test states the rule it checks. The shared rules for every refusal: exit 1 (2 for a
usage error), one message that starts with ``error:``, names the file, never a traceback,
never the content of a file that is not what it was given as, and nothing written.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCALES = ["--scale", "A=a1,a2,-a3", "--scale", "B=b1,b2,b3", "--range", "1:5"]


def refused(code, err, *words, exit_code=1):
    """The one shape of every refusal."""
    assert code == exit_code, err
    assert err.startswith("error:") or err.startswith("Usage:"), err
    assert "Traceback" not in err and "np.float64" not in err, err
    for w in words:
        assert w in err, (w, err)


def make_data(path: Path, n: int = 40, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"pid": [f"p{i:03d}" for i in range(n)]})
    for s in "ab":
        for k in (1, 2, 3):
            df[f"{s}{k}"] = rng.integers(1, 6, n)
    df.to_csv(path, index=False)
    return path


SPEC = """\
name: tiny
title: Tiny
version: "1.0"
id_columns: [pid]
response_scales:
  AG5: {min: 1, max: 5, codes: {1: No, 2: Rather no, 3: Unsure, 4: Rather yes, 5: Yes}, missing: {9: Not relevant}}
dimensions: {A: First, B: Second}
items:
  - {id: a1, text: "I feel heard.", dimension: A, response_scale: AG5}
  - {id: a2, text: "I can say no.", dimension: A, response_scale: AG5}
  - {id: a3, text: "I hold back.", dimension: A, response_scale: AG5, reverse: true}
  - {id: b1, text: "We plan together.", dimension: B, response_scale: AG5}
  - {id: b2, text: "We laugh.", dimension: B, response_scale: AG5}
  - {id: b3, text: "We talk often.", dimension: B, response_scale: AG5}
scales:
  - {name: A, label: First, items: [a1, a2, a3]}
  - {name: B, label: Second, items: [b1, b2, b3]}
"""


def make_spec(path: Path, text: str = SPEC) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def cli(*args, stdin=None, timeout=60, env=None):
    """The CLI in a child process (for stdin, signals and resource limits)."""
    e = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    p = subprocess.run([sys.executable, "-m", "peerscale.cli", *map(str, args)], input=stdin,
                       capture_output=True, timeout=timeout, cwd=ROOT, env=e)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


# --------------------------------------------------------------------------- devices, FIFOs, stdin

@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
@pytest.mark.parametrize("role", ["data", "scoring file", "map", "dictionary"])
def test_devices_are_refused_as_inputs(run_cli, tmp_path, device, role):
    """A device is never read (``/dev/zero`` would be read forever): refused, named, exit 1."""
    data, out = make_data(tmp_path / "d.csv"), tmp_path / "o.csv"
    args = {"data": [device, *SCALES], "scoring file": [data, "-i", device],
            "map": [data, *SCALES, "--map", device], "dictionary": [data, *SCALES, "--redcap-dictionary", device]}[role]
    code, _, err = run_cli("score", *args, "-o", out)
    refused(code, err, device, "is a device")
    assert not out.exists()


def test_directory_and_missing_inputs_exit_1(run_cli, tmp_path):
    """One exit-code rule: a missing, a directory or an unreadable input is a file problem (1)."""
    (tmp_path / "dir.csv").mkdir()
    for path, words in ((tmp_path / "dir.csv", "is a directory"), (tmp_path / "none.csv", "not found")):
        code, _, err = run_cli("score", path, *SCALES, "-o", tmp_path / "o.csv")
        refused(code, err, str(path), words)
        code, _, err = run_cli("show", path)
        refused(code, err, str(path))
    os.symlink(tmp_path / "gone.csv", tmp_path / "broken.csv")
    code, _, err = run_cli("score", tmp_path / "broken.csv", *SCALES, "-o", tmp_path / "o.csv")
    refused(code, err, "broken symbolic link")


def test_usage_errors_exit_2(run_cli, tmp_path):
    data = make_data(tmp_path / "d.csv")
    code, _, err = run_cli("score", data, *SCALES, "-o", tmp_path / "o.csv", "--no-such-option")
    refused(code, err, "no-such-option", exit_code=2)
    code, _, err = run_cli("score", data, "-o", tmp_path / "o.csv")  # neither -i nor --scale
    refused(code, err, exit_code=2)


def test_fifo_without_writer_is_refused_not_hung(run_cli, tmp_path, monkeypatch):
    """A named pipe nobody writes to: a clear message after a short wait, never a hang."""
    from peerscale.io import source

    monkeypatch.setattr(source, "PIPE_TIMEOUT", 0.3)
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    start = time.monotonic()
    code, _, err = run_cli("score", fifo, *SCALES, "-o", tmp_path / "o.csv")
    refused(code, err, str(fifo), "nothing arrived", "named pipe")
    assert time.monotonic() - start < 10


def test_fifo_with_writer_is_read(run_cli, tmp_path):
    """A named pipe that is written to is read whole, like a file (here: after a delay)."""
    data = make_data(tmp_path / "d.csv")
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)

    def writer():
        time.sleep(0.3)
        with open(fifo, "wb") as fh:
            fh.write(data.read_bytes())

    t = threading.Thread(target=writer)
    t.start()
    code, _, err = run_cli("score", fifo, *SCALES, "--id-column", "pid", "-o", tmp_path / "o.csv", "-q")
    t.join()
    assert code == 0, err
    assert pd.read_csv(tmp_path / "o.csv")["pid"].tolist() == pd.read_csv(data)["pid"].tolist()


@pytest.mark.parametrize("name", ["-", "/dev/stdin"])
def test_stdin_is_read_whole(tmp_path, name):
    """``-`` and ``/dev/stdin`` (a pipe) are standard input, read whole: no first bytes lost
    to format sniffing (they were, and a short file read as empty)."""
    data = make_data(tmp_path / "d.csv", n=5)
    out = tmp_path / "o.csv"
    code, _, err = cli("score", name, *SCALES, "--id-column", "pid", "-o", out, "-q", stdin=data.read_bytes())
    assert code == 0, err
    assert pd.read_csv(out)["pid"].tolist() == pd.read_csv(data)["pid"].tolist()


def test_stdin_binary_format(tmp_path):
    """A binary format through a pipe (here .sav) is recognised by its first bytes."""
    import pyreadstat

    df = pd.read_csv(make_data(tmp_path / "d.csv", n=6))
    pyreadstat.write_sav(df, str(tmp_path / "d.sav"))
    code, _, err = cli("score", "-", *SCALES, "-o", tmp_path / "o.csv", "-q", stdin=(tmp_path / "d.sav").read_bytes())
    assert code == 0, err
    assert len(pd.read_csv(tmp_path / "o.csv")) == 6


def test_stdin_terminal_is_refused(tmp_path):
    """Standard input that is a terminal: refused with how to pipe the data in."""
    pytest.importorskip("pty")
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin is the pseudo-terminal
        os.environ["PYTHONPATH"] = str(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "peerscale.cli", "score", "-", "--scale", "A=a1",
                                  "-o", str(tmp_path / "o.csv")])
    out = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    text = out.decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 1, text
    assert "standard input is a terminal" in text and "Traceback" not in text


# --------------------------------------------------------------------------- YAML edge cases

def test_duplicate_yaml_keys_are_refused_naming_key_and_line(run_cli, tmp_path):
    """A second ``scales:`` silently replaced the first; now refused with both lines."""
    text = SPEC + "scales:\n  - {name: B, label: Second, items: [b1, b2, b3]}\n"
    code, _, err = run_cli("show", make_spec(tmp_path / "dup.yaml", text))
    refused(code, err, "dup.yaml", "duplicate key 'scales'", f"line {text.count(chr(10)) - 1}", "first on line")
    # also in a flow mapping on one line, and nested
    code, _, err = run_cli("show", make_spec(tmp_path / "dup2.yaml", SPEC.replace("{min: 1, max: 5,", "{min: 1, max: 5, min: 2,")))
    refused(code, err, "duplicate key 'min'", "line 6")


@pytest.mark.parametrize("text, words", [
    ("name: x\nversion: " + "9" * 5000 + "\nitems: a\nscales: []\n", "5000 digits is too large"),
    ("name: " + "[" * 50_000 + "]" * 50_000 + "\nitems: a\nscales: b\n", "nested more than"),
    ("name: " + "{a: " * 20_000 + "1" + "}" * 20_000 + "\n", "nested more than"),
    ("name: x\nitems: !!python/object/apply:os.system ['touch PWNED']\nscales: []\n", "!!python"),
    ("x: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"x{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 12))
     + "name: bomb\ndescription: *l11\nitems: a\nscales: []\n", "YAML bomb"),
    ("name: x\n" + "".join(f"k{i}: &a{i} v\n" for i in range(1100)) + "items: [" + ",".join(f"*a{i}" for i in range(1100))
     + "]\nscales: []\n", "aliases"),
])
def test_yaml_hostile_documents(run_cli, tmp_path, text, words):
    """Huge integers, deep nesting, Python tags and alias bombs: one message, no traceback."""
    code, _, err = run_cli("show", make_spec(tmp_path / "bad.yaml", text))
    refused(code, err, "bad.yaml", words)
    assert not (ROOT / "PWNED").exists() and not (tmp_path / "PWNED").exists()


def test_spec_size_limit(run_cli, tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("name: x\n" + "# padding\n" * 2_000_000)
    code, _, err = run_cli("show", big)
    refused(code, err, "big.yaml", "larger than any scoring file")


SECRET_LINES = ["root:$6$Zx9.secretHash1:19000:0:99999:7:::", "daemon:*:19000:0:99999:7:::",
                "carol:hunter2-password-line:0:0"]


@pytest.mark.parametrize("as_yaml", [False, True])
def test_messages_never_echo_an_arbitrary_file(run_cli, tmp_path, as_yaml):
    """``peerscale show /etc/shadow`` printed a line of it; no role may echo such a file."""
    secret = tmp_path / "shadow"
    secret.write_text(("password: " if as_yaml else "") + "\n".join(SECRET_LINES) + "\n")
    data = make_data(tmp_path / "d.csv")
    runs = [("show", secret), ("score", data, "-i", secret, "-o", tmp_path / "o.csv"),
            ("score", secret, *SCALES, "-o", tmp_path / "o.csv"),
            ("score", secret, *SCALES, "--id-column", "nope", "-o", tmp_path / "o.csv"),
            ("score", data, *SCALES, "--map", secret, "-o", tmp_path / "o.csv"),
            ("score", data, *SCALES, "--redcap-dictionary", secret, "-o", tmp_path / "o.csv"),
            ("redcap-mapping", secret, "-i", make_spec(tmp_path / "s.yaml"))]
    for args in runs:
        code, out, err = run_cli(*args)
        assert code == 1, (args, err)
        for line in SECRET_LINES:
            for piece in (line, line[:20], line.split(":")[1]):
                assert piece not in err and piece not in out, (args, err)


# --------------------------------------------------------------------------- outputs: collisions, devices, OS errors

@pytest.mark.parametrize("kind", ["device", "fifo", "directory", "dash"])
def test_outputs_that_are_not_regular_files_are_refused_even_with_force(run_cli, tmp_path, kind):
    """Run as root, ``-o /dev/null --force`` replaced the device node by a regular file."""
    data = make_data(tmp_path / "d.csv")
    if kind == "device":
        # a private copy of /dev/null's node: were the check ever lost, only it would be replaced
        # (an earlier run of this test on unfixed code replaced the machine's /dev/null)
        target = tmp_path / "null"
        try:
            os.mknod(target, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("creating a device node needs root")
    elif kind == "fifo":
        target = tmp_path / "out.csv"
        os.mkfifo(target)
    elif kind == "directory":
        target = tmp_path / "out.csv"
        target.mkdir()
    else:
        target = Path("-")
    before = os.lstat(target).st_mode if kind != "dash" else None
    for cmd in (("score", data, *SCALES, "--output-format", "csv"), ("report", data, *SCALES, "--format", "html")):
        code, _, err = run_cli(*cmd, "-o", target, "--force")
        refused(code, err, str(target))
    if before is not None:
        assert os.lstat(target).st_mode == before
    code, _, err = run_cli("redcap-dictionary", make_spec(tmp_path / "s.yaml"), "-o", target, "--force")
    refused(code, err, str(target))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_symlinked_output_replaces_the_file_it_names(run_cli, tmp_path):
    data = make_data(tmp_path / "d.csv")
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    code, _, err = run_cli("score", data, *SCALES, "-o", link, "--force", "-q")
    assert code == 0, err
    assert link.is_symlink() and real.read_text().startswith('"row"')


def _limited(limit_bytes):
    def pre():
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return pre


@pytest.mark.parametrize("ext", ["csv", "sav", "html"])  # pyarrow, pyreadstat, a plain text write
def test_file_too_large_names_the_output(tmp_path, ext):
    """``[Errno 27] File too large`` named neither the output nor what to do; no .tmp is left."""
    rng = np.random.default_rng(0)
    pd.DataFrame({f"a{k}": rng.integers(1, 6, 3_000) for k in (1, 2, 3)}).to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / f"o.{ext}"
    cmd = "report" if ext == "html" else "score"
    p = subprocess.run([sys.executable, "-m", "peerscale.cli", cmd, tmp_path / "d.csv", "--scale", "A=a1,a2,a3",
                        "-o", out, "-q"], capture_output=True, text=True, cwd=ROOT, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, preexec_fn=_limited(4096))
    refused(p.returncode, p.stderr, str(out), "cannot write")
    assert ".tmp" not in p.stderr
    assert not out.exists() and not [q for q in tmp_path.iterdir() if q.name.endswith(".tmp")]


def test_unwritable_folder_names_the_output_not_the_temporary_file(run_cli, tmp_path, monkeypatch):
    """A read-only folder printed the temporary file's name; the message names the output."""
    import tempfile

    def denied(*a, dir=None, **k):
        raise PermissionError(13, "Permission denied", str(Path(dir) / ".o.csv.abc123.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    data = make_data(tmp_path / "d.csv")
    code, _, err = run_cli("score", data, *SCALES, "-o", tmp_path / "o.csv")
    refused(code, err, str(tmp_path / "o.csv"), "permission denied")
    assert ".tmp" not in err


def test_os_error_reading_names_the_file(run_cli, tmp_path, monkeypatch):
    data = make_data(tmp_path / "d.csv")
    import builtins

    real_open = builtins.open

    def failing(file, mode="r", *a, **k):
        if str(file) == str(data) and "b" in mode:
            raise OSError(5, "Input/output error", str(file))
        return real_open(file, mode, *a, **k)

    monkeypatch.setattr(builtins, "open", failing)
    code, _, err = run_cli("score", data, *SCALES, "-o", tmp_path / "o.csv")
    refused(code, err, str(data), "Input/output error")


# --------------------------------------------------------------------------- signals

SIGTERM_SCRIPT = """
import os, signal, sys, time
import peerscale.io.write as w
from peerscale.cli import main
real = w._write_{fmt}
def write(df, tmp, meta):
    real(df, tmp, meta)
    assert os.path.exists(tmp)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)
w._write_{fmt} = write
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("fmt", ["csv"])
def test_sigterm_during_a_write_leaves_no_temporary_file(tmp_path, fmt):
    """SIGTERM arrives while the temporary file exists: it is removed, exit 143, no output."""
    data = make_data(tmp_path / "d.csv")
    out = tmp_path / f"o.{fmt}"
    p = subprocess.run([sys.executable, "-c", SIGTERM_SCRIPT.format(fmt=fmt), "score", data, *SCALES, "-o", out],
                       capture_output=True, text=True, cwd=ROOT, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 143, p.stderr
    assert "terminated" in p.stderr and "Traceback" not in p.stderr
    assert sorted(q.name for q in tmp_path.iterdir()) == ["d.csv"]


def test_sigterm_from_outside_while_writing(tmp_path):
    """A real SIGTERM from another process while a slow output (.xlsx) is being written.

    On a loaded machine the write can finish between seeing its temporary file and the signal
    arriving; that run proves nothing, so it is repeated with a larger (slower) output."""
    rng = np.random.default_rng(0)
    for rows in (60_000, 240_000, 960_000):
        pd.DataFrame({f"a{k}": rng.integers(1, 6, rows) for k in (1, 2, 3)}).to_csv(tmp_path / "d.csv", index=False)
        out = tmp_path / "o.xlsx"
        out.unlink(missing_ok=True)
        p = subprocess.Popen([sys.executable, "-m", "peerscale.cli", "score", tmp_path / "d.csv", "--scale",
                              "A=a1,a2,a3", "-o", out, "--include-items", "-q"], cwd=ROOT, stderr=subprocess.PIPE,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(q.name.endswith(".tmp") for q in tmp_path.iterdir()):
            time.sleep(0.005)
        time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=120)
        if not (p.returncode == 0 and out.exists()):  # the signal arrived during the write
            break
    assert p.returncode == 143, err
    assert not out.exists()
    assert not [q for q in tmp_path.iterdir() if q.name.endswith(".tmp")]
    assert b"Traceback" not in err


# --------------------------------------------------------------------------- injection in every written format

EVIL_SPEC = """\
name: evil
title: "Evil <script>alert('title')</script> **bold** [x](javascript:alert(1))"
version: "1.0"
id_columns: [pid, redcap_event_name]
response_scales:
  AG5:
    min: 1
    max: 5
    codes: {1: "=1+1", 2: "@SUM(A1)", 3: "-2+3 <b>mid</b>", 4: "+cmd|' /C calc'!A0", 5: "Yes\\nNo"}
    missing: {9: "<img src=x onerror=alert(9)>"}
dimensions:
  A: {label: "@dimension <script>alert('dim')</script>"}
  B: {label: "=HYPERLINK(\\"http://evil\\")"}
items:
  - {id: a1, text: "=cmd|' /C calc'!A0", dimension: A, response_scale: AG5}
  - {id: a2, text: "@SUM(1+1)*cmd|' /C calc'!A0", dimension: A, response_scale: AG5}
  - {id: a3, text: "<script>alert('item')</script> `code` | pipe", dimension: A, response_scale: AG5, reverse: true}
  - {id: b1, text: "+1 [link](javascript:alert(1)) ![img](http://x/y.png)", dimension: B, response_scale: AG5}
  - {id: b2, text: "-1\\n# heading\\n<iframe src=x>", dimension: B, response_scale: AG5}
  - {id: b3, text: "\\tTabbed text with a very long tail " , dimension: B, response_scale: AG5}
scales:
  - {name: A, label: "=SUM(A1:A9) <script>alert('scale')</script>", items: [a1, a2, a3]}
  - {name: B, label: "@B\\nnewline", items: [b1, b2, b3]}
bands:
  A:
    cuts: [{label: "=low", min: 1, max: 3}, {label: "<b>high</b>", min: 3, max: 5}]
"""
EVIL_IDS = ["=cmd|' /C calc'!A0", "@SUM(1)", "+1+1", "-2+3", "\tx", "<script>alert('id')</script>", "'q'", "ok"]
EVIL_EVENTS = ["<script>alert('event')</script>", "=HYPERLINK(\"x\")"]
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def evil_inputs(tmp_path, n=60):
    rng = np.random.default_rng(3)
    rows = []
    for i in range(n):
        pid = EVIL_IDS[i % len(EVIL_IDS)] + f"#{i // len(EVIL_IDS)}"
        for ev in EVIL_EVENTS:
            t = rng.normal()
            rows.append({"pid": pid, "redcap_event_name": ev,
                         **{f"{s}{k}": int(np.clip(round(3 + t + rng.normal()), 1, 5)) for s in "ab" for k in (1, 2, 3)}})
    data = tmp_path / "evil.csv"
    pd.DataFrame(rows).to_csv(data, index=False)
    return data, make_spec(tmp_path / "evil.yaml", EVIL_SPEC)


def _cells_are_inert(rows, where):
    for r in rows:
        for c in r:
            if isinstance(c, str) and c[:1] in TRIGGERS:
                assert re_plain_number(c), (where, c)


def re_plain_number(text):
    import re

    return re.match(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", text) is not None


@pytest.mark.parametrize("ext", ["csv", "tsv", "xlsx"])
def test_score_outputs_neutralise_formulas(run_cli, tmp_path, ext):
    data, spec = evil_inputs(tmp_path)
    out = tmp_path / f"s.{ext}"
    code, _, err = run_cli("score", data, "-i", spec, "-o", out, "--include-items", "-q")
    assert code == 0, err
    if ext == "xlsx":
        import openpyxl

        wb = openpyxl.load_workbook(out)
        for ws in wb.worksheets:
            cells = [c for row in ws.iter_rows() for c in row]
            assert not [c.coordinate for c in cells if c.data_type == "f"], ws.title
            _cells_are_inert([[c.value for c in cells]], ws.title)
    else:
        import csv

        with open(out, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh, delimiter="," if ext == "csv" else "\t"))
        _cells_are_inert(rows, ext)
        assert any("'=cmd" in c for r in rows for c in r)  # kept, made inert, not dropped


def test_redcap_dictionary_and_zip_neutralise_formulas(run_cli, tmp_path):
    import csv
    import io
    import zipfile

    _, spec = evil_inputs(tmp_path)
    code, _, err = run_cli("redcap-dictionary", spec, "-o", tmp_path / "dd.csv", "--with-calc", "--zip", tmp_path / "i.zip")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO((tmp_path / "dd.csv").read_text(encoding="utf-8"))))
    _cells_are_inert(rows, "dictionary")
    assert any(c.startswith("'=cmd") for r in rows for c in r)
    with zipfile.ZipFile(tmp_path / "i.zip") as zf:
        _cells_are_inert(list(csv.reader(io.StringIO(zf.read("instrument.csv").decode("utf-8")))), "zip")
    # what we write, we read back: the dictionary still maps every field to its item
    code, out, err = run_cli("redcap-mapping", tmp_path / "dd.csv", "-i", spec)
    assert code == 0 and "matched 6 of 6 items" in err, err


def test_html_and_markdown_reports_escape_labels_and_event_names(run_cli, tmp_path):
    """The Markdown report wrote labels and event names as raw HTML (``<script>`` survived)."""
    import re

    data, spec = evil_inputs(tmp_path)
    code, _, err = run_cli("report", data, "-i", spec, "-o", tmp_path / "r.html", "-q")
    assert code == 0, err
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    for tag in ("<script", "<img", "<iframe", "<b>", "javascript:alert(1)\""):
        assert tag not in html.lower(), tag
    code, _, err = run_cli("report", data, "-i", spec, "-o", tmp_path / "r.md", "-q")
    assert code == 0, err
    md = (tmp_path / "r.md").read_text(encoding="utf-8")
    for tag in ("<script", "<img", "<iframe", "<b>"):
        assert tag not in md.lower(), tag
    assert "&lt;script&gt;" in md  # shown as text, not dropped
    assert not re.search(r"(?<!\\)\[[^\]]*\]\(javascript:", md)  # no live link from data
    assert not re.search(r"(?m)^#+ .*heading", md)  # no heading injected by a newline in an item text
    html_tags = set(re.findall(r"<(/?[a-zA-Z]+)", md))
    assert html_tags <= {"details", "/details", "summary", "/summary"}, html_tags


def test_spss_labels_are_sanitised_and_pspp_reads_them(run_cli, tmp_path):
    """Labels with newlines, quotes, HTML and formula text, and longer than SPSS allows: one
    line each, cut on a character boundary, and PSPP opens the file."""
    import shutil

    import pyreadstat

    data, spec = evil_inputs(tmp_path)
    long_spec = spec.read_text().replace("\\tTabbed text with a very long tail ", "é" * 300)
    make_spec(spec, long_spec)
    out = tmp_path / "s.sav"
    code, _, err = run_cli("score", data, "-i", spec, "-o", out, "--include-items", "-q")
    assert code == 0, err
    _, meta = pyreadstat.read_sav(str(out))
    labels = list(meta.column_names_to_labels.values()) + [v for vl in meta.variable_value_labels.values()
                                                          for v in vl.values()]
    for text in labels:
        if text:
            assert not any(ord(ch) < 32 for ch in text), text
            assert len(text.encode("utf-8")) <= 256
    assert meta.column_names_to_labels["b3"].endswith("…") and "é" in meta.column_names_to_labels["b3"]
    assert meta.variable_value_labels["a1"][1.0] == "=1+1"
    if shutil.which("pspp"):
        p = subprocess.run(["pspp", "-o", str(tmp_path / "o.txt")], input=f"GET FILE='{out}'.\nDISPLAY DICTIONARY.\n",
                           text=True, capture_output=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "=SUM(A1:A9)" in (tmp_path / "o.txt").read_text(encoding="utf-8", errors="replace")


def test_xlsx_output_refuses_cells_excel_cannot_hold(run_cli, tmp_path):
    df = pd.read_csv(make_data(tmp_path / "d.csv", n=4))
    df.loc[2, "pid"] = "a\x01b"
    df.to_csv(tmp_path / "c.csv", index=False)
    code, _, err = run_cli("score", tmp_path / "c.csv", *SCALES, "--id-column", "pid", "-o", tmp_path / "o.xlsx")
    refused(code, err, "o.xlsx", "row 3", "column 'pid'", "control character")
    assert not (tmp_path / "o.xlsx").exists()


# --------------------------------------------------------------------------- Excel input

def test_uncalculated_excel_formulas_are_named(run_cli, tmp_path):
    """A workbook written by a script holds formulas without a calculated value: they read as
    blank, which was silent; now a warning names the cells. Calculated formulas read as values."""
    import zipfile

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["pid", "a1", "a2", "a3", "b1", "b2", "b3"])
    ws.append(["p1", 1, 2, 3, 4, 5, 1])
    ws.append(["p2", 2, "=1+1", 3, 4, 5, 1])
    ws.append(["p3", 3, 3, 3, 3, 3, "=B3+1"])
    wb.save(tmp_path / "f.xlsx")
    code, _, err = run_cli("score", tmp_path / "f.xlsx", *SCALES, "--id-column", "pid", "-o", tmp_path / "o.csv")
    assert code == 0, err
    assert "2 formula cell(s) have no calculated value" in err and "C3, G4" in err
    # the same workbook after a spreadsheet program saved it: values cached, no warning
    with zipfile.ZipFile(tmp_path / "f.xlsx") as zin, zipfile.ZipFile(tmp_path / "g.xlsx", "w") as zout:
        for item in zin.infolist():
            body = zin.read(item.filename)
            if item.filename.endswith("sheet1.xml"):
                body = body.replace(b"<f>1+1</f><v />", b"<f>1+1</f><v>2</v>").replace(b"<f>B3+1</f><v />",
                                                                                       b"<f>B3+1</f><v>3</v>")
            zout.writestr(item, body)
    code, _, err = run_cli("score", tmp_path / "g.xlsx", *SCALES, "--id-column", "pid", "-o", tmp_path / "g.csv")
    assert code == 0 and "formula" not in err, err
    assert pd.read_csv(tmp_path / "g.csv")["B_n"].tolist() == [3, 3, 3]


# --------------------------------------------------------------------------- resource exhaustion

def test_a_file_too_big_for_the_memory_left_is_refused_with_size_and_advice(run_cli, tmp_path, monkeypatch):
    """Inputs were read whole: an input larger than memory ended in an Arrow abort (exit 134) or a
    MemoryError traceback. Checked before reading: size, memory, what to do."""
    from peerscale.io import source

    data = make_data(tmp_path / "d.csv", n=200)
    monkeypatch.setattr(source, "memory_room", lambda: (1_000, "the process's virtual memory limit (ulimit -v)", False))
    code, _, err = run_cli("validate", data, *SCALES)
    size = source.human(data.stat().st_size)
    refused(code, err, str(data), f"is {size}", "ulimit -v", "split the file")
    monkeypatch.setenv("PEERSCALE_MEMORY_CHECK", "off")  # the documented way to try anyway
    code, _, err = run_cli("validate", data, *SCALES, "-q")
    assert code == 0, err
    # `score` reads, scores and writes such a file in chunks instead (issue 15)
    monkeypatch.delenv("PEERSCALE_MEMORY_CHECK")
    code, _, err = run_cli("score", data, *SCALES, "-o", tmp_path / "o.csv")
    assert code == 0 and "(in chunks)" in err, err


def test_under_a_real_address_space_limit(tmp_path):
    """The same under a real `ulimit -v`: a clean refusal, no abort, no traceback."""
    rng = np.random.default_rng(0)
    n = 400_000
    pd.DataFrame({f"a{k}": rng.integers(1, 6, n) for k in (1, 2, 3)}).to_csv(tmp_path / "d.csv", index=False)

    # the address space peerscale uses once its libraries are loaded, plus 200 MB: here about
    # 540 MB, where Arrow aborted with exit 134 (std::bad_alloc) before the check existed
    probe = subprocess.run([sys.executable, "-c", "import numpy, pandas, pyarrow.csv, peerscale.cli; "
                            "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmSize')][0])"],
                           capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    cap = (int(probe.stdout.strip()) << 10) + (200 << 20)

    def limit():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    p = subprocess.run([sys.executable, "-m", "peerscale.cli", "score", tmp_path / "d.csv", "--scale", "A=a1,a2,a3",
                        "-o", tmp_path / "o.csv"], capture_output=True, text=True, cwd=ROOT, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, preexec_fn=limit)
    refused(p.returncode, p.stderr, "d.csv", "memory")
    assert not (tmp_path / "o.csv").exists()


def test_a_stream_is_capped(tmp_path, monkeypatch):
    """A pipe bringing more than the memory allows is stopped, not read to exhaustion."""
    from peerscale.errors import PeerscaleError
    from peerscale.io import source

    fifo = tmp_path / "p"
    os.mkfifo(fifo)

    def writer():
        try:
            with open(fifo, "wb") as fh:
                for _ in range(64):
                    fh.write(b"a,b\n" * 65536)
        except BrokenPipeError:
            pass

    t = threading.Thread(target=writer)
    t.start()
    with pytest.raises(PeerscaleError, match="more than 1 MB arrived"):
        source.read_stream(source.check_input(fifo), "data file", limit=1_000_000)
    t.join()


def test_memory_error_while_reading_is_one_message(run_cli, tmp_path, monkeypatch):
    from peerscale.io import csv as csv_reader

    def exhausted(*a, **k):
        raise MemoryError

    monkeypatch.setattr(csv_reader, "read_delimited", exhausted)
    data = make_data(tmp_path / "d.csv")
    code, _, err = run_cli("score", data, *SCALES, "-o", tmp_path / "o.csv")
    refused(code, err, str(data), "ran out of memory")


def test_zip_bombs_are_refused_before_they_unpack(run_cli, tmp_path, monkeypatch):
    """An .xlsx is checked by its unpacked size (a few KB can unpack to gigabytes); a REDCap
    instrument zip whose instrument.csv unpacks too large is refused."""
    import zipfile

    import openpyxl

    from peerscale.io import source

    wb = openpyxl.Workbook()
    wb.active.append(["a1", "a2", "a3", "b1", "b2", "b3"])
    wb.active.append([1, 2, 3, 4, 5, 1])
    wb.save(tmp_path / "base.xlsx")
    with zipfile.ZipFile(tmp_path / "base.xlsx") as zin, \
            zipfile.ZipFile(tmp_path / "bomb.xlsx", "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            body = zin.read(item.filename)
            if item.filename.endswith("sheet1.xml"):
                body = body.replace(b"<sheetData>", b"<sheetData>" + b" " * 30_000_000)
            zout.writestr(item, body)
    assert (tmp_path / "bomb.xlsx").stat().st_size < 200_000
    monkeypatch.setattr(source, "memory_room", lambda: (100_000_000, "memory available on this machine", False))
    code, _, err = run_cli("score", tmp_path / "bomb.xlsx", *SCALES, "-o", tmp_path / "o.csv")
    refused(code, err, "bomb.xlsx", "unpacked", "memory")
    with zipfile.ZipFile(tmp_path / "dict.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("instrument.csv", "Variable / Field Name" + " " * 70_000_000)
    code, _, err = run_cli("score", make_data(tmp_path / "d.csv"), *SCALES, "--redcap-dictionary", tmp_path / "dict.zip",
                           "-o", tmp_path / "o.csv")
    refused(code, err, "dict.zip", "unpacks to more than")


def test_deeply_nested_json_lines(run_cli, tmp_path):
    (tmp_path / "d.jsonl").write_text('{"a1": 1}\n{"a1": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    code, _, err = run_cli("score", tmp_path / "d.jsonl", "--scale", "A=a1", "-o", tmp_path / "o.csv")
    refused(code, err, "d.jsonl", "line 2")


# --------------------------------------------------------------------------- output/input collisions

BANK_SPLIT = """\
name: split
title: Split
version: "1.0"
items: bank.yaml
id_columns: [pid]
scales:
  - {name: A, label: First, items: [a1, a2, a3]}
  - {name: B, label: Second, items: [b1, b2, b3]}
"""


def split_spec(tmp_path):
    """A scoring file naming a separate item bank file (both are inputs)."""
    bank = "bank: tiny\n" + SPEC.split("id_columns: [pid]\n", 1)[1].split("\nscales:")[0] + "\n"
    (tmp_path / "bank.yaml").write_text(bank)
    return make_spec(tmp_path / "split.yaml", BANK_SPLIT), tmp_path / "bank.yaml"


@pytest.mark.parametrize("role", ["data", "scoring file", "item bank", "map file", "dictionary", "hard link", "symlink"])
@pytest.mark.parametrize("cmd", ["score", "report"])
def test_no_input_is_ever_an_output_even_with_force(run_cli, tmp_path, role, cmd):
    """``--force`` overwrote inputs other than the data file (the scoring file with
    ``-o spec.yaml --output-format csv``, the --map file, the --redcap-dictionary)."""
    data = make_data(tmp_path / "d.csv")
    spec, bank = split_spec(tmp_path)
    mapping = tmp_path / "map.csv"
    mapping.write_text("column,item\npid,pid\n")
    code, _, err = run_cli("redcap-dictionary", spec, "-o", tmp_path / "dd.csv")
    assert code == 0, err
    if role == "hard link":
        os.link(data, tmp_path / "same.csv")
    if role == "symlink":
        (tmp_path / "same.csv").symlink_to(spec)
    target = {"data": data, "scoring file": spec, "item bank": bank, "map file": mapping,
              "dictionary": tmp_path / "dd.csv", "hard link": tmp_path / "same.csv",
              "symlink": tmp_path / "same.csv"}[role]
    before = {p: p.read_bytes() for p in (data, spec, bank, mapping, tmp_path / "dd.csv")}
    fmt = ["--output-format", "csv"] if cmd == "score" else ["--format", "html"]
    code, _, err = run_cli(cmd, data, "-i", spec, "--map", mapping, "--redcap-dictionary", tmp_path / "dd.csv",
                           *fmt, "-o", target, "--force")
    refused(code, err, str(target), "over an input")
    assert {p: p.read_bytes() for p in before} == before


def test_instrument_commands_never_write_over_their_instrument(run_cli, tmp_path):
    spec, bank = split_spec(tmp_path)
    assert run_cli("redcap-dictionary", spec, "-o", tmp_path / "x.csv")[0] == 0
    before = (spec.read_bytes(), bank.read_bytes())
    for args in (("redcap-dictionary", spec, "-o", spec), ("redcap-dictionary", spec, "-o", tmp_path / "x.csv",
                                                           "--zip", bank),
                 ("export-rules", spec, "--to", "spss", "-o", bank), ("interview-guide", spec, "-o", spec),
                 ("cvi-form", spec, "-o", tmp_path / "f.xlsx"), ("redcap-mapping", tmp_path / "x.csv", "-i", spec,
                                                                  "-o", spec)):
        code, _, err = run_cli(*args, "--force")
        if args[0] == "cvi-form":
            assert code == 0, err
            continue
        assert code == 1 and "over an input" in err, (args, err)
    assert (spec.read_bytes(), bank.read_bytes()) == before


def test_markdown_figures_folder_never_holds_an_input(run_cli, tmp_path):
    folder = tmp_path / "r_files"
    folder.mkdir()
    data = make_data(folder / "d.csv")
    code, _, err = run_cli("report", data, *SCALES, "-o", tmp_path / "r.md", "--force")
    refused(code, err, "r_files", "input")
    assert data.exists()


@pytest.mark.parametrize("args, column", [
    (["--scale", "id=a1,a2,a3", "--range", "1:5", "--id-column", "pid"], None),
    (["--scale", "pid=a1,a2,a3", "--range", "1:5", "--id-column", "pid"], "pid"),
    (["--scale", "A=a1,a2,a3", "--range", "1:5", "--id-column", "A_n"], "A_n"),
    (["--scale", "row=a1,a2,a3", "--range", "1:5"], "row"),
])
def test_identifier_columns_named_like_scores_are_refused(run_cli, tmp_path, args, column):
    """An id column named like a scale or `<scale>_n` was silently overwritten by scores (exit 0)."""
    df = pd.read_csv(make_data(tmp_path / "d.csv"))
    df["A_n"] = df["pid"]
    df.to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "o.csv"
    code, _, err = run_cli("score", tmp_path / "d.csv", *args, "-o", out)
    if column is None:  # a scale called 'id' with another id column is fine
        assert code == 0, err
        return
    refused(code, err, column, "overwrite")
    assert not out.exists()


def test_bundled_scale_name_as_id_column_is_refused(run_cli, tmp_path):
    data = pd.read_csv(ROOT / "examples" / "youth_export.csv").rename(columns={"record_id": "share"})
    data.to_csv(tmp_path / "y.csv", index=False)
    code, _, err = run_cli("score", tmp_path / "y.csv", "-i", "pbr-y", "--id-column", "share", "-o", tmp_path / "o.csv")
    refused(code, err, "'share'", "overwrite the identifiers")
    import peerscale
    from peerscale.errors import PeerscaleError

    with pytest.raises(PeerscaleError, match="overwrite the identifiers"):  # the library refuses too
        peerscale.score(data, "pbr-y", id_columns=["share"])


def test_library_reads_standard_input_once_even_when_it_detects_the_instrument(tmp_path):
    """peerscale.read('-') without an instrument reads the export twice (recognise, then read):
    a pipe gives its bytes once, so the second read uses the first one's bytes."""
    d = pd.read_csv(ROOT / "examples" / "youth_export.csv")
    body = d[[c for c in d.columns if not c.startswith(("act_", "out_"))]].to_csv(index=False).encode()
    p = subprocess.run([sys.executable, "-c", "import peerscale; r = peerscale.read('-'); "
                        "print(r.instrument.name, len(r.data))"], input=body, capture_output=True, timeout=120,
                       cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout.decode().split() == ["pbr-y", str(len(d))]
