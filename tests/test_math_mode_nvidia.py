"""Math mode (dtype the units run, tensor cores or not) from NVIDIA GEMM/conv/attention kernel names, one case per
family and name pattern (grammars: /work/research/names.md §2).

`LINPACK` is NVIDIA's own kernel -> instruction table (the CASK linpack test's whitelist, public copy; it spells
CUTLASS "lwtlass"): each name's instruction says what its math is, so those cases check the parser against the
vendor, not against our reading of the name."""
import pandas as pd
import pytest

from traceflops.kernels import classify_kernels

# instruction -> (dtype, tensor cores)
INSTR = {"FFMA": ("fp32", False), "DFMA": ("fp64", False), "HFMA2": ("fp16", False), "IDP4A": ("int8", False),
         "HMMA_F16": ("fp16", True), "HMMA_BF16": ("bf16", True), "HMMA_TF32": ("tf32", True), "IMMA": ("int8", True),
         "DMMA": ("fp64", True), "IMMA_S4": (None, True), "BMMA": (None, True)}
LINPACK = [
    ("ampere_sgemm_128x128_nt_v0", "FFMA"),
    ("ampere_dgemm_128x64_nt_v0", "DFMA"),
    ("ampere_hgemm_256x128_nt_v0", "HFMA2"),
    ("ampere_igemm_int8_128x128_ldg4_nt_v0", "IDP4A"),
    ("ampere_fp16_s16816gemm_fp16_128x128_ldg8_f2f_stages_64x3_nt_v1", "HMMA_F16"),
    ("ampere_h16816gemm_128x128_ldg8_stages_64x3_nt_v1", "HMMA_F16"),
    ("ampere_bf16_s1688gemm_bf16_128x128_ldg8_f2f_nt_v1", "HMMA_BF16"),
    ("ampere_fp32_s1684tf32gemm_fp32_128x128_ldg4_nt_v1", "HMMA_TF32"),
    ("ampere_fp16_s16832gemm_sp_fp16_128x128_ldg8_relu_f2f_stages_64x3_nt_v1", "HMMA_F16"),
    ("ampere_int32_i16832gemm_int8_128x128_ldg16_stages_64x3_nt_v1", "IMMA"),
    ("ampere_int8_i16832gemm_int8_128x128_ldg16_relu_stages_64x3_nt_v1", "IMMA"),
    ("ampere_int32_i16864gemm_sp_int8_256x128_ldg16_stages_128x3_nt_v1", "IMMA"),
    ("cutlass_simt_sgemm_256x128_8x5_nt_align1", "FFMA"),
    ("cutlass_simt_dgemm_128x128_8x3_nt_align1", "DFMA"),
    ("cutlass_simt_hgemm_256x128_8x2_nt_align1", "HFMA2"),
    ("cutlass_simt_igemm_s8_128x128_32x2_nt_align1", "IDP4A"),
    ("cutlass_tensorop_d884gemm_128x128_16x3_nt_align1", "DMMA"),
    ("cutlass_tensorop_h16816gemm_256x128_32x3_nt_align8", "HMMA_F16"),
    ("cutlass_tensorop_s16816gemm_f16_256x128_32x3_nt_align8", "HMMA_F16"),
    ("cutlass_tensorop_f16_s16816gemm_f16_256x128_32x3_nt_align8", "HMMA_F16"),
    ("cutlass_tensorop_s16816gemm_bf16_256x128_32x3_nt_align8", "HMMA_BF16"),
    ("cutlass_tensorop_bf16_s16816gemm_bf16_256x128_32x3_nt_align8", "HMMA_BF16"),
    ("cutlass_tensorop_s1688gemm_tf32_256x128_16x3_nt_align4", "HMMA_TF32"),
    ("cutlass_tensorop_i16832gemm_s8_256x128_64x3_tn_align16", "IMMA"),
    ("cutlass_tensorop_i16864gemm_s4_256x128_128x3_tn_align32", "IMMA_S4"),
    ("cutlass_tensorop_i168256andgemm_b1_256x128_512x3_tn_align128", "BMMA"),
    ("cutlass_tensorop_i168256xorgemm_b1_256x128_512x3_tn_align128", "BMMA"),
    ("sm80_xmma_gemm_f32f32_f32f32_f32_nt_n_tilesize128x128x8_stage3_warpsize2x2x1_ffma_aligna4_alignc4", "FFMA"),
    ("sm80_xmma_gemm_f16f16_f16f32_f32_nt_n_tilesize128x128x32_stage4_warpsize2x2x1_tensor16x8x16", "HMMA_F16"),
    ("sm80_xmma_gemm_f16f16_f16f16_f16_nt_n_tilesize128x256x32_stage3_warpsize2x4x1_tensor16x8x16", "HMMA_F16"),
    ("sm80_xmma_gemm_tf32tf32_tf32f32_f32_nt_n_tilesize128x128x16_stage4_warpsize2x2x1_tensor16x8x8", "HMMA_TF32"),
    ("sm80_xmma_gemm_i8i8_i8i32_f32_tn_n_tilesize256x128x64_stage4_warpsize4x2x1_tensor16x8x32", "IMMA"),
    ("sm80_xmma_sparse_gemm_f16f16_f16f32_f32_nt_n_tilesize128x128x64_stage3_warpsize2x2x1_sptensor16x8x32", "HMMA_F16"),
    ("sm80_xmma_sparse_gemm_i8i8_i8i32_f32_tn_n_tilesize256x128x128_stage4_warpsize4x2x1_sptensor16x8x64", "IMMA"),
    ("sm90_xmma_gemm_f16f16_f16f32_f32_nt_n_tilesize256x128x64_cgasize1x2x1_stage4_gmmastage2_warpgroupsize2x1x1_"
     "hgmma64x128x16", "HMMA_F16"),
    ("sm90_xmma_gemm_f32f32_tf32f32_f32_tn_n_tilesize256x128x32_cgasize1x2x1_stage4_gmmastage2_warpgroupsize2x1x1_"
     "hgmma64x128x8", "HMMA_TF32"),
    ("sm90_xmma_gemm_i8i32_i8i32_f32_tn_n_tilesize256x128x128_cgasize1x2x1_stage4_gmmastage2_warpgroupsize2x1x1_"
     "igmma64x128x32", "IMMA"),
    ("sm90_xmma_sparse_gemm_f16f16_f16f32_f32_nt_t_tilesize128x128x64_cgasize2x1x1_stage4_gmmastage2_"
     "warpgroupsize1x1x1_sptensor_hgmma64x128x32", "HMMA_F16"),
    ("sm90_xmma_gemm_f64f64_f64f64_f64_nt_n_tilesize128x128x16_stage3_warpsize4x2x1_tensor16x8x16", "DMMA"),
]


