"""compare: match the work of two analyses (match.py), gate it (gate.py) and render it as HTML, markdown + PNG, or
JSON."""
from ..write import writable_dir
from .figures import IMAGE_HELP, roofline_shift_figure, write_static_image
from .gate import evaluate as evaluate_gates, gates_markdown, parse_gate
from .html import write_compare_html
from .markdown import to_json, to_markdown
from .match import CompareResult, compare

__all__ = ["compare", "CompareResult", "write_outputs", "write_compare_html", "to_markdown", "to_json",
           "roofline_shift_figure", "parse_gate", "evaluate_gates", "gates_markdown", "IMAGE_HELP"]


def write_outputs(res, outdir, formats=("html",), fail_on_regression=None, gates=None, notes=None):
    """Write compare.html / compare.md (+ roofline_shift.png) / compare.json into `outdir`; returns {format: path}.
    `gates`: results of gate.evaluate, shown in each format; `notes` (a dict), when given, gets `image`: the
    IMAGE_HELP key of why there is no PNG."""
    outdir = writable_dir(outdir)
    paths = {}
    if "html" in formats:
        paths["html"] = write_compare_html(res, outdir / "compare.html", fail_on_regression=fail_on_regression, gates=gates)
    if "md" in formats:
        img, note = write_static_image(roofline_shift_figure(res), outdir / "roofline_shift.png")
        if img is not None:
            paths["png"] = img
        elif notes is not None:
            notes["image"] = note
        p = outdir / "compare.md"
        p.write_text(to_markdown(res, image=img, image_note=note, fail_on_regression=fail_on_regression, gates=gates),
                     encoding="utf-8")
        paths["md"] = p
    if "json" in formats:
        p = outdir / "compare.json"
        p.write_text(to_json(res, gates=gates), encoding="utf-8")
        paths["json"] = p
    return paths
