"""Math mode (compute dtype, tensor-core use) of a GEMM/conv/attention kernel from its name, per library family.

Each family's grammar is in /work/research/names.md §2 (built from the vendor libraries' symbol names):
cuBLAS/cuDNN legacy SASS (`ampere_fp16_s16816gemm_fp16_…`), XMMA (`sm90_xmma_gemm_bf16bf16_bf16f32_f32_…`),
cuBLASLt nvjet, CUTLASS 2.x/3.x, hipBLASLt/Tensile `Cijk_*`, CK (demangled or Itanium-mangled), MIOpen,
Triton `matmul_ogs`, trtllm-gen. `math_mode(name)` returns (dtype, tensor_core) or None when no family
grammar matches; either field may be None (unknown from the name: the op's dtype decides).

dtype is the math the units run, which is what the peak must be: `tf32` for fp32 data on TF32 tensor cores,
`tf32x3` / `bf16x9` for fp32 emulated with 3 TF32 or 9 BF16 products (CUTLASS `3xtf32`, Blackwell `9xbf16`).
"""
from __future__ import annotations

import re

# cuBLAS / cuDNN legacy SASS: <arch>_[<C>_]<acc>[<mma>][<mid>]{gemm,cudnn}[_<AB>]  (NVIDIA linpack kernel tables)
_LEGACY = re.compile(
    r"(?:^|_)(?P<arch>maxwell|pascal|volta|turing|ampere|hopper)_(?:(?P<c>fp16|fp32|bf16|int8x4|uint8x4|int8|int32)_)?"
    r"(?P<acc>gc|gz|[shdicz])(?P<mma>\d{3,5})?(?P<mid>tf32|bf16|f16)?(?P<k>gemm|cudnn)(?:_sp)?"
    r"(?:_(?P<ab>fp16|bf16|int8x4|uint8x4|int8|tf32))?(?![a-z])")
_ACC = {"s": "fp32", "h": "fp16", "d": "fp64", "i": "int8", "c": "fp32", "gc": "fp32", "z": "fp64", "gz": "fp64"}
_WORD = {"fp16": "fp16", "f16": "fp16", "bf16": "bf16", "tf32": "tf32", "int8": "int8", "int8x4": "int8",
         "uint8x4": "int8", "fp32": "fp32"}


def _legacy(m):
    acc, mma, mid, ab = m["acc"], m["mma"], m["mid"], m["ab"]
    if not mma:  # no MMA shape: CUDA-core FFMA/HFMA2/DFMA/IDP4A; the data type is the suffix when it differs
        return _WORD.get(ab) or _ACC[acc], False
    if mid:
        return _WORD[mid], True
    if acc in ("h", "d", "i"):
        return _ACC[acc], True
    if ab in ("fp16", "bf16", "tf32", "int8"):
        return _WORD[ab], True
    # s-accumulate MMA on fp32 data: TF32 on Ampere+ (m16n8k8/m16n8k4); Volta/Turing down-convert to fp16
    return ("tf32" if m["arch"] in ("ampere", "hopper") else "fp16"), True


# XMMA: sm<NN>_xmma_<op>_<AB><D>_<mmaIn><acc>_<alpha>_…_{ffma|tensorMxNxK|warpgroupsize…}
_XT = r"(?:c?(?:bf16|tf32|f16|f32|f64|e4m3|e5m2|i8|i32|u8|s8))"
_XMMA = re.compile(rf"sm\d+_xmma_(?:sparse_)?(?:gemm|fprop|dgrad|wgrad|depthwise_convolution|conv)\w*?_"
                   rf"(?P<a>{_XT}+)_(?P<m>{_XT}+)_c?(?:f16|f32|f64|i32|bf16)_")
_XMMA_SIMT = re.compile(r"_[hd]?fma2?_|_ffma")
_XMMA_TC = re.compile(r"_tensor\d+x\d+x\d+|warpgroupsize|[hiqd]?gmma|_sptensor|_imma")
_XMMA_MATH = (("tf32", "tf32"), ("e4m3", "fp8"), ("e5m2", "fp8"), ("bf16", "bf16"), ("f16", "fp16"),
              ("i8", "int8"), ("u8", "int8"), ("s8", "int8"), ("f64", "fp64"), ("f32", "fp32"))


