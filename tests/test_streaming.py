"""Scoring in chunks (issue 15, part 1): the chunk reader and `peerscale score --chunk-size`
give exactly what the whole-file path gives, byte for byte, at every chunk boundary."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from peerscale.errors import PeerscaleError
from peerscale.examples import path as example_path
from peerscale.io.chunks import iter_chunks
from peerscale.streaming import score_file

FIX = Path(__file__).parent / "fixtures" / "redcap"
MINI = FIX / "mini-y.yaml"
MINI_ITEMS = ["mini_share_1", "mini_share_2", "mini_share_3", "mini_trust_1", "mini_trust_2", "mini_trust_3"]
BFI_SCALES = ["A=-A1,A2,A3,A4,A5", "C=C1,C2,C3,-C4,-C5", "E=-E1,-E2,E3,E4,E5"]
BFI_ITEMS = [f"{s}{i}" for s in "ACE" for i in range(1, 6)]


def _scale_args(scales=BFI_SCALES):
    return [a for s in scales for a in ("--scale", s)]


def _bfi_like(path: Path, rows: int, seed: int = 1, blank: float = 0.15) -> pd.DataFrame:
    """Items 1..6 with many blanks (so the minimum-answered rule bites) and text ids."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"id": [f"p{i:05d}" for i in range(rows)]})
    for item in BFI_ITEMS:
        x = rng.integers(1, 7, rows).astype(float)
        x[rng.random(rows) < blank] = np.nan
        df[item] = x
    df.to_csv(path, index=False, float_format="%.0f")
    return df


def _score_both(run_cli, tmp_path, src, extra, ext="csv", chunk=7):
    whole, chunked = tmp_path / f"whole.{ext}", tmp_path / f"chunked.{ext}"
    for out, more in ((whole, []), (chunked, ["--chunk-size", chunk])):
        code, _out, err = run_cli("score", src, *extra, "-o", out, "-q", *more)
        assert code == 0, err
    return whole, chunked


# --------------------------------------------------------------------------- identical output

@pytest.mark.parametrize("ext", ["csv", "tsv", "jsonl", "sav"])
def test_example_in_chunks_is_byte_identical(run_cli, tmp_path, ext):
    whole, chunked = _score_both(run_cli, tmp_path, example_path("youth_export.csv"),
                                 ["-i", "pbr-y", "--include-items", "keyed"], ext, chunk=50)
    if ext != "sav":
        assert whole.read_bytes() == chunked.read_bytes()
        return
    import pyreadstat  # the header holds the time of writing: compare what it holds

    (a, ma), (b, mb) = pyreadstat.read_sav(str(whole), user_missing=True), pyreadstat.read_sav(str(chunked), user_missing=True)
    assert a.equals(b)
    for attr in ("column_names_to_labels", "variable_value_labels", "missing_ranges", "variable_measure",
                 "original_variable_types", "file_label"):
        assert getattr(ma, attr) == getattr(mb, attr), attr


def test_example_to_parquet_in_chunks_holds_the_same_table(run_cli, tmp_path):
    import pyarrow.parquet as pq

    whole, chunked = _score_both(run_cli, tmp_path, example_path("youth_export.csv"), ["-i", "pbr-y"], "parquet", 64)
    a, b = pq.read_table(whole), pq.read_table(chunked)
    assert a.equals(b)
    assert a.schema.metadata[b"peerscale"] == b.schema.metadata[b"peerscale"]
    assert pq.ParquetFile(chunked).num_row_groups == 9  # appended chunk by chunk


@pytest.mark.parametrize("rule", ["1", "4", "0.75"])
def test_generated_data_missing_values_reverse_keys_and_rule(run_cli, tmp_path, rule):
    src = tmp_path / "bfi.csv"
    _bfi_like(src, 997)
    whole, chunked = _score_both(run_cli, tmp_path, src, [*_scale_args(), "--range", "1:6", "--min-answered", rule,
                                                          "--id-column", "id"], chunk=100)
    assert whole.read_bytes() == chunked.read_bytes()
    scores = pd.read_csv(chunked)
    assert len(scores) == 997 and scores["id"].tolist()[:2] == ["p00000", "p00001"]
    assert scores["A"].notna().any() and (rule == "1" or scores["A"].isna().any())
    # an independent check of the arithmetic: reverse keys as 7 - x, mean of the answered
    df = pd.read_csv(src)
    a = pd.concat([7 - df["A1"], df[["A2", "A3", "A4", "A5"]]], axis=1)
    need = float(rule) if float(rule) >= 1 else np.ceil(float(rule) * 5)
    expect = a.mean(axis=1).where(a.notna().sum(axis=1) >= need)
    assert np.allclose(scores["A"], expect, equal_nan=True, rtol=0, atol=1e-15)


