"""Rows of the schema for model-guided attribution (--model): the `model_attribution` block of summary.json.

Plain (name, type, unit, meaning) tuples; `schema.py` makes them fields and renders them into docs/schema.md.
"""

MODEL_ROWS = [
    ("model_attribution", "object", "", "with --model: kernels without shapes costed from the model config "
                                        "(docs/attribution.md); null without --model"),
    ("model_attribution.config", "str", "", "the config path (null when given as a dict)"),
    ("model_attribution.window_kind", "str", "", "what a window is: `serving step`, `profiler step` or `trace`"),
    ("model_attribution.windows", "int", "", "windows holding kernels without costs"),
    ("model_attribution.windows_attributed", "int", "", "windows aligned with the config's layers"),
    ("model_attribution.forwards", "int", "", "forward passes found in them (attention kernels / layers)"),
    ("model_attribution.layers", "int", "", "the config's layers"),
    ("model_attribution.periods", "object", "", "windows per per-layer period of their kernel names (in layers; "
                                                "`none`: the layers' kernels do not repeat; `unchecked`: too few "
                                                "layers to compare)"),
    ("model_attribution.periods.*", "int", "", "windows"),
    ("model_attribution.tp", "int", "", "tensor-parallel degree the shapes are sharded by"),
    ("model_attribution.ep", "int", "", "expert-parallel degree"),
    ("model_attribution.grid_checks", "object", "", "attributed GEMM kernels per launch-grid check: `fits` (grid = "
                                                    "N tiles × splits), `persistent`, `unchecked` (no grid or tile "
                                                    "size recorded)"),
    ("model_attribution.grid_checks.*", "int", "", "kernels"),
    ("model_attribution.reasons", "object", "", "the most frequent reasons kernels stayed without model costs"),
    ("model_attribution.reasons.*", "int", "", "kernels"),
    ("model_attribution.kernels_attributed", "int", "", "kernels that took model costs"),
    ("model_attribution.attention_resliced", "int", "", "attention kernels costed from the step's sums whose layer "
                                                        "has a sliding window: re-costed with it"),
    ("model_attribution.gpu_time_us", "float", "µs", "GPU time of the kernels with model costs"),
    ("model_attribution.gpu_time_share", "float", "", "their share of all GPU time"),
    ("model_attribution.mean_confidence", "float", "", "mean model_confidence"),
    ("model_attribution.time_share_by_method", "object", "", "share of GPU time per way its cost is known: `model`, "
                                                             "a flops_source, `bytes:<bytes_source>` (bytes only), "
                                                             "`none`"),
    ("model_attribution.time_share_by_method.*", "float", "", "share of GPU time"),
]
