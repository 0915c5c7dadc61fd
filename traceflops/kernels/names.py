"""GPU kernel name -> category, library, tensor-core use, dtype hint, helper flag.

Rules are ordered; the first match wins. Each regex runs once per unique name.
Names checked against the shared traces (B300, MI300X, H100, A100, V100; see tests).
"""
from __future__ import annotations

import re

# (category, library, pattern); tensor-core use is decided separately
_RULES = [
    ("memset", "other", r"^Memset|^memset|_memset\b|\bmemset_kernel"),
    ("copy", "other", r"^Memcpy|^memcpy"),
    ("comm", "nccl", r"nccl(Dev)?Kernel|ncclKernel|^nccl"),
    ("comm", "rccl", r"rccl"),
    ("gemm", "triton", r"^triton_tem_"),
    ("fused", "triton", r"^triton_poi_fused_(?=.*(addmm|mm_|bmm|convolution))"),
    ("elementwise", "triton", r"^triton_poi_"),
    ("reduction", "triton", r"^triton_(red|per)_"),
    # attention before GEMM: FMHA kernels often contain "gemm"/"xmma" in their names
    ("attention", "flash", r"flash_fwd|flash_bwd|pytorch_flash::|flash::|FlashAttn|flash_attn"),
    ("attention", "cudnn", r"fmhaSm\d+|fmha_v\d|cudnn_generated_fort_native_sdpa|sdpa_fwd|sdpa_bwd"),
    ("attention", "ck", r"ck_tile.*Fmha|FmhaBatchPrefill|fmha_fwd|fmha_bwd|aiter::fmha"),
    ("attention", "aotriton", r"^attn_fwd|^attn_bwd|bwd_kernel_dk_dv|bwd_kernel_dq|^sage_fwd"),
    ("attention", "cutlass", r"fmha_cutlassF|fmha_cutlassB|AttentionKernel|attention_kernel_batched|fmha"),
    ("attention", "triton", r"unified_attention|paged_attention|_fwd_kernel_stage|decode_attention"),
    ("gemm", "cublas", r"splitKreduce|splitK_reduce"),
    ("gemm", "nvjet", r"^nvjet_"),
    ("gemm", "hipblaslt", r"^Cijk_.*_UserArgs|^Cijk_.*(BBS|HHS|SSS).*MT\d+x\d+x\d+"),
    ("gemm", "tensile", r"^Cijk_"),
    ("conv", "ck", r"grouped_conv_fwd|grouped_conv_bwd|conv_fwd_xdl|DeviceGroupedConv"),
    ("conv", "miopen", r"igemm_(fwd|bwd|wrw)|naive_conv|MIOpen|miopen"),
    ("conv", "cudnn", r"implicit_convolve|explicit_convolve|convolve_sgemm|xmma_fprop|xmma_dgrad|xmma_wgrad"
                      r"|cudnn::cnn|dgrad_engine|wgrad_alg|winograd|scudnn|hcudnn|cudnn_infer|cudnn_train"
                      r"|fprop_|dgrad|wgrad|conv2d_grouped|grouped_conv|igemm_fwd|igemm_bwd|igemm_wrw|conv_fwd"
                      r"|naive_conv|conv_bwd"),
    ("gemm", "cublas", r"xmma_gemm|sgemm|hgemm|dgemm|zgemm|cgemm|s884gemm|h884gemm|s1688gemm|h1688gemm"
                       r"|s16816gemm|h16816gemm|i8816gemm|gemv|gemmk1|gemmSN|cublasLt|cublas"),
    ("gemm", "cutlass", r"cutlass.*gemm|cutlass::Kernel|GemmUniversal|gemm_kernel"),
    ("gemm", "ck", r"ck::.*[Gg]emm|DeviceGemm|kernel_moe_gemm|GridwiseGemm|gemm_xdl"),
    ("gemm", "triton", r"_matmul_ogs|matmul_kernel|^bmm_|^gemm_|_gemm_|moe_gemm|fused_moe_kernel"),
    ("norm", "aten", r"layer_norm|LayerNorm|layernorm|rms_?norm|RMSNorm|Rmsnorm|group_norm|GroupNorm"
                     r"|batch_norm|bn_fw|bn_bw|BatchNorm|instance_norm|qknorm"),
    ("softmax", "aten", r"[Ss]oft[Mm]ax|softmax_warp|log_softmax"),
    ("copy", "aten", r"CatArrayBatchedCopy|direct_copy_kernel|copy_kernel|transpose|nchwToNhwc|nhwcToNchw"
                     r"|permute|reshape_and_cache|store_kvcache|set_kv_buffer|_to_copy|cast"),
    ("reduction", "aten", r"reduce_kernel|reduce_segments|ReduceOp|DeviceReduce|DeviceScan|cub::|cumsum|topk"
                          r"|TopK|sum_functor|norm_kernel|max_pool|avg_pool|argmax|bitonicSort|RadixSort"),
    ("elementwise", "aten", r"index_elementwise_kernel|indexSelect|index_select|gather|scatter|embedding"
                            r"|Embedding|index_put|vectorized_gather"),
    ("elementwise", "aten", r"elementwise_kernel|vectorized_elementwise|unrolled_elementwise|multi_tensor_apply"
                            r"|FillFunctor|fill_kernel|act_and_mul|silu|gelu|rotary|rope|Functor"),
]
_COMPILED = [(c, lib, re.compile(p)) for c, lib, p in _RULES]