def test_summary_of_chunks_equals_the_whole_file(tmp_path):
    import peerscale
    from peerscale.spec import adhoc_instrument

    src = tmp_path / "bfi.csv"
    _bfi_like(src, 500, seed=3)
    inst = adhoc_instrument(BFI_SCALES, value_range=(1, 6), min_answered=3)
    whole = peerscale.read(src, inst, id_columns=["id"]).score().summary
    _, chunked = score_file(src, tmp_path / "s.csv", inst, chunk_rows=37, id_columns=["id"])
    for key in ("n_rows", "n_in_scope", "missing_by_reason", "missing_by_item", "invalid_values"):
        assert chunked[key] == whole[key], key
    for name, sc in whole["scales"].items():
        for key, value in sc.items():
            if isinstance(value, float):
                assert chunked["scales"][name][key] == pytest.approx(value, rel=1e-13), (name, key)
            else:
                assert chunked["scales"][name][key] == value, (name, key)


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "sav", "tsv"])
def test_other_input_formats_read_in_chunks(run_cli, tmp_path, fmt):
    df = _bfi_like(tmp_path / "bfi.csv", 300, seed=5)
    src = tmp_path / f"bfi.{fmt}"
    if fmt == "parquet":
        df.to_parquet(src)
    elif fmt == "jsonl":
        df.to_json(src, orient="records", lines=True)
    elif fmt == "tsv":
        df.to_csv(src, sep="\t", index=False, float_format="%.0f")
    else:
        import pyreadstat

        pyreadstat.write_sav(df, str(src))
    whole, chunked = _score_both(run_cli, tmp_path, src, [*_scale_args(), "--range", "1:6", "--id-column", "id"],
                                 chunk=64)
    assert whole.read_bytes() == chunked.read_bytes()
    assert [len(c) for c in iter_chunks(src, None, chunk_rows=64)] == [64] * 4 + [44]


# --------------------------------------------------------------------------- chunk boundaries

@pytest.mark.parametrize("bad_row", [10, 11, 20])
def test_invalid_value_at_a_chunk_edge_names_the_files_row(run_cli, tmp_path, bad_row):
    df = _bfi_like(tmp_path / "bfi.csv", 30, blank=0)
    df.loc[bad_row - 1, "C3"] = 9
    src = tmp_path / "bad.csv"
    df.to_csv(src, index=False, float_format="%.0f")
    out = tmp_path / "s.csv"
    code, _o, err = run_cli("score", src, *_scale_args(), "--range", "1:6", "--id-column", "id", "-o", out,
                            "--chunk-size", 10)
    assert code != 0
    assert f"row {bad_row}, column 'C3': 9" in err
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    code, _o, err_whole = run_cli("score", src, *_scale_args(), "--range", "1:6", "--id-column", "id", "-o", out)
    assert f"row {bad_row}, column 'C3': 9" in err_whole


def test_invalid_values_set_missing_are_counted_across_chunks(run_cli, tmp_path):
    df = _bfi_like(tmp_path / "bfi.csv", 40, blank=0)
    df.loc[[9, 10, 39], "A2"] = 8
    src = tmp_path / "bad.csv"
    df.to_csv(src, index=False, float_format="%.0f")
    args = [*_scale_args(), "--range", "1:6", "--id-column", "id", "--on-invalid", "missing"]
    whole, chunked = _score_both(run_cli, tmp_path, src, args, chunk=10)
    assert whole.read_bytes() == chunked.read_bytes()
    code, out, _e = run_cli("score", src, *args, "-o", tmp_path / "j.csv", "--chunk-size", 10, "--json")
    import json

    assert json.loads(out)["invalid_values"] == 3


