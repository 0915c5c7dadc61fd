"""compare: match the work of two analyses and say what got faster, slower, appeared or vanished.

Work is matched by a stable key — the launching op, its input shapes, the dtype and the kernel category
(see traceflops.outputs.report.tables.work_keys) — never by mangled kernel names, which change across library
versions and vendors.  Kernels without an op fall back to category + normalized kernel name.

The regression gate (`CompareResult.regressed(pct)`, CLI `--fail-on-regression PCT`) looks at the total
GPU time of *matched* work only: new or missing work is reported but does not trip it.
"""
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...numbers import finite_or_none
from ..report.tables import KEY_COLUMNS, group_table, key_label
from .figures import roofline_shift_figure
from .markdown import to_json, to_markdown

ROW_COLUMNS = KEY_COLUMNS + [
    "label", "status", "kernels_base", "kernels_new", "time_base_us", "time_new_us", "delta_us", "delta_pct",
    "tflops_base", "tflops_new", "delta_tflops", "pct_ceiling_base", "pct_ceiling_new", "delta_pct_ceiling",
    "intensity_base", "intensity_new", "flops_base", "flops_new", "top_name_base", "top_name_new",
]


@dataclass
class CompareResult:
    base: object  # Analysis
    new: object  # Analysis
    rows: pd.DataFrame  # one row per work key, sorted by |delta_us|
    summary: dict = field(default_factory=dict)

    def regressed(self, pct):
        """True when the GPU time of matched work grew by more than `pct` percent."""
        d = self.summary.get("matched_delta_pct")
        return d is not None and math.isfinite(d) and d > float(pct)

    def roofline_shift_figure(self, max_pairs=300):
        return roofline_shift_figure(self, max_pairs=max_pairs)

    def to_markdown(self, image=None, image_note=None, top=15, fail_on_regression=None, gates=None):
        return to_markdown(self, image=image, image_note=image_note, top=top, fail_on_regression=fail_on_regression,
                           gates=gates)

    def to_json(self, gates=None):
        return to_json(self, gates=gates)

    def gate(self, *specs):
        """Results of gates like `"mfu:-2pt"`, `"time:+5%"` (gate.py): one dict per spec with `passed`."""
        from .gate import evaluate, parse_gate
        return evaluate(self, [parse_gate(s) for s in specs])

    def _repr_html_(self):
        from ..report.notebook import compare_html
        return compare_html(self)


def _side(a):
    g = group_table(a.kernels)
    return g.rename(columns={"time_us": "time", "achieved_tflops": "tflops", "pct_of_ceiling": "pct_ceiling"})


def compare(a_base, a_new):
    """CompareResult of two Analysis objects (base → new)."""
    b, n = _side(a_base), _side(a_new)
    keep = ["kernels", "time", "tflops", "pct_ceiling", "intensity", "flops", "top_name"]
    m = b[KEY_COLUMNS + keep].merge(n[KEY_COLUMNS + keep], on=KEY_COLUMNS, how="outer", suffixes=("_base", "_new"),
                                    indicator=True)
    status = m["_merge"].astype(str).map({"both": "matched", "left_only": "missing", "right_only": "new"})
    rows = pd.DataFrame({c: m[c] for c in KEY_COLUMNS})
    rows["label"] = [key_label(*x) for x in zip(m["op"], m["input_dims"], m["dtype"], m["category"])]
    rows["status"] = status.to_numpy(object)
    for c in ("kernels", "time", "tflops", "pct_ceiling", "intensity", "flops", "top_name"):
        for s in ("base", "new"):
            src = f"{c}_{s}"
            dst = {"time": f"time_{s}_us", "tflops": f"tflops_{s}", "pct_ceiling": f"pct_ceiling_{s}"}.get(c, f"{c}_{s}")
            rows[dst] = m[src].to_numpy()
    for s in ("base", "new"):
        rows[f"kernels_{s}"] = rows[f"kernels_{s}"].fillna(0).astype(int)
        rows[f"time_{s}_us"] = rows[f"time_{s}_us"].astype(float).fillna(0.0)
    rows["delta_us"] = rows["time_new_us"] - rows["time_base_us"]
    with np.errstate(divide="ignore", invalid="ignore"):
        rows["delta_pct"] = np.where(rows["time_base_us"] > 0, rows["delta_us"] / rows["time_base_us"] * 100, np.nan)
    rows["delta_tflops"] = rows["tflops_new"].astype(float) - rows["tflops_base"].astype(float)
    rows["delta_pct_ceiling"] = rows["pct_ceiling_new"].astype(float) - rows["pct_ceiling_base"].astype(float)
    rows.loc[rows["status"] != "matched", ["delta_pct", "delta_tflops", "delta_pct_ceiling"]] = np.nan
    order = rows["delta_us"].abs().sort_values(ascending=False, kind="stable").index
    rows = rows.loc[order, ROW_COLUMNS].reset_index(drop=True)
    return CompareResult(a_base, a_new, rows, _summary(a_base, a_new, rows))


def _summary(a_base, a_new, rows):
    matched = rows["status"] == "matched"
    tb, tn = float(rows["time_base_us"].sum()), float(rows["time_new_us"].sum())
    mb, mn = float(rows.loc[matched, "time_base_us"].sum()), float(rows.loc[matched, "time_new_us"].sum())
    fb = float(np.nansum(rows.loc[matched, "flops_base"].astype(float)))
    fn = float(np.nansum(rows.loc[matched, "flops_new"].astype(float)))

    def pooled_pct(side):
        t = rows.loc[matched, f"time_{side}_us"].to_numpy(float)
        p = rows.loc[matched, f"pct_ceiling_{side}"].to_numpy(float)
        ok = np.isfinite(p) & (t > 0)
        return float(np.sum(p[ok] * t[ok]) / np.sum(t[ok])) if ok.any() else None

    def side(a, total, mt, flops):
        s = a.summary or {}
        return {"name": a.name, "device": (s.get("device") or {}).get("name"), "gpu_time_us": total,
                "gpu_busy_us": finite_or_none((s.get("totals") or {}).get("gpu_busy_us")), "matched_time_us": mt,
                "matched_share": mt / total if total > 0 else None,
                "matched_tflops": flops / mt / 1e6 if mt > 0 else None,
                "busy_mfu": finite_or_none((s.get("mfu") or {}).get("busy_mfu")), "mfu": finite_or_none((s.get("mfu") or {}).get("mfu"))}

    out = {
        "key": "op + input_dims + dtype + category (category + normalized kernel name when no op)",
        "base": side(a_base, tb, mb, fb), "new": side(a_new, tn, mn, fn),
        "keys": {"matched": int(matched.sum()), "new": int((rows["status"] == "new").sum()),
                 "missing": int((rows["status"] == "missing").sum())},
        "matched_delta_us": mn - mb,
        "matched_delta_pct": (mn - mb) / mb * 100 if mb > 0 else None,
        "total_delta_pct": (tn - tb) / tb * 100 if tb > 0 else None,
        "new_work_us": float(rows.loc[rows["status"] == "new", "time_new_us"].sum()),
        "missing_work_us": float(rows.loc[rows["status"] == "missing", "time_base_us"].sum()),
        "roofline_shift": {"pct_of_ceiling_base": pooled_pct("base"), "pct_of_ceiling_new": pooled_pct("new"),
                           "matched_tflops_base": fb / mb / 1e6 if mb > 0 else None,
                           "matched_tflops_new": fn / mn / 1e6 if mn > 0 else None},
    }
    return out
