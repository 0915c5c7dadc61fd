"""Speed-at-scale benchmark (issue #7). A script to run and quote, not a timed test.

    python benchmarks/ingest.py            # ~500 MB trace: analyze vs orjson.loads, + 8-rank speed-up
    python benchmarks/ingest.py --big      # also a ~2 GB trace (must complete)
    python benchmarks/ingest.py --repeat 5 --no-ranks   # 5 interleaved rounds and their median ratio

Each measurement runs in its own subprocess under /usr/bin/time; memory is sampled over its whole process
tree (traceflops forks workers on large inputs; `TRACEFLOPS_PROCESSES=1` is also timed for comparison).
On a shared machine wall time depends on other load; CPU time does less.
"""
import argparse
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
# TRACEFLOPS_SHARED names the traces folder, as for the tests (default ../shared/traces); tools/ sits beside it
TRACES = Path(os.environ.get("TRACEFLOPS_SHARED") or ROOT.parent / "shared" / "traces")
SRC = str(TRACES / "tracelens" / "h100__google_owlv2-large-patch14-ensemble__1016001.json.gz")
SCALE = str(TRACES.parent / "tools" / "scale_trace.py")
RANKS = str(TRACES / "param" / "worker*_step_12*.json")


def build(mb):
    out = DATA / f"owlv2_{mb}mb.json"
    if not out.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, SCALE, SRC, str(out), "--target-mb", str(mb)], check=True)
    return out


def _tree(pid):
    """pid and all its descendants (Linux /proc)."""
    out = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            for c in f.read().split():
                out += _tree(int(c))
    except OSError:
        pass
    return out


def _tree_mem(pid, pss=False):
    """Sum over the process tree of RSS (statm) or, with pss=True, of PSS (smaps_rollup: a page shared by
    n processes counts 1/n in each, so the sum is the tree's real footprint)."""
    total = 0
    for p in _tree(pid):
        try:
            if pss:
                with open(f"/proc/{p}/smaps_rollup") as f:
                    total += next(int(ln.split()[1]) * 1024 for ln in f if ln.startswith("Pss:"))
            else:
                with open(f"/proc/{p}/statm") as f:
                    total += int(f.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError, StopIteration):
            pass
    return total


PAGE = os.sysconf("SC_PAGE_SIZE")