def test_quoted_newlines_across_chunk_and_block_boundaries(run_cli, tmp_path):
    """Multi-line quoted notes in a file larger than the reader's 1 MiB blocks."""
    rows = 25_000
    df = _bfi_like(tmp_path / "bfi.csv", rows, seed=7)
    rng = np.random.default_rng(7)
    df.insert(1, "note", ["line one\nline, two \"quoted\"\n" * int(k) for k in rng.integers(0, 4, rows)])
    src = tmp_path / "notes.csv"
    df.to_csv(src, index=False, float_format="%.0f")
    assert src.stat().st_size > 1.5 * (1 << 20)
    args = [*_scale_args(), "--range", "1:6", "--id-column", "id", "--id-column", "note"]
    whole, chunked = _score_both(run_cli, tmp_path, src, args, chunk=997)
    assert whole.read_bytes() == chunked.read_bytes()
    back = pd.read_csv(chunked, keep_default_na=False)
    assert back["note"].tolist() == df["note"].tolist()
    assert [len(c) for c in iter_chunks(src, None, chunk_rows=10_000)] == [10_000, 10_000, 5000]


def _redcap(tmp_path, rows):
    header = "record_id,redcap_repeat_instrument,redcap_repeat_instance,age," + ",".join(MINI_ITEMS) + ",mini_y_complete\n"
    p = tmp_path / "rep.csv"
    p.write_text(header + "\n".join(rows) + "\n")
    return p


def test_redcap_repeated_instances_split_across_chunks(run_cli, tmp_path):
    """The form repeats only in the last chunk: the records' non-repeating rows are still out
    of scope in the first chunks (decided over the whole file), as when read whole."""
    rows = [f"{r},,,{18 + r},,,,,,," for r in range(1, 7)]
    rows += ["1,contact_log,1,,,,,,,,", "2,mini_y,1,,4,4,2,4,4,2,2", "2,mini_y,2,,5,5,1,5,5,1,2",
             "3,mini_y,1,,3,3,2,4,4,2,2"]
    src = _redcap(tmp_path, rows)
    whole, chunked = _score_both(run_cli, tmp_path, src, ["-i", MINI], chunk=3)
    assert whole.read_bytes() == chunked.read_bytes()
    scores = pd.read_csv(chunked)
    assert scores["share"].notna().tolist() == [False] * 7 + [True] * 3
    clean = pd.concat(iter_chunks(src, MINI, chunk_rows=3, kind="clean"))
    assert clean.index.tolist() == list(range(10))
    assert clean.loc[:6].isna().all().all() and clean.loc[7, "mini_share_1"] == 4


def test_duplicate_records_in_different_chunks_are_found(run_cli, tmp_path):
    rows = ["1,mini_y,1,,4,4,2,4,4,2,2", "1,mini_y,2,,5,5,1,5,5,1,2", "2,mini_y,1,,4,4,2,4,4,2,2",
            "3,mini_y,1,,4,4,2,4,4,2,2", "1,mini_y,2,,3,3,3,3,3,3,2"]
    src = _redcap(tmp_path, rows)
    out = tmp_path / "s.csv"
    code, _o, err = run_cli("score", src, "-i", MINI, "-o", out, "--chunk-size", 2)
    assert code != 0 and "duplicate record ids" in err and "2, 5" in " ".join(err.split())
    assert not out.exists()
    code, _o, err_whole = run_cli("score", src, "-i", MINI, "-o", out)
    assert code != 0 and "duplicate record ids" in err_whole


def test_header_only_file_is_refused_as_when_read_whole(run_cli, tmp_path):
    src = tmp_path / "empty.csv"
    src.write_text("id," + ",".join(BFI_ITEMS) + "\n")
    out = tmp_path / "s.csv"
    for more in ([], ["--chunk-size", 5]):
        code, _o, err = run_cli("score", src, *_scale_args(), "--range", "1:6", "-o", out, *more)
        assert code != 0 and "header but no data rows" in err
    assert not out.exists()


def test_bad_field_count_names_the_files_row(tmp_path):
    df = _bfi_like(tmp_path / "bfi.csv", 50, blank=0)
    text = df.to_csv(index=False, float_format="%.0f").splitlines()
    text[42] += ",7"  # data row 42
    src = tmp_path / "bad.csv"
    src.write_text("\n".join(text) + "\n")
    with pytest.raises(PeerscaleError) as exc:
        list(iter_chunks(src, None, chunk_rows=10))
    assert exc.value.row == 42


