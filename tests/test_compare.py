"""compare: matching work across two traces by op + shapes + dtype + category."""
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from traceflops import analyze
from traceflops.outputs.compare import compare, to_markdown, write_outputs
from traceflops.outputs.report.tables import work_keys
from traceflops.cli.compare import compare as compare_cmd

from .conftest import SHARED

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "traceflops" / "sample_data" / "h100_bert_small.json.gz"
TWIN = "gaunernst_bert-small-uncased__1016001.json.gz"


def twins():
    for folder in [REPO / "sample_traces"] + ([SHARED / "tracelens"] if SHARED else []):
        h, m = folder / f"h100__{TWIN}", folder / f"mi300__{TWIN}"
        if h.exists() and m.exists():
            return h, m
    return None


def load_sample():
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def base():
    return analyze(SAMPLE)


def _key_of_row(k, i):
    return tuple(work_keys(k).iloc[i])


def scaled_copy(base, tmp_path, op_key, factor=2.0):
    """A copy of the sample whose kernels of one work key run `factor` times longer."""
    keys = work_keys(base.kernels)
    mask = (keys == list(op_key)).all(axis=1).to_numpy()
    corrs = set(int(c) for c in base.kernels.loc[mask, "correlation"])
    assert corrs
    d = load_sample()
    n = 0
    for e in d["traceEvents"]:
        if e.get("cat") == "kernel" and e.get("args", {}).get("correlation") in corrs:
            e["dur"] = e["dur"] * factor
            n += 1
    assert n == mask.sum()
    p = tmp_path / "scaled.json"
    p.write_text(json.dumps(d))
    return p, float(base.kernels.loc[mask, "dur_us"].sum())


def test_self_compare_has_zero_deltas(base):
    r = compare(base, base)
    assert (r.rows["status"] == "matched").all()
    assert np.allclose(r.rows["delta_us"], 0)
    assert np.allclose(r.rows["delta_pct"].dropna(), 0)
    assert np.allclose(r.rows["delta_tflops"].dropna(), 0)
    assert np.allclose(r.rows["delta_pct_ceiling"].dropna(), 0)
    s = r.summary
    assert s["matched_delta_pct"] == 0 and s["base"]["matched_share"] == pytest.approx(1.0)
    assert s["keys"]["new"] == s["keys"]["missing"] == 0
    assert r.rows["time_base_us"].sum() == pytest.approx(base.kernels["dur_us"].sum())
    assert not r.regressed(0)


def test_doubling_one_op_changes_exactly_that_row(base, tmp_path):
    keys = work_keys(base.kernels)
    key = ("aten::gelu", "[[1,141,2048],[]]", "bf16", "elementwise")
    assert (keys == list(key)).all(axis=1).any(), "sample lost its gelu kernels"
    path, t = scaled_copy(base, tmp_path, key)
    new = analyze(path)
    r = compare(base, new)
    changed = r.rows[~np.isclose(r.rows["delta_us"], 0)]
    assert len(changed) == 1
    row = changed.iloc[0]
    assert tuple(row[["op", "input_dims", "dtype", "category"]]) == key
    assert row["status"] == "matched"
    assert row["delta_us"] == pytest.approx(t)
    assert row["delta_pct"] == pytest.approx(100.0)
    assert row["tflops_new"] == pytest.approx(row["tflops_base"] / 2)
    assert row["pct_ceiling_new"] == pytest.approx(row["pct_ceiling_base"] / 2)
    assert r.rows.iloc[0]["label"] == row["label"], "largest change sorts first"
    total = base.kernels["dur_us"].sum()
    assert r.summary["matched_delta_pct"] == pytest.approx(t / total * 100)
    pct = r.summary["matched_delta_pct"]
    assert r.regressed(pct * 0.9) and not r.regressed(pct * 1.1)

    # the CLI gate: exit 1 over the limit, 0 under it; outputs written either way
    out = tmp_path / "cmp"
    res = CliRunner().invoke(compare_cmd, [str(SAMPLE), str(path), "-o", str(out), "--format", "json",
                                           "--fail-on-regression", f"{pct * 0.9:.6f}"])
    assert res.exit_code == 1, res.output
    assert "regression" in res.output
    j = json.loads((out / "compare.json").read_text())
    assert j["summary"]["matched_delta_pct"] == pytest.approx(pct)
    res = CliRunner().invoke(compare_cmd, [str(SAMPLE), str(path), "-o", str(out), "--format", "json",
                                           "--fail-on-regression", f"{pct * 1.1:.6f}"])
    assert res.exit_code == 0, res.output
    # new faster than base is never a regression
    res = CliRunner().invoke(compare_cmd, [str(path), str(SAMPLE), "-o", str(out), "--format", "json",
                                           "--fail-on-regression", "0"])
    assert res.exit_code == 0, res.output


