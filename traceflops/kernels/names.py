"""GPU kernel name -> category, library, tensor-core use, dtype hint, helper flag.

Rules are ordered; the first match wins. Each regex runs once per unique name. The grammars and the real
example of every rule are in /work/research/names.md (vendor symbol names and the shared-trace corpus);
tests/test_kernels_names.py, test_math_mode_*.py and test_comm_kernels.py hold one example per pattern.
Math mode (dtype, tensor cores) of GEMM/conv/attention kernels comes from their family grammar in
`mathmode.py`; other kernels get a dtype hint from their template arguments.
"""
from __future__ import annotations

import re

from .mathmode import math_mode

# collectives first: symm_mem's `multimem_all_reduce_kernel` would otherwise match `reduce_kernel`, FlashInfer's
# `rmsNormLamport` the norm rule (names.md §1c)
_COMM = [
    ("nccl", r"^nccl|ncclDevKernel|ncclKernel|ncclSymkDevKernel"),
    ("msccl", r"^mscclKernel_"),
    ("rccl", r"rccl"),
    ("custom_ar", r"cross_device_reduce_[12]stage|cross_device_(?:all_gather|reduce_scatter)"
                  r"|reduce_scatter_cross_device_store|reduce_scatter_split_(?:first|last|mid)dim"
                  r"|\ballgather_(?:vec|lastdim|naive)\b|fused_(?:qknorm_)?allreduce"),
    ("quickreduce", r"allreduce_prototype_(?:one|two)shot|quickreduce::"),
    ("trtllm", r"allreduce_fusion_kernel_(?:oneshot|twoshot)|(?:one|two)ShotAllReduceKernel"
               r"|(?:one|two)shot_allreduce_kernel|(?:one|two)shotAllreduce(?:Fusion)?Kernel|lamport_?(?:all_?reduce|AllReduce)"
               r"|mnnvl_lamport_(?:all_gather|reduce_scatter)|rmsNormLamport"),
    ("symm_mem", r"(?:^|[\s:])_?(?:multimem_(?:one_shot_)?all_reduce|multimem_all_gather|multimem_one_shot_reduce"
                 r"|one_shot_all_reduce|two_shot_all_reduce)_kernel"),
    ("custom", r"(?:^|[\s:])_?(?:reduce_scatter|all_gather|all_reduce)_kernel\b"),
    ("deepep", r"deep_ep::(?:intranode|internode|internode_ll)::(?:dispatch|combine|notify_dispatch|notify_combine"
               r"|cached_notify)\w*|nccl_ep::internode_ll::(?:dispatch|combine)"),
    ("trtllm", r"moeA2A(?:Dispatch|Combine)\w*Kernel"),
    ("custom", r"intranode_alltoall_kernel"),
    ("mori", r"\bEp(?:Dispatch|Combine)(?:IntraNode|InterNode)\w*Kernel"),
    ("pplx", r"^(?:void )?(?:dispatchKernel|combineKernel)<"),
    ("nvshmem", r"(?i:nvshmem)"),
]