def test_a_reader_error_in_a_later_chunk_leaves_no_output(run_cli, tmp_path):
    df = _bfi_like(tmp_path / "bfi.csv", 50, blank=0)
    text = df.to_csv(index=False, float_format="%.0f").splitlines()
    text[42] += ",7"
    src = tmp_path / "bad.csv"
    src.write_text("\n".join(text) + "\n")
    out = tmp_path / "s.csv"
    code, _o, err = run_cli("score", src, *_scale_args(), "--range", "1:6", "-o", out, "--chunk-size", 10)
    assert code != 0 and "row 42" in err and "17 fields where the header has 16" in " ".join(err.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "bfi.csv"]


def test_interrupted_run_leaves_no_output(tmp_path):
    from peerscale.spec import adhoc_instrument

    src = tmp_path / "bfi.csv"
    _bfi_like(src, 200)
    out = tmp_path / "s.csv"
    out.write_text("old")

    def stop(rows):
        if rows >= 100:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_file(src, out, adhoc_instrument(BFI_SCALES, value_range=(1, 6)), chunk_rows=50, force=True,
                   on_chunk=stop)
    assert out.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bfi.csv", "s.csv"]


def test_large_inputs_are_scored_in_chunks_automatically(run_cli, tmp_path, monkeypatch):
    src = tmp_path / "bfi.csv"
    _bfi_like(src, 120)
    monkeypatch.setenv("PEERSCALE_STREAM_BYTES", "1000")
    code, _o, err = run_cli("score", src, *_scale_args(), "--range", "1:6", "-o", tmp_path / "s.csv")
    assert code == 0 and "(in chunks)" in err
    monkeypatch.setenv("PEERSCALE_STREAM_BYTES", str(1 << 30))
    code, _o, err = run_cli("score", src, *_scale_args(), "--range", "1:6", "-o", tmp_path / "t.csv")
    assert code == 0 and "(in chunks)" not in err
    assert (tmp_path / "s.csv").read_bytes() == (tmp_path / "t.csv").read_bytes()


# --------------------------------------------------------------------------- the chunk reader

def test_iter_chunks_rows_are_absolute_and_clean_equals_responses():
    import peerscale

    src = example_path("youth_export.csv")
    r = peerscale.read(src, "pbr-y")
    chunks = list(iter_chunks(src, "pbr-y", chunk_rows=100, kind="both"))
    assert [len(raw) for raw, _c in chunks] == [100] * 5 + [62]
    assert chunks[2][0].index[0] == 200 and chunks[2][1].attrs["first_row"] == 201
    clean = pd.concat([c for _r, c in chunks])
    whole = r._base.clean.frame()
    assert np.array_equal(clean[whole.columns].to_numpy(), whole.to_numpy(), equal_nan=True)


def test_iter_chunks_refuses_bad_arguments():
    src = example_path("youth_export.csv")
    with pytest.raises(PeerscaleError, match="kind"):
        next(iter_chunks(src, "pbr-y", kind="scores"))
    with pytest.raises(PeerscaleError, match="instrument"):
        next(iter_chunks(src, kind="clean"))
    with pytest.raises(PeerscaleError, match="chunk_rows"):
        next(iter_chunks(src, "pbr-y", chunk_rows=0))


