"""classify_kernels on real kernel names from the shared traces (file noted per name)."""
import pandas as pd
import pytest

from traceflops.kernels import classify_kernels

CASES = [
    # (name, category, library, tensor_core, name_dtype, is_helper)
    # hta/trace_filter__sampled_rank-1.json.gz (A100)
    # SendRecv / Broadcast name the byte-copy type, not the message's: no dtype from the name
    ("ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t(ncclDevComm*, unsigned long, ncclWork*)", "comm", "nccl", False, None, False),
    ("void cutlass::Kernel<cutlass_80_tensorop_s1688gemm_256x128_32x3_nt_align1>(cutlass_80_tensorop_s1688gemm_256x128_32x3_nt_align1::Params)",
     "gemm", "cublas", True, "tf32", False),  # fp32 data on the m16n8k8 MMA: TF32 (names.md §2.4)
    ("ampere_sgemm_128x64_nn", "gemm", "cublas", False, "fp32", False),
    ("Memcpy HtoD (Pinned -> Device)", "copy", "other", False, None, False),
    ("void at::native::(anonymous namespace)::CatArrayBatchedCopy<float, unsigned int, 1, 128, 1>(float*, at::native::(anonymous namespace)::CatArrInputTensorMetadata<float, unsigned int, 128, 1>, at::native::(anonymous namespace)::TensorSizeStride<unsigned int, 4u>, int, unsigned int)",
     "copy", "aten", False, "fp32", False),
    # hta/df_index_resolver__df_index_resolver.json.gz (V100)
    ("volta_sgemm_128x64_tn", "gemm", "cublas", False, "fp32", False),
    ("ncclKernel_AllReduce_RING_LL_Sum_float(ncclWorkElem)", "comm", "nccl", False, "fp32", False),
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
    ("nvjet_sm103_tst_256x16_64x6_4x1_v_bz_TNT", "gemm", "nvjet", True, "bf16", False),
    ("void cublasLt::splitKreduce_kernel<32, 16, int, float, __nv_bfloat16, float, __nv_bfloat16, false, float, __nv_bfloat16, __nv_bfloat16, true, false, false>(cublasLt::cublasSplitKParams<float>, int const*, __nv_bfloat16 const*, __nv_bfloat16*, float const*, float const*, __nv_bfloat16 const*, __nv_bfloat16 const*, __nv_bfloat16*, void*, long, float*, int*, float*, float const*, float const*, float const*)",
     "gemm", "cublas", False, "bf16", True),
    ("fmhaSm100fKernel_QkvBfloat16OBfloat16H128PagedKvCausalP64VarSeqQ8Kv128PersistentSwapsAbForGen", "attention", "trtllm-gen", True, "bf16", False),
    # tracelens/attention__sdpa_01_long_seq_low_eff (MI300X, AOTriton)
    ("attn_fwd.kd", "attention", "aotriton", True, None, False),
    # tracelens/inference__sglang_prefilldecode (MI300X)
    ("Cijk_Alik_Bljk_BBS_BH_Bias_HA_S_SAV_UserArgs_MT128x256x32_MI16x16x1_SN_LDSB1_AFC1_AFEM1_AFEM1_ASEM1_CLR1_CADS0_DTLA0_DTLB0_DTVA0_DTVB0_EPS0_FDSI0_GRPM1_GRVWA4_GRVWB4_GSUAM1_GLS0_ISA942",
     "gemm", "hipblaslt", True, "bf16", False),
    # tracelens/inference__xdit_flux_aiter (MI300X)
    ("aiter::fmha_fwd_hd128_bf16_rtz", "attention", "ck", True, "bf16", False),
    # the epilogue of an extern mm kernel (the GEMM is the Cijk kernel before it), not a GEMM
    ("triton_poi_fused_addmm_gelu_view_17", "elementwise", "triton", False, None, False),
    ("triton_red_fused__to_copy_add_addmm_as_strided_fmha_v3_fwd_mean_mul_neg_pow_rsqrt_stack_unbind_unsqueeze_view_24",
     "reduction", "triton", False, None, False),
    # tracelens/mi300__ddp_resnet18_no_pool (MI300X)
    ("igemm_fwd_gtcx3_nhwc_bf16_bx0_ex1_bt128x64x32_wt32x32x8_ws1x1_wr1x2_ta1x16x1x1_1x2x4x32_tb1x8x1x1_1x4x1x64_pta",
     "conv", "miopen", True, "bf16", False),
]


