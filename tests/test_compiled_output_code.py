"""The Inductor output-code parser (cost/output_code.py) and the per-site costs it gives (cost/compiled.py), on
the hand-written CUDA fixtures in tests/data/inductor/ and the trace-only Triton launch formula
(kernels/inductor.py). Expected numbers are counted by hand from the fixture files."""
from pathlib import Path

import pytest

from traceflops.cost.compiled import module_costs
from traceflops.cost.compiled_files import load_compiled
from traceflops.cost.code_eval import evaluate
from traceflops.cost.output_code import OutputCode, code_hash, parse_triton_source
from traceflops.errors import TraceError
from traceflops.kernels import op_cost

DATA = Path(__file__).parent / "data" / "inductor"
STATIC = DATA / "synthetic_triton_v28plus_static.py"
DYNAMIC = DATA / "synthetic_triton_v25_dynamic.py"


def _mod(p):
    return OutputCode(p.read_text(), str(p))


def test_static_module_kernels_and_roles():
    m = _mod(STATIC)
    assert m.aot_id == "0_inference" and m.key == code_hash(STATIC.read_text())
    per = m.kernels["triton_per_fused_native_layer_norm_relu_1"]
    assert per.kind == "persistent_reduction"
    assert [(p.name, p.role) for p in per.run_params()] == [
        ("in_out_ptr0", "in_out"), ("in_ptr0", "in"), ("in_ptr1", "in"), ("out_ptr0", "out"),
        ("xnumel", "numel"), ("r0_numel", "numel")]
    tem = m.kernels["triton_tem_fused_addmm_0"]
    assert tem.kind == "template" and tem.mnk == {"M": "1024", "N": "512", "K": "256"}
    assert [p.role for p in tem.run_params()] == ["in", "in", "in", "out"]
    assert [(s.kind, s.name) for s in m.sites] == [
        ("triton", "triton_tem_fused_addmm_0"), ("triton", "triton_per_fused_native_layer_norm_relu_1"),
        ("extern", "aten::mm"), ("triton", "triton_poi_fused_gelu_2")]
    # `buf1 = buf0; del buf0  # reuse` and `buf4 = reinterpret_tensor(buf1, ...)`: one storage
    assert m.sites[1].args[0].base == "buf0" and m.sites[3].args[1].base == "buf0"


def test_static_module_costs_by_hand():
    got = {r["name"]: r for r in module_costs(_mod(STATIC))}
    # template: bias [512] + A [1024,256] + W [512,256] read, out [1024,512] written (bf16); the trailing
    # 128, 1, 1 are grid ints; FLOPs 2*M*N*K from the template's own M, N, K
    assert got["triton_tem_fused_addmm_0"]["flops"] == 2 * 1024 * 512 * 256
    assert got["triton_tem_fused_addmm_0"]["bytes"] == (512 + 1024 * 256 + 512 * 256 + 1024 * 512) * 2
    assert got["triton_tem_fused_addmm_0"]["family"] == "gemm"
    # in_out_ptr0 [1024,512] bf16 read AND written, two [512] weights read, [1024,1] fp32 written
    assert got["triton_per_fused_native_layer_norm_relu_1"]["bytes"] == 2 * 1024 * 512 * 2 + 2 * 512 * 2 + 1024 * 4
    assert got["triton_per_fused_native_layer_norm_relu_1"]["flops"] is None  # not recorded: bytes only
    assert got["aten::mm"]["flops"] == 2 * 1024 * 512 * 512
    assert got["aten::mm"]["bytes"] == (1024 * 512 + 512 * 512 + 1024 * 512) * 2
    assert got["triton_poi_fused_gelu_2"]["bytes"] == 2 * 1024 * 512 * 2


