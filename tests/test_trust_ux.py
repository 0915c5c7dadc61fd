"""Issue 17, what a user expects to just work: graph replay and CPU-only traces say what to do, no flag is silently
ignored, `devices` fits 80 columns, compare gates efficiency (and writes the GitHub step summary), `-o -` prints
the markdown, Jupyter shows a summary, and the packaging pins nothing into users' environments."""
import csv
import gzip
import io
import json
import re
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

import traceflops
from traceflops.cli import main

from .conftest import SHARED

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "traceflops" / "sample_data" / "h100_bert_small.json.gz"
GRAPHS = REPO / "sample_traces" / "negative_queue_length_values_check__rank0.json.gz"  # 130 replays, no capture
VLLM = (SHARED / "tracelens" / "inference__vllm_prefilldecode_piecewise__graph_execution.json.gz") if SHARED else None
REMEDY = "CUDA/HIP graph replay without shapes: pass --capture CAPTURE or --model CONFIG"


def cli(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def one_line_error(res, *words):
    assert res.exit_code == 2, (res.exit_code, res.output)
    assert res.output.startswith("traceflops: error:") and res.output.count("\n") == 1, res.output
    for w in words:
        assert w in res.output, res.output


def load(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


# ---------------------------------------------------------------- say what to do

@pytest.mark.parametrize("path", [GRAPHS] + ([VLLM] if VLLM and VLLM.exists() else []), ids=lambda p: p.name[:30])
def test_graph_replay_without_shapes_names_the_remedy(path, tmp_path):
    a = traceflops.analyze(path)
    k = a.kernels
    # kernels a graph launch replayed, that no reference matched and that have no op of their own
    replayed = (k["link"] == "graph") & k["graph_match"].isna() & (k["kind"] == "kernel") & k["op"].isna()
    assert replayed.sum() > 100
    assert (k.loc[replayed, "flops_reason"] == REMEDY).all()
    assert not k["flops_reason"].fillna("").str.startswith("no FLOP formula for op execute_").any()
    share = float(k.loc[k["flops_reason"] == REMEDY, "dur_us"].sum() / k["dur_us"].sum())
    adv = [x for x in a.summary["advice"] if "graph-replayed" in x["issue"]]
    assert len(adv) == 1 and "--capture" in adv[0]["remedy"] and "--model" in adv[0]["remedy"]
    assert adv[0]["gpu_time_share"] == pytest.approx(share)
    res = cli("analyze", path, "-o", tmp_path, "--no-report")
    assert res.exit_code == 0, res.output
    assert "what to do:" in res.output and "--capture CAPTURE" in res.output
    html = (traceflops.outputs.report.html.render_report(a))
    assert "What to do" in html and "--capture CAPTURE" in html and "(graph replay, no shapes)" in html


def test_cpu_only_trace_says_it_has_no_gpu_events(tmp_path):
    d = load(BUNDLED)
    d["traceEvents"] = [e for e in d["traceEvents"] if e.get("cat") not in ("kernel", "gpu_memcpy", "gpu_memset")]
    d.pop("deviceProperties", None)
    p = tmp_path / "cpu.json"
    p.write_text(json.dumps(d))
    res = cli("analyze", p, "-o", tmp_path / "o", "--no-report")
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["totals"]["gpu_events"] == 0
    assert any(w.startswith("no GPU events") for w in s["warnings"])
    assert not any("pass --device" in w or "unknown device" in w for w in s["warnings"]), s["warnings"]
    assert s["advice"] and s["advice"][0]["issue"].startswith("no GPU events")
    assert "no GPU events" in res.output and "pass --device" not in res.output


# ---------------------------------------------------------------- no flag silently ignored

def test_capture_without_graph_replay_exits_2(tmp_path):
    one_line_error(cli("analyze", BUNDLED, "--capture", BUNDLED, "-o", tmp_path, "-q"), "replays no CUDA/HIP graph")
    assert not (tmp_path / "summary.json").exists()


def test_capture_that_is_not_a_capture_exits_2(tmp_path):
    one_line_error(cli("analyze", GRAPHS, "--capture", BUNDLED, "-o", tmp_path, "-q"), "no kernels launched inside a graph capture")


def test_capture_file_must_exist(tmp_path):
    one_line_error(cli("analyze", GRAPHS, "--capture", tmp_path / "nope.json", "-o", tmp_path, "-q"), "no such file")


@pytest.mark.parametrize("args,words", [
    (["--tokens", "512"], ["--tokens needs --model"]),
    (["--phase", "decode"], ["--phase needs --model"]),
    (["--jobs", "0"], ["--jobs must be at least 1"]),
    (["--executor", "dask://local"], ["--executor applies to several traces"]),
    (["--straggler-pct", "5"], ["--straggler-pct applies to several traces"]),
    (["--device", "a100"], ["ambiguous", "a100-sxm4-40gb", "a100-sxm4-80gb"]),
    (["--max-size", "0"], ["--max-size"]),
])
def test_flags_that_cannot_apply_to_one_trace(args, words, tmp_path):
    one_line_error(cli("analyze", BUNDLED, "-o", tmp_path, "-q", *args), *words)


def test_flags_that_cannot_apply_to_a_rank_folder(tmp_path):
    folder = tmp_path / "ranks"
    folder.mkdir()
    for i in range(2):
        (folder / f"r{i}.json.gz").write_bytes(BUNDLED.read_bytes())
    cfg = tmp_path / "config.json"
    cfg.write_text("{}")
    one_line_error(cli("analyze", folder, "--model", cfg, "--tokens", "8", "-o", tmp_path / "o"), "--model applies to one trace")
    one_line_error(cli("analyze", folder, "--capture", BUNDLED, "-o", tmp_path / "o"), "--capture applies to one trace")
    one_line_error(cli("analyze", folder, "--jobs", "0", "-o", tmp_path / "o"), "--jobs must be at least 1")


def test_device_flagship_query_still_resolves(tmp_path):
    res = cli("analyze", BUNDLED, "--device", "h100", "-o", tmp_path, "-q", "--no-report")
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "summary.json").read_text())["device"]["key"] == "h100-sxm"
    with pytest.raises(ValueError, match="ambiguous"):
        traceflops.analyze(BUNDLED, device="a100")


