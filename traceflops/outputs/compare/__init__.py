"""compare: match the work of two analyses (match.py) and render it as HTML, markdown + PNG, or JSON."""
from pathlib import Path

from .figures import roofline_shift_figure, write_static_image
from .html import write_compare_html
from .markdown import to_json, to_markdown
from .match import CompareResult, compare

__all__ = ["compare", "CompareResult", "write_outputs", "write_compare_html", "to_markdown", "to_json",
           "roofline_shift_figure"]


def write_outputs(res, outdir, formats=("html",), fail_on_regression=None):
    """Write compare.html / compare.md (+ roofline_shift.png) / compare.json into `outdir`; returns {format: path}."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {}
    if "html" in formats:
        paths["html"] = write_compare_html(res, outdir / "compare.html", fail_on_regression=fail_on_regression)
    if "md" in formats:
        img, note = write_static_image(roofline_shift_figure(res), outdir / "roofline_shift.png")
        if img is not None:
            paths["png"] = img
        p = outdir / "compare.md"
        p.write_text(to_markdown(res, image=img, image_note=note, fail_on_regression=fail_on_regression), encoding="utf-8")
        paths["md"] = p
    if "json" in formats:
        p = outdir / "compare.json"
        p.write_text(to_json(res), encoding="utf-8")
        paths["json"] = p
    return paths
