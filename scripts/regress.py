#!/usr/bin/env python3
"""Regression harness for refactors: write every trace's outputs, compare two output sets.

    python scripts/regress.py write OUT [--rev REV] [--traces DIR ...]   # outputs of the tree (or of git REV)
    python scripts/regress.py compare A B                                # Parquet frame-equal, JSON equal, report identical
    python scripts/regress.py against REV [--traces DIR ...]             # write REV and the working tree, then compare

Traces: every .json/.json.gz under ../shared/traces (TRACEFLOPS_SHARED), sample_traces/ and sample_traces/gpu/,
plus the vLLM piecewise pair analyzed with --capture. `--rev` checks REV out in a temporary git worktree and
runs its code there (PYTHONPATH), so both sides run under the same interpreter and packages.
A script, not a test: it takes minutes. Exit 1 when any output differs.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_TRACES = {"SOURCES.json", "flops_reference.json", "manifest.json", "ncu_reference.json", "ncu_decode.json",
              "ncu_steps.json", "compiled_manifest.json"}
CAPTURE_PAIR = ("tracelens/inference__vllm_prefilldecode_piecewise__graph_execution.json.gz",
                "tracelens/inference__vllm_prefilldecode_piecewise__capture_traces__graph_capture_rank_0"
                ".1773709679453551615.pt.trace.json.gz")


def shared_traces():
    env = os.environ.get("TRACEFLOPS_SHARED")
    return Path(env) if env else ROOT.parent / "shared" / "traces"


def trace_files(dirs):
    out = []
    for d in dirs:
        d = Path(d)
        if d.is_dir():
            out += sorted(p for p in d.rglob("*") if p.is_file() and p.name.endswith((".json", ".json.gz"))
                          and p.name not in NOT_TRACES and ".annotated." not in p.name
                          and not any(x.endswith(".compiled") for x in p.parts))  # saved output code
    return out


def default_dirs():
    return [shared_traces(), ROOT / "sample_traces"]


def _label(path):
    """A stable, unique folder name for a trace: its path below the traces root, flattened."""
    p = Path(path).resolve()
    for base in (shared_traces().resolve(), (ROOT / "sample_traces").resolve()):
        try:
            rel = p.relative_to(base)
            return f"{base.name}__" + "__".join(rel.parts)
        except ValueError:
            continue
    return p.name


def _write_one(job):
    path, out, capture = job
    import traceflops
    try:
        a = traceflops.analyze(path, capture=capture)
        a.write(out)
        return path, None
    except Exception as e:  # a trace that fails must fail the same way on both sides
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "error.txt").write_text(f"{type(e).__name__}: {e}\n")
        return path, f"{type(e).__name__}: {e}"


def write_outputs(out, dirs, jobs=2):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = trace_files(dirs)
    work = [(str(p), str(out / _label(p)), None) for p in files]
    s = shared_traces()
    if (s / CAPTURE_PAIR[0]).exists() and (s / CAPTURE_PAIR[1]).exists():
        work.append((str(s / CAPTURE_PAIR[0]), str(out / "capture_pair"), str(s / CAPTURE_PAIR[1])))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for path, err in pool.map(_write_one, work):
            print(("error " if err else "ok    ") + str(path) + (f": {err}" if err else ""), flush=True)
    import traceflops
    (out / "_code.txt").write_text(str(Path(traceflops.__file__).parent) + "\n")
    return out


def _frame_diff(a, b):
    import pandas as pd
    x, y = pd.read_parquet(a), pd.read_parquet(b)
    try:
        pd.testing.assert_frame_equal(x, y, check_exact=True)
    except AssertionError as e:
        return " ".join(str(e).split())[:300]
    return None


def compare(a, b):
    a, b = Path(a), Path(b)
    names = sorted({p.name for p in a.iterdir() if p.is_dir()} | {p.name for p in b.iterdir() if p.is_dir()})
    bad = 0
    for n in names:
        da, db = a / n, b / n
        if not da.is_dir() or not db.is_dir():
            print(f"DIFF {n}: only on one side")
            bad += 1
            continue
        files = sorted({p.name for p in da.iterdir()} | {p.name for p in db.iterdir()})
        for f in files:
            fa, fb = da / f, db / f
            if not fa.exists() or not fb.exists():
                print(f"DIFF {n}/{f}: only on one side")
                bad += 1
                continue
            if f.endswith(".parquet"):
                d = _frame_diff(fa, fb)
            elif f.endswith(".json"):
                d = None if json.loads(fa.read_text()) == json.loads(fb.read_text()) else "JSON differs"
            else:
                d = None if fa.read_bytes() == fb.read_bytes() else "bytes differ"
            if d:
                print(f"DIFF {n}/{f}: {d}")
                bad += 1
    print(f"{len(names)} traces compared, {bad} difference(s)")
    return bad


def write_rev(rev, out, dirs, jobs):
    """Outputs of git REV: a temporary worktree, this script run there with PYTHONPATH pointing at it."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev], check=True,
                       stdout=subprocess.DEVNULL)
        try:
            env = {**os.environ, "PYTHONPATH": str(tree), "TRACEFLOPS_SHARED": str(shared_traces())}
            cmd = [sys.executable, str(Path(__file__).resolve()), "write", str(out), "--jobs", str(jobs), "--traces",
                   *map(str, dirs)]
            subprocess.run(cmd, check=True, env=env, cwd=tmp)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
    code = (Path(out) / "_code.txt").read_text().strip()
    if not code.startswith(str(tree)):
        raise SystemExit(f"the {rev} run imported traceflops from {code}, not from its worktree")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("out")
    w.add_argument("--rev")
    w.add_argument("--traces", nargs="*")
    w.add_argument("--jobs", type=int, default=2)
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    g = sub.add_parser("against")
    g.add_argument("rev")
    g.add_argument("--traces", nargs="*")
    g.add_argument("--jobs", type=int, default=2)
    g.add_argument("--keep", help="folder to keep both output sets in (default: a temporary one)")
    args = ap.parse_args(argv)
    if args.cmd == "write":
        dirs = args.traces or default_dirs()
        if args.rev:
            write_rev(args.rev, args.out, dirs, args.jobs)
        else:
            write_outputs(args.out, dirs, args.jobs)
        return 0
    if args.cmd == "compare":
        return 1 if compare(args.a, args.b) else 0
    dirs = args.traces or default_dirs()
    keep = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="traceflops-regress-"))
    write_rev(args.rev, keep / "base", dirs, args.jobs)
    write_outputs(keep / "tree", dirs, args.jobs)
    print(f"outputs in {keep}")
    return 1 if compare(keep / "base", keep / "tree") else 0


if __name__ == "__main__":
    sys.exit(main())