_GEMM_TC = re.compile(r"tensorop|xmma|hmma|imma|s1688|s16816|h1688|h16816|h884|s884|i8816|wgmma|nvjet|sm\d{2}_"
                      r"|tf32|bf16|f16|fp8|e4m3|_MI\d+x\d+|MFMA|mfma|xdl|ck::|Fp32_t|Bfloat16|cutlass_\d+_tensorop")
_NO_TC = re.compile(r"sgemm|scudnn|gemv|simt|winograd|implicit_convolve|explicit_convolve|dgrad_engine"
                    r"|wgrad_alg|splitKreduce")
_DTYPES = [
    ("fp8", re.compile(r"fp8|e4m3|e5m2|F8|f8f6f4|_f8_|Float8", re.I)),
    ("fp4", re.compile(r"mxfp4|nvfp4|fp4|e2m1", re.I)),
    ("tf32", re.compile(r"tf32", re.I)),
    ("bf16", re.compile(r"bf16|bfloat16|bhalf|BBS|__nv_bfloat16|hip_bfloat16|DF16b", re.I)),
    ("fp16", re.compile(r"fp16|f16|half|HHS|h884|h1688|h16816|hgemm|__half", re.I)),
    ("int8", re.compile(r"i8816|int8|imma|s8s8")),
    ("fp32", re.compile(r"sgemm|SSS|scudnn|<float|s1688gemm|s884gemm|f32f32_f32|Float>")),
    ("fp64", re.compile(r"dgemm|<double|DDS")),
]
_HELPER = re.compile(r"splitKreduce|splitK_reduce|^Memset|memset|scalePackedTensor|nchwToNhwc|nhwcToNchw"
                     r"|convertTensor|cast_kernel|cast_to_fp8|_helper<|transpose_kernel|batched_transpose|epilogue::impl::globalKernel"
                     r"|_finalize_matmul_scatter|computeOffsets|GemmSerialReduce|cublasLt::.*[Rr]educe"
                     # attention-backward pre/post passes (rowsum(dO*O), dQ accumulator conversion): on an H100
                     # ncu counts every tensor op of a flash backward in the dq_dk_dv kernel (sample_traces/gpu)
                     r"|dot_do_o|convert_dq|convert_dkv|clear_dkvaccum|[Bb]wd_?[Pp]reprocess|[Bb]wd_?[Pp]ostprocess")


def _classify_one(name: str):
    if not isinstance(name, str) or not name:
        return ("other", "other", None, None, False)
    category, library = "other", "other"
    for c, lib, pat in _COMPILED:
        if pat.search(name):
            category, library = c, lib
            break
    if library == "other" and name.startswith(("void at::native", "at::native")):
        library = "aten"
    dtype = None
    for d, pat in _DTYPES:
        if pat.search(name):
            dtype = d
            break
    tc = None
    if category in ("gemm", "conv", "attention"):
        if _NO_TC.search(name):
            tc = False
        elif category == "attention" or _GEMM_TC.search(name):
            tc = True
        if name.startswith("Cijk_") and "_MI" in name:
            tc = True
    elif category in ("elementwise", "reduction", "norm", "softmax", "copy", "memset", "comm"):
        tc = False
    helper = bool(_HELPER.search(name)) or category == "memset"
    if helper and category == "attention":
        tc = False  # the pre/post passes of an attention backward are plain loads and stores
    return (category, library, tc, dtype, helper)


def classify_kernels(names):
    """Classify a Series of kernel names; returns a DataFrame with the same index."""
    import pandas as pd

    codes, uniques = pd.factorize(names, use_na_sentinel=True)
    rows = [_classify_one(u) for u in uniques]
    cols = ["category", "library", "tensor_core", "name_dtype", "is_helper"]
    table = pd.DataFrame(rows, columns=cols)
    none_row = pd.DataFrame([_classify_one(None)], columns=cols)
    table = pd.concat([table, none_row], ignore_index=True)
    import numpy as np
    codes = np.where(codes < 0, len(uniques), codes)
    out = table.iloc[codes].reset_index(drop=True)
    out.index = names.index
    out["tensor_core"] = out["tensor_core"].astype(object).where(out["tensor_core"].notna(), None)
    out["name_dtype"] = out["name_dtype"].astype(object).where(out["name_dtype"].notna(), None)
    out["is_helper"] = out["is_helper"].astype(bool)
    return out