# (category, library, pattern)
_RULES = [
    ("memset", "other", r"^Memset|^memset|_memset\b|\bmemset_kernel"),
    ("copy", "other", r"^Memcpy|^memcpy"),
    *(("comm", lib, p) for lib, p in _COMM),
    ("gemm", "triton", r"^triton_tem_"),
    # `triton_poi_fused_*addmm*` is the bias/activation epilogue of an extern mm kernel, not the GEMM itself
    ("elementwise", "triton", r"^triton_poi_"),
    ("reduction", "triton", r"^triton_(red|per)_"),
    ("other", "triton", r"^triton__\d"),  # pre-2.1 Inductor: kind not in the name
    # attention before GEMM: FMHA kernels often contain "gemm"/"xmma" in their names
    ("attention", "flash", r"flash_fwd|flash_bwd|pytorch_flash::|flash::|FlashAttn|flash_attn"),
    ("attention", "trtllm-gen", r"^fmhaSm\d+"),
    ("attention", "cudnn", r"fmha_v\d|cudnn_generated_fort_native_sdpa|cudnn_generated_fort_sass_sdpa|sdpa_fwd"
                           r"|sdpa_bwd"),
    ("attention", "ck", r"ck_tile.*Fmha|FmhaBatchPrefill|fmha_fwd|fmha_bwd|aiter::fmha"),
    ("attention", "aotriton", r"^attn_fwd|^attn_bwd|bwd_kernel_dk_dv|bwd_kernel_dq|^sage_fwd"),
    ("attention", "cutlass", r"fmha_cutlassF|fmha_cutlassB|AttentionKernel|attention_kernel_batched|fmha"),
    ("attention", "triton", r"unified_attention|paged_attention|_fwd_kernel_stage|decode_attention"),
    ("gemm", "cublas", r"splitKreduce|splitK_reduce"),
    ("gemm", "nvjet", r"^nvjet_"),
    ("gemm", "trtllm-gen", r"^bmm_(?:MxE2m1|MxE4m3|E2m1|E4m3|E5m2|Bfloat16|Fp16|Fp32|Fp8|Int8)_"),
    ("gemm", "hipblaslt", r"^(?:Custom\w*?_)?Cijk_.*(?:_UserArgs|_SAV|_Bias)|^Cijk_.*(BBS|HHS|SSS).*MT\d+x\d+x\d+"),
    ("gemm", "tensile", r"^(?:Custom\w*?_)?Cijk_"),
    ("norm", "miopen", r"MIOpenBatchNorm"),
    ("conv", "ck", r"grouped_conv_fwd|grouped_conv_bwd|conv_fwd_xdl|DeviceGroupedConv"),
    ("conv", "miopen", r"igemm_(fwd|bwd|wrw)|naive_conv|MIOpen|miopen|Im2d2Col|Col2Im|gridwise_convolution"
                       r"|mlir_gen_igemm_conv"),
    ("conv", "cudnn", r"implicit_convolve|explicit_convolve|convolve_sgemm|xmma_fprop|xmma_dgrad|xmma_wgrad"
                      r"|cudnn::cnn|dgrad_engine|wgrad_alg|winograd|[shi]\d{3,5}cudnn|[shi]cudnn|cudnn_infer"
                      r"|cudnn_train|fprop_|dgrad|wgrad|xmma_depthwise|conv2d_grouped|grouped_conv|conv_fwd|conv_bwd"
                      r"|^(?:void )?fft[12]d_"
                      r"|cask_cudnn|first_layer_filter|cudnn_generated_sass_conv|cudnn_causal_conv1d"),
    ("gemm", "cublas", r"xmma_(?:sparse_)?gemm|(?:maxwell|pascal|volta|turing|ampere|hopper)_\w*?gemm|sgemm|hgemm"
                       r"|dgemm|zgemm|cgemm|igemm_int8|s884gemm|h884gemm|s1688gemm|h1688gemm|s16816gemm|h16816gemm|i8816gemm|i16832gemm|s1684tf32gemm|gemv|gemmk1|gemmSN|cublasLt|cublas"
                       r"|cudnn_generated_sass_gemm"),
    ("norm", "cutedsl", r"^kernel_cutlass_kernel_\w*?[Nn]orm"),
    ("gemm", "cutlass", r"cutlass.*gemm|cutlass::Kernel|GemmUniversal|gemm_kernel"),
    ("gemm", "ck", r"ck::.*[Gg]emm|DeviceGemm|kernel_moe_gemm|GridwiseGemm|gemm_xdl"),
    ("gemm", "triton", r"_matmul_ogs|matmul_kernel|^gemm_|_gemm_|moe_gemm|fused_moe_kernel|_w8a8_block_fp8_matmul"),
    ("norm", "aten", r"layer_norm|LayerNorm|layernorm|rms_?norm|RMSNorm|Rmsnorm|group_norm|GroupNorm"
                     r"|batch_norm|bn_fw|bn_bw|BatchNorm|instance_norm|qknorm|RowwiseMoments|ComputeInternalGradients"
                     r"|Compute(?:Backward)?FusedParams|GammaBetaBackward|cuComputePartGradGammaBeta|cuComputeGradGammaBeta"
                     r"|cudnn_generated_layer_norm"),
    ("softmax", "aten", r"[Ss]oft[Mm]ax|softmax_warp|log_softmax"),
    ("copy", "aten", r"CatArrayBatchedCopy|direct_copy_kernel|copy_kernel|transpose|nchwToNhwc|nhwcToNchw"
                     r"|permute|reshape_and_cache|store_kvcache|set_kv_buffer|_to_copy|(?<!no)cast"),
    ("reduction", "aten", r"reduce_kernel|reduce_segments|ReduceOp|DeviceReduce|DeviceScan|cub::|cumsum|topk"
                          r"|TopK|sum_functor|norm_kernel|max_pool|avg_pool|average_pool|argmax|bitonicSort|RadixSort"
                          r"|nll_loss|ClassNLLCriterion|rocprim::|MoeSortingKernel|_sum_bitmatrix_rows"),
    ("elementwise", "fbgemm", r"fbgemm_gpu::|bounds_check_indices|linearize_index_kernel"),
    ("elementwise", "miopen", r"SubTensorOp"),
    ("elementwise", "cudnn", r"scalePackedTensor"),
    ("elementwise", "sageattention", r"sage_quant"),
    ("elementwise", "trtllm", r"moe::dev::finalize"),
    ("elementwise", "aten", r"index_elementwise_kernel|indexSelect|index_select|gather|scatter|embedding"
                            r"|Embedding|index_put|vectorized_gather|indexing_backward|compute_cuda_kernel<"),
    ("elementwise", "aten", r"elementwise_kernel|vectorized_elementwise|unrolled_elementwise|multi_tensor_apply"
                            r"|FillFunctor|fill_kernel|act_and_mul|silu|gelu|rotary|rope|Functor"
                            r"|upsample_|fused_dropout|distribution_elementwise|quantize"
                            r"|_combined_routing_compute"),
]
_COMPILED = [(c, lib, re.compile(p)) for c, lib, p in _RULES]