def _row(name):
    return classify_kernels(pd.Series([name])).iloc[0]


@pytest.mark.parametrize("name, instr", LINPACK, ids=[c[0][:50] for c in LINPACK])
def test_nvidia_kernel_table(name, instr):
    row = _row(name)
    assert row["category"] == "gemm"
    assert (row["name_dtype"], row["tensor_core"]) == INSTR[instr]


# (name, category, library, tensor cores, dtype, helper); shared-trace names say which trace
CASES = [
    # cuBLAS legacy SASS: grammar <arch>_[<C>_]<acc>[<mma>][<mid>]gemm[_<AB>]
    ("volta_sgemm_128x64_nn", "gemm", "cublas", False, "fp32", False),  # df_index_resolver (V100)
    ("ampere_sgemm_32x32_sliced1x4_tn", "gemm", "cublas", False, "fp32", False),  # alexnet (A100)
    ("ampere_sgemm_fp16_64x64_upper_tn", "gemm", "cublas", False, "fp16", False),  # fp16 data, FFMA math
    ("ampere_fp16_sgemm_fp16_64x64_upper_tn", "gemm", "cublas", False, "fp16", False),
    ("maxwell_sgemm_int8_64x64_upper_tn", "gemm", "cublas", False, "int8", False),
    ("ampere_gcgemm_64x64_nt", "gemm", "cublas", False, "fp32", False),  # alexnet FFT conv's complex GEMM
    ("ampere_dgemm_64x64_upper_tn", "gemm", "cublas", False, "fp64", False),
    ("ampere_igemm_int8_128x128_ldg4_upper_tn", "gemm", "cublas", False, "int8", False),
    ("volta_h884gemm_64x64_ldg8_tt", "gemm", "cublas", True, "fp16", False),
    ("turing_h1688gemm_256x64_sliced1x2_ldg8_tt", "gemm", "cublas", True, "fp16", False),
    ("volta_fp16_s884gemm_fp16_64x64_sliced1x4_ldg8_relu_f2f_tt", "gemm", "cublas", True, "fp16", False),
    ("ampere_fp16_s16816gemm_fp16_128x256_ldg8_f2f_stages_64x3_nn", "gemm", "cublas", True, "fp16", False),
    ("ampere_s16816gemm_bf16_128x64_sliced1x2_ldg8_stages_64x6_tt", "gemm", "cublas", True, "bf16", False),
    ("volta_s884gemm_128x128_ldg8_relu_f2f_tt", "gemm", "cublas", True, "fp16", False),  # fp32 data, fp16 tensor-op math
    ("ampere_int8_i8816gemm_int8_256x64_ldg16_relu_stages_64x1_nt", "gemm", "cublas", True, "int8", False),
    # cuBLAS helpers: CUDA cores, no FLOPs of their own
    ("void gemv2T_kernel_val<int, int, float, float, float, float, 128, 16, 2, 2, false, false, cublasGemvParams<cublas"
     "GemvTensorStridedBatched<float const>, cublasGemvTensorStridedBatched<float const>, cublasGemvTensorStridedBatched"
     "<float>, float> >(cublasGemvParams<cublasGemvTensorStridedBatched<float const>, cublasGemvTensorStridedBatched"
     "<float const>, cublasGemvTensorStridedBatched<float>, float>, float, float)", "gemm", "cublas", False, "fp32", False),
    ("void dot_kernel<float, 128, 0, cublasDotParams<cublasGemvTensorStridedBatched<float const>, cublasGemvTensor"
     "StridedBatched<float> > >(cublasDotParams<cublasGemvTensorStridedBatched<float const>, cublasGemvTensorStrided"
     "Batched<float> >)", "gemm", "cublas", False, "fp32", False),
    ("void epilogue::impl::globalKernel<float, float, float, true, true>(int, int, long, float*, cublasLtEpilogue_t, "
     "int, float*, long, void*, long, long, long, float*, long, int*)", "gemm", "cublas", False, "fp32", True),
    # XMMA (cuBLAS / cuDNN)
    ("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel__"
     "5x_cublas", "gemm", "cublas", True, "bf16", False),  # Qwen1.5 H100
    ("sm80_xmma_gemm_f32f32_f32f32_f32_tn_n_tilesize32x32x8_stage3_warpsize1x2x1_ffma_aligna4_alignc4_execute_kernel_"
     "_5x_cublas", "gemm", "cublas", False, "fp32", False),
    ("sm80_xmma_fprop_implicit_gemm_indexed_tf32f32_tf32f32_f32_nhwckrsc_nchw_tilesize128x128x16_stage4_warpsize2x2x1_"
     "g1_tensor16x8x8_execute_kernel_cudnn_infer", "conv", "cudnn", True, "tf32", False),  # nccl_parser_config A100
    ("sm80_xmma_wgrad_implicit_gemm_indexed_tf32f32_tf32f32_f32_nhwckrsc_nhwc_tilesize128x128x16_stage4_warpsize2x2x1_"
     "g1_tensor16x8x8_execute_kernel_cudnn_train", "conv", "cudnn", True, "tf32", False),
    ("sm89_xmma_gemm_e4m3e4m3_e4m3f32_f32_tn_n_tilesize128x128x64_stage3_warpsize2x2x1_tensor16x8x32_bias_f16_aux_"
     "bool_algo2", "gemm", "cublas", True, "fp8", False),
    ("sm90_xmma_gemm_i8i8_i8i32_f32_tn_n_tilesize64x256x128_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas",
     "gemm", "cublas", True, "int8", False),
    # cuBLASLt nvjet: first type letter (t bf16, h fp16, q fp8)
    ("nvjet_sm103_tst_128x8_64x12_4x1_v_bz_NNT", "gemm", "nvjet", True, "bf16", False),  # qwen3 B300, aten::bmm bf16
    ("nvjet_sm103_tst_64x16_64x16_2x1_2cta_v_bz_splitK_TNT", "gemm", "nvjet", True, "bf16", False),
    ("nvjet_sm90_qqtst_128x128_128x6_1x2_h_bz_ovscale_TNT", "gemm", "nvjet", True, "fp8", False),  # aten::_scaled_mm
    ("nvjet_hsh_128x256_64x4_2x1_v_bz_TNN", "gemm", "nvjet", True, "fp16", False),
    # CUTLASS 2.x as built into cuBLAS / cuDNN
    ("void cutlass::Kernel<cutlass_80_tensorop_s1688gemm_256x64_16x4_tn_align4>(cutlass_80_tensorop_s1688gemm_256x64"
     "_16x4_tn_align4::Params)", "gemm", "cublas", True, "tf32", False),  # negative_queue A100: fp32 data, TF32 MMA
    ("void cutlass::Kernel<cutlass_80_tensorop_s1688gemm_128x128_32x3_nn_align4>(cutlass_80_tensorop_s1688gemm_128x128"
     "_32x3_nn_align4::Params)", "gemm", "cublas", True, "tf32", False),  # public A100 trace (aten::mm float)
    ("void cutlass::Kernel2<cutlass_75_tensorop_bf16_s1688gemm_bf16_256x128_tn_align1>(cutlass_75_tensorop_bf16_"
     "s1688gemm_bf16_256x128_tn_align1::Params)", "gemm", "cublas", True, "bf16", False),  # owlv2 H100
    ("void cutlass::Kernel2<cutlass_80_tensorop_bf16_s16816gemm_relu_bf16_64x64_64x6_tn_align8>(cutlass_80_tensorop_"
     "bf16_s16816gemm_relu_bf16_64x64_64x6_tn_align8::Params)", "gemm", "cublas", True, "bf16", False),  # bert H100
    ("void cutlass::Kernel2<cutlass_80_simt_sgemm_128x32_8x5_nn_align1>(cutlass_80_simt_sgemm_128x32_8x5_nn_align1::"
     "Params)", "gemm", "cublas", False, "fp32", False),  # Qwen H100 aten::bmm float
    ("void cutlass::Kernel2<cutlass_80_wmma_tensorop_bf16_s161616gemm_bf16_32x32_128x2_tn_align8>(cutlass_80_wmma_"
     "tensorop_bf16_s161616gemm_bf16_32x32_128x2_tn_align8::Params)", "gemm", "cutlass", True, "bf16", False),
    ("void cutlass::Kernel<cutlass_70_wmma_tensorop_f16_s161616gemm_f16_32x32_64x2_tn_align8>(cutlass_70_wmma_tensorop_"
     "f16_s161616gemm_f16_32x32_64x2_tn_align8::Params)", "gemm", "cutlass", True, "fp16", False),
    ("cutlass_80_tensorop_s1688bf16gemm_128x128_32x3_nn_align4", "gemm", "cutlass", True, "bf16", False),  # fast bf16
    ("cutlass_tensorop_s1688gemm_3xtf32_128x128_16x4_nn_align4", "gemm", "cublas", True, "tf32x3", False),
    ("void cutlass_cudnn_infer::Kernel<cutlass_tensorop_s1688dgrad_optimized_tf32_64x256_16x4_nhwc_align4>(cutlass_"
     "tensorop_s1688dgrad_optimized_tf32_64x256_16x4_nhwc_align4::Params)", "conv", "cudnn", True, "tf32", False),
    ("void cutlass__5x_cudnn::Kernel<cutlass_tensorop_bf16_s16816fprop_optimized_bf16_256x64_32x4_nhwc_align8>(cutlass_"
     "tensorop_bf16_s16816fprop_optimized_bf16_256x64_32x4_nhwc_align8::Params)", "conv", "cudnn", True, "bf16", False),
    # mangled CUTLASS (resnet50 A100 wgrad): types and op class from the template arguments
    ("_ZN19cutlass_cudnn_train6KernelINS_4conv6kernel23ImplicitGemmConvolutionINS1_11threadblock22ImplicitGemm"
     "MultistageINS_4gemm9GemmShapeILi128ELi128ELi32EEENS4_52Conv2dWgradOutputGradientTileAccessIteratorOptimizedINS_"
     "11MatrixShapeILi128ELi32EEENS_10tfloat32_tENS_9transform29PitchLinearWarpRakedThreadMapINS_16PitchLinearShapeIL"
     "i128ELi32EEELi128ENSF_ILi8ELi4EEELi4EEENS_12AlignedArrayISC_Li4ELi16EEEEENSD_11threadblock25RegularTileAccess"
     "IteratorISB_SC_NS_6layout40ColumnMajorTensorOpMultiplicandCongruousILi32ELi32EEELi1ESI_Li16EEELNS_4arch14Cache"
     "Operation4KindE0ENS6_11threadblock9MmaPolicyINS6_4warp11MmaTensorOpINS7_ILi64ELi64ELi32EEE", "conv", "cudnn",
     True, "tf32", False),
    # CUTLASS 3.x
    ("cutlass3x_sm100_tensorop_s128x128x16gemm_bf16_bf16_f32_bf16_bf16_128x128x64_0_tnn_align8_2sm_epi_tma_bias_bf16_"
     "drelu_aux", "gemm", "cutlass", True, "bf16", False),
    ("cutlass3x_sm100_tensorop_s128x128x32gemm_e4m3_e4m3_f32_f16_f16_128x128x128_0_tnn_align16_2sm", "gemm", "cutlass",
     True, "fp8", False),
    ("cutlass3x_sm100_tensorop_s128x128x8tf32gemm_f32_f32_f32_f32_f32_128x128x32_0_tnn_align4_2sm", "gemm", "cutlass",
     True, "tf32", False),
    ("cutlass3x_sm100_tensorop_s128x128x16_9xbf16gemm_f32_f32_f32_f32_f32_128x128x64_0_tnn_align4_2sm", "gemm",
     "cutlass", True, "bf16x9", False),  # fp32 emulated with 9 BF16 products, not bf16
    ("cutlass3x_sm100_bstensorop_s128x128x64gemm_block_scaled_ue4m3xe2m1_ue4m3xe2m1_f32_bf16_bf16_128x128x256_0_tnn_"
     "align32_2sm", "gemm", "cutlass", True, "fp4", False),  # NVFP4
    ("cutlass3x_sm100_bstensorop_s128x128x32gemm_block_scaled_ue8m0xe4m3_ue8m0xe4m3_f32_bf16_bf16_128x128x128_0_tnn_"
     "align16_2sm", "gemm", "cutlass", True, "fp8", False),  # MXFP8
    ("cutlass3x_sm100_simt_sgemm_f32_f32_f32_f32_f32_128x128x8_0_tnn_align1", "gemm", "cublas", False, "fp32", False),
    ("cutlass3x_sm90_tensorop_gemm_f16_f16_f32_f16_f16_128x128x64_1x1x1_0_tnn_align8_warpspecialized_cooperative_"
     "epi_tma", "gemm", "cutlass", True, "fp16", False),
    # CuTe-DSL kernels named after their Python object: a FlashInfer RMSNorm, not a GEMM (sglang B300)
    ("kernel_cutlass_kernel_flashinfernormkernelsrmsnormRMSNormKernel_object_at__tensorptrbf16gmemalign128o409640961_"
     "tensorptrbf16gmemalign16o40961", "norm", "cutedsl", False, "bf16", False),
    # cuDNN legacy and helpers
    ("volta_scudnn_128x64_relu_interior_nn_v1", "conv", "cudnn", False, "fp32", False),  # resnet50 V100
    ("cudnn_infer_volta_scudnn_winograd_128x128_ldg1_ldg4_relu_tile148t_nt_v1", "conv", "cudnn", False, "fp32", False),
    ("ampere_hcudnn_128x128_relu_medium_nn_v1", "conv", "cudnn", False, "fp16", False),
    ("volta_h884cudnn_128x128_ldg8_relu_exp_small_nhwc_tn_v1", "conv", "cudnn", True, "fp16", False),
    ("ampere_fp16_s16816cudnn_fp16_64x128_sliced1x2_ldg8_relu_f2f_exp_stages_64x4_medium_nhwc_tn_v1", "conv", "cudnn",
     True, "fp16", False),
    ("ampere_int8_i8816cudnn_int8_256x128_ldg16_relu_small_nt_v1", "conv", "cudnn", True, "int8", False),
    ("void implicit_convolve_sgemm<float, float, 1024, 6, 7, 3, 3, 5, 1, false, true, true>(int, int, int, float const*"
     ", int, float*, float const*, kernel_conv_params, unsigned long long, int, float, float, int, float const*, float "
     "const*, bool, int, int)", "conv", "cudnn", False, "fp32", False),
    ("void fft2d_r2c_32x32<float, false, 0u, false>(float2*, float const*, int, int, int, int, int, int, int, int, int, "
     "cudnn::reduced_divisor, bool, int2, int, int)", "conv", "cudnn", False, "fp32", False),  # alexnet FFT conv
    ("cask_cudnn_infer::computeBOffsetsKernel(cask_cudnn_infer::ComputeBOffsetsParams)", "conv", "cudnn", False, None,
     True),
    ("void cudnn::cnn::im2col4d_kernel<float, long>(cudnn::cnn::im2col4d_params, cudnnConvolutionStruct, cudnnTensor4d"
     "Struct, float const*, float*)", "conv", "cudnn", False, "fp32", True),
    ("void cudnn::ops::scalePackedTensor_kernel<float, float>(cudnnTensor4dStruct, float*, float)", "elementwise", "cudnn",
     False, "fp32", True),
    # trtllm-gen (TensorRT-LLM / FlashInfer on Blackwell)
    ("bmm_Bfloat16_Bfloat16Bfloat16_Fp32_t128x8x128u2_s5_et128x8_m128x8x16_c1x1x1_16dp256b_rM_BN_transOut_schPd2x1x2x3_"
     "bN_rgTma_clmp_dynB_sm100f", "gemm", "trtllm-gen", True, "bf16", False),  # qwen3 B300
    ("fmhaSm100fKernel_QkvBfloat16OBfloat16H128PagedKvCausalP64VarSeqQ8Kv128PersistentSwapsAbForGen", "attention",
     "trtllm-gen", True, "bf16", False),
    ("void moe::dev::finalize::finalizeKernel<moe::dev::finalize::KernelParams<cutlass::bfloat16_t, cutlass::bfloat16_t,"
     " 4, true> >(moe::dev::finalize::KernelParams<cutlass::bfloat16_t, cutlass::bfloat16_t, 4, true>)", "elementwise",
     "trtllm", False, "bf16", False),
    # flash attention
    ("void pytorch_flash::flash_fwd_kernel<pytorch_flash::Flash_fwd_kernel_traits<64, 128, 128, 4, false, false, "
     "cutlass::bfloat16_t, pytorch_flash::Flash_kernel_traits<64, 128, 128, 4, cutlass::bfloat16_t> >, false, true, "
     "false, false, true, true, false, false>(pytorch_flash::Flash_fwd_params)", "attention", "flash", True, "bf16", False),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0][:50] for c in CASES])
def test_nvidia_names(case):
    name, cat, lib, tc, dt, helper = case
    row = _row(name)
    assert (row["category"], row["library"], row["tensor_core"], row["name_dtype"], row["is_helper"]) == \
        (cat, lib, tc, dt, helper)
