"""Collective kernels of every current family are communication, and every spelling PyTorch records a
collective under has its kind (names.md §1). Names are real: NCCL/RCCL binaries and public profiles, PyTorch's
symmetric-memory kernels (CUDASymmetricMemoryOps.cu), vLLM/SGLang/aiter custom all-reduce, FlashInfer/TRT-LLM,
DeepEP, pplx, mori."""
import json

import pandas as pd
import pytest

from traceflops import analyze
from traceflops.kernels import classify_kernels
from traceflops.kernels.comm import collective_kind

SYMM_MEM_ALL_REDUCE = ("void (anonymous namespace)::multimem_all_reduce_kernel<c10::BFloat16, 16>(c10::BFloat16*, "
                       "unsigned long, unsigned int**, unsigned long, unsigned long)")
COMM = [
    # (kernel name, library, dtype hint: only reduction kernels carry the message's element type)
    # NCCL >= 2.19 / RCCL
    ("ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)", "nccl", "bf16"),
    ("ncclDevKernel_ReduceScatter_Sum_f32_RING_LL", "nccl", "fp32"),
    ("ncclDevKernel_AllGather_RING(ncclDevKernelArgsStorage<4096ul>)", "nccl", None),
    ("ncclDevKernel_Generic_4(ncclDevKernelArgsStorage<4096ul>)", "nccl", None),
    ("ncclDevKernel_Generic(ncclDevComm*, channelMasks, ncclWork*)", "nccl", None),
    # NCCL >= 2.27 symmetric kernels
    ("ncclSymkDevKernel_AllReduce_AGxLL_R_sum_bf16(ncclSymkDevWorkArgs4K)", "nccl", "bf16"),
    # NCCL 2.8-2.18 (shared traces) and <= 2.7
    ("ncclKernel_AllReduce_RING_LL_Sum_float(ncclWorkElem)", "nccl", "fp32"),
    ("ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t(ncclDevComm*, unsigned long, ncclWork*)", "nccl", None),
    ("ncclKernel_Broadcast_RING_LL_Sum_int8_t(ncclDevComm*, unsigned long, ncclWork*)", "nccl", None),
    ("ncclKernel_AllReduce", "nccl", None),
    ("ncclAllReduceRingLLKernel_sum_f32(ncclColl)", "nccl", "fp32"),
    # MSCCL (RCCL)
    ("mscclKernel_Sum_half_Simple_false(ncclDevComm*, mscclAlgo*, mscclWork*)", "msccl", "fp16"),
    ("mscclKernel_Sum_hip_bfloat16_Simple_false", "msccl", "bf16"),
    # custom all-reduce: vLLM, SGLang, aiter
    ("void vllm::cross_device_reduce_1stage<__nv_bfloat16, 8>(vllm::RankData*, vllm::RankSignals, vllm::Signal*, "
     "__nv_bfloat16*, int, int)", "vllm", "bf16"),
    ("void sglang::cross_device_reduce_2stage<__half, 8>(sglang::RankData*, sglang::RankSignals, sglang::Signal*, "
     "__half*, int, int)", "sglang", "fp16"),
    ("void aiter::cross_device_reduce_2stage<bf16,8,false>", "aiter", "bf16"),
    # QuickReduce (vLLM / aiter, ROCm)
    ("void quickreduce::allreduce_prototype_twoshot<quickreduce::CodecFP<__hip_bfloat16>, __hip_bfloat16, 8>"
     "(quickreduce::CodecFP<__hip_bfloat16>::Params)", "quickreduce", "bf16"),
    # TRT-LLM / FlashInfer
    ("void flashinfer::trtllm_allreduce_fusion::allreduce_fusion_kernel_oneshot_lamport<(flashinfer::"
     "trtllm_allreduce_fusion::AllReduceFusionPattern)1, __nv_bfloat16, 8, false, false>(flashinfer::"
     "trtllm_allreduce_fusion::AllReduceFusionParams)", "trtllm", "bf16"),
    ("void oneshotAllreduceFusionKernel<8, __nv_bfloat16, true, float4>(__nv_bfloat16*, __nv_bfloat16*, "
     "__nv_bfloat16 const*, __nv_bfloat16 const*, __nv_bfloat16 const*, __nv_bfloat16**, __nv_bfloat16*)", "trtllm", "bf16"),
    ("void rmsNormLamport<__nv_bfloat16, 1, 8>(__nv_bfloat16*, __nv_bfloat16*)", "trtllm", "bf16"),
    ("moeA2ADispatchKernel", "trtllm", None),
    # PyTorch symmetric memory (the kernels of symm_mem::multimem_all_reduce_ etc.)
    (SYMM_MEM_ALL_REDUCE, "symm_mem", "bf16"),
    ("void (anonymous namespace)::multimem_all_gather_kernel<16>(char*, char*, unsigned long, unsigned int**, "
     "unsigned long, unsigned long)", "symm_mem", None),
    ("void (anonymous namespace)::one_shot_all_reduce_kernel<c10::BFloat16, 16, 8>(c10::BFloat16**, c10::BFloat16*, "
     "unsigned long, unsigned long, unsigned int**, unsigned long, unsigned long)", "symm_mem", "bf16"),
    ("void (anonymous namespace)::two_shot_all_reduce_kernel<float, 16, 8>(float**, unsigned long, unsigned long, "
     "unsigned int**, unsigned long, unsigned long)", "symm_mem", "fp32"),
    # MoE all-to-all: DeepEP (demangled and mangled), pplx, mori
    ("void deep_ep::intranode::dispatch<8, 768, 8192>(int4*, float*, int*, long*, float*, int*, int*, int4 const*, "
     "float const*, long const*, float const*, bool const*, int const*, int, int, int, int, int, int, int, int, void**, "
     "int, int, int)", "deepep", None),
    ("void deep_ep::internode_ll::dispatch<true, 3, 10, 7168>(void*, float*, int*, long*, int*, void*, int*, void*, "
     "void const*, long const*, int*, int*, int*, int, int, int, int, int, int, int, int)", "deepep", None),
    ("_ZN7deep_ep9intranode8dispatchILi8ELi768ELi8192EEEvP4int4PfPiPlS3_S4_S4_PKS1_PKfPKlS9_PKbPKiiiiiiiiiPPviii",
     "deepep", None),
    ("void combineKernel<__nv_bfloat16, __nv_bfloat16, 8ul, true, true>(int, int)", "pplx", None),
    ("void mori::moe::EpDispatchIntraNodeKernel<__hip_bfloat16>(mori::moe::EpDispatchCombineArgs<__hip_bfloat16>)",
     "mori", None),
    ("dlslime::intranode_alltoall_kernel", "custom", None),
]


