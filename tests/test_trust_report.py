"""Issue 17, the report and the CLI tables: unknown FLOPs are "–", never 0; short readable (demangled) kernel names
with the full name on hover and click; the CLI's top kernels grouped as the report's, in human units; one roof
label per math mode, plain tick labels, GB/s for memory-bound rows, titles that fit; checked in Chromium at
1400 and 800 px."""
import gzip
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import traceflops
from traceflops.cli import main
from traceflops.outputs.report import plots
from traceflops.outputs.report.demangle import demangle_name, short_name
from traceflops.outputs.report.html import KERNEL_HEADERS, render_report
from traceflops.outputs.report.tables import fmt_gbps, fmt_num, fmt_pct, fmt_us, kernel_groups

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "traceflops" / "sample_data" / "h100_bert_small.json.gz"
SGLANG = REPO / "sample_traces" / "inference__sglang_prefilldecode__sglang_Qwen3-8B_prefilldecode.json.gz"
CHROMIUM = os.environ.get("TRACEFLOPS_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]

# (mangled, short name): c++filt's name with template arguments elided and the parameter list dropped
DEMANGLED = [
    ("_Z3foov", "foo"),
    ("_ZN2at6native29vectorized_elementwise_kernelILi4ENS0_11FillFunctorIfEESt5arrayIPcLm1EEEEviT0_T1_",
     "at::native::vectorized_elementwise_kernel<…>"),
    ("_ZN5aiter24add_rmsnorm_quant_kernelIDF16bDF16bLi64ELi8ELb0ELb0ELb1ELi1EEEvPT0_PT_PfS4_S4_S4_diiiiiiib",
     "aiter::add_rmsnorm_quant_kernel<…>"),
    ("_ZN7sgl_hip10activation18act_and_mul_kernelI14__hip_bfloat16TnPFT_RKS3_EXadL_Z4siluIS2_ES3_S5_EEEEvPS3_PS4_i",
     "sgl_hip::activation::act_and_mul_kernel<…>"),
    ("_ZN2ck16tensor_operation6device12_GLOBAL__N_139kernel_grouped_conv_fwd_xdl_cshuffle_v3INS_34GridwiseGemmMultiD_"
     "xdl_cshuffle_v3INS_13tensor_layout4gemm8RowMajorEEEEEvv",
     "ck::tensor_operation::device::(anonymous namespace)::kernel_grouped_conv_fwd_xdl_cshuffle_v3<…>"),
    ("_ZN7cutlass6KernelI51cutlass_80_tensorop_s1688gemm_128x64_16x6_nn_align4EEvNT_6ParamsE", "cutlass::Kernel<…>"),
    ("_ZN4vllm30reshape_and_cache_flash_kernelI13__nv_bfloat16hLNS_18Fp8KVCacheDataTypeE1EEEvPKT_S5_PT0_S7_PKliiiiiiPKfSB_",
     "vllm::reshape_and_cache_flash_kernel<…>"),
    ("_ZNK3Foo3barEv", "Foo::bar"),
    ("_ZN3c107complexIdEC2Edd", "c10::complex<…>::complex"),
    ("_ZZ4mainE3foo", "main::foo"),
    ("_ZL9my_kerneliPf", "my_kernel"),
]


@pytest.mark.parametrize("mangled,want", DEMANGLED, ids=[w for _, w in DEMANGLED])
def test_demangle_short_names(mangled, want):
    assert short_name(mangled, 200) == want


def test_short_names_of_demangled_and_plain_names():
    assert short_name("void at::native::(anonymous namespace)::vectorized_layer_norm_kernel<float, float>(int, float)") \
        == "at::native::(anonymous namespace)::vectorized_layer_norm_kernel<…>"
    assert short_name("void cutlass::Kernel2<cutlass_80_wmma_tensorop_bf16_s161616gemm_bf16_16x16_128x2_tn_align8>"
                      "(cutlass_80_wmma_tensorop_bf16_s161616gemm_bf16_16x16_128x2_tn_align8::Params)") == "cutlass::Kernel2<…>"
    assert short_name("ncclDevKernel_AllReduce_Sum_f32_RING_LL(ncclDevKernelArgsStorage<4096ul>)") == \
        "ncclDevKernel_AllReduce_Sum_f32_RING_LL"
    for keep in ("Memcpy DtoD (Device -> Device)", "triton_poi_fused_add_0", "nvjet_sm90_hsh_320x128_64x3_1x2_h_bz_coopB_NNT",
                 "<script>x</script>gemm_kernel<float, 4>"):  # not C++: the text as recorded
        assert short_name(keep) == keep
    assert demangle_name("_Zbad") is None and demangle_name("not mangled") is None
    # a wrong length (`7Kernel`) leaves parameter types that do not parse: not a name, so the text is kept
    assert demangle_name("_ZN7cutlass7KernelI51cutlass_80_tensorop_s1688gemm_128x64_16x6_nn_align4EEvNT_6ParamsE") is None
    assert len(short_name("x" * 300, 80)) == 80


def _trace_names():
    names = set()
    for p in (SGLANG, BUNDLED):
        if p.exists():
            with gzip.open(p, "rt", encoding="utf-8") as f:
                names |= {e["name"] for e in json.load(f)["traceEvents"] if e.get("cat") == "kernel"}
    return sorted(n for n in names if n.startswith("_Z"))


@pytest.mark.skipif(not shutil.which("c++filt"), reason="c++filt not installed (only the cross-check needs it)")
def test_demangler_agrees_with_cxxfilt():
    names = [m for m, _ in DEMANGLED] + _trace_names()
    out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True).stdout.splitlines()
    for m, d in zip(names, out):
        assert short_name(m, 400) == short_name(d, 400), m


