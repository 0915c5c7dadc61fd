"""Analytic model FLOPs from a Hugging Face config.json (pure Python, no torch)."""
from .config import ConfigError, load_config, parse_config
from .flops import FAMILIES, avg_keys_prefill, count_params, keys_decode, model_flops
from .speculative import expected_accepted, speculative

__all__ = ["ConfigError", "FAMILIES", "avg_keys_prefill", "count_params", "expected_accepted",
           "keys_decode", "load_config", "model_flops", "parse_config", "speculative"]