# kernels that were "other" or in the wrong category (names.md §3), each from the shared traces
CASES += [
    # gpu_kernel_impl_nocast is a plain binary op, not a cast (xdit, sglang)
    ("void at::native::elementwise_kernel<128, 4, at::native::gpu_kernel_impl_nocast<at::native::CUDAFunctor_add<c10::"
     "BFloat16> >(at::TensorIteratorBase&, at::native::CUDAFunctor_add<c10::BFloat16> const&)::{lambda(int)#1}>(int, "
     "at::native::gpu_kernel_impl_nocast<at::native::CUDAFunctor_add<c10::BFloat16> >(at::TensorIteratorBase&, "
     "at::native::CUDAFunctor_add<c10::BFloat16> const&)::{lambda(int)#1})", "elementwise", "aten", False, "bf16", False),
    # group / layer norm passes (perf_model normalization)
    ("void at::native::(anonymous namespace)::RowwiseMomentsCUDAKernel<float, float>(long, float, float const*, float*, "
     "float*)", "norm", "aten", False, "fp32", False),
    ("void at::native::(anonymous namespace)::GammaBetaBackwardCUDAKernel<float, float>(long, long, float const*, float "
     "const*, float const*, float const*, float*, float*)", "norm", "aten", False, "fp32", False),
    # pooling and losses (alexnet, linear_kineto)
    ("void at::native::(anonymous namespace)::adaptive_average_pool<float>(float const*, float*, int, int, int, int, "
     "long, long, long)", "reduction", "aten", False, "fp32", False),
    ("void at::native::(anonymous namespace)::nll_loss_forward_reduce_cuda_kernel_2d<float, float, long>(float*, float*,"
     " float*, long*, float*, bool, long, long, long, long)", "reduction", "aten", False, "fp32", False),
    ("void at::native::(anonymous namespace)::upsample_nearest2d_out_frame<c10::BFloat16, &at::native::nearest_neighbor"
     "_compute_source_index>(c10::BFloat16 const*, c10::BFloat16*, unsigned long, unsigned long, unsigned long, "
     "unsigned long, unsigned long, float, float)", "elementwise", "aten", False, "bf16", False),
    ("void at::native::(anonymous namespace)::fused_dropout_kernel_vec<float, float, unsigned int, 1, 4, bool>(at::cuda::"
     "detail::TensorInfo<float, unsigned int>, at::cuda::detail::TensorInfo<float, unsigned int>, at::cuda::detail::"
     "TensorInfo<bool, unsigned int>, unsigned int, float, at::PhiloxCudaState)", "elementwise", "aten", False, "fp32",
     False),
    # fbgemm (trace_filter, param): quantize and embedding preprocessing
    ("void fbgemm_gpu::(anonymous namespace)::_compute_FP8_quantize_cuda_kernel<float>(float const*, float const*, int, "
     "int, unsigned char*, bool)", "elementwise", "fbgemm", False, "fp8", False),
    ("void bounds_check_indices_kernel<long, false>(at::GenericPackedTensorAccessor<long, 1ul, at::RestrictPtrTraits, "
     "int>, at::GenericPackedTensorAccessor<long, 1ul, at::RestrictPtrTraits, int>, at::GenericPackedTensorAccessor<long,"
     " 1ul, at::RestrictPtrTraits, int>, int const*, long, at::GenericPackedTensorAccessor<long, 1ul, at::RestrictPtr"
     "Traits, int>, fbgemm_gpu::FixedDivisor)", "elementwise", "fbgemm", False, None, False),
    # ROCm scan, cuDNN offset helper, triton_kernels routing memset
    ("void rocprim::ROCPRIM_400200_NS::detail::trampoline_kernel<rocprim::ROCPRIM_400200_NS::detail::wrapped_scan_config"
     "<rocprim::ROCPRIM_400200_NS::default_config, long>, (rocprim::ROCPRIM_400200_NS::detail::target_arch)942, rocprim::"
     "ROCPRIM_400200_NS::detail::scan_impl<(rocprim::ROCPRIM_400200_NS::detail::lookback_scan_determinism)0, false, "
     "false, rocprim::ROCPRIM_400200_NS::default_config, long const*, long*, long, std::plus<long>, long>", "reduction",
     "aten", False, None, False),
    ("cask_cudnn::computeOffsetsKernel(cask_cudnn::ComputeOffsetsParams)", "conv", "cudnn", False, None, True),
    ("_combined_routing_memset", "memset", "other", False, None, True),
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