def test_dynamic_module_symbols_and_views():
    m = _mod(DYNAMIC)
    assert all(k.fn_name == "triton_" for k in m.kernels.values())  # unique kernel names off
    assert m.kernels["triton_poi_fused_cat_1"].kernel_name == "triton_poi_fused_cat_1"
    assert [p.ty for p in m.kernels["triton_poi_fused_cat_1"].params] == ["*fp32", "*fp32", "i32", "i32", "constexpr"]
    env = m.env()  # the example inputs: s0 = 16, s1 = 32
    assert (env["s0"], env["s1"], env["ps0"], env["triton_poi_fused_add_2_xnumel"]) == (16, 32, 4096, 131072)
    got = module_costs(m)
    n = 16 * 32 * 128
    assert got[0]["bytes"] == 2 * n * 4  # cat slot 0: a strided view into the cat buffer, exactly its elements
    assert got[1]["bytes"] == 16 * 128 * 4 + n * 4  # the stride-0 input (s0, s1, 128)/(128, 0, 1) read once
    assert got[2]["flops"] == 2 * 512 * 256 * 256 and got[2]["bytes"] == (512 * 256 * 2 + 256 * 256) * 4
    assert got[3]["bytes"] == 2 * 2 * n * 4 + 256 * 4  # in_out_ptr0 (s0, s1, 256) read and written
    small = module_costs(m, {"s0": 4, "s1": 8})  # sizes seen in a trace override the hints
    assert small[0]["bytes"] == 2 * 4 * 8 * 128 * 4


def test_kernel_hash_is_pycodecache_key():
    src = "\nimport triton\n@triton.jit\ndef k(x):\n    pass\n"
    assert code_hash(src) == code_hash(src.strip()) and len(code_hash(src)) == 52 and code_hash(src)[0] == "c"
    kd = parse_triton_source(src)
    assert kd.kernel_hash == code_hash(src) and kd.fn_name == "k"


def test_evaluate_is_integer_arithmetic_only():
    assert evaluate("(s0 + 1)//2 * max(s1, 3)", {"s0": 5, "s1": 2}) == 9
    assert evaluate("arg3_1_size[0]", {"arg3_1_size[0]": 7}) == 7
    for bad in ("__import__('os')", "s0.bit_length()", "s9", "1/0", "[1]"):
        assert evaluate(bad, {"s0": 1}) is None


def test_load_compiled_folder_and_errors(tmp_path):
    key = "f" + "a" * 51
    (tmp_path / f"{key}.py").write_text(STATIC.read_text())
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "output_code.py").write_text(DYNAMIC.read_text())
    (tmp_path / "sub" / "notes.py").write_text("print('not inductor')\n")
    code = load_compiled(tmp_path)
    assert len(code.modules) == 2 and set(code.by_fx_key) == {key}
    assert {kd.kernel_name for kd in code.kernels.values()} >= {"triton_poi_fused_gelu_2", "triton_poi_fused_add_2"}
    with pytest.raises(TraceError, match="no such file"):
        load_compiled(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TraceError, match="no Inductor output code"):
        load_compiled(empty)


def test_trace_only_launch_formula():
    """Without the output code each tensor argument counts once (an in-place argument's write is missing: the
    docstring says so); kernel_flop == 0 is Inductor's 'not counted', not zero FLOPs."""
    dims, types = [[8, 64], [64], [8, 64], []], ["c10::BFloat16", "c10::BFloat16", "c10::BFloat16", "Scalar"]
    c = op_cost("triton_poi_fused_add_0", dims, types, ["", "", "", "512"])
    assert c.bytes == (512 + 64 + 512) * 2 and c.flops is None and c.source == "estimate"
    c = op_cost("triton_poi_fused_add_0", dims, types, ["", "", "", "512"], {"kernel_flop": 0, "kernel_num_gb": 1e-6})
    assert c.flops is None and c.bytes == 1000.0 and c.source == "inductor"
    # a stride-0 (expanded) argument is read once
    c = op_cost("triton_poi_fused_add_0", [[8, 64], [8, 64]], ["float", "float"], ["", ""],
                {"input_strides": [[0, 1], [64, 1]]})
    assert c.bytes == (64 + 512) * 4