# name-only hints for kernels outside the GEMM/conv/attention grammars (template arguments, mostly)
_GEMM_TC = re.compile(r"tensorop|xmma|hmma|imma|s1688|s16816|h1688|h16816|h884|s884|i8816|wgmma|nvjet|sm\d{2}_"
                      r"|tf32|bf16|f16|fp8|e4m3|_MI\d+x\d+|MFMA|mfma|xdl|ck::|cutlass_\d+_tensorop")
_NO_TC = re.compile(r"sgemm|scudnn|hcudnn|gemv|simt|winograd|implicit_convolve|explicit_convolve|dgrad_engine"
                    r"|wgrad_alg|splitKreduce|gemmk1|gemmSN|dot_kernel|reduce_1Block|scal_kernel|fft[12]d_|_ffma")
_DTYPES = [
    ("fp8", re.compile(r"fp8|e4m3|e5m2|f8f6f4|_f8_|Float8", re.I)),
    ("fp4", re.compile(r"mxfp4|nvfp4|fp4|e2m1", re.I)),
    ("tf32", re.compile(r"tf32", re.I)),
    ("bf16", re.compile(r"bf16|bfloat16|bhalf|__nv_bfloat16|hip_bfloat16|DF16b", re.I)),
    ("fp16", re.compile(r"fp16|f16|half|__half", re.I)),
    ("int8", re.compile(r"int8|s8s8")),
    ("fp32", re.compile(r"<float|\bfloat>|f32f32_f32|Float>|sgemm|scudnn")),
    ("fp64", re.compile(r"<double|dgemm")),
]
# collectives: only reduction kernels carry the element type (NCCL >= 2.19 `_f32`/`_bf16`, 2.8-2.18
# `Sum_float`); Broadcast/SendRecv/AllGather name the byte-copy type (`int8_t`) or none
_COMM_REDUCES = re.compile(r"AllReduce|ReduceScatter|_Reduce_|all_reduce|allreduce|reduce_scatter|cross_device_reduce"
                           r"|quickreduce|Lamport|^mscclKernel_", re.I)
_COMM_T = [("bf16", re.compile(r"_bf16|<bf16\b|bfloat16|BFloat16")),
           ("fp16", re.compile(r"_f16(?![0-9])|_half(?![a-z])|__half\b|Half")),
           ("fp8", re.compile(r"f8e4m3|f8e5m2")), ("fp32", re.compile(r"_f32|_float\b|<float\b")),
           ("fp64", re.compile(r"_f64|_double\b")), ("int8", re.compile(r"_i8(?![0-9])|_u8(?![0-9])|int8_t|uint8_t"))]