@pytest.mark.parametrize("name, lib, dtype", COMM, ids=[c[0][:48] for c in COMM])
def test_collective_kernels_are_communication(name, lib, dtype):
    row = classify_kernels(pd.Series([name])).iloc[0]
    assert (row["category"], row["library"], row["tensor_core"], row["name_dtype"], row["is_helper"]) == \
        ("comm", lib, False, dtype, False)


@pytest.mark.parametrize("name", [
    # local compute of the same stacks: not communication
    "void deep_ep::layout::get_dispatch_layout<256, 32, 8>(long const*, int*, int*, int*, bool*, int, int, int, int)",
    "void deep_ep::internode_ll::clean_low_latency_buffer<32>(int*, int, int*, int)",
    "void at::native::reduce_kernel<512, 1, at::native::ReduceOp<float, at::native::func_wrapper_t<float, "
     "at::native::sum_functor<float, float, float>::operator()(at::TensorIterator&)::{lambda(float, float)#1}>, "
     "unsigned int, float, 4> >(at::native::ReduceOp<float, at::native::func_wrapper_t<float, at::native::sum_functor"
     "<float, float, float>::operator()(at::TensorIterator&)::{lambda(float, float)#1}>, unsigned int, float, 4>)",
    "void repeat_f32_rows_for_reduce_scatter_kernel(float const*, float*, int, int)",
])
def test_local_kernels_of_comm_stacks_are_not_communication(name):
    assert classify_kernels(pd.Series([name])).iloc[0]["category"] != "comm"