def test_jobs_sets_decoding_workers_for_one_trace(tmp_path):
    res = cli("analyze", BUNDLED, "--jobs", "1", "-o", tmp_path, "-q", "--no-report")
    assert res.exit_code == 0, res.output


def test_annotate_never_overwrites_its_input(tmp_path):
    p = tmp_path / "t.json.gz"
    p.write_bytes(BUNDLED.read_bytes())
    one_line_error(cli("annotate", p, "-o", p), "input trace")
    assert p.read_bytes() == BUNDLED.read_bytes()


# ---------------------------------------------------------------- devices

def test_devices_fits_80_columns_and_lists_every_key():
    from traceflops.roofline import catalog_table, load_catalog
    rows = catalog_table(load_catalog())
    res = cli("devices")
    assert res.exit_code == 0
    lines = res.output.splitlines()
    assert max(len(x) for x in lines) <= 80, [x for x in lines if len(x) > 80][:2]
    keys = {ln.split()[0] for ln in lines if ln and ln.split()[0] in {r["key"] for r in rows}}
    assert keys == {r["key"] for r in rows}
    assert "…" not in res.output  # nothing truncated
    h100 = next(ln.split() for ln in lines if ln.startswith("h100-sxm "))
    assert h100[2] == "989.4"  # bf16 dense, in the bf16 column


def test_devices_csv_and_json():
    from traceflops.roofline import catalog_table, load_catalog
    cat = load_catalog()
    res = cli("devices", "--csv")
    assert res.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(res.output)))
    assert [r["key"] for r in rows] == list(cat)
    assert rows[0]["name"] and rows[0]["source"] == cat[rows[0]["key"]].source
    assert json.loads(cli("devices", "--json").output) == json.loads(json.dumps(catalog_table(cat)))
    one_line_error(cli("devices", "--json", "--csv"), "choose one")