SIGTERM_SCRIPT = """
import os, signal, sys, time
import peerscale.streaming as s
real = s._Summary.add
calls = []
def add(self, *a):
    real(self, *a)
    calls.append(1)
    if len(calls) == 3:  # two chunks are already in the temporary file
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)
s._Summary.add = add
from peerscale.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_sigterm_while_scoring_in_chunks_leaves_no_output(tmp_path):
    import subprocess
    import sys

    src = tmp_path / "bfi.csv"
    _bfi_like(src, 500)
    out = tmp_path / "s.csv"
    root = Path(__file__).resolve().parent.parent
    p = subprocess.run([sys.executable, "-c", SIGTERM_SCRIPT, "score", src, *_scale_args(), "--range", "1:6",
                        "-o", out, "--chunk-size", "100"], capture_output=True, text=True, cwd=root, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(root)})
    assert p.returncode == 143, p.stderr
    assert "terminated" in p.stderr and "Traceback" not in p.stderr
    assert sorted(q.name for q in tmp_path.iterdir()) == ["bfi.csv"]


@pytest.mark.parametrize("export, extra", [
    ("export_labels.csv", ["--redcap-dictionary", FIX / "project_dictionary.csv"]),
    ("export_labels_headers.csv", []),
    ("export_raw.csv", []),
    ("MiniProject_SPSS_2026-01-10_1200.sps", []),
])
def test_redcap_exports_score_the_same_in_chunks(run_cli, tmp_path, export, extra):
    """Label mode with a dictionary, label headers, raw codes and REDCap's SPSS pair (read
    whole, scored in chunks), with project missing codes, two rows a chunk."""
    args = ["-i", MINI, "--missing-code=-999=Not asked", "--missing-code", "UNK=Unknown", *extra]
    whole, chunked = _score_both(run_cli, tmp_path, FIX / export, args, chunk=2)
    assert whole.read_bytes() == chunked.read_bytes()


def test_cp1252_text_scores_the_same_in_chunks(run_cli, tmp_path):
    df = _bfi_like(tmp_path / "bfi.csv", 300, seed=11)
    df["id"] = [f"Zoë-{i}" if i % 50 == 49 else f"p{i}" for i in range(300)]
    src = tmp_path / "cp.csv"
    src.write_bytes(df.to_csv(index=False, float_format="%.0f").encode("cp1252"))
    whole, chunked = _score_both(run_cli, tmp_path, src, [*_scale_args(), "--range", "1:6", "--id-column", "id"],
                                 chunk=40)
    assert whole.read_bytes() == chunked.read_bytes()
    assert "Zoë-49" in chunked.read_text(encoding="utf-8")


def test_text_late_in_a_numeric_column_restarts_the_reader_without_losing_rows(run_cli, tmp_path):
    """The column types come from the first 256 KiB; a missing-data code "UNK" after them (and
    after chunks already scored) widens the column and the reader skips the rows given out."""
    rows = 40_000
    df = _bfi_like(tmp_path / "bfi.csv", rows, seed=13)
    text = df.to_csv(index=False, float_format="%.0f").splitlines()
    for row in (30_001, 39_999):
        cells = text[row].split(",")
        cells[3] = "UNK"  # A3
        text[row] = ",".join(cells)
    src = tmp_path / "late.csv"
    src.write_text("\n".join(text) + "\n")
    assert src.stat().st_size > (1 << 20)
    args = [*_scale_args(), "--range", "1:6", "--id-column", "id", "--missing-code", "UNK=Unknown"]
    whole, chunked = _score_both(run_cli, tmp_path, src, args, chunk=5000)
    assert whole.read_bytes() == chunked.read_bytes()
    code, out, _e = run_cli("score", src, *args, "-o", tmp_path / "j.csv", "--chunk-size", 5000, "--json")
    import json

    assert json.loads(out)["missing_by_reason"]["Unknown"] == 2


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_fast_csv_renderer_writes_what_pyarrow_writes(delimiter):
    """Scores formatted once per distinct value (and neighbouring columns fused) are the bytes
    pyarrow's CSV writer gives; many distinct values or other types fall back to that writer."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from peerscale.io import write as w

    rng = np.random.default_rng(2)
    n = 3000
    df = pd.DataFrame({
        "id": pd.array([None if i % 97 == 0 else f'r"{i}\n' if i % 13 == 0 else f"=id{i}" if i % 17 == 0 else str(i)
                        for i in range(n)], dtype="str"),
        "A": np.where(rng.random(n) < 0.1, np.nan, rng.integers(5, 31, n) / rng.integers(1, 6, n)),
        "A_n": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 6, n)), dtype="Int64"),
        "T": np.round(rng.normal(50, 10, n), 1),  # many distinct values
        "neg": -rng.integers(0, 3, n) / 3.0,
        "big": rng.integers(-10 ** 15, 10 ** 15, n).astype(float),
        "flag": rng.random(n) < 0.5,
        "band": pd.array(rng.choice(["low", "mid", None], n), dtype="str"),
    })
    for cols in (["id", "A", "A_n", "neg", "band"], ["A", "A_n"], ["id"], ["A_n", "T"], ["big"], ["id", "flag"]):
        sub = df[cols]
        got = b"".join(bytes(b) for b in w.render_delimited(sub, delimiter))
        ref = pa.BufferOutputStream()
        pacsv.write_csv(w._arrow_table(w.escape_formulas(sub)), ref, pacsv.WriteOptions(delimiter=delimiter))
        assert got == ref.getvalue().to_pybytes(), cols
    table = w._arrow_table(df[["id", "A", "A_n", "neg", "band"]])
    assert w._fast_render(table, delimiter, True) is not None  # scores take the fast path