KINDS = [
    # c10d ops and the `Collective name` arg
    ("c10d::allreduce_", "all_reduce"), ("c10d::allreduce_coalesced_", "all_reduce"),
    ("c10d::_allgather_base_", "all_gather"), ("c10d::allgather_into_tensor_coalesced_", "all_gather"),
    ("c10d::_reduce_scatter_base_", "reduce_scatter"), ("c10d::reduce_scatter_tensor_coalesced_", "reduce_scatter"),
    ("c10d::alltoall_base_", "all_to_all"), ("c10d::recv_any_source_", "recv"), ("c10d::monitored_barrier_", "barrier"),
    ("allreduce", "all_reduce"), ("_allgather_base", "all_gather"), ("all_to_allv", "all_to_all"),
    ("_broadcast_oop", "broadcast"), ("_reduce_oop", "reduce"), ("wait", "wait"),
    # backend record_functions (ProcessGroupNCCL profilingTitle, gloo, ucc, xccl, mpi)
    ("nccl:all_reduce", "all_reduce"), ("nccl:_all_gather_base", "all_gather"),
    ("nccl:all_reduce_coalesced", "all_reduce"), ("nccl:all_gather_into_tensor_coalesced", "all_gather"),
    ("nccl:_reduce_scatter_base", "reduce_scatter"), ("nccl:reduce_scatter_tensor_coalesced", "reduce_scatter"),
    ("nccl:_broadcast_oop", "broadcast"), ("nccl:_reduce_oop", "reduce"), ("nccl:all_to_all", "all_to_all"),
    ("nccl:send 0->1", "send"), ("nccl:recv 1<-0", "recv"), ("nccl:send", "send"),
    ("gloo:all_reduce", "all_reduce"), ("gloo:recvAnySource", "recv"), ("gloo:sparse_all_reduce", "all_reduce"),
    ("ucc:all_gather", "all_gather"), ("xccl:all_reduce", "all_reduce"), ("mpi:broadcast", "broadcast"),
    # functional collectives, current and torch 2.1-2.2 namespaces
    ("_c10d_functional::all_reduce_", "all_reduce"), ("_c10d_functional::all_reduce_coalesced", "all_reduce"),
    ("_c10d_functional::all_gather_into_tensor", "all_gather"),
    ("_c10d_functional::all_gather_into_tensor_out", "all_gather"),
    ("_c10d_functional::reduce_scatter_tensor", "reduce_scatter"),
    ("_c10d_functional::all_to_all_single", "all_to_all"), ("_c10d_functional::broadcast_", "broadcast"),
    ("_c10d_functional::wait_tensor", "wait"), ("_c10d_functional_autograd::all_to_all_single", "all_to_all"),
    ("c10d_functional::all_reduce", "all_reduce"), ("c10d_functional::all_gather_into_tensor", "all_gather"),
    ("_dtensor::shard_dim_alltoall", "all_to_all"),
    # symmetric memory
    ("symm_mem::multimem_all_reduce_", "all_reduce"), ("symm_mem::one_shot_all_reduce", "all_reduce"),
    ("symm_mem::two_shot_all_reduce_", "all_reduce"), ("symm_mem::multimem_one_shot_all_reduce_out", "all_reduce"),
    ("symm_mem::multimem_all_gather_out", "all_gather"), ("symm_mem::reduce_scatter_out", "reduce_scatter"),
    ("symm_mem::all_to_all_vdev", "all_to_all"), ("symm_mem::nvshmem_broadcast", "broadcast"),
    # serving stacks
    ("vllm::all_reduce", "all_reduce"), ("_C_custom_ar::all_reduce", "all_reduce"), ("sgl_kernel::all_reduce", "all_reduce"),
]


@pytest.mark.parametrize("name, kind", KINDS, ids=[k[0] for k in KINDS])
def test_collective_kind(name, kind):
    assert collective_kind(name) == kind


@pytest.mark.parametrize("name", ["aten::gather", "aten::scatter", "aten::all", "nccl:coalesced", "vllm::gather",
                                  "_c10d_functional::batch_p2p_ops", "record_param_comms", None, ""])
def test_not_a_single_collective_kind(name):
    assert collective_kind(name) is None


def test_symm_mem_all_reduce_is_exposed_communication(tmp_path):
    """A symm_mem all-reduce alone on the GPU is exposed communication in the time breakdown, not compute."""
    ev = [
        {"ph": "X", "cat": "cpu_op", "name": "symm_mem::multimem_all_reduce_", "pid": 1, "tid": 1, "ts": 950, "dur": 20,
         "args": {"External id": 5, "Input Dims": [[4096, 4096], [], []], "Input type": ["c10::BFloat16", "", ""]}},
        {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1, "ts": 955, "dur": 5,
         "args": {"correlation": 5}},
        {"ph": "X", "cat": "kernel", "name": SYMM_MEM_ALL_REDUCE, "pid": 0, "tid": 7, "ts": 1000, "dur": 100.0,
         "args": {"correlation": 5, "device": 0, "stream": 7}},
    ]
    p = tmp_path / "symm.json"
    p.write_text(json.dumps({"traceEvents": ev}))
    a = analyze(p)
    assert a.kernels["category"].tolist() == ["comm"]
    b = a.summary["breakdown"]["totals"]
    assert b["comm_exposed_us"] == pytest.approx(100.0)
    assert b["flop_us"] == 0 and b["nonflop_us"] == 0