_HELPER = re.compile(r"splitKreduce|splitK_reduce|^Memset|memset|scalePackedTensor|nchwToNhwc|nhwcToNchw"
                     r"|convertTensor|cast_kernel|cast_to_fp8|_helper<|transpose_kernel|batched_transpose|epilogue::impl::globalKernel"
                     r"|_finalize_matmul_scatter|computeOffsets|compute\w*OffsetsKernel|GemmSerialReduce|cublasLt::.*[Rr]educe"
                     r"|reduce_wgrad_nchw_helper|im2col4d_kernel|Im2d2Col|Col2Im|ReduceSplitK|_PostGSU|PostGSU"
                     r"|generateWinogradTilesKernel|paged_attention\w*_reduce_kernel"
                     # split-KV attention: the combine pass merges the splits' partial outputs (a few adds per
                     # output element); the QK^T and PV work is in the split kernels
                     r"|splitkv_combine|fwd_combine_kernel|fmha_fwd_splitkv_combine|FmhaFwdSplitKVCombine"
                     # attention-backward pre/post passes (rowsum(dO*O), dQ accumulator conversion): on an H100
                     # ncu counts every tensor op of a flash backward in the dq_dk_dv kernel (sample_traces/gpu)
                     r"|dot_do_o|convert_dq|convert_dkv|clear_dkvaccum|[Bb]wd_?[Pp]reprocess|[Bb]wd_?[Pp]ostprocess")
_MANGLED_PART = re.compile(r"(\d+)")


def readable(name: str) -> str:
    """The name as the rules match it: the ROCm `.kd` code-object suffix dropped, and an Itanium-mangled name
    (`_ZN7deep_ep9intranode8dispatchILi8E…`) prefixed with its qualified function name (`deep_ep::intranode::
    dispatch`), so the same rules see demangled and mangled spellings (the template arguments stay mangled)."""
    name = name.removesuffix(".kd")
    if not name.startswith("_Z"):
        return name
    i = 3 if name.startswith("_ZN") else 2
    parts = []
    while i < len(name):
        m = _MANGLED_PART.match(name, i)
        if not m:
            break
        n, j = int(m.group(1)), m.end()
        if n <= 0 or j + n > len(name):
            break
        parts.append(name[j:j + n])
        i = j + n
    return ("::".join(parts) + " " + name) if parts else name


def _hint_dtype(name, category):
    if category == "comm":
        if not _COMM_REDUCES.search(name):
            return None
        return next((d for d, p in _COMM_T if p.search(name)), None)
    return next((d for d, p in _DTYPES if p.search(name)), None)


def _classify_one(raw):
    if not isinstance(raw, str) or not raw:
        return ("other", "other", None, None, False)
    name = readable(raw)
    category, library = "other", "other"
    for c, lib, pat in _COMPILED:
        if pat.search(name):
            category, library = c, lib
            break
    if library == "other" and name.startswith(("void at::native", "at::native")):
        library = "aten"
    if category == "comm" and library == "custom_ar":
        library = next((ns for ns in ("vllm", "sglang", "aiter") if f"{ns}::" in name), library)
    helper = bool(_HELPER.search(name)) or category == "memset"
    tc, dtype = None, None
    mm = math_mode(name, category) if category in ("gemm", "conv", "attention") and not helper else None
    if mm is not None:
        dtype, tc = mm
    else:
        dtype = _hint_dtype(name, category)
        if category in ("gemm", "conv", "attention"):
            if _NO_TC.search(name) or helper:
                tc = False
            elif category == "attention" or _GEMM_TC.search(name):
                tc = True
    if tc is None and category == "attention" and not helper:
        tc = True
    if category not in ("gemm", "conv", "attention", "fused", "other"):
        tc = False
    if helper:
        tc = False  # split-K reduces, layout/offset helpers, attention pre/post passes: plain loads and stores
    return (category, library, tc, dtype, helper)


def classify_kernels(names):
    """Classify a Series of kernel names; returns a DataFrame with the same index."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(names, use_na_sentinel=True)
    rows = [_classify_one(u) for u in uniques]
    cols = ["category", "library", "tensor_core", "name_dtype", "is_helper"]
    table = pd.DataFrame(rows, columns=cols)
    none_row = pd.DataFrame([_classify_one(None)], columns=cols)
    table = pd.concat([table, none_row], ignore_index=True)
    codes = np.where(codes < 0, len(uniques), codes)
    out = table.iloc[codes].reset_index(drop=True)
    out.index = names.index
    out["tensor_core"] = out["tensor_core"].astype(object).where(out["tensor_core"].notna(), None)
    out["name_dtype"] = out["name_dtype"].astype(object).where(out["name_dtype"].notna(), None)
    out["is_helper"] = out["is_helper"].astype(bool)
    return out