# ---------------------------------------------------------------- compare: gates, stdout, image note

@pytest.fixture(scope="module")
def slower(tmp_path_factory):
    """The bundled sample with every GPU event 10% longer (same FLOPs: TFLOP/s and MFU drop, time grows)."""
    d = load(BUNDLED)
    for e in d["traceEvents"]:
        if e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset"):
            e["dur"] = e["dur"] * 1.1
    p = tmp_path_factory.mktemp("slow") / "slower.json"
    p.write_text(json.dumps(d))
    return p


def test_gate_grammar():
    from traceflops.outputs.compare.gate import parse_gate
    g = parse_gate("mfu:-2pt")
    assert (g.metric, g.sign, g.limit, g.unit) == ("mfu", -1, 2.0, "pt")
    assert parse_gate(" time : +5% ").limit == 5.0 and parse_gate("tflops:-3.5%").unit == "%"
    for bad, word in (("mfu:2pt", "expected"), ("time:+5pt", "not a percentage"), ("speed:+5%", "unknown metric"),
                      ("mfu", "expected"), ("mfu:-2", "expected")):
        with pytest.raises(ValueError, match=word):
            parse_gate(bad)


def test_bad_gate_is_one_line_before_any_analysis(tmp_path):
    one_line_error(cli("compare", tmp_path / "missing.json", BUNDLED, "--gate", "mfu:2"), "--gate", "METRIC")


def test_gates_fail_pass_and_write_the_step_summary(slower, tmp_path):
    summary_file = tmp_path / "step_summary.md"
    summary_file.write_text("earlier step\n")
    env = {"GITHUB_STEP_SUMMARY": str(summary_file)}
    res = cli("compare", BUNDLED, slower, "-o", tmp_path / "c", "--format", "json", "--gate", "time:+5%",
              "--gate", "tflops:-3%", "--gate", "mfu:-2pt", env=env)
    assert res.exit_code == 1, res.output
    out = json.loads((tmp_path / "c" / "compare.json").read_text())
    gates = {g["gate"]: g for g in out["summary"]["gates"]}
    s = out["summary"]
    assert gates["time:+5%"]["change"] == pytest.approx(s["matched_delta_pct"]) == pytest.approx(10, rel=1e-3)
    assert gates["time:+5%"]["passed"] is False
    tb, tn = s["base"]["matched_tflops"], s["new"]["matched_tflops"]
    assert gates["tflops:-3%"]["change"] == pytest.approx((tn - tb) / tb * 100) and not gates["tflops:-3%"]["passed"]
    assert gates["mfu:-2pt"]["change"] == pytest.approx(100 * (s["new"]["mfu"] - s["base"]["mfu"]))
    assert gates["mfu:-2pt"]["passed"] is True  # the bundled sample's MFU is far below 2 points
    text = summary_file.read_text()
    assert text.startswith("earlier step\n") and "efficiency gate: **FAIL**" in text and "`time:+5%`" in text
    assert "traceflops: gate time:+5% FAILED" in res.output
    res = cli("compare", BUNDLED, slower, "-o", tmp_path / "c2", "--format", "json", "--gate", "time:+15%", "-q", env=env)
    assert res.exit_code == 0, res.output
    assert summary_file.read_text().count("efficiency gate") == 2


def test_fail_on_regression_still_works(slower, tmp_path):
    res = cli("compare", BUNDLED, slower, "-o", tmp_path, "--format", "json", "--fail-on-regression", "5")
    assert res.exit_code == 1 and "over the 5% limit" in res.output
    assert cli("compare", BUNDLED, slower, "-o", tmp_path, "--format", "json", "--fail-on-regression", "15").exit_code == 0


def test_gate_that_cannot_be_evaluated_is_an_error(tmp_path):
    d = load(BUNDLED)
    d.pop("deviceProperties", None)  # unknown device: no peaks, so no MFU
    p = tmp_path / "nodev.json"
    p.write_text(json.dumps(d))
    one_line_error(cli("compare", p, p, "-o", tmp_path / "c", "--format", "json", "--gate", "mfu:-2pt"), "cannot be evaluated")