class Cells(HTMLParser):
    """Rows of the report's tables as lists of cell texts (text of the <summary> when a cell has one)."""

    def __init__(self):
        super().__init__()
        self.tables, self._row, self._cell, self._in_details, self._in_summary = [], None, None, False, False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = {"text": "", "title": None}
        elif tag == "details":
            self._in_details = True
            if self._cell is not None:
                self._cell["title"] = dict(attrs).get("title")
        elif tag == "summary":
            self._in_summary = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
        elif tag == "details":
            self._in_details = False
        elif tag == "summary":
            self._in_summary = False

    def handle_data(self, data):
        if self._cell is not None and (not self._in_details or self._in_summary):
            self._cell["text"] += data


def kernel_table(html):
    p = Cells()
    p.feed(html.split('id="top-time"', 1)[1].split("</section>", 1)[0])
    head, *rows = p.tables[0]
    assert [c["text"] for c in head] == KERNEL_HEADERS
    return [{h: c for h, c in zip(KERNEL_HEADERS, r)} for r in rows]


@pytest.fixture(scope="module")
def bert():
    return traceflops.analyze(BUNDLED)


def test_unknown_flops_are_a_dash_never_zero(bert):
    g = kernel_groups(bert.kernels)
    unknown = g[[not np.isfinite(f) for f in bert.kernels.groupby("name")["flops"].max().reindex(g["name"]).to_numpy(float)]]
    assert len(unknown) and unknown["achieved_tflops"].isna().all()
    rows = kernel_table(render_report(bert))
    memcpy = [r for r in rows if r["kernel"]["text"].startswith("Memcpy")]
    assert memcpy and all(r["TFLOP/s"]["text"] == "–" for r in memcpy)
    known_zero = g[(g["flops"] == 0) & g["achieved_tflops"].notna()]  # FLOPs known to be 0 stay 0
    assert (known_zero["achieved_tflops"] == 0).all()


def test_report_shows_short_names_with_the_full_name_on_hover():
    a = traceflops.analyze(SGLANG)
    html = render_report(a)
    rows = kernel_table(html)
    mangled = [r for r in rows if (r["kernel"]["title"] or "").startswith("_Z")]
    assert mangled, "no mangled kernel among the top kernels"
    for r in mangled:
        assert r["kernel"]["text"] == short_name(r["kernel"]["title"])
        assert not r["kernel"]["text"].startswith("_Z") and len(r["kernel"]["text"]) <= 80
    assert 'aiter::add_rmsnorm_quant_kernel&lt;…&gt;' in html or "aiter::add_rmsnorm_quant_kernel<…>" in html


def test_memory_bound_rows_show_achieved_gbps(bert):
    g = kernel_groups(bert.kernels)
    rows = {(r["kernel"]["title"] or r["kernel"]["text"], r["op"]["text"], r["calls"]["text"]): r
            for r in kernel_table(render_report(bert))}
    mem = g[(g["bound"] == "memory") & g["bytes"].notna()].head(5)
    assert len(mem)
    for x in mem.itertuples(index=False):
        k = bert.kernels
        sel = (k["name"] == x.name) & (k["op"].fillna("") == x.op) & (k["input_dims"].fillna("") == x.input_dims)
        want = float(k.loc[sel & k["bytes"].notna(), "bytes"].sum() / k.loc[sel & k["bytes"].notna(), "dur_us"].sum() / 1e3)
        assert x.achieved_gbps == pytest.approx(want)
        r = rows[(x.name, x.op or "–", str(int(x.kernels)))]
        assert r["GB/s"]["text"] == fmt_gbps(want) and r["bound"]["text"] == "memory"


