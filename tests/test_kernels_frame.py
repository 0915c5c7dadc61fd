"""cost_ops: vectorized, one evaluation per unique signature, mapped back to every row."""
import numpy as np
import pandas as pd

from traceflops.kernels import cost_ops, op_cost


def test_200k_repeated_rows():
    base = [
        ("aten::addmm", "[[96],[32,32],[32,96],[],[]]", '["float","float","float","Scalar","Scalar"]',
         '["","","","1","1"]'),
        ("aten::mm", "[[327680,300],[300,10]]", '["float","float"]', None),
        ("aten::empty", "[[],[],[],[],[],[]]", '["","","","","",""]', None),
        ("aten::_scaled_dot_product_flash_attention", "[[2,4,16,8],[2,4,16,8],[2,4,16,8],[],[],[],[]]",
         '["c10::BFloat16","c10::BFloat16","c10::BFloat16","Scalar","Scalar","Scalar","Scalar"]',
         '["","","","0.","True","False",""]'),
        ("aten::add", "[[2048],[],[]]", '["float","Scalar","Scalar"]', np.nan),
        ("autograd::engine::evaluate_function: MmBackward0", None, None, None),
    ]
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(base), 200_000)
    df = pd.DataFrame([base[i] for i in pick], columns=["name", "input_dims", "input_types", "concrete_inputs"])
    df.index = df.index * 3 + 11  # a non-default index must be kept
    out = cost_ops(df)
    assert list(out.index) == list(df.index)
    assert out["flops"].dtype == np.float64 and out["bytes"].dtype == np.float64
    import orjson
    for i, (name, d, t, c) in enumerate(base):
        rows = out[pick == i]
        ref = op_cost(name, orjson.loads(d) if d else [], orjson.loads(t) if t else [],
                      orjson.loads(c) if isinstance(c, str) else [])
        if ref is None:
            assert rows["flops"].isna().all() and rows["family"].isna().all()
            continue
        assert (rows["flops"] == ref.flops).all()
        assert (rows["bytes"] == ref.bytes).all()
        assert (rows["family"] == ref.family).all() and (rows["dtype"] == ref.dtype).all()
    addmm = out[pick == 0].iloc[0]
    assert addmm["flops"] == 2 * 32 * 32 * 96 and addmm["flops_source"] == "formula"


def test_extra_columns_and_nan():
    df = pd.DataFrame({
        "name": ["record_param_comms", "record_param_comms", "triton_poi_fused_add_0", "aten::mm"],
        "input_dims": ["[[8]]", "[[8]]", "[[4,4],[],[]]", None],
        "input_types": ['["float"]', '["float"]', '["float","Scalar","Scalar"]', None],
        "concrete_inputs": [None, None, None, None],
        "collective": ["allreduce", "broadcast", None, None],
        "in_msg_nelems": [8, 8, np.nan, np.nan], "out_msg_nelems": [8, 8, np.nan, np.nan],
        "group_size": [4, 4, np.nan, np.nan], "comm_dtype": ["Float", "Float", None, None],
        "kernel_flop": [np.nan, np.nan, 100.0, np.nan], "kernel_num_gb": [np.nan, np.nan, 1e-6, np.nan],
    })
    out = cost_ops(df)
    assert out.loc[0, "comm_bytes"] == 32 and out.loc[0, "busbw_factor"] == 1.5
    assert out.loc[1, "busbw_factor"] == 1.0 and np.isnan(out.loc[0, "flops"])
    assert out.loc[2, "flops"] == 100 and out.loc[2, "bytes"] == 1000 and out.loc[2, "flops_source"] == "inductor"
    assert np.isnan(out.loc[3, "flops"]) and out.loc[3, "family"] == "gemm" and out.loc[3, "cost_note"]


def test_empty_frame():
    out = cost_ops(pd.DataFrame({"name": [], "input_dims": [], "input_types": [], "concrete_inputs": []}))
    assert len(out) == 0 and "flops" in out.columns
