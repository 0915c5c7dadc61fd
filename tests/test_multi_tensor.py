"""multi_tensor_apply kernels (fused/foreach optimizers, apex) get upper-bound bytes from their grid."""
import numpy as np
import pandas as pd
import pytest

from traceflops.cost.multi_tensor import CHUNK, _per_element, multi_tensor_bytes

APEX_ADAM = ("void multi_tensor_apply_kernel<TensorListMetadata<4>, AdamFunctor<float>, float, float, float, float, "
             "float, float, adamMode_t, float>(long, int volatile*, TensorListMetadata<4>, AdamFunctor<float>, float)")
ATEN_COPY = ("void at::native::(anonymous namespace)::multi_tensor_apply_kernel<at::native::(anonymous namespace)::"
             "TensorListMetadata<2>, at::native::(anonymous namespace)::UnaryOpFunctor<long, 2, 1, 1>, "
             "at::native::Copy<long, long> >(at::native::(anonymous namespace)::TensorListMetadata<2>)")
ATEN_ADD_ = ("void at::native::(anonymous namespace)::multi_tensor_apply_kernel<at::native::(anonymous namespace)::"
             "TensorListMetadata<2>, at::native::(anonymous namespace)::BinaryOpListAlphaFunctor<c10::BFloat16, 2, 2, 0>, "
             "std::plus<float>, float>(at::native::(anonymous namespace)::TensorListMetadata<2>)")
ATEN_ADAM = ("void at::native::(anonymous namespace)::multi_tensor_apply_kernel<at::native::(anonymous namespace)::"
             "FusedOptimizerTensorListMetadata<4>, at::native::(anonymous namespace)::FusedAdamMathFunctor<float, 4, "
             "(at::native::ADAM_MODE)1, false>, float*, float, float, float, float, float, bool, float*, float*>")


@pytest.mark.parametrize("name,per", [
    (APEX_ADAM, (4 + 3) * 4),        # reads grad, param, exp_avg, exp_avg_sq; writes the last three
    (ATEN_COPY, (1 + 1) * 8),        # reads one int64 list, writes one
    (ATEN_ADD_, (2 + 1) * 2),        # in-place add_: reads self and other, writes self
    ("ampere_sgemm_128x64_nn", np.nan),
])
def test_lists_read_and_written_from_the_name(name, per):
    got = _per_element(name)
    assert (np.isnan(got) and np.isnan(per)) or got == per


def test_fused_optimizer_metadata_name():
    assert _per_element(ATEN_ADAM) == (4 + 3) * 4


def test_bytes_are_blocks_times_the_chunk_and_only_fill_gaps():
    k = pd.DataFrame({"name": [APEX_ADAM, APEX_ADAM, ATEN_COPY, APEX_ADAM], "kind": ["kernel"] * 4,
                      "blocks": [320.0, 3.0, 2.0, np.nan], "bytes": [np.nan, 100.0, np.nan, np.nan],
                      "bytes_source": [None, "formula", None, None], "flops_reason": ["no CPU op"] * 4})
    assert multi_tensor_bytes(k) == 2
    assert k["bytes"].tolist()[:3] == [320 * CHUNK * 28, 100.0, 2 * CHUNK * 16]
    assert np.isnan(k["bytes"][3])  # no grid recorded (ROCm): nothing to go on
    assert k["bytes_source"].tolist()[:3] == ["upper_bound", "formula", "upper_bound"]
    assert "upper bound" in k["flops_reason"][0] and k["flops_reason"][1] == "no CPU op"
