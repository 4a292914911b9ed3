"""The README's examples stay true."""

from __future__ import annotations

import re

import pandas as pd

from conftest import ROOT
from peerscale import load_instrument, score


def test_instrument_example_in_readme_loads_and_scores(tmp_path):
    text = (ROOT / "README.md").read_text()
    section = text.split("## Writing your own instrument", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    path = tmp_path / "my-scale.yaml"
    path.write_text(block)
    inst = load_instrument(path)
    assert inst.scale("d1").keys == (1, -1, 1)
    s = score(pd.DataFrame({"record_id": ["a", "b"], "q1": [4, "Yes"], "q2": [1, 9], "q3": [3, "UNK"]}), inst)
    assert s["d1"][0] == 11 / 3 and s["d1_n"][0] == 3  # q2 reversed: 1 -> 4
    assert pd.isna(s["d1"][1]) and s["d1_n"][1] == 1   # 9 and UNK are missing codes; 1 of 3 < 75%
    assert s["d1_band"][0] == "High" and abs(s["d1_t"][0] - (50 + 10 * 2 / 3)) < 1e-9


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_every_python_block_in_the_readme_runs_from_any_directory(monkeypatch, tmp_path, capsys):
    """Each block runs in an empty folder (the example data come through the package); in the
    Python API section every `print(...)  # value` line prints what its comment says."""
    text = (ROOT / "README.md").read_text()
    api = _python_blocks(text.split("## Python API", 1)[1])[0]
    blocks = _python_blocks(text)
    assert api in blocks
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
        printed = capsys.readouterr().out.splitlines()
        if block != api:
            continue
        promised = [line.split("#", 1)[1].strip() for line in block.splitlines()
                    if line.startswith("print(") and "#" in line]
        assert len(printed) == len(promised), (printed, promised)
        for got, comment in zip(printed, promised):
            assert got in comment, (got, comment)


def test_readme_test_command_is_what_ci_runs():
    """The quick start's test command (extras and pytest options included) is the one `.ci/run` runs."""
    text = (ROOT / "README.md").read_text()
    readme = re.search(r'pip install "(\.\[[^\]]*\])" && python -m pytest([^\n]*)', text)
    ci = re.search(r'pip install -q "(\.\[[^\]]*\])" && python3 -m pytest([^\n]*)', (ROOT / ".ci" / "run").read_text())
    assert readme and ci and readme.groups() == ci.groups() and readme.group(1) == ".[test,dask]"
    assert 'dask = ["dask[dataframe,distributed]' in (ROOT / "pyproject.toml").read_text()
