"""classify_kernels on real kernel names from the shared traces (file noted per name)."""
import pandas as pd
import pytest

from traceflops.kernels import classify_kernels

CASES = [
    # (name, category, library, tensor_core, name_dtype, is_helper)
    # hta/trace_filter__sampled_rank-1.json.gz (A100)
    ("ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t(ncclDevComm*, unsigned long, ncclWork*)", "comm", "nccl", False, "int8", False),
    ("void cutlass::Kernel<cutlass_80_tensorop_s1688gemm_256x128_32x3_nt_align1>(cutlass_80_tensorop_s1688gemm_256x128_32x3_nt_align1::Params)",
     "gemm", "cublas", True, "fp32", False),
    ("ampere_sgemm_128x64_nn", "gemm", "cublas", False, "fp32", False),
    ("Memcpy HtoD (Pinned -> Device)", "copy", "other", False, None, False),
    ("void at::native::(anonymous namespace)::CatArrayBatchedCopy<float, unsigned int, 1, 128, 1>(float*, at::native::(anonymous namespace)::CatArrInputTensorMetadata<float, unsigned int, 128, 1>, at::native::(anonymous namespace)::TensorSizeStride<unsigned int, 4u>, int, unsigned int)",
     "copy", "aten", False, "fp32", False),
    # hta/df_index_resolver__df_index_resolver.json.gz (V100)
    ("volta_sgemm_128x64_tn", "gemm", "cublas", False, "fp32", False),
    ("ncclKernel_AllReduce_RING_LL_Sum_float(ncclWorkElem)", "comm", "nccl", False, None, False),
    # kineto/plugin__samples__resnet50 (V100)
    ("void implicit_convolve_sgemm<float, float, 1024, 6, 7, 3, 3, 5, 1, false, true, true>(int, int, int, float const*, int, float*, float const*, kernel_conv_params, unsigned long long, int, float, float, int, float const*, float const*, bool, int, int)",
     "conv", "cudnn", False, "fp32", False),
    ("volta_scudnn_128x64_stridedB_splitK_xregs_large_nn_v1", "conv", "cudnn", False, "fp32", False),
    ("Memset (Device)", "memset", "other", False, None, True),
    # tracelens/h100__google_owlv2-large-patch14-ensemble (H100)
    ("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas",
     "gemm", "cublas", True, "bf16", False),
    ("void at::native::(anonymous namespace)::vectorized_layer_norm_kernel<c10::BFloat16, float>(int, float, c10::BFloat16 const*, c10::BFloat16 const*, c10::BFloat16 const*, float*, float*, c10::BFloat16*)",
     "norm", "aten", False, "bf16", False),
    # tracelens/h100__Qwen_Qwen1.5-0.5B-Chat (H100)
    ("void pytorch_flash::flash_fwd_kernel<pytorch_flash::Flash_fwd_kernel_traits<64, 128, 128, 4, false, false, cutlass::bfloat16_t, pytorch_flash::Flash_kernel_traits<64, 128, 128, 4, cutlass::bfloat16_t> >, false, true, false, false, true, true, false, false>(pytorch_flash::Flash_fwd_params)",
     "attention", "flash", True, "bf16", False),
    # tracelens/deepseek_r1__B300 (B300)
    ("nvjet_sm103_tst_256x16_64x6_4x1_v_bz_TNT", "gemm", "nvjet", True, None, False),
    ("void cublasLt::splitKreduce_kernel<32, 16, int, float, __nv_bfloat16, float, __nv_bfloat16, false, float, __nv_bfloat16, __nv_bfloat16, true, false, false>(cublasLt::cublasSplitKParams<float>, int const*, __nv_bfloat16 const*, __nv_bfloat16*, float const*, float const*, __nv_bfloat16 const*, __nv_bfloat16 const*, __nv_bfloat16*, void*, long, float*, int*, float*, float const*, float const*, float const*)",
     "gemm", "cublas", False, "bf16", True),
    ("fmhaSm100fKernel_QkvBfloat16OBfloat16H128PagedKvCausalP64VarSeqQ8Kv128PersistentSwapsAbForGen", "attention", "cudnn", True, "bf16", False),
    # tracelens/attention__sdpa_01_long_seq_low_eff (MI300X, AOTriton)
    ("attn_fwd.kd", "attention", "aotriton", True, None, False),
    # tracelens/inference__sglang_prefilldecode (MI300X)
    ("Cijk_Alik_Bljk_BBS_BH_Bias_HA_S_SAV_UserArgs_MT128x256x32_MI16x16x1_SN_LDSB1_AFC1_AFEM1_AFEM1_ASEM1_CLR1_CADS0_DTLA0_DTLB0_DTVA0_DTVB0_EPS0_FDSI0_GRPM1_GRVWA4_GRVWB4_GSUAM1_GLS0_ISA942",
     "gemm", "hipblaslt", True, "bf16", False),
    # tracelens/inference__xdit_flux_aiter (MI300X)
    ("aiter::fmha_fwd_hd128_bf16_rtz", "attention", "ck", True, "bf16", False),
    ("triton_poi_fused_addmm_gelu_view_17", "fused", "triton", None, None, False),
    ("triton_red_fused__to_copy_add_addmm_as_strided_fmha_v3_fwd_mean_mul_neg_pow_rsqrt_stack_unbind_unsqueeze_view_24",
     "reduction", "triton", False, None, False),
    # tracelens/mi300__ddp_resnet18_no_pool (MI300X)
    ("igemm_fwd_gtcx3_nhwc_bf16_bx0_ex1_bt128x64x32_wt32x32x8_ws1x1_wr1x2_ta1x16x1x1_1x2x4x32_tb1x8x1x1_1x4x1x64_pta",
     "conv", "miopen", True, "bf16", False),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0][:40] for c in CASES])
def test_real_names(case):
    name, cat, lib, tc, dt, helper = case
    row = classify_kernels(pd.Series([name], index=[7])).loc[7]
    assert (row["category"], row["library"], row["tensor_core"], row["name_dtype"], row["is_helper"]) == \
        (cat, lib, tc, dt, helper)


def test_index_kept_and_missing_names():
    s = pd.Series(["volta_sgemm_128x64_tn", None, "volta_sgemm_128x64_tn"], index=[5, 3, 9])
    df = classify_kernels(s)
    assert list(df.index) == [5, 3, 9]
    assert list(df["category"]) == ["gemm", "other", "gemm"]
