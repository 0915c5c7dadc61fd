"""outputs: what an Analysis becomes on disk — Parquet tables, summary.json, report.html — and compare."""
from .parquet import write_parquet
from .write import json_safe, summary_json, write_outputs

__all__ = ["write_outputs", "write_parquet", "summary_json", "json_safe"]
