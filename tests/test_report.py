"""report: plotly figures, report.html, annotate and the on_trace_ready hook."""
import gzip
import html
import json
import os
import re
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from click.testing import CliRunner

from traceflops import analyze
from traceflops.errors import TraceError
from traceflops.outputs.report import breakdown_figure, plots, roofline_figure, timeline_figure, write_report
from traceflops.outputs.report.tables import aggregate, group_table, normalize_name, work_keys

from .conftest import SHARED

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "traceflops" / "sample_data" / "h100_bert_small.json.gz"
OWLV2 = (SHARED or Path("/nonexistent")) / "tracelens" / "h100__google_owlv2-large-patch14-ensemble__1016001.json.gz"
EVIL_SCRIPT = "<script>window.__pwned=1</script>"
EVIL_IMG = '<img src=x onerror="window.__pwned=1">'
FAKE_TOKEN = "hf_" + "Q" * 34


def load_sample():
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        return json.load(f)


def evil_trace(tmp_path):
    """The bundled sample with hostile kernel and op names and secrets in its metadata."""
    d = load_sample()
    ev = d["traceEvents"]
    kernels = [e for e in ev if e.get("cat") == "kernel"]
    gemm = max(kernels, key=lambda e: e["dur"])  # has FLOPs: lands on the roofline
    gemm["name"] = f"{EVIL_SCRIPT}gemm_kernel<4, float>{EVIL_IMG}"
    small = min(kernels, key=lambda e: e["dur"])
    eid = small["args"]["External id"]
    for e in ev:
        if e.get("cat") == "cpu_op" and e.get("args", {}).get("External id") == eid:
            e["name"] = f"evil::op{EVIL_IMG}{EVIL_SCRIPT}"  # no FLOP formula: shows up in the no-FLOPs table
    d.setdefault("metadata", {})["env"] = {"HF_TOKEN": "supersecretvalue", "PATH": "/usr/bin", "LEAK": FAKE_TOKEN}
    d["distributedInfo"] = {"backend": "nccl", "rank": 0, "world_size": 1, "password": "hunter2hunter2"}
    d["my_api_key"] = "plain-key-value-123"
    p = tmp_path / "evil.json"
    p.write_text(json.dumps(d), encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def sample():
    return analyze(SAMPLE)


def _markers(fig):
    return [t for t in fig.data if t.mode == "markers"]


def test_roofline_one_point_per_kernel_with_flops_and_bytes(sample):
    k = sample.kernels
    fig = roofline_figure(sample, by="kernel")
    assert isinstance(fig, go.Figure)
    n = int(((k["flops"] > 0) & (k["bytes"] > 0) & (k["dur_us"] > 0)).sum())
    assert n > 10
    assert sum(len(t.x) for t in _markers(fig)) == n
    # categories are legend entries
    assert {t.name for t in _markers(fig)} == set(k.loc[(k["flops"] > 0) & (k["bytes"] > 0), "category"])
    # y values are the kernels' achieved TFLOP/s
    ys = sorted(np.concatenate([np.asarray(t.y, float) for t in _markers(fig)]))
    want = sorted(k.loc[(k["flops"] > 0) & (k["bytes"] > 0), "achieved_tflops"])
    assert np.allclose(ys, want)


def test_roofline_roofs_come_from_device_peaks(sample):
    fig = roofline_figure(sample)
    lines = [t for t in fig.data if t.mode == "lines"]
    peaks = sample.summary["device"]["peak_tflops"]
    bw = sample.summary["device"]["peak_tbps"]
    assert lines, "no roof drawn"
    tops = {round(max(t.y), 3) for t in lines}
    assert round(peaks["bf16"], 3) in tops  # bf16 tensor-core roof of the H100
    for t in lines:  # memory slope = bandwidth, flat part = peak
        x, y = np.asarray(t.x, float), np.asarray(t.y, float)
        assert y[0] == pytest.approx(x[0] * bw, rel=1e-9)
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"


def test_roofline_hover_escapes_template_arguments(sample):
    fig = roofline_figure(sample, by="kernel")
    hovers = [c[0] for t in _markers(fig) for c in t.customdata]
    assert any("&lt;" in h for h in hovers), "kernel template arguments must be escaped, not dropped"
    assert not any(re.search(r"<(?!br>)", h) for h in hovers), "raw '<' left in hover text"
    # the text itself survives: unescape and compare with a real kernel name
    names = set(sample.kernels["name"])
    h = next(h for h in hovers if "&lt;" in h)
    plain = h.replace("<br>", "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").rstrip("…")
    assert any(n.startswith(plain) for n in names)


def test_escape_helper():
    assert plots.esc("kernel<4, float>") == "kernel&lt;4, float&gt;"
    assert plots.esc("a&b") == "a&amp;b"
    assert plots.esc(None) == "–"
    long = "x" * 250
    assert plots.esc(long, limit=300, width=100).count("<br>") == 2


def test_roofline_groups_when_many_points(sample):
    k = sample.kernels
    ok = (k["flops"] > 0) & (k["bytes"] > 0) & (k["dur_us"] > 0)
    fig = roofline_figure(sample, max_points=10)  # auto → group because 57 kernels > 10
    info = fig._traceflops_info
    assert info["by"] == "group"
    groups = group_table(k[ok])
    assert info["points"] == min(10, len(groups))
    assert sum(len(t.x) for t in _markers(fig)) == info["points"]
    assert info["points_dropped"] == max(0, len(groups) - 10)
    # grouped achieved TFLOP/s is pooled ΣFLOPs / Σtime
    g = groups.iloc[0]
    sel = work_keys(k[ok])
    mask = (sel[["op", "input_dims", "dtype", "category"]] == g[["op", "input_dims", "dtype", "category"]].to_numpy()).all(axis=1)
    sub = k[ok][mask.to_numpy()]
    assert g["achieved_tflops"] == pytest.approx(sub["flops"].sum() / sub["dur_us"].sum() / 1e6)
    assert g["pct_of_ceiling"] == pytest.approx(sub["time_at_ceiling_us"].sum() / sub["dur_us"].sum() * 100)


def test_aggregate_and_normalize():
    assert normalize_name("void at::native::kernel<4, float>(int, float*)") == "at::native::kernel"
    assert normalize_name("Memcpy HtoD (Pageable -> Device)") == "Memcpy HtoD"
    assert normalize_name("ampere_gemm_128x64_nn") == "ampere_gemm_NxN_nn"
    import pandas as pd
    k = pd.DataFrame({"name": ["a", "a", "b"], "dur_us": [1.0, 3.0, 2.0], "flops": [1e6, 3e6, 0.0], "bytes": [1e3, 1e3, 5.0],
                      "time_at_ceiling_us": [0.5, 0.5, np.nan], "time_lost_us": [0.5, 2.5, np.nan],
                      "peak_tflops": [1.0, 1.0, 1.0], "peak_tbps": [1.0, 1.0, 1.0]})
    t = aggregate(k, ["name"]).set_index("name")
    assert t.loc["a", "time_us"] == 4.0 and t.loc["a", "kernels"] == 2
    assert t.loc["a", "achieved_tflops"] == pytest.approx(4e6 / 4.0 / 1e6)
    assert t.loc["a", "intensity"] == pytest.approx(4e6 / 2e3)
    assert t.loc["a", "pct_of_ceiling"] == pytest.approx(25.0)
    assert np.isnan(t.loc["b", "pct_of_ceiling"]) and np.isnan(t.loc["b", "time_lost_us"])


@pytest.mark.parametrize("by", ["category", "op", "module", "dtype", "kernel"])
def test_breakdown_sums_to_gpu_time(sample, by):
    fig = breakdown_figure(sample, by=by, top=5)
    bar = fig.data[0]
    assert sum(bar.x) * 1e3 == pytest.approx(float(sample.kernels["dur_us"].sum()))
    assert len(bar.y) <= 6


def test_breakdown_rejects_unknown(sample):
    with pytest.raises(ValueError):
        breakdown_figure(sample, by="colour")


def test_analysis_methods_delegate(sample):
    assert isinstance(sample.roofline_figure(), go.Figure)
    assert isinstance(sample.breakdown_figure(by="op"), go.Figure)
    assert isinstance(sample.timeline_figure(), go.Figure)


def test_timeline_uses_tables(sample):
    fig = timeline_figure(sample)
    tl = sample.tables["timeline"]
    bars = [t for t in fig.data if isinstance(t, go.Bar)]
    assert len(bars[0].x) == len(tl)
    width = (tl["end_us"] - tl["start_us"]).to_numpy()
    assert np.allclose(np.asarray(bars[0].y, float), tl["flops"].to_numpy() / width / 1e6, equal_nan=True)
    if "steps" in sample.tables:
        assert any(isinstance(t, go.Bar) and str(list(t.x)[0]).startswith("step") for t in fig.data)


def test_report_is_self_contained(sample, tmp_path):
    from plotly.offline import get_plotlyjs
    p = write_report(sample, tmp_path / "report.html")
    text = p.read_text(encoding="utf-8")
    assert text.count(get_plotlyjs()[:300]) == 1, "plotly.js must be inlined exactly once"
    assert not re.search(r"<script[^>]+src=", text), "no external scripts"
    rest = text.replace(get_plotlyjs().replace("</script", "<\\/script"), "")
    assert len(rest) < len(text) - 1_000_000
    assert "cdn.plot.ly" not in rest
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", rest), "nothing may be loaded from the network"
    assert text.count('type="application/json" data-figure=') >= 4
    for sid in ("headline", "roofline", "top-time", "top-lost", "breakdown", "no-flops", "meta"):
        assert f'id="{sid}"' in text
    assert "NVIDIA H100 SXM5 80GB" in text
    assert "op aten::index_select moves bytes but does no counted FLOPs" in text
    # every embedded figure spec parses back to JSON with data and layout
    for spec in re.findall(r'<script type="application/json" data-figure="[^"]+">(.*?)</script>', text, re.S):
        obj = json.loads(spec)
        assert "data" in obj and "layout" in obj


def test_report_headline_numbers(sample, tmp_path):
    from traceflops.outputs.report.html import headline
    cards = dict((label, v) for label, v, _ in headline(sample))
    mfu = sample.summary["mfu"]
    assert cards["% of peak while busy (busy MFU)"] == f"{100 * mfu['busy_mfu']:.3g}%"
    assert cards["MFU"] == f"{100 * mfu['mfu']:.3g}%"
    busy = sample.summary["totals"]["gpu_busy_us"]
    assert cards["GPU busy time"] == f"{busy:.3g} µs"


def test_report_escapes_and_redacts(tmp_path):
    a = analyze(evil_trace(tmp_path))
    assert a.kernels["name"].str.contains("<script>", regex=False).any()
    text = write_report(a, tmp_path / "report.html").read_text(encoding="utf-8")
    body = text.split("<body>", 1)[1]
    assert "<script>window.__pwned" not in body
    assert "<img src=x" not in body
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in body  # shown as text in the tables
    assert "window.__pwned" in body
    for secret in ("supersecretvalue", FAKE_TOKEN, "hunter2hunter2", "plain-key-value-123"):
        assert secret not in text
    # allow-listed distributed fields are kept
    assert '&quot;backend&quot;: &quot;nccl&quot;' in text


def test_report_on_empty_gpu_trace(tmp_path):
    d = load_sample()
    d["traceEvents"] = [e for e in d["traceEvents"] if e.get("cat") not in ("kernel", "gpu_memcpy", "gpu_memset")]
    p = tmp_path / "cpu_only.json"
    p.write_text(json.dumps(d))
    a = analyze(p)
    assert len(a.kernels) == 0
    text = write_report(a, tmp_path / "r.html").read_text()
    assert "nothing to place on the roofline" in text


def _arr(v):
    """A figure array as plotly.js reads it: a list, or a typed array {"dtype", "bdata"(, "shape")}."""
    if isinstance(v, dict):
        import base64
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
        return a.reshape([int(x) for x in str(v["shape"]).split(",")]) if "shape" in v else a
    return np.asarray(v)


def _cards(text):
    return dict((html.unescape(l), html.unescape(v)) for v, l in
                re.findall(r'<div class="card"[^>]*><div class="v">(.*?)</div><div class="l">(.*?)</div></div>', text))


def test_analysis_write_includes_report(sample, tmp_path):
    """The report written beside the tables draws every figure from data that parses, and says what the
    written summary.json and kernels.parquet say."""
    import pandas as pd
    paths = sample.write(tmp_path / "out")
    text = paths["report"].read_text(encoding="utf-8")
    summ = json.loads(paths["summary"].read_text())
    k = pd.read_parquet(paths["kernels"])
    specs = dict(re.findall(r'<script type="application/json" data-figure="([^"]+)">(.*?)</script>', text, re.S))
    want = {"fig-roofline", "fig-by-category", "fig-by-op", "fig-by-module", "fig-timeline"}
    assert set(specs) == want
    figs = {}
    for div in want:
        assert f'<div id="{div}" class="figure"' in text
        figs[div] = pio.from_json(specs[div])  # parses, and plotly validates every trace and layout key
        assert figs[div].data, div
    # the roofline has one point per kernel with FLOPs and bytes, at its achieved TFLOP/s
    ys = sorted(np.concatenate([_arr(tr.y).astype(float) for tr in figs["fig-roofline"].data if tr.mode == "markers"]))
    ok = (k["flops"] > 0) & (k["bytes"] > 0) & (k["dur_us"] > 0)
    assert np.allclose(ys, sorted(k.loc[ok, "achieved_tflops"]))
    # the breakdown by category sums to the GPU time of the table (ms)
    assert _arr(figs["fig-by-category"].data[0].x).sum() * 1e3 == pytest.approx(float(k["dur_us"].sum()))
    # headline numbers are the written summary's
    tot, mfu, cov = summ["totals"], summ["mfu"], summ["coverage"]
    cards = _cards(text)
    assert cards["GPU events"] == f"{tot['gpu_events']:,}" == f"{len(k):,}"
    assert cards["MFU"] == f"{100 * mfu['mfu']:.3g}%"
    assert cards["% of peak while busy (busy MFU)"] == f"{100 * mfu['busy_mfu']:.3g}%"
    assert cards["GPU busy time"] == f"{tot['gpu_busy_us']:.3g} µs"
    assert cards["achieved TFLOP/s (while busy)"] == f"{tot['flops'] / tot['gpu_busy_us'] / 1e6:.3g}"
    assert cards["kernels linked to an op"] == f"{100 * cov['link_rate']:.3g}%"
    assert cards["device"] == summ["device"]["name"]
    # the no-FLOPs table counts every event without FLOPs once, under its own reason
    body = text.split('id="no-flops"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r"<tr><td>(.*?)</td><td class=\"n\">(\d+)</td>", body)
    none = k[~(k["flops"].fillna(0) > 0)]
    assert {html.unescape(r): int(n) for r, n in rows} == none["flops_reason"].value_counts().to_dict()


@pytest.mark.skipif(not OWLV2.exists(), reason="shared owlv2 trace not present")
def test_report_size_on_4000_kernel_trace(tmp_path):
    from plotly.offline import get_plotlyjs
    a = analyze(OWLV2)
    assert len(a.kernels) > 4000
    fig = roofline_figure(a)
    assert fig._traceflops_info["by"] == "group" and fig._traceflops_info["points"] <= 1500
    size = write_report(a, tmp_path / "r.html").stat().st_size
    js = len(get_plotlyjs().encode())
    print(f"owlv2 report: {size:,} bytes ({size - js:,} without plotly.js)")
    assert size - js < 1_000_000, "figures and tables should stay under 1 MB on a 4,000-kernel trace"


# ---------------------------------------------------------------- annotate

def test_annotate_adds_args(sample, tmp_path):
    from traceflops.apps.annotate import ANNOTATED, annotate
    out = tmp_path / "ann.json.gz"
    r = annotate(SAMPLE, out, analysis=sample)
    assert r["annotated"] == r["gpu_events"] == len(sample.kernels)
    with gzip.open(out, "rt") as f:
        d = json.load(f)
    gpu = [e for e in d["traceEvents"] if e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset")]
    assert len(gpu) == len(sample.kernels)
    k = sample.kernels
    for ev, (_, row) in zip(gpu, k.iterrows()):
        assert ev["args"]["correlation"] == row["correlation"]
        if row["flops"] > 0:
            assert ev["args"]["flops"] == pytest.approx(row["flops"])
            assert ev["args"]["achieved_tflops"] == pytest.approx(row["achieved_tflops"])
        if isinstance(row["op"], str):
            assert ev["args"]["op"] == row["op"]
        if np.isfinite(row["pct_of_ceiling"]):
            assert ev["args"]["pct_of_ceiling"] == pytest.approx(row["pct_of_ceiling"])
            assert ev["args"]["bound"] == row["bound"]
    assert any("ceiling_tflops" in e["args"] for e in gpu)
    assert set(ANNOTATED) <= set().union(*(e["args"].keys() for e in gpu))
    # everything else survives
    n_in = len(load_sample()["traceEvents"])
    assert len(d["traceEvents"]) == n_in


def test_annotate_falls_back_to_keys_when_order_differs(sample, tmp_path):
    from traceflops.apps.annotate import annotate_events
    d = load_sample()
    ev = d["traceEvents"]
    gpu_idx = [i for i, e in enumerate(ev) if e.get("cat") in ("kernel", "gpu_memcpy")]
    ev[gpu_idx[0]], ev[gpu_idx[-1]] = ev[gpu_idx[-1]], ev[gpu_idx[0]]
    matched, total = annotate_events(sample, ev)
    assert matched == total == len(sample.kernels)
    first = ev[gpu_idx[0]]
    row = sample.kernels[sample.kernels["correlation"] == first["args"]["correlation"]].iloc[0]
    assert first["args"].get("op") == row["op"]


def test_annotate_redacts_and_cli(tmp_path):
    from traceflops.cli.compare import annotate as cmd
    src = evil_trace(tmp_path)
    out = tmp_path / "o.json"
    res = CliRunner().invoke(cmd, [str(src), "-o", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    for secret in ("supersecretvalue", FAKE_TOKEN, "hunter2hunter2", "plain-key-value-123"):
        assert secret not in text
    assert json.loads(text)["traceEvents"]


def test_annotate_bad_input(tmp_path):
    from traceflops.apps.annotate import annotate
    from traceflops.cli.compare import annotate as cmd
    bad = tmp_path / "bad.json"
    bad.write_text("not json at all")
    with pytest.raises(TraceError):
        annotate(bad, tmp_path / "x.json")
    res = CliRunner().invoke(cmd, [str(bad), "-o", str(tmp_path / "x.json")])
    assert res.exit_code == 2
    assert res.output.strip().count("\n") == 0 and "traceflops: error:" in res.output
    res = CliRunner().invoke(cmd, [str(tmp_path / "missing.json.gz")])
    assert res.exit_code == 2


# ---------------------------------------------------------------- on_trace_ready

def test_hooks_module_does_not_import_torch():
    import subprocess
    import sys
    code = "import sys, traceflops.apps.hooks; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_on_trace_ready_with_torch_profiler(tmp_path):
    torch = pytest.importorskip("torch")
    from torch.profiler import ProfilerActivity, profile, schedule

    from traceflops import on_trace_ready
    seen = []
    handler = on_trace_ready(tmp_path / "prof", worker_name="w0", callback=lambda a, w: seen.append(a))
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True,
                 schedule=schedule(wait=1, warmup=1, active=2, repeat=2), on_trace_ready=handler) as prof:
        x = torch.randn(32, 32)
        for _ in range(9):
            (x @ x).relu().sum()
            prof.step()
    assert not handler.errors, handler.errors
    assert [p.name for p in handler.traces] == ["w0.4.pt.trace.json", "w0.8.pt.trace.json"]
    for t in handler.traces:
        assert t.exists()
        folder = t.parent / t.name.replace(".pt.trace.json", "")
        for f in ("report.html", "summary.json", "kernels.parquet", "ops.parquet"):
            assert (folder / f).exists(), f
        summ = json.loads((folder / "summary.json").read_text())
        assert summ["totals"]["cpu_ops"] > 0
    assert len(seen) == 2 and any(seen[0].ops["name"].str.contains("aten::mm"))


def test_on_trace_ready_survives_bad_trace(tmp_path):
    from traceflops import on_trace_ready

    class FakeProf:
        step_num = 3

        def export_chrome_trace(self, path):
            Path(path).write_text("{ this is not a trace")

    h = on_trace_ready(tmp_path, worker_name="w")
    with pytest.warns(RuntimeWarning):
        h(FakeProf())
    assert len(h.errors) == 1 and isinstance(h.errors[0][1], TraceError)
