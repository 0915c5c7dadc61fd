"""The serving steps table: one row per engine step (a step annotation's span), its batch and its GPU time.

* Roots: CPU `user_annotation` spans whose name is a step format (step_formats.py) and that no other step
  annotation encloses; a nested one (SGLang's `step[...]` inside TraceLens' `execute_...`) adds what the root
  lacks (mode, forward_id) and is listed in `nested`. A step annotation that only exists on the GPU timeline
  (a GPU-only trace) is a root too. The GPU-side copies of one record_function (one per stream that ran
  kernels inside it) are one step: copies are matched to their CPU span by name and External id.
* Kernels: a kernel belongs to the step whose CPU span holds its launch call, on the launching thread (graph
  replays share their graph launch's correlation id); a kernel without a launch in the trace, to the step whose
  GPU-side copy holds its start, on its device.
* GPU time of a step: the union of its kernels (`gpu_busy_us`) and first start to last end (`gpu_wall_us`).
"""
import numpy as np
import pandas as pd

from ..link.intervals import enclosing, group_codes, propagate, union_segments
from ..link.ops import is_none, no_steps
from .step_formats import FIELDS, parse_step_annotation, step_phase

COUNTS = ("requests", "prefill_requests", "prefill_tokens", "prefill_context_tokens", "prefill_sqsq", "prefill_sqsk",
          "decode_requests", "decode_tokens", "decode_context_tokens", "decode_sqsq", "decode_sqsk", "tokens")
MODEL_COLUMNS = ("model_flops", "attention_flops", "model_bytes", "weight_bytes", "kv_bytes", "activation_bytes",
                 "mfu", "mbu", "busy_mfu", "busy_mbu")
COLUMNS = ("step", "name", "format", "mode", "phase", "nested", "cpu_start_us", "cpu_dur_us", "gpu_start_us",
           "gpu_end_us", "gpu_wall_us", "gpu_busy_us", "kernels", "kernels_by_gpu_time", "device", *COUNTS,
           "speculative", "forward_id", "format_note", *MODEL_COLUMNS, "model_note")


def _parsed(names):
    """parse_step_annotation per row, once per distinct name: (codes, list of parsed dicts or None)."""
    codes, uniq = pd.factorize(pd.Series(names, dtype=object), use_na_sentinel=True)
    return codes, [parse_step_annotation(u) for u in uniq]


def _cpu_roots(ops):
    """(rows of root step annotations in ops, their parsed fields, nested step annotation rows by root)."""
    if not len(ops):
        return np.array([], dtype=np.int64), [], {}
    is_ann = (ops["cat"] == "user_annotation").to_numpy(bool)
    rows = np.flatnonzero(is_ann)
    codes, parsed = _parsed(ops["name"].to_numpy(object)[rows])
    ok = np.array([c >= 0 and parsed[c] is not None for c in codes], dtype=bool)
    rows, codes = rows[ok], codes[ok]
    if not len(rows):
        return rows, [], {}
    parent = ops["parent"].to_numpy(np.int64) if "parent" in ops else np.full(len(ops), -1)
    own = np.full(len(ops), None, dtype=object)
    own[rows] = rows
    nearest = propagate(parent, own, is_none)
    up = parent[rows]
    anc = np.where(up >= 0, nearest[np.clip(up, 0, None)], None)
    is_root = pd.isna(pd.Series(anc, dtype=object)).to_numpy(bool)
    nested = {}
    for r, a in zip(rows[~is_root], anc[~is_root]):
        root = int(a)
        while not is_root[np.searchsorted(rows, root)]:  # the outermost step annotation above it
            root = int(anc[np.searchsorted(rows, root)])
        nested.setdefault(root, []).append(int(r))
    return rows[is_root], [parsed[c] for c in codes[is_root]], nested


def _merge_nested(fields, names_nested, parsed_nested):
    """Fill what the root does not record from its one nested step annotation; list every nested name."""
    out = dict(fields)
    if len(parsed_nested) == 1:
        for f in FIELDS:
            if out[f] is None and parsed_nested[0][f] is not None and f not in ("format", "format_note"):
                out[f] = parsed_nested[0][f]
    elif parsed_nested and out["mode"] is None:
        modes = [p["mode"] for p in parsed_nested if p["mode"]]
        out["mode"] = "+".join(dict.fromkeys(modes)) or None
    out["nested"] = "; ".join(names_nested) if names_nested else None
    return out