def test_markdown_to_stdout(slower, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner(mix_stderr=False) if "mix_stderr" in CliRunner.__init__.__code__.co_varnames else CliRunner()
    res = runner.invoke(main, ["compare", str(BUNDLED), str(slower), "--format", "md", "-o", "-", "--gate", "time:+5%"])
    assert res.exit_code == 1
    out = res.stdout
    assert out.startswith("### traceflops compare:") and "| GPU time, matched work |" in out
    assert "efficiency gate: **FAIL**" in out
    assert "matched work:" not in out and "traceflops: gate" not in out  # the status lines go to stderr
    assert "pass `-o DIR`" in out and "Error" not in out
    assert not (tmp_path / "traceflops-out").exists()
    one_line_error(cli("compare", BUNDLED, slower, "--format", "html", "-o", "-"), "-o - prints one format")


@pytest.mark.parametrize("failure,words", [("no-kaleido", "traceflops[report-image]"), ("no-chrome", "Chromium")])
def test_markdown_says_how_to_get_the_image(failure, words, slower, tmp_path, monkeypatch):
    import sys

    import plotly.graph_objects as go

    from traceflops.outputs.compare import write_outputs
    if failure == "no-kaleido":
        monkeypatch.setitem(sys.modules, "kaleido", None)  # `import kaleido` raises ImportError
    else:
        def boom(self, *a, **k):
            raise RuntimeError("ChromeNotFoundError: Kaleido v1 requires Chrome to be installed at /opt/x")
        monkeypatch.setattr(go.Figure, "write_image", boom)
    res = traceflops.compare(traceflops.analyze(BUNDLED), traceflops.analyze(slower))
    paths = write_outputs(res, tmp_path, formats=("md",))
    md = paths["md"].read_text()
    assert "png" not in paths and words in md
    assert not re.search(r"RuntimeError|ChromeNotFound|Error:|/opt/x", md), md


# ---------------------------------------------------------------- Jupyter, packaging

def test_repr_html_is_compact_and_escaped(tmp_path):
    d = load(BUNDLED)
    k = max((e for e in d["traceEvents"] if e.get("cat") == "kernel"), key=lambda e: e["dur"])
    k["name"] = "<script>alert(1)</script>evil_kernel"
    p = tmp_path / "evil.json"
    p.write_text(json.dumps(d))
    a = traceflops.analyze(p)
    h = a._repr_html_()
    assert "<script>" not in h and "&lt;script&gt;alert(1)&lt;/script&gt;evil_kernel" in h
    assert "evil" in h and "MFU" in h and len(h) < 20_000
    r = traceflops.compare(traceflops.analyze(BUNDLED), a)._repr_html_()
    assert "<script>" not in r and "GPU time of matched work" in r and len(r) < 20_000


def test_torch_extra_is_a_range_and_test_keeps_the_pin():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert meta["torch"] and all("==" not in x for x in meta["torch"]), meta["torch"]
    assert any(x.replace(" ", "") == "torch==2.13.0" for x in meta["test"])


LOCAL_PATH = re.compile(r"(?<![\w/.:-])(?:/(?:work|home|tmp|Users|root|mnt|data|scratch|var)/|[A-Za-z]:\\\\|~/|file:/)")


def test_device_sources_carry_no_local_paths():
    assert LOCAL_PATH.search("see /work/research/devices.md") and LOCAL_PATH.search("C:\\\\Users\\\\me")
    assert not LOCAL_PATH.search("https://www.nvidia.com/en-us/products/workstations/dgx-spark/")
    data = REPO / "traceflops" / "data"
    with open(data / "devices.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    bad = [(r["key"], LOCAL_PATH.search(v).group(0)) for r in rows for v in r.values() if v and LOCAL_PATH.search(v)]
    assert not bad, bad
    assert not LOCAL_PATH.search((data / "devices-sources.md").read_text(encoding="utf-8"))