def test_human_units():
    assert fmt_us(3620) == "3.62 ms" and fmt_us(12.5) == "12.5 µs" and fmt_us(2.5e6) == "2.5 s"
    assert fmt_num(1978.9) == "1979" and fmt_num(3.87e-5) == "<0.001" and fmt_pct(11400) == "11,400%"
    assert fmt_gbps(1340.2) == "1,340" and fmt_gbps(0.51234) == "0.512"
    for s in (fmt_num(x) for x in (1234.5, 0.00012, 98765)):
        assert "e+" not in s and "e-" not in s


def test_cli_top_kernels_are_the_report_groups(bert, tmp_path):
    res = CliRunner().invoke(main, ["analyze", str(BUNDLED), "-o", str(tmp_path), "--no-report"])
    assert res.exit_code == 0, res.output
    table = res.output.split("top kernels by GPU time", 1)[1]
    g = kernel_groups(bert.kernels).head(8)
    lines = [ln for ln in table.splitlines() if re.search(r"\d (µs|ms|s) ", ln)]
    assert len(lines) == len(g)
    for ln, r in zip(lines, g.itertuples(index=False)):
        assert f" {int(r.kernels):,} " in ln and fmt_us(r.time_us) in ln and fmt_pct(100 * r.share) in ln, (ln, r)
    assert short_name(g.iloc[0]["name"], 60)[:20] in table
    assert not re.search(r"\de[+-]\d", table)  # no 3.62e+03


def test_one_roof_label_per_math_mode(bert):
    pts, _ = plots.roofline_points(bert)
    labels = [r[0] for r in plots.roofs_for(bert, pts)]
    assert labels == ["bf16 tensor cores", "fp32 vector units"], labels
    assert plots.math_mode("int64", False) == plots.math_mode("bool", False) == "fp32 vector units"
    assert plots.math_mode("fp64", False) == "fp64 vector units"


def test_plain_ticks_and_short_titles(bert):
    roof = plots.roofline_figure(bert)
    for ax in (roof.layout.xaxis, roof.layout.yaxis):
        assert ax.type == "log" and ax.exponentformat == "none" and ax.tickformat == "~g"
    figs = [roof, plots.breakdown_figure(bert, by="op"), plots.timeline_figure(bert)]
    for f in figs:
        assert bert.name not in f.layout.title.text  # the page header names the trace; a long name cuts the title
    tl = figs[2].layout
    mfu_axes = [getattr(tl, a) for a in dir(tl) if a.startswith("yaxis") and getattr(tl, a).overlaying]
    assert mfu_axes and all(a.ticksuffix == "%" and a.tickmode == "auto" for a in mfu_axes)


# ---------------------------------------------------------------- in a real browser

@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    assert Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM}: install it (apt-get install -y chromium)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.mark.parametrize("width", [1400, 800])
def test_report_fits_the_window(browser, width, tmp_path):
    from traceflops.outputs.report import write_report
    out = write_report(traceflops.analyze(SGLANG), tmp_path / "report.html")
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(out.resolve().as_uri())
        page.wait_for_function("window.__traceflopsFigures !== undefined", timeout=30000)
        page.wait_for_selector("#fig-roofline svg.main-svg", timeout=20000)
        assert not errors, errors
        # the page never scrolls sideways (wide tables scroll inside their own box)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        # every figure title ends inside its figure
        clipped = page.evaluate("""() => [...document.querySelectorAll('div.figure')].flatMap(div => {
            const box = div.getBoundingClientRect();
            return [...div.querySelectorAll('.gtitle, .g-gtitle text')].map(t => t.getBoundingClientRect())
                .filter(r => r.width && (r.right > box.right + 1 || r.left < box.left - 1)).map(() => div.id);
        })""")
        assert not clipped, clipped
        # roofline tick labels are plain numbers, never SI prefixes like 100µ or 10k
        ticks = page.evaluate("[...document.querySelectorAll('#fig-roofline .ytick text')].map(t => t.textContent)")
        assert ticks and all(re.fullmatch(r"[0-9.]+", t.replace(",", "")) for t in ticks), ticks
        # a short kernel name opens to its full name
        det = page.locator("#top-time details").first
        full = det.get_attribute("title")
        assert full and full not in page.inner_text("#top-time")
        det.locator("summary").click()
        assert full in page.inner_text("#top-time")
    finally:
        page.close()