def _xmma(name, m):
    mm = m["m"].lstrip("c")
    dt = next((d for p, d in _XMMA_MATH if mm.startswith(p)), None)
    if _XMMA_SIMT.search(name) or dt == "fp32":
        return dt, False
    if dt == "fp64":  # DMMA only with a tensor tag; plain f64 is DFMA
        return dt, bool(_XMMA_TC.search(name))
    return dt, True if dt else None


# cuBLASLt nvjet_[smXX_]<type letters>_<tile>…: first letter is the A type (t bf16, h fp16, q fp8 e4m3);
# libcublasLt 12.9 has no fp32/tf32 nvjet instantiation
_NVJET = re.compile(r"^nvjet_(?:sm\d+[a-z]?_)?(?P<t>[a-z]{2,6})_\d")
_NVJET_T = {"t": "bf16", "h": "fp16", "q": "fp8"}

# CUTLASS 2.x: cutlass_[<sm>_]<opclass>_[<C>_]<acc><mma>[<mid>]<kind>[_<epi>]_[<A>]_<tile>… (gemm_operation.py)
_C2_TYPES = r"(?:bf16|f16|f32|f64|tf32|s8|u8|s4|u4|b1|e4m3|e5m2|s32)"
_CUTLASS2 = re.compile(
    rf"cutlass_(?:(?P<sm>\d+)_)?(?P<oc>wmma_tensorop|sptensorop|tensorop|simt)_(?:(?P<c>{_C2_TYPES})_)?"
    r"(?P<acc>gc|gz|[shdicz])(?P<mma>\d{3,6})?(?P<mid>3xtf32|fastf32|tf32|bf16|f16|and|xor)?"
    r"(?P<k>gemm|fprop|dgrad|wgrad|deconv|conv)(?P<rest>\w*)")
_C2_A = re.compile(rf"_(?P<a>{_C2_TYPES})_(?:\d+x\d+|optimized|analytic|unity|fixed|few|nhwc|nchw|ncxhwx)")
# int4 / binary MMAs (s4, u4, b1 `and`/`xor`) have no catalog peak: their dtype stays unknown
_C2_WORD = {"bf16": "bf16", "f16": "fp16", "tf32": "tf32", "s8": "int8", "u8": "int8", "s4": None, "u4": None,
            "b1": None, "and": None, "xor": None, "e4m3": "fp8", "e5m2": "fp8", "f64": "fp64", "3xtf32": "tf32x3",
            "fastf32": "tf32x3"}


def _cutlass2(m):
    oc, acc, mid, sm = m["oc"], m["acc"], m["mid"], m["sm"]
    if oc == "simt":
        return _ACC.get(acc), False
    if re.search(r"3xtf32|fastf32|fast_f32", m["rest"]):
        return "tf32x3", True
    a = _C2_A.search(m["rest"])
    a = a["a"] if a else None
    if mid:  # the MMA runs in the intermediate type (fp32 data with bf16/f16 "fast" math, tf32, 3xtf32)
        return _C2_WORD[mid], True
    if a in _C2_WORD and a != "f64":
        return _C2_WORD[a], True
    if acc in ("h", "d", "i", "z", "gz"):
        return _ACC[acc], True
    # tensorop, fp32 accumulate, fp32 A (cuBLAS's internal `cutlass_80_tensorop_s1688gemm_…`): only the TF32 MMA
    # takes fp32 operands; a pre-Ampere (70/75) kernel cannot issue TF32, so there the A type is unknown
    if sm is None or int(sm) >= 80:
        return "tf32", True
    return None, True


# CUTLASS templates without a procedural name (demangled `cutlass::gemm::kernel::GemmUniversal<…>`, or mangled
# `_ZN19cutlass_cudnn_train6KernelINS_4conv6kernel23ImplicitGemmConvolution…10tfloat32_t…MmaTensorOp…`)
_CT_T = ((re.compile(r"tfloat32_t"), "tf32"), (re.compile(r"bfloat16_t"), "bf16"),
         (re.compile(r"(?<![a-z])half_t"), "fp16"), (re.compile(r"float_e[45]m[23]_t"), "fp8"),
         (re.compile(r"float_e2m1_t"), "fp4"))