def timed(cmd, env_extra=None, sample=True):
    """(wall s, cpu s, peak RSS bytes, peak tree PSS bytes) of one subprocess and everything it forks.

    sample=False: times only, with no sampler reading /proc meanwhile (memory then None). Reading
    smaps_rollup of a large process takes its mmap lock and a share of the 2 cores: sampled runs of
    `traceflops analyze` took 5.3-6.2 s where the same command under /usr/bin/time alone took 5.0-5.2 s.

    CPU time is user+sys of the process and its reaped children (/usr/bin/time). Peak RSS is the larger of
    the process's own exact peak (/usr/bin/time) and the sum of RSS over its process tree sampled every
    10 ms: forked workers share pages with the parent and the sum counts them in each, so it over-states.
    Peak PSS (sampled every 50 ms) counts a shared page once across the tree."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        env = dict(os.environ, PYTHONPATH=str(ROOT), **(env_extra or {}))
        p = subprocess.Popen(["/usr/bin/time", "-f", "%e %U %S %M", "-o", tf.name, *cmd], env=env, cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        rss_peak = pss_peak = 0
        i = 0
        if not sample:
            p.wait()
        while p.poll() is None:
            rss_peak = max(rss_peak, _tree_mem(p.pid))
            if i % 5 == 0:
                pss_peak = max(pss_peak, _tree_mem(p.pid, pss=True))
            i += 1
            time.sleep(0.01)
        err = p.stderr.read()
        if p.returncode:
            raise SystemExit(f"{cmd} failed:\n{err[-2000:]}")
        wall, user, sys_, rss = tf.read().split()[-4:]
    if not sample:
        return float(wall), float(user) + float(sys_), None, None
    return float(wall), float(user) + float(sys_), max(int(rss) * 1024, rss_peak), pss_peak


def analyze_cmd(path, out, extra=()):
    return [sys.executable, "-m", "traceflops", "analyze", str(path), "-o", str(out), "-q", *extra]


def orjson_cmd(path):
    return [sys.executable, "-c", f"import orjson; orjson.loads(open({str(path)!r}, 'rb').read())"]


def one(path, hta=False, repeat=1):
    """analyze, analyze in one process and orjson, `repeat` rounds interleaved (the machine's speed drifts
    over minutes on shared cores); each round's ratio is printed, then the median of the rounds.
    Times come from runs with nothing sampling them; memory from one sampled run of each command first."""
    size = path.stat().st_size
    print(f"\n== {path.name}: {size / 1e6:.0f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        mem = [("traceflops analyze (end to end)", timed(analyze_cmd(path, Path(tmp) / "out"))),
               ("  same, in one process", timed(analyze_cmd(path, Path(tmp) / "out1"), {"TRACEFLOPS_PROCESSES": "1"})),
               ("orjson.loads (read + parse)", timed(orjson_cmd(path)))]
    print("-- memory (sampled runs; their times are not used)")
    for name, (w, c, r, pss) in mem:
        print(f"{name:36s} peak RSS {r / 1e6:7.0f} MB = {r / size:4.2f}x file  (PSS {pss / 1e6:5.0f} MB = {pss / size:4.2f}x)"
              f"   [wall {w:.1f} s while sampled]")
    ratios = []
    for i in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            a = timed(analyze_cmd(path, Path(tmp) / "out"), sample=False)
            a1 = timed(analyze_cmd(path, Path(tmp) / "out1"), {"TRACEFLOPS_PROCESSES": "1"}, sample=False)
        o = timed(orjson_cmd(path), sample=False)
        rows = [("traceflops analyze (end to end)", a), ("  same, in one process", a1),
                ("orjson.loads (read + parse)", o)]
        if hta and i == 0:
            try:
                h = timed([sys.executable, "-c", "import sys; from hta.common.trace_parser import parse_trace_file as p; "
                           f"p({str(path)!r})"])
                rows.append(("HTA parse_trace_file", h))
            except SystemExit as e:
                print(f"(HTA skipped: {str(e)[:200]})")
        if repeat > 1:
            print(f"-- round {i + 1} of {repeat} (load average {os.getloadavg()[0]:.2f})")
        for name, (w, c, r, pss) in rows:
            mem_txt = "" if r is None else (f"  peak RSS {r / 1e6:7.0f} MB = {r / size:4.2f}x file"
                                            f"  (PSS {pss / 1e6:5.0f} MB = {pss / size:4.2f}x)")
            print(f"{name:36s} wall {w:7.1f} s  cpu {c:7.1f} s{mem_txt}")
        ratios.append((a[0] / o[0], a[1] / o[1]))
        print(f"ratio analyze/orjson: wall {ratios[-1][0]:.2f}x  cpu {ratios[-1][1]:.2f}x   (target <= 0.4x; RSS target <= 1.5x file)")
    if repeat > 1:
        walls = sorted(r[0] for r in ratios)
        print(f"median wall ratio over {repeat} rounds: {statistics.median(walls):.2f}x (all: "
              + ", ".join(f"{w:.2f}" for w in walls) + ")")
    return ratios


def ranks(jobs):
    files = sorted(glob.glob(RANKS))
    if len(files) < 2:
        print("(rank traces not found; skipping)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        seq = timed(analyze_cmd(Path(files[0]).parent, Path(tmp) / "seq", ["--jobs", "1", "--no-report"])[:4] + files
                    + ["-o", str(Path(tmp) / "seq"), "-q", "--jobs", "1", "--no-report"], sample=False)
        par = timed(analyze_cmd(Path(files[0]).parent, Path(tmp) / "par")[:4] + files
                    + ["-o", str(Path(tmp) / "par"), "-q", "--jobs", str(jobs), "--no-report"], sample=False)
    print(f"\n== {len(files)} rank files: sequential {seq[0]:.1f} s, parallel (--jobs {jobs}) {par[0]:.1f} s, "
          f"speed-up {seq[0] / par[0]:.2f}x")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", action="store_true", help="also build and analyze a ~2 GB trace")
    ap.add_argument("--mb", type=int, default=500)
    ap.add_argument("--hta", action="store_true", help="also time HTA's parser if installed")
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--no-ranks", action="store_true")
    ap.add_argument("--repeat", type=int, default=1, help="interleaved rounds of the 500 MB comparison (median printed)")
    a = ap.parse_args()
    one(build(a.mb), hta=a.hta, repeat=a.repeat)
    if not a.no_ranks:
        ranks(a.jobs)
    if a.big:
        big = build(2000)
        with tempfile.TemporaryDirectory() as tmp:
            w, c, r, pss = timed(analyze_cmd(big, Path(tmp) / "out"))
        print(f"\n== {big.name}: {big.stat().st_size / 1e6:.0f} MB analyzed in wall {w:.1f} s, cpu {c:.1f} s, "
              f"peak RSS {r / 1e6:.0f} MB ({r / big.stat().st_size:.2f}x file), PSS {pss / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