def _gpu_copies(gpu_ann):
    """GPU-side step annotation rows: (rows, names, external ids as float, devices)."""
    if gpu_ann is None or not len(gpu_ann):
        return None
    codes, parsed = _parsed(gpu_ann["name"].to_numpy(object))
    ok = np.array([c >= 0 and parsed[c] is not None for c in codes], dtype=bool)
    if not ok.any():
        return None
    g = gpu_ann[ok].reset_index(drop=True)
    return g.assign(_ext=pd.to_numeric(g["external_id"], errors="coerce").astype(float),
                    _end=g["ts_us"].astype(float) + g["dur_us"].astype(float).fillna(0.0))


def _roots(ops, gpu_ann):
    """One dict per step: parsed fields + name, cpu span, thread, and its GPU-side copies' spans."""
    rows, parsed, nested = _cpu_roots(ops)
    steps, known = [], {}
    if len(rows):  # a trace without step annotations (training) converts no op column
        _cpu_steps(ops, rows, parsed, nested, steps, known)
    copies = _gpu_copies(gpu_ann)
    if copies is None:
        return steps
    cpu_names = {n for n, _ in known}
    for key, g in copies.groupby(["name", "_ext"], dropna=False, sort=False):
        spans = list(zip(g["device"].to_numpy(), g["ts_us"].to_numpy(float), g["_end"].to_numpy(float)))
        if key in known:
            known[key]["_copies"] += spans
        elif key[0] not in cpu_names:
            # A GPU-only step (no CPU span of this name): one step for all its copies (one per stream).
            steps.append({**parse_step_annotation(key[0]), "nested": None, "name": key[0], "cpu_start_us": np.nan,
                          "cpu_dur_us": np.nan, "pid": None, "tid": None, "_copies": spans})
    return steps


def _cpu_steps(ops, rows, parsed, nested, steps, known):
    """One step dict per root step annotation (appended to `steps`); `known` maps (name, External id) of it and
    of its nested annotations to its step."""
    names = ops["name"].to_numpy(object)
    ext = pd.to_numeric(ops["external_id"], errors="coerce").to_numpy(float)
    cols = {c: ops[c].to_numpy(object if c in ("pid", "tid") else float)[rows] for c in ("ts_us", "dur_us", "pid", "tid")}
    for j, (r, p) in enumerate(zip(rows, parsed)):
        sub = nested.get(int(r), [])
        f = _merge_nested(p, [names[i] for i in sub], [parse_step_annotation(names[i]) for i in sub])
        steps.append({**f, "name": names[r], "cpu_start_us": float(cols["ts_us"][j]), "cpu_dur_us": float(cols["dur_us"][j]),
                      "pid": cols["pid"][j], "tid": cols["tid"][j], "_copies": []})
        for i in [r, *sub]:  # a nested annotation's GPU copy lies inside its root's step too
            known[(names[i], ext[i])] = steps[-1]


def _by_launch(k, launches, steps):
    """Step index per kernel through its launch call's thread and time (-1: none)."""
    n = len(k)
    out = np.full(n, -1, dtype=np.int64)
    cpu = [i for i, s in enumerate(steps) if s["pid"] is not None]
    if not cpu or launches is None or not len(launches):
        return out
    lr = k["launch_row"].to_numpy(np.int64)
    has = np.flatnonzero(lr >= 0)
    if not len(has):
        return out
    la = launches.iloc[lr[has]]
    s_pid = pd.Series([steps[i]["pid"] for i in cpu], dtype=object)
    s_tid = pd.Series([steps[i]["tid"] for i in cpu], dtype=object)
    groups = group_codes(pd.concat([s_pid, la["pid"].astype(object)], ignore_index=True),
                         pd.concat([s_tid, la["tid"].astype(object)], ignore_index=True))
    starts = np.array([steps[i]["cpu_start_us"] for i in cpu], dtype=float)
    durs = np.array([steps[i]["cpu_dur_us"] for i in cpu], dtype=float)
    hit = enclosing(groups[: len(cpu)], starts, durs, np.full(len(cpu), -1, dtype=np.int64), groups[len(cpu):],
                    la["ts_us"].to_numpy(float))
    out[has] = np.where(hit >= 0, np.asarray(cpu, dtype=np.int64)[np.clip(hit, 0, None)], -1)
    return out