_CT_TC = re.compile(r"OpClassTensorOp|MmaTensorOp|TensorOpMultiplicand|OpClassWmmaTensorOp|GmmaWarpSpecialized"
                    r"|Sm90|Sm100")
_CT_SIMT = re.compile(r"OpClassSimt|MmaSimt")


def _cutlass_templated(name):
    dt = next((d for p, d in _CT_T if p.search(name)), None)
    tc = False if _CT_SIMT.search(name) else (True if _CT_TC.search(name) else None)
    return dt, tc


# CUTLASS 3.x: cutlass3x_sm<NN>_<opclass>_[<acc><MxNxK>][_<mid>]gemm[_block_scaled]_<A>_<B>_<acc>_<C>_<D>_…
_CUTLASS3 = re.compile(
    r"cutlass3x_sm\d+_(?P<oc>bstensorop|sptensorop|tensorop|simt)_(?:(?P<acc>[shdi])(?:\d+x\d+x\d+)?)?_?"
    r"(?P<mid>9xbf16|3xtf32|tf32|bf16|f16)?(?:[shdi]?gemm|conv\w*?)(?:_block_scaled)?_(?P<a>[a-z0-9]+?)_")
_C3_WORD = {"bf16": "bf16", "f16": "fp16", "tf32": "tf32", "f32": "tf32", "f64": "fp64", "s8": "int8", "u8": "int8",
            "e4m3": "fp8", "e5m2": "fp8", "f8": "fp8", "e2m1": "fp4", "f4": "fp4", "f6": "fp8", "e3m2": "fp8",
            "e2m3": "fp8", "9xbf16": "bf16x9", "3xtf32": "tf32x3"}


def _cutlass3(m):
    if m["oc"] == "simt":
        return {"s": "fp32", "d": "fp64", "h": "fp16", "i": "int8"}.get(m["acc"], "fp32"), False
    if m["mid"] in ("9xbf16", "3xtf32", "tf32"):
        return _C3_WORD[m["mid"]], True
    a = m["a"]
    if a.startswith("ue"):  # block-scaled: ue8m0xe4m3 (MXFP8), ue4m3xe2m1 (NVFP4): the element type after the x
        a = a.split("x", 1)[-1]
    return _C3_WORD.get(a), True


# hipBLASLt / Tensile: [Custom_]Cijk_<Aidx>_<Bidx>_[<A><B>_]<DataType>[<Dest><Compute>]_<flags>_MT…[_MI…]
# (ProblemType.__str__: A and B only when they differ from DataType; flags B = beta, H = HPA). No MI = VALU.
_CIJK = re.compile(r"^(?:Custom\w*?_)?Cijk_A[a-z]{3,4}_B[a-z]{3,4}_(?P<t>.*?)"
                   r"(?:_(?:MT\d|Bias|SAV|UserArgs|HA|GG|SPA|SPB|AmaxD)|$)")
_CIJK_CODE = re.compile(r"F8B8|B8F8|F8N|B8N|F8|B8|I8|4xi8|F4|F6|X|B|H|S|D|C|Z|I")
_CIJK_T = {"F8B8": "fp8", "B8F8": "fp8", "F8N": "fp8", "B8N": "fp8", "F8": "fp8", "B8": "fp8", "I8": "int8",
           "4xi8": "int8", "F4": "fp4", "F6": "fp4", "X": "tf32", "B": "bf16", "H": "fp16", "S": "fp32", "D": "fp64",
           "C": "fp32", "Z": "fp64", "I": None}
_CIJK_FLAGS = {"B", "BH", "H"}


def _cijk(name, m):
    segs = m["t"].split("_")
    codes = _CIJK_CODE.findall(segs[0])
    if len(codes) == 2 and len(segs) > 1 and segs[1] not in _CIJK_FLAGS and _CIJK_CODE.match(segs[1]):
        codes = _CIJK_CODE.findall(segs[1])  # mixed A/B inputs (`F8H_HHS`): the MFMA runs in DataType
    dt = _CIJK_T.get(codes[0]) if codes else None
    mfma = bool(re.search(r"_MI\d+x\d+", name))
    if dt == "fp32" and "MX" in segs[1:2]:
        dt = "tf32"  # fp32 through the xf32 MFMA (F32XdlMathOp)
    return dt, mfma


