"""`traceflops devices`: the device catalog.

The terminal table fits 80 columns: the catalog key (what --device takes), memory and the dense peaks that
differ between parts. Every column (name, arch, SMs, TF32, the source of each figure) is in `--csv` and
`--json`.
"""
import csv
import io
import json

import click

from .errors import guarded

# (header, catalog_table key, width): 27 + 8 × (1 + width) ≤ 80
COLUMNS = (("key", "key", 27), ("GB", "memory", 4), ("bf16", "bf16", 6), ("fp16", "fp16", 6), ("fp8", "fp8", 6),
           ("tf32", "tf32", 5), ("fp32", "fp32", 5), ("fp64", "fp64", 5), ("TB/s", "hbm_tbps", 5))


def _cell(v):
    if v is None or v == "":
        return "-"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def text_table(rows):
    """The catalog as plain fixed-width text, 80 columns wide."""
    head = " ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, _, w) in enumerate(COLUMNS))
    out = ["Device catalog (dense peaks)", "", head.rstrip(), "-" * len(head)]
    for r in rows:
        out.append(" ".join(_cell(r.get(k)).ljust(w) if i == 0 else _cell(r.get(k)).rjust(w)
                            for i, (_, k, w) in enumerate(COLUMNS)).rstrip())
    out += ["", "TFLOP/s: dense datasheet peaks (no 2:4 sparsity); '-': no such units, or no",
            "published figure. Pass the key to --device. Names, arch, SMs and the source",
            "of every figure: traceflops devices --csv (or --json)."]
    return "\n".join(out)


def full_rows(catalog):
    """catalog_table's rows with each device's name, arch and source."""
    from ..roofline import catalog_table
    rows = catalog_table(catalog)
    for r in rows:
        r["source"] = catalog[r["key"]].source
    return rows


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the catalog as JSON (every column, with sources).")
@click.option("--csv", "as_csv", is_flag=True, help="Print the catalog as CSV (every column, with sources).")
@click.option("--device-file", type=click.Path(path_type=str), default=None)
@guarded
def devices(as_json, as_csv, device_file):
    """List the device catalog (dense datasheet peaks, TFLOP/s; HBM TB/s)."""
    from ..roofline import catalog_table, load_catalog
    if as_json and as_csv:
        raise ValueError("--json and --csv: choose one")
    catalog = load_catalog(device_file)
    if as_json:
        click.echo(json.dumps(catalog_table(catalog), indent=2))
        return
    if as_csv:
        rows = full_rows(catalog)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["key"], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        click.echo(buf.getvalue(), nl=False)
        return
    click.echo(text_table(catalog_table(catalog)))
