"""REDCap record exports: raw vs label mode, longitudinal events, repeating instruments,
checkboxes, missing-data codes, the SPSS pair, and the bad inputs REDCap users hit."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from peerscale.errors import PeerscaleError
from peerscale.io import read_table
from peerscale.spec import load_instrument

FIX = Path(__file__).parent / "fixtures" / "redcap"
ITEMS = ["mini_share_1", "mini_share_2", "mini_share_3", "mini_trust_1", "mini_trust_2", "mini_trust_3"]
CODES = {"-999": "Not asked", "UNK": "Unknown"}


@pytest.fixture(scope="module")
def inst():
    return load_instrument(FIX / "mini-y.yaml")


def _items(table):
    """Item columns as comparable text codes ('4', '9', 'UNK', '' for blank)."""
    df = table.data.rename(columns=table.suggested_map)
    out = {}
    for c in ITEMS:
        s = df[c]
        out[c] = [("" if pd.isna(v) else (f"{v:g}" if isinstance(v, float) else str(v))) for v in s]
    return out


def test_raw_export_ids_scope_and_types(inst):
    t = read_table(FIX / "export_raw.csv", instrument=inst, missing_codes=CODES)
    assert t.id_columns == ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"]
    assert t.data["record_id"].tolist()[:4] == ["007", "007", "007", "007"]  # leading zeros kept
    # the instrument's form does not repeat: its rows are the non-repeating ones; contact_log rows are kept, out of scope
    assert t.in_scope.tolist() == [True, False, False, True, True, True, False, True]
    assert len(t.data) == 8
    assert t.data["mini_share_1"].dtype == np.float64
    assert t.data["mini_share_1"].tolist()[5] == -999.0
    assert t.missing_values["mini_share_1"] == {-999.0: "Not asked"}
    assert t.data["mini_share_2"].tolist()[4] == "UNK"  # a text code keeps the column as raw strings
    assert t.missing_values["mini_share_2"] == {"-999": "Not asked", "UNK": "Unknown"}
    assert t.data["services___1"].tolist()[:1] == [1.0]
    assert t.value_labels["services___1"] == {0.0: "Unchecked", 1.0: "Checked"}
    assert t.data["mini_y_complete"].tolist()[:2] == [2.0, None] or pd.isna(t.data["mini_y_complete"][1])


def test_label_and_raw_exports_give_identical_item_codes(inst):
    raw = read_table(FIX / "export_raw.csv", instrument=inst, missing_codes=CODES)
    lab = read_table(FIX / "export_labels.csv", instrument=inst, missing_codes=CODES,
                     redcap_dictionary=FIX / "project_dictionary.csv")
    assert _items(raw) == _items(lab)
    assert lab.in_scope.tolist() == raw.in_scope.tolist()
    for col in ("services___1", "services___3", "enrolment_complete", "mini_y_complete"):
        pd.testing.assert_series_equal(raw.data[col], lab.data[col])
    assert lab.value_labels["mini_share_1"][9.0] == "Not relevant to me yet"
    assert lab.missing_values["mini_share_1"] == {-999.0: "Not asked"}
    assert lab.variable_labels["mini_trust_2"] == "My peer support worker does what they say they will do."


def test_label_export_with_label_headers_suggests_item_mapping(inst):
    t = read_table(FIX / "export_labels_headers.csv", instrument=inst, missing_codes=CODES)
    assert sorted(t.suggested_map.values()) == sorted(ITEMS)
    assert t.id_columns == ["Record ID", "Event Name", "Repeat Instrument", "Repeat Instance"]
    assert t.in_scope.tolist() == [True, False, False, True, True, True, False, True]
    assert any("Complete?" in w for w in t.warnings)  # REDCap repeats 'Complete?' headers
    # values are choice labels, left for the scoring engine to map through the response scale
    assert _items(t)["mini_share_1"][0] == "Agree"


def test_redcap_spss_pair_reads_the_nohdrs_csv_with_labels(inst):
    raw = read_table(FIX / "export_raw.csv", instrument=inst, missing_codes=CODES)
    t = read_table(FIX / "MiniProject_SPSS_2026-01-10_1200.sps", instrument=inst, missing_codes=CODES)
    assert t.format == "redcap-sps"
    assert list(t.data.columns) == list(raw.data.columns)
    assert _items(t) == _items(raw)
    assert t.variable_labels["age"] == "Age (years)"
    assert t.variable_labels["mini_share_2"].startswith("I dont have to explain")
    assert t.value_labels["mini_share_1"][9.0] == "Not relevant to me yet"
    assert t.value_labels["redcap_event_name"]["baseline_arm_1"] == "Baseline (Arm 1: Arm 1)"
    assert t.in_scope.tolist() == raw.in_scope.tolist()


def test_spss_pair_data_file_found_beside_when_handle_path_is_elsewhere(tmp_path, inst):
    sps = (FIX / "MiniProject_SPSS_2026-01-10_1200.sps").read_text()
    sps = sps.replace("NAME='MiniProject_DATA", "NAME='C:\\Users\\someone\\Downloads\\MiniProject_DATA")
    (tmp_path / "MiniProject_SPSS_2026-01-10_1200.sps").write_text(sps)
    (tmp_path / "MiniProject_DATA_NOHDRS_2026-01-10_1200.csv").write_bytes(
        (FIX / "MiniProject_DATA_NOHDRS_2026-01-10_1200.csv").read_bytes())
    t = read_table(tmp_path / "MiniProject_SPSS_2026-01-10_1200.sps", instrument=inst)
    assert len(t.data) == 8


def test_spss_pair_without_data_file_is_a_clear_error(tmp_path):
    (tmp_path / "P_SPSS_2026.sps").write_text((FIX / "MiniProject_SPSS_2026-01-10_1200.sps").read_text())
    with pytest.raises(PeerscaleError, match="cannot find the data file"):
        read_table(tmp_path / "P_SPSS_2026.sps")


def test_sps_without_data_list_is_rejected(tmp_path):
    p = tmp_path / "x.sps"
    p.write_text("GET FILE='x.sav'.\nFREQUENCIES ALL.\n")
    with pytest.raises(PeerscaleError, match="no DATA LIST"):
        read_table(p)


def test_duplicate_record_within_event_is_an_error_listing_them(tmp_path, inst):
    lines = (FIX / "export_raw.csv").read_text().splitlines()
    (tmp_path / "dup.csv").write_text("\n".join(lines + [lines[5]]) + "\n")  # 102 baseline again
    with pytest.raises(PeerscaleError) as err:
        read_table(tmp_path / "dup.csv", instrument=inst)
    msg = str(err.value)
    assert "duplicate record ids" in msg and "record_id=102" in msg and "baseline_arm_1" in msg
    assert "row 5, 9" in msg


def test_same_record_in_two_events_or_instances_is_not_a_duplicate(inst):
    t = read_table(FIX / "export_raw.csv", instrument=inst)
    assert (t.data["record_id"] == "007").sum() == 4


def test_duplicate_repeat_instance_is_an_error(tmp_path, inst):
    lines = (FIX / "export_raw.csv").read_text().splitlines()
    (tmp_path / "dup.csv").write_text("\n".join(lines + [lines[2]]) + "\n")
    with pytest.raises(PeerscaleError, match="contact_log"):
        read_table(tmp_path / "dup.csv", instrument=inst)


def test_label_not_in_the_scale_is_an_error_naming_it(tmp_path, inst):
    text = (FIX / "export_labels.csv").read_text().replace("Strongly agree,Disagree", "Totally agree,Disagree", 1)
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(PeerscaleError) as err:
        read_table(tmp_path / "bad.csv", instrument=inst, redcap_dictionary=FIX / "project_dictionary.csv",
                   missing_codes=CODES)
    msg = str(err.value)
    assert "'Totally agree'" in msg and "mini_share_2" in msg and "row 1" in msg and "5, Strongly agree" in msg


def test_undeclared_missing_code_in_label_mode_is_an_error_with_a_hint(inst):
    with pytest.raises(PeerscaleError) as err:
        read_table(FIX / "export_labels.csv", instrument=inst, redcap_dictionary=FIX / "project_dictionary.csv")
    assert "'-999'" in str(err.value) and "`missing_codes`" in str(err.value)


def test_label_mode_is_case_and_space_insensitive(tmp_path, inst):
    text = (FIX / "export_labels.csv").read_text().replace("Strongly agree,Disagree", "  strongly AGREE ,Disagree", 1)
    (tmp_path / "x.csv").write_text(text)
    t = read_table(tmp_path / "x.csv", instrument=inst, redcap_dictionary=FIX / "project_dictionary.csv",
                   missing_codes=CODES)
    assert t.data["mini_share_2"].tolist()[0] in (5.0, "5")


def test_wide_export_with_items_in_another_order(tmp_path, inst):
    rng = np.random.default_rng(3)
    n = 50
    cols = {"record_id": [f"{i:04d}" for i in range(n)]}
    for j in range(194):
        cols[f"other_{j:03d}"] = rng.integers(0, 3, n)
    for iid in reversed(ITEMS):
        cols[iid] = rng.integers(1, 6, n)
    df = pd.DataFrame(cols)
    order = list(df.columns)
    rng.shuffle(order[1:])
    df = df[order]
    df.to_csv(tmp_path / "wide.csv", index=False)
    t = read_table(tmp_path / "wide.csv", instrument=inst)
    assert t.data.shape == (n, 201)
    assert list(t.data.columns) == order  # file order kept
    for iid in ITEMS:
        assert t.data[iid].dtype == np.float64
        np.testing.assert_array_equal(t.data[iid].to_numpy(), df[iid].to_numpy(dtype=float))
    assert t.data["record_id"].iloc[0] == "0000"
    assert t.data["other_000"].dtype.kind not in "biuf"  # non-items are text when an instrument is given


def test_dictionary_suggests_mapping_for_renamed_fields(tmp_path, inst):
    raw = pd.read_csv(FIX / "export_raw.csv", dtype=str, keep_default_na=False)
    renamed = raw.rename(columns={iid: f"q{n + 1}" for n, iid in enumerate(ITEMS)})
    renamed.to_csv(tmp_path / "renamed.csv", index=False)
    t = read_table(tmp_path / "renamed.csv", instrument=inst, redcap_dictionary=FIX / "renamed_dictionary.csv",
                   missing_codes=CODES)
    assert t.suggested_map == {f"q{n + 1}": iid for n, iid in enumerate(ITEMS)}
    assert t.data["q1"].tolist()[0] == 4.0


def test_repeating_instrument_form_scores_each_instance_and_only_those(tmp_path, inst):
    """When the instrument's own form repeats, its instances are in scope and the record's
    non-repeating row (other forms' data) is not."""
    header = "record_id,redcap_repeat_instrument,redcap_repeat_instance,age," + ",".join(ITEMS) + ",mini_y_complete\n"
    rows = ["1,,,19,,,,,,,",
            "1,mini_y,1,,4,4,2,4,4,2,2",
            "1,mini_y,2,,5,5,1,5,5,1,2",
            "1,contact_log,1,,,,,,,,",
            "2,,,20,,,,,,,"]
    (tmp_path / "rep.csv").write_text(header + "\n".join(rows) + "\n")
    t = read_table(tmp_path / "rep.csv", instrument=inst)
    assert t.in_scope.tolist() == [False, True, True, False, False]
    assert t.id_columns == ["record_id", "redcap_repeat_instrument", "redcap_repeat_instance"]
    assert t.data["redcap_repeat_instance"].tolist()[1:3] == ["1", "2"]


def test_missing_codes_exported_as_their_labels_map_back_with_a_dictionary(tmp_path, inst):
    """REDCap may export a missing-data code as its label in label mode (unverified): accept both."""
    text = (FIX / "export_labels.csv").read_text().replace(",-999,", ",Not asked,").replace(",UNK,", ",unknown,")
    (tmp_path / "x.csv").write_text(text)
    t = read_table(tmp_path / "x.csv", instrument=inst, missing_codes=CODES,
                   redcap_dictionary=FIX / "project_dictionary.csv")
    raw = read_table(FIX / "export_raw.csv", instrument=inst, missing_codes=CODES)
    assert _items(t) == _items(raw)


def test_fixtures_are_what_the_generator_writes(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_fixtures", FIX / "make_fixtures.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(tmp_path)
    for p in tmp_path.iterdir():
        assert p.read_bytes() == (FIX / p.name).read_bytes(), p.name