def _by_gpu_time(k, steps, todo):
    """Step index for the kernels in `todo` whose start lies in a GPU-side copy of a step, on their device."""
    out = np.full(len(k), -1, dtype=np.int64)
    spans = [(i, d, a, b) for i, s in enumerate(steps) for d, a, b in s["_copies"]]
    if not spans or not todo.any():
        return out
    sp = pd.DataFrame(spans, columns=["step", "device", "start", "end"]).sort_values("start", kind="stable")
    dev = pd.to_numeric(k["device"], errors="coerce").to_numpy(float)
    ts = k["ts_us"].to_numpy(float)
    for d, g in sp.groupby("device"):
        rows = np.flatnonzero(todo & (dev == float(d)))
        if not len(rows):
            continue
        pos = np.searchsorted(g["start"].to_numpy(float), ts[rows], side="right") - 1
        ok = (pos >= 0) & (g["end"].to_numpy(float)[np.clip(pos, 0, None)] >= ts[rows])
        out[rows[ok]] = g["step"].to_numpy(np.int64)[pos[ok]]
    return out


def serving_steps(k, ops, launches, gpu_annotations):
    """(steps table in time order, step row per kernel as Int64 with <NA> for none)."""
    steps = _roots(ops, gpu_annotations)
    if not steps:
        return empty_steps(), no_steps(len(k))
    order = sorted(range(len(steps)), key=lambda i: (_first(steps[i]), i))
    steps = [steps[i] for i in order]
    which = _by_launch(k, launches, steps)
    by_time = _by_gpu_time(k, steps, which < 0)
    from_time = (which < 0) & (by_time >= 0)
    which = np.where(which >= 0, which, by_time)
    t = pd.DataFrame({c: [s.get(c) for s in steps] for c in ("name", *FIELDS, "nested", "cpu_start_us", "cpu_dur_us")})
    t.insert(0, "step", np.arange(len(steps), dtype=np.int64))
    t["phase"] = [step_phase(s) for s in steps]
    _gpu_time(t, k, which, from_time)
    for c in COUNTS + ("forward_id",):
        t[c] = pd.array(t[c].astype(object).where(t[c].notna(), None).tolist(), dtype="Int64")
    dt, dr = t["decode_tokens"].astype("Float64"), t["decode_requests"].astype("Float64")
    t["speculative"] = (dt > dr).fillna(False).astype(bool).to_numpy()
    for c in MODEL_COLUMNS:
        t[c] = np.nan
    t["model_note"] = None
    per_kernel = pd.arrays.IntegerArray(np.where(which >= 0, which, 0), which < 0)
    return t[list(COLUMNS)], per_kernel


def _first(s):
    if not np.isnan(s["cpu_start_us"]):
        return s["cpu_start_us"]
    return min((a for _, a, _ in s["_copies"]), default=np.inf)


def _gpu_time(t, k, which, from_time):
    n = len(t)
    ok = which >= 0
    ts = k["ts_us"].to_numpy(float)
    end = ts + np.nan_to_num(k["dur_us"].to_numpy(float))
    w = which[ok]
    t["kernels"] = np.bincount(w, minlength=n).astype(np.int64)
    t["kernels_by_gpu_time"] = np.bincount(which[from_time], minlength=n).astype(np.int64)
    start, stop = np.full(n, np.inf), np.full(n, -np.inf)
    np.minimum.at(start, w, ts[ok])
    np.maximum.at(stop, w, end[ok])
    has = t["kernels"].to_numpy() > 0
    t["gpu_start_us"] = np.where(has, start, np.nan)
    t["gpu_end_us"] = np.where(has, stop, np.nan)
    t["gpu_wall_us"] = t["gpu_end_us"] - t["gpu_start_us"]
    dev = pd.to_numeric(k["device"], errors="coerce").fillna(-1).to_numpy(np.int64)[ok]
    codes, uniq = pd.factorize(pd.MultiIndex.from_arrays([w, dev]))
    group, seg = union_segments(codes.astype(np.int64), ts[ok], end[ok])
    busy_pair = np.bincount(group, weights=seg, minlength=len(uniq))
    t["gpu_busy_us"] = np.bincount(uniq.get_level_values(0).to_numpy(np.int64), weights=busy_pair, minlength=n) \
        if len(uniq) else np.zeros(n)
    # The device a step ran on: the one with most of its kernels (a trace is usually one rank).
    pair_kernels = np.bincount(codes, minlength=len(uniq))
    best = pd.DataFrame({"s": uniq.get_level_values(0), "d": uniq.get_level_values(1), "n": pair_kernels})
    best = best.sort_values(["s", "n", "d"], ascending=[True, False, True], kind="stable").drop_duplicates("s")
    device = np.zeros(n, dtype=np.int64)
    device[best["s"].to_numpy(np.int64)] = best["d"].to_numpy(np.int64)
    t["device"] = pd.arrays.IntegerArray(device, ~has | (device < 0))


def empty_steps():
    t = pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    return t
