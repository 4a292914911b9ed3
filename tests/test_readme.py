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


def test_python_api_example_in_readme_runs(monkeypatch, capsys):
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Python API\n.*?```python\n(.*?)```", text, re.S).group(1)
    monkeypatch.chdir(ROOT)
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "0.703 0.713 (0.685" in out and "0.7229" in out
    assert "'chisq': 85.306, 'df': 24" in out and "'srmr': 0.065" in out
