"""Analytic model FLOPs from a Hugging Face config.json (pure Python, no torch)."""
from .components import Batch, distinct_experts, step_components, step_cost
from .config import ConfigError, load_config, parse_config
from .flops import FAMILIES, avg_keys_prefill, count_params, keys_decode, model_flops
from .precision import Precision, precision
from .speculative import expected_accepted, measured_speculative, speculative

__all__ = ["Batch", "ConfigError", "FAMILIES", "Precision", "distinct_experts", "precision", "step_components",
           "step_cost", "avg_keys_prefill", "count_params", "expected_accepted",
           "keys_decode", "load_config", "measured_speculative", "model_flops", "parse_config", "speculative"]