# CK: template types in order (ADataType first); bhalf_t is `unsigned short`, mangled `t`; __bf16 `DF16b`
_CK_DEM = re.compile(r"\b(ck::bhalf_t|unsigned short|ck::half_t|_Float16|__bf16|ck::f8_t|ck::bf8_t|ck::f8_fnuz_t"
                     r"|_BitInt\(8\)|signed char|int8_t|double|float)\b")
_CK_DEM_T = {"ck::bhalf_t": "bf16", "unsigned short": "bf16", "__bf16": "bf16", "ck::half_t": "fp16",
             "_Float16": "fp16",
             "ck::f8_t": "fp8", "ck::bf8_t": "fp8", "ck::f8_fnuz_t": "fp8", "_BitInt(8)": "fp8", "signed char": "int8",
             "int8_t": "int8", "double": "fp64", "float": "fp32"}
_CK_MANGLED = re.compile(r"(?:[IE]|S\w{0,2}_)(?P<run>(?:DF16b|DF16_|DB8_|DU8_|[tfdah]){3,})(?=N|S\w{0,2}_|E|I|L)")
_CK_MANGLED_T = (("DF16b", "bf16"), ("DF16_", "fp16"), ("DB8_", "fp8"), ("DU8_", "fp8"), ("t", "bf16"),
                 ("a", "int8"), ("d", "fp64"), ("f", "fp32"), ("h", "int8"))
_CK_VALU = re.compile(r"_dl_|GemmDl|gemm_dl|DeviceGemmDl")
_CK_TC = re.compile(r"xdl|Xdl|wmma|Wmma|mfma|Mfma|kernel_moe_gemm|MoeGemm|Fmha|fmha")


def _ck(name):
    dt = None
    m = _CK_DEM.search(name.split("<", 1)[1] if "<" in name else "")
    if m:
        dt = _CK_DEM_T[m.group(1)]
    else:
        m = _CK_MANGLED.search(name)
        if m:
            run = m["run"]
            dt = next(d for p, d in _CK_MANGLED_T if run.startswith(p))
    tc = False if _CK_VALU.search(name) else (True if _CK_TC.search(name) else None)
    return dt, tc


# MIOpen ASM implicit GEMM (gtcx* = xdlops/MFMA), naive reference convs, Winograd/direct VALU kernels
_MIOPEN_IGEMM = re.compile(r"^igemm_(?:fwd|bwd|wrw)_gtc(?P<x>x\d*)?_(?:nhwc|nchw|ncdhw|ndhwc)"
                           r"_(?P<t>fp32|fp16|bf16|int8)")
_MIOPEN_NAIVE = re.compile(r"^naive_conv_(?:ab_)?(?:non)?packed_(?:fwd|bwd|wrw)_n\w+?_"
                           r"(?P<t>float|half|ushort|bfloat16|int8_t|double)_")
_MIOPEN_OTHER = re.compile(r"gridwise_convolution|mlir_gen_igemm|MIOpenConv|MIOpenCv|miopenSp3AsmConv|miopenGcnAsm")
_MIOPEN_T = {"fp32": "fp32", "fp16": "fp16", "bf16": "bf16", "int8": "int8", "float": "fp32", "half": "fp16",
             "ushort": "bf16", "bfloat16": "bf16", "int8_t": "int8", "double": "fp64"}

# Triton GEMMs that name their types: triton_kernels `_matmul_ogs_<layout>_<A>x<B>x<W>_…` (A = activation type:
# a weight-only-quantized W is converted to A's type for the MMA), SGLang `_w8a8_block_fp8_matmul`
_OGS = re.compile(r"_matmul_ogs_[A-Z]{3}_(?P<a>[a-z0-9]+?)x")
_OGS_T = {"bf16": "bf16", "fp16": "fp16", "f16": "fp16", "fp32": "fp32", "f32": "fp32", "fp8": "fp8",
          "float8": "fp8", "e4m3": "fp8", "e5m2": "fp8", "mxfp8": "fp8", "mxfp4": "fp4"}

