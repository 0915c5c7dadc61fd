"""Public API of the analytic model-FLOPs module (implementation in :mod:`traceflops.modelflops`).

    from traceflops.model import load_config, model_flops, speculative
"""
from traceflops.modelflops import (  # noqa: F401
    FAMILIES, ConfigError, avg_keys_prefill, count_params, expected_accepted, keys_decode,
    load_config, model_flops, parse_config, speculative,
)

__all__ = ["FAMILIES", "ConfigError", "avg_keys_prefill", "count_params", "expected_accepted",
           "keys_decode", "load_config", "model_flops", "parse_config", "speculative"]
