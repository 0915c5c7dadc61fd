"""Math mode from AMD (ROCm) and Triton kernel names, one case per family and pattern (names.md §2.6-2.10): hipBLASLt
and Tensile `Cijk_*`, Composable Kernel (demangled and Itanium-mangled), MIOpen, aiter, AOTriton (`.kd` symbols),
vLLM paged attention, Triton (Inductor, triton_kernels). Names are from the shared traces (trace noted) or from
the libraries' own kernel lists."""
import pandas as pd
import pytest

from traceflops.kernels import classify_kernels

CASES = [
    # (name, category, library, tensor cores, dtype, helper)
    # hipBLASLt type segment: `_B_BS_` / `_BBS_` bf16, `_HHS_` fp16, `_S_B_` / `_SB_` fp32 on the MFMA (not TF32)
    ("Cijk_Alik_Bljk_B_BS_BH_Bias_HA_S_SAV_UserArgs_MT128x160x64_MI16x16x1_SN_LDSB1_AFC1_AFEM1_AFEM1_ASEM1_CLR1_CADS0_"
     "DTVA0_DTVB0_EPS0_FDSI0_GRPM1_GRVWA8_GRVWB8_GSUAMB_GLS0_ISA942_IU1_K1_LBSPPA512_LBSPPB128_LBSPPM0_LPA16_LPB16_LPM0_"
     "LRVW8_LWPMn1_MIAV0_MIWT4_5_MO40_NTn1_NTA0_NTB0_NTC0_NTD0_NTM0_NEPBS16_NLCA1_NLCB1_ONLL1_PGR2_PLR1_PKA1_SIA3_SS1_"
     "SPO0_SRVW0_SSO0_SVW4_SK0_SKXCCM0_TLDS1_ULSGRO0_USL1_UIOFGRO0_USFGROn1_VSn1_VWA4_VWB1_WSGRA0_WSGRB0_WS64_WG32_8_1",
     "gemm", "hipblaslt", True, "bf16", False),  # owlv2 MI300X, aten::addmm BFloat16
    ("Cijk_Ailk_Bljk_S_B_Bias_HA_S_SAV_UserArgs_MT16x16x128_MI16x16x1_SN_LDSB1_AFC1_AFEM1_AFEM1_ASEM1_CLR1_CADS0_DTVA0_"
     "DTVB0_EPS0_FDSI0_GRPM1_GRVWA2_GRVWB2_GSUAMB_GLS0_ISA942_IU1_K1_LBSPPA256_LBSPPB512_LBSPPM0_LPA16_LPB8_LPM0_LRVW4_"
     "LWPMn1_MIAV0_MIWT1_1_MO40_NTn1_NTA4_NTB0_NTC0_NTD4_NTM0_NEPBS16_NLCA1_NLCB1_ONLL1_PGR2_PLR1_PKA1_SIA3_SS1_SPO0_"
     "SRVW0_SSO0_SVW1_SK0_SKXCCM0_TLDS1_ULSGRO0_USL1_UIOFGRO0_USFGROn1_VSn1_VWA1_VWB1_WSGRA0_WSGRB0_WS64_WG16_4_4",
     "gemm", "hipblaslt", True, "fp32", False),  # Qwen MI300X, aten::bmm float
    ("Cijk_Alik_Bljk_SB_Bias_AS_SAV_UserArgs_MT64x16x32_MI16x16x1_SN_LDSB0_AFC1_AFEM1_AFEM1_ASEM1_CLR1_CADS0_EPS0_GRVWA2_"
     "GRVWB2_GSUAMB_ISA90a_IU1_K1_LBSPPA128_LBSPPB128_LBSPPM0_LPA8_LPB8_LPM0_LRVW4_LWPMn1_MIAV0_MIWT1_1_MO40_NTn1_NTA0_"
     "NTB0_NTC0_NTD0_NTM0_NEPBS2_NLCA1_NLCB1_ONLL1_PGR2_PLR1_PKA1_SIA3_SS1_SPO1_SRVW0_SSO0_SVW1_TLDS1_USFGROn1_VSn1_VWA1_"
     "VWB1_WSGRA1_WSGRB1_WS64_WG64_4_1", "gemm", "hipblaslt", True, "fp32", False),  # MI250 minitoy, aten::addmm float
    ("Cijk_Ailk_Bljk_HHS_BH_MT64x128x32_MI16x16x16x1_SN_1LDSB0_APM1_ABV0_ACED0_AF0EM1_AF1EM1_AMAS3_ASE_ASGT_ASLT0193_ASM"
     "_ASAE01_ASCE01_ASEM1_AAC0_BL1_BS1_CLR1_DTLA0_DTLB0_DTVA0_DTVB0_DVO0_ETSP_EPS1_ELFLR0_EMLL0_FSSC10_FL0_GLVWA8_GLVWB8"
     "_GRCGA1_GRCGB1_GRPM1_GRVW8_GSU1_GSUASB_GLS0_ISA942_IU1_K1_KLA_LBSPPA512_LBSPPB256_LPA32_LPB8_LDL1_LRVW4_LWPMn1_LDW0"
     "_FMA_MIAV0_MDA2_MO40_MMFSC_MKFGSU256_NTA0_NTB0_NTC0_NTD0_NEPBS0_NLCA1_NLCB1_ONLL1_OPLV0_PK0_PAP0_PGR2_PLR3_PKA0_SIA3"
     "_SLW1_SS1_SU8_SUM0_SUS128_SCIUI1_SPO0_SRVW0_SSO0_SVW2_SNLL0_TSGRA0_TSGRB0_TT2_128_TLDS1_UMLDSA0_UMLDSB1_USFGROn1"
     "_VAW1_VSn1_VW2_VWB4_VFLRP1_WSGRA0_WSGRB0_WS64_WG32_4_1_WGM16", "gemm", "hipblaslt", True, "fp16", False),  # gemm_04
    ("Cijk_Ailk_Bljk_BBS_BH_MT64x64x64_MI16x16x16x1_SN_1LDSB0_APM1_ABV0_ACED0_AF0EM1_AF1EM1_AMAS0_ASE_ASGT_ASLT_ASM_"
     "ASAE01_ASCE01_ASEM1_AAC0_BL1_BS1_CLR1_DTLA0_DTLB0_DTVA0_DTVB0_DVO0_ETSP_EPS1_ELFLR0_EMLL0_FSSC10_FL0_GLVWA2_GLVWB8_"
     "GRCGA1_GRCGB1_GRPM1_GRVWn1_GSU1_GSUASB_GLS0_ISA942_IU1_K1_KLA_LBSPPA1024_LBSPPB128_LPA16_LPB16_LDL1_LRVW8_LWPMn1_"
     "LDW0_FMA_MIAV0_MDA2_MO40_MMFSC_MKFGSU256_NTA0_NTB0_NTC0_NTD0_NEPBS0_NLCA1_NLCB1_ONLL1_OPLV0_PK0_PAP0_PGR1_PLR5_PKA0_"
     "SIA3_SLW1_SS0_SU16_SUM0_SUS512_SCIUI1_SPO0_SRVW0_SSO0_SVW4_SNLL0_TSGRA0_TSGRB0_TT1_64_TLDS1_UMLDSA0_UMLDSB1_U64SL1_"
     "USFGROn1_VAW1_VSn1_VW1_VWB1_VFLRP1_WSGRA0_WSGRB0_WS64_WG64_4_1_WGMn16", "gemm", "hipblaslt", True, "bf16", False),
    # hipBLASLt names from its own kernel sources (gfx942/gfx950 assembly, Tensile tests)
    ("Cijk_Alik_Bljk_S_MX_B_UserArgs_MT128x128x32_MI16x16x1_CMS_SN_LDSB0_AFC0_AG0_AFEM1_AFEM1_ASEM1_CLR1_CADS0_DTLA1_"
     "DTLB1_DTVA0_DTVB0_DTVMXSA0_DTVMXSB0_DTVSM0_DPLB0_EPS0", "gemm", "hipblaslt", True, "tf32", False),  # fp32 via xf32
    ("Cijk_Ailk_Bljk_F8BS_BH_Bias_FDMN_SPBML0_A_S_SAV_UserArgs_MT16x16x128_MI16x16x1_SN_LDSB0_AFC1_AG0_AGGSUA0_AGNTAB0_"
     "AFEM1_AFEM1_ASEM8_BL1_BS1_CD1_1_CLR0_CLS0_CADS0_DTLA0_", "gemm", "hipblaslt", True, "fp8", False),
    ("Custom_Cijk_Ailk_Bljk_F8H_HHS_BH_Bias_AS_SAB_SAV_MT128x16x128_MI16x16x1_WaveSpecialization", "gemm", "hipblaslt",
     True, "fp16", False),  # fp8 x fp16 inputs: the MFMA runs in DataType fp16
    # Tensile/rocBLAS without MI: VALU; the global-split-U reduction is a helper
    ("Cijk_Ailk_Bljk_SB_MT64x64x8_SE_K1", "gemm", "tensile", False, "fp32", False),
    ("Cijk_B_PostGSU2", "gemm", "tensile", False, None, True),  # gemm_01 MI300X
    # Composable Kernel: ck::bhalf_t is `unsigned short` (mangled `t`), __bf16 is `DF16b`; float is the accumulator
    ("void ck::kernel_moe_gemm<ck::GridwiseMoeGemm<ck::tensor_layout::gemm::RowMajor, ck::tensor_layout::gemm::ColumnMajor"
     ", ck::Tuple<ck::tensor_layout::gemm::RowMajor, ck::tensor_layout::gemm::ColumnMajor, ck::tensor_layout::gemm::"
     "RowMajor>, ck::tensor_layout::gemm::RowMajor, unsigned short, unsigned short, float, float, ck::Tuple<float, float,"
     " float>, unsigned short, ck::tensor_operation::element_wise::PassThrough, ck::tensor_operation::element_wise::"
     "PassThrough, TypeCast, (ck::tensor_operation::device::GemmSpecialization)0, 256, 32, 64, 64, 8, 8, 16, 16, 2, 1, "
     "ck::Sequence<8, 32, 1>", "gemm", "ck", True, "bf16", False),  # qwen3-30b MI300X
    ("_ZN2ck16tensor_operation6device12_GLOBAL__N_139kernel_grouped_conv_fwd_xdl_cshuffle_v3INS_34GridwiseGemmMultiD_xdl_"
     "cshuffle_v3INS_13tensor_layout4gemm8RowMajorENS6_11ColumnMajorENS_5TupleIJEEES7_ttftSA_tNS0_12element_wise11Pass"
     "ThroughESC_SC_LNS1_18GemmSpecializationE7ELi256ELi128ELi128ELi64ELi8ELi8ELi32ELi32ELi2ELi2ENS_8SequenceIJLi8ELi32"
     "ELi1EEEENSE_IJLi1ELi0ELi2EEEESG_Li2ELi8ELi8ELb0ELi0E", "conv", "ck", True, "bf16", False),  # xdit flux MI300X
    ("_ZN2ck16tensor_operation6device12_GLOBAL__N_139kernel_grouped_conv_fwd_xdl_cshuffle_v3INS_34GridwiseGemmMultiD_xdl_"
     "cshuffle_v3INS_13tensor_layout4gemm8RowMajorENS6_11ColumnMajorENS_5TupleIJEEES7_DF16bDF16bfDF16bSA_DF16bNS0_12"
     "element_wise11PassThroughESC_SC_LNS1_18GemmSpecializationE7ELi256E", "conv", "ck", True, "bf16", False),
    ("_ZN2ck16tensor_operation6device12_GLOBAL__N_149kernel_grouped_conv_fwd_multiple_abd_xdl_cshuffleINS_34GridwiseGemm"
     "MultipleD_xdl_cshuffleItttftNS_5TupleIJEEEtNS0_12element_wise11PassThroughES8_S8_Li1ELi256ELi128ELi256ELi32ELi8E",
     "conv", "ck", True, "bf16", False),
    ("_ZN7ck_tile6kentryILi2ENS_38FmhaBatchPrefillWithPagedKVCacheKernelINS_40BlockFmhaBatchPrefillPipelineQRKSVSAsyncINS"
     "_36BlockFmhaBatchPrefillPipelineProblemIDF16bDF16bDF16bffDF16bhfDF16bfDF16bNS_13TileFmhaShapeINS_8sequenceIJLi128"
     "ELi128ELi32ELi128ELi32ELi128EEEE", "attention", "ck", True, "bf16", False),
    ("void ck_tile::kentry<2, ck_tile::MoeSortingKernel<ck_tile::MoeSortingProblemEx<int, float, 2, true, false, false, "
     "true, 0> >, ck_tile::MoeSortingKernel<ck_tile::MoeSortingProblemEx<int, float, 2, true, false, false, true, 0> >::"
     "Kargs>(ck_tile::MoeSortingKernel<ck_tile::MoeSortingProblemEx<int, float, 2, true, false, false, true, 0> >::Kargs)",
     "reduction", "aten", False, None, False),  # MoE routing sort, not a GEMM
    # aiter / AOTriton / SageAttention / vLLM ROCm attention
    ("aiter::fmha_fwd_hd128_bf16_rtz", "attention", "ck", True, "bf16", False),
    ("attn_fwd.kd", "attention", "aotriton", True, None, False),  # the `.kd` code-object symbol
    ("sage_fwd", "attention", "aotriton", True, None, False),
    ("sage_quant_kernel", "elementwise", "sageattention", False, None, False),
    # paged attention: the math runs in scalar_t; `Fp8KVCacheDataType)0` is the auto (bf16) cache, not fp8
    ("void paged_attention_ll4mi_QKV_mfma16_kernel<0, __hip_bfloat16, __hip_bfloat16, (vllm::Fp8KVCacheDataType)0, 1, 128,"
     " 256, false, 4, 1, ck_tile::ComposedAttention<0u, false> >(__hip_bfloat16 const*, __hip_bfloat16 const*, "
     "__hip_bfloat16 const*, float, int const*, int const*, int const*, float const*, int, int, int, int, float*, float*, "
     "__hip_bfloat16*, float, float, float const*, float const*, float const*, ck_tile::ComposedAttention<0u, false> "
     "const*)", "attention", "triton", True, "bf16", False),
    ("void paged_attention_ll4mi_reduce_kernel<__hip_bfloat16, __hip_bfloat16, 128, 128, 256, 8, false>(__hip_bfloat16*, "
     "float const*, float const*, __hip_bfloat16 const*, int const*, int const*, int, int, float const*)", "attention",
     "triton", False, "bf16", True),  # the partition combine pass
    ("kernel_unified_attention_2d", "attention", "triton", True, None, False),  # vLLM Triton: dtype from the op
    # MIOpen
    ("igemm_fwd_gtcx3_nhwc_bf16_bx0_ex1_bt128x64x32_wt32x32x8_ws1x1_wr1x2_ta1x16x1x1_1x2x4x32_tb1x8x1x1_1x4x1x64_pta",
     "conv", "miopen", True, "bf16", False),  # resnet18 MI300X
    ("igemm_wrw_gtcx2_nhwc_bf16_bx0_ex1_bt128x128x16_wt32x32x8_ws1x1_wr2x2_ta1x4x1x2_1x4x1x64_tb1x4x1x2_1x4x1x64_gkgs",
     "conv", "miopen", True, "bf16", False),
    ("naive_conv_nonpacked_fwd_nchw_ushort_double_ushort", "conv", "miopen", False, "bf16", False),
    ("naive_conv_packed_bwd_nhwc_float_double_float", "conv", "miopen", False, "fp32", False),
    ("miopenSp3AsmConv_v21_1_3_gfx9_fp32_f2x3_stride1", "conv", "miopen", False, "fp32", False),  # Winograd, VALU
    ("MIOpenBatchNormFwdTrainSpatial", "norm", "miopen", False, None, False),  # normalization, not conv
    ("MIOpenBatchNormBwdSpatial", "norm", "miopen", False, None, False),
    ("Im2d2Col_v2", "conv", "miopen", False, None, True),  # im2col of a GEMM-based conv
    ("SubTensorOpWithScalar1d", "elementwise", "miopen", False, None, False),  # mi210: 9% of GPU time
    # Triton: Inductor kinds, triton_kernels MoE
    ("triton_poi_fused_addmm_gelu_view_17", "elementwise", "triton", False, None, False),  # epilogue of an extern mm
    ("triton_poi_fused__to_copy_add_addmm_cat_mean_mul_pow_rsqrt_view_9", "elementwise", "triton", False, None, False),
    ("triton__0d1d2d", "other", "triton", None, None, False),  # pre-2.1 Inductor: kind not in the name
    ("_matmul_ogs_NNT_bf16xbf16xmxfp4_128x128x128x1_swiglu", "gemm", "triton", True, "bf16", False),  # mxfp4 weights
    ("_combined_routing_compute", "elementwise", "aten", False, None, False),
    ("_sum_bitmatrix_rows", "reduction", "aten", False, None, False),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0][:50] for c in CASES])
def test_amd_and_triton_names(case):
    name, cat, lib, tc, dt, helper = case
    row = classify_kernels(pd.Series([name])).iloc[0]
    assert (row["category"], row["library"], row["tensor_core"], row["name_dtype"], row["is_helper"]) == \
        (cat, lib, tc, dt, helper)