def test_renamed_kernels_still_match(base, tmp_path):
    """Mangled names differ across library versions; the key must not depend on them."""
    d = load_sample()
    for e in d["traceEvents"]:
        if e.get("cat") == "kernel":
            e["name"] = e["name"].replace("cutlass", "cutlass_v9").replace("<4,", "<8,") + "_sm90"
    p = tmp_path / "renamed.json"
    p.write_text(json.dumps(d))
    r = compare(base, analyze(p))
    assert (r.rows["status"] == "matched").all()
    assert np.allclose(r.rows["delta_us"], 0)


def test_new_and_missing_work(base, tmp_path):
    d = load_sample()
    keys = work_keys(base.kernels)
    drop = set(int(c) for c in base.kernels.loc[(keys["op"] == "aten::all").to_numpy(), "correlation"])
    d["traceEvents"] = [e for e in d["traceEvents"] if not (e.get("cat") == "kernel" and e.get("args", {}).get("correlation") in drop)]
    p = tmp_path / "dropped.json"
    p.write_text(json.dumps(d))
    new = analyze(p)
    r = compare(base, new)
    miss = r.rows[r.rows["status"] == "missing"]
    assert list(miss["op"]) == ["aten::all"]
    assert r.summary["missing_work_us"] == pytest.approx(base.kernels.loc[(keys["op"] == "aten::all").to_numpy(), "dur_us"].sum())
    assert r.summary["matched_delta_pct"] == pytest.approx(0)
    back = compare(new, base)
    assert list(back.rows.loc[back.rows["status"] == "new", "op"]) == ["aten::all"]
    assert back.summary["base"]["matched_share"] == pytest.approx(1.0)
    assert back.summary["new"]["matched_share"] < 1.0


def test_h100_vs_mi300_twins_match_most_gpu_time():
    pair = twins()
    if pair is None:
        pytest.skip("H100/MI300X bert-small twins not present (sample_traces/ or shared traces)")
    a, b = analyze(pair[0]), analyze(pair[1])
    assert a.summary["device"]["name"] != b.summary["device"]["name"]
    r = compare(a, b)
    s = r.summary
    print(f"twins matched share: base {s['base']['matched_share']:.4f}, new {s['new']['matched_share']:.4f}")
    assert s["base"]["matched_share"] >= 0.9
    assert s["new"]["matched_share"] >= 0.9
    # kernel names differ between vendors, but the work matches
    assert set(a.kernels["name"]) != set(b.kernels["name"])
    assert s["keys"]["matched"] >= 10


def test_markdown_for_pr_comment(base, tmp_path):
    key = ("aten::gelu", "[[1,141,2048],[]]", "bf16", "elementwise")
    path, _ = scaled_copy(base, tmp_path, key)
    r = compare(base, analyze(path))
    paths = write_outputs(r, tmp_path / "o", formats=("md", "html", "json"), fail_on_regression=1)
    text = paths["md"].read_text()
    assert "| `aten::gelu [[1,141,2048],[]] bf16 [elementwise]` | 4→4 |" in text
    assert "**FAIL**" in text
    if "png" in paths:  # kaleido rendered a real image: check it is one and that the markdown shows it
        assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "![roofline shift of matched work](roofline_shift.png)" in text
    else:
        assert "Roofline image omitted:" in text
    html = paths["html"].read_text()
    assert html.count("data-figure=") >= 2 and "Regression gate <" not in html and "FAILED" in html
    md = to_markdown(r, image=None, image_note="kaleido unavailable")
    assert "_Roofline image omitted: kaleido unavailable_" in md
    # every table row keeps its column count even with a | in a name
    r.rows.loc[0, "label"] = "evil|name`with|pipes"
    md = to_markdown(r)
    rows = [ln for ln in md.splitlines() if ln.startswith("| ") and "evil" in ln]
    assert rows and rows[0].replace("\\|", "").count("|") == 9


def test_compare_cli_bad_input(tmp_path):
    res = CliRunner().invoke(compare_cmd, [str(tmp_path / "nope.json"), str(SAMPLE), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert res.output.startswith("traceflops: error:") and res.output.count("\n") == 1
