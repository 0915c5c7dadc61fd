"""report.html and the compare page in a real headless Chromium: they render, throw nothing, and
hostile kernel names stay text.  A missing Chromium is a failure, not a skip."""
import gzip
import json
import os
from pathlib import Path

import pytest

from traceflops import analyze
from traceflops import compare
from traceflops.outputs.compare import write_compare_html
from traceflops.outputs.report import write_report

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "traceflops" / "sample_data" / "h100_bert_small.json.gz"
CHROMIUM = os.environ.get("TRACEFLOPS_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
EVIL_SCRIPT = "<script>window.__pwned=1</script>"
EVIL_IMG = '<img src=x onerror="window.__pwned=1">'
EVIL_B = '<b>bold</b><a href="https://example.invalid/">link</a>'  # tags plotly would render if not escaped


def evil_trace(tmp_path):
    """The bundled sample with <script>/<img onerror> in a GEMM kernel name (it has FLOPs, so it is on the
    roofline), in the op of another kernel, and in a memcpy name."""
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        d = json.load(f)
    ev = d["traceEvents"]
    kernels = [e for e in ev if e.get("cat") == "kernel"]
    gemm = max(kernels, key=lambda e: e["dur"])
    gemm["name"] = f"{EVIL_SCRIPT}gemm_kernel<float, 4>{EVIL_B}{EVIL_IMG}"
    gemm_eid = gemm["args"]["External id"]
    small = min(kernels, key=lambda e: e["dur"])
    for e in ev:
        if e.get("cat") == "cpu_op" and e.get("args", {}).get("External id") == small["args"]["External id"]:
            e["name"] = f"evil::op{EVIL_IMG}{EVIL_SCRIPT}"
        if e.get("cat") == "gpu_memcpy":
            e["name"] = f"Memcpy {EVIL_IMG}"
    p = tmp_path / "evil.json"
    p.write_text(json.dumps(d), encoding="utf-8")
    return p, gemm_eid


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    assert Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM}: install it (apt-get install -y chromium)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def open_page(browser, path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors, requests = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(Path(path).resolve().as_uri())
    page.wait_for_function("window.__traceflopsFigures !== undefined", timeout=30000)
    return page, errors, requests


def test_report_renders_and_names_stay_text(browser, tmp_path):
    path, _ = evil_trace(tmp_path)
    a = analyze(path)
    out = write_report(a, tmp_path / "report.html")
    page, errors, requests = open_page(browser, out)
    try:
        page.wait_for_selector("#fig-roofline svg.main-svg", timeout=20000)
        assert page.locator("#fig-roofline svg.main-svg").count() >= 1
        assert page.locator("#fig-roofline g.points path.point").count() > 10, "roofline points not drawn"
        n_fig = page.locator("script[data-figure]").count()
        assert page.evaluate("window.__traceflopsFigures") == n_fig >= 4
        assert page.locator("div.figure svg.main-svg").count() >= n_fig
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("img").count() == 0, "an <img> from a kernel name became an element"
        body = page.inner_text("body")
        assert EVIL_SCRIPT in body and "gemm_kernel<float, 4>" in body
        assert f"evil::op{EVIL_IMG}" in body
        # the hover of the hostile GEMM point shows its full name, template arguments included
        hover = page.evaluate("""() => {
            const div = document.getElementById('fig-roofline');
            for (let c = 0; c < div.data.length; c++) {
              const cd = div.data[c].customdata || [];
              for (let p = 0; p < cd.length; p++) {
                if (String(cd[p][0]).includes('gemm_kernel')) {
                  Plotly.Fx.hover(div, [{curveNumber: c, pointNumber: p}]);
                  const h = div.querySelector('g.hovertext');
                  return h ? h.textContent : null;
                }
              }
            }
            return 'point not found';
        }""")
        # plotly drops anything tag-like from hover text unless it is escaped: all of it must survive
        assert hover and "gemm_kernel<float, 4>" in hover and EVIL_SCRIPT in hover and EVIL_IMG in hover, hover
        assert EVIL_B in hover, hover
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert not errors, errors
        assert all(u.startswith("file://") or u.startswith("data:") for u in requests), requests
    finally:
        page.close()


def test_compare_report_renders(browser, tmp_path):
    path, _ = evil_trace(tmp_path)
    base, new = analyze(SAMPLE), analyze(path)
    out = write_compare_html(compare(base, new), tmp_path / "compare.html", fail_on_regression=5)
    page, errors, _ = open_page(browser, out)
    try:
        page.wait_for_selector("#fig-shift svg.main-svg", timeout=20000)
        assert page.locator("#fig-shift svg.main-svg").count() >= 1
        assert page.locator("#fig-cat svg.main-svg").count() >= 1
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("img").count() == 0
        assert "Memcpy " + EVIL_IMG in page.inner_text("body")
        assert not errors, errors
    finally:
        page.close()


def test_report_of_large_trace_renders(browser, tmp_path):
    from .conftest import SHARED
    owl = (SHARED or Path("/nonexistent")) / "tracelens" / "h100__google_owlv2-large-patch14-ensemble__1016001.json.gz"
    if not owl.exists():
        pytest.skip("shared owlv2 trace not present")
    out = write_report(analyze(owl), tmp_path / "owl.html")
    page, errors, _ = open_page(browser, out)
    try:
        page.wait_for_selector("#fig-roofline svg.main-svg", timeout=30000)
        assert page.locator("#fig-roofline g.points path.point").count() > 10
        assert not errors, errors
    finally:
        page.close()