# trtllm-gen (TensorRT-LLM / FlashInfer, Blackwell): bmm_<Out>_<A><B>_<Acc>_t…, fmhaSm100fKernel_Qkv<T>O<T>…
_TG_T = r"(MxE2m1|MxE4m3|E2m1|E4m3|E5m2|Bfloat16|Fp16|Fp32|Fp8|Int8)"
_TG_BMM = re.compile(rf"^bmm_{_TG_T}_{_TG_T}")
_TG_FMHA = re.compile(rf"^fmhaSm\d+\w?Kernel_Q(?:kv)?{_TG_T}")
_TG_WORD = {"MxE2m1": "fp4", "E2m1": "fp4", "MxE4m3": "fp8", "E4m3": "fp8", "E5m2": "fp8", "Fp8": "fp8",
            "Bfloat16": "bf16", "Fp16": "fp16", "Fp32": "fp32", "Int8": "int8"}

# attention kernels that carry their element type in template arguments or the name
_ATTN_T = ((re.compile(r"float_e4m3_t|float_e5m2_t|\b(?:b?f8|fp8)_t\b|_fp8_|_fp8$|Float8_e"), "fp8"),
           (re.compile(r"cutlass::bfloat16_t|__nv_bfloat16|__hip_bfloat16|c10::BFloat16|\bbf16_t\b|_bf16|DF16b|bhalf"),
            "bf16"),
           (re.compile(r"cutlass::half_t|__half\b|_Float16|\bfp16_t\b|\bhalf_t\b|_fp16|c10::Half|DF16_"), "fp16"))


def _attention(name):
    # vLLM paged attention: <scalar_t, cache_t, Fp8KVCacheDataType)N …>; the math runs in scalar_t (the query)
    m = re.search(r"paged_attention\w*<(?:\d+, )?(?P<q>[\w:]+)", name)
    if m:
        return {"__hip_bfloat16": "bf16", "__nv_bfloat16": "bf16", "c10::BFloat16": "bf16", "uint16_t": "bf16",
                "__half": "fp16", "c10::Half": "fp16", "_Float16": "fp16", "float": "fp32"}.get(m["q"]), None
    return next((d for p, d in _ATTN_T if p.search(name)), None), None


def math_mode(name: str, category: str | None = None):
    """(dtype, tensor_core) from a GEMM/conv/attention kernel name's family grammar; None when none applies."""
    if re.match(r"(?:Custom\w*?_)?Cijk_", name):
        m = _CIJK.match(name)
        return _cijk(name, m) if m else (None, bool(re.search(r"_MI\d+x\d+", name)))
    for pat, parse in _FAMILIES:
        if (m := pat.search(name)) is not None:
            return parse(name, m)
    if _MIOPEN_OTHER.search(name):  # Winograd / direct / implicit-GEMM VALU kernels; `xdlops` variants use MFMA
        t = re.search(r"_(fp32|fp16|bf16|int8)(?![a-z0-9])", name)
        return (_MIOPEN_T[t.group(1)] if t else None), "xdlops" in name
    if re.search(r"_w8a8_block_fp8_matmul", name):
        return "fp8", True
    if category == "attention":
        return _attention(name)
    if re.search(r"\bck(?:_tile)?::|_ZN2ck|_ZN7ck_tile", name):
        return _ck(name)
    if re.search(r"\bcutlass::|_ZN\d+cutlass", name):
        return _cutlass_templated(name)
    if (m := _LEGACY.search(name)) is not None:
        return _legacy(m)
    return None


# first match wins; each parser gets (name, match)
_FAMILIES = [
    (_XMMA, _xmma),
    (_NVJET, lambda n, m: (_NVJET_T.get(m["t"][0]), True)),
    (_CUTLASS3, lambda n, m: _cutlass3(m)),
    (_CUTLASS2, lambda n, m: _cutlass2(m)),
    (_TG_BMM, lambda n, m: (_TG_WORD[m.group(2)], True)),
    (_TG_FMHA, lambda n, m: (_TG_WORD[m.group(1)], True)),
    (_MIOPEN_IGEMM, lambda n, m: (_MIOPEN_T[m["t"]], bool(m["x"]))),
    (_MIOPEN_NAIVE, lambda n, m: (_MIOPEN_T[m["t"]], False)),
    (_OGS, lambda n, m: (_OGS_T.get(m["a"]), True)),
]
