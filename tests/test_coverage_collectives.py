"""Collective message sizes at every level PyTorch records a collective (kernels/collectives.py): record_param_comms
named args and its 1.13-2.0 positional form, backend annotations with Input Dims (their all_gather size from the
enclosing ops), c10d ops incl. coalesced, functional collectives (current and 2.1-2.2 legacy), symm_mem and the
serving stacks' custom all-reduce."""
import json

import pandas as pd
import pytest

from traceflops.kernels import cost_ops, op_cost

F = "float"


def test_record_param_comms_named_args():
    c = op_cost("record_param_comms", [], [], [], {"collective": "_allgather_base", "in_msg_nelems": 1024,
                                                   "out_msg_nelems": 8192, "group_size": 8, "comm_dtype": "BFloat16"})
    assert c.comm_bytes == 8192 * 2 and c.busbw_factor == pytest.approx(7 / 8) and c.family == "comm"
    c = op_cost("record_param_comms", [], [], [], {"collective": "allreduce", "in_msg_nelems": 100,
                                                   "out_msg_nelems": 100, "group_size": 4, "comm_dtype": "Float"})
    assert c.bytes == 400 and c.busbw_factor == pytest.approx(1.5)


def test_record_param_comms_positional_generation():
    # 1.13-2.0 RECORD_PARAM_COMMS_DATA: (InputTensors, seq, pg, rank, colName, inSplit, outSplit), no named args;
    # the kind from the enclosing c10d op
    ops = pd.DataFrame({"name": ["c10d::alltoall_base_", "record_param_comms"],
                        "input_dims": [json.dumps([[6144], [6144], [], [], [], []]), json.dumps([[6144], [], [], [], [], [], []])],
                        "input_types": [json.dumps([F, F, "", "", "", "Scalar"]), json.dumps([F, "Scalar", "Scalar", "Scalar", "", "", ""])],
                        "parent": [-1, 0]})
    c = cost_ops(ops)
    assert c.at[1, "comm_bytes"] == 6144 * 4 and c.at[1, "family"] == "comm"


def _chain(rows):
    return pd.DataFrame({"name": [r[0] for r in rows], "input_dims": [json.dumps(r[1]) for r in rows],
                         "input_types": [json.dumps(r[2]) for r in rows], "parent": [r[3] for r in rows],
                         "cat": [r[4] if len(r) > 4 else "cpu_op" for r in rows]})


def test_annotation_all_gather_takes_the_group_from_the_c10d_op():
    # negative_queue...rank0: c10d::_allgather_base_(out [65536, 64], in [8192, 64], pg) > record_param_comms >
    # nccl:_all_gather_base (Input Dims: the shard only)
    ops = _chain([("c10d::_allgather_base_", [[65536, 64], [8192, 64], []], [F, F, ""], -1),
                  ("record_param_comms", [[], [], [], [], [], []], ["Scalar"] * 3 + [""] * 3, 0),
                  ("nccl:_all_gather_base", [[8192, 64]], [F], 1, "user_annotation")])
    c = cost_ops(ops)
    assert c.at[2, "comm_bytes"] == 65536 * 64 * 4 and c.at[2, "busbw_factor"] == pytest.approx(7 / 8)


@pytest.mark.parametrize("name,dims,types,bytes_", [
    ("nccl:all_reduce", [[394241]], [F], 394241 * 4),
    ("nccl:all_to_all", [[3145728]], [F], 3145728 * 4),
    ("nccl:all_reduce_coalesced", [[10], [20]], [F, F], 30 * 4),     # a coalesced group records each input
    ("gloo:all_reduce", [[8]], [F], 32),
    ("nccl:send 0->1", [[16]], [F], 64),                                # peers after a space
    ("xccl:broadcast", [[16]], ["c10::BFloat16"], 32),
    ("c10d::_reduce_scatter_base_", [[8192, 384], [65536, 384], [], [], []], [F, F, "", "", "Scalar"], 65536 * 384 * 4),
    ("c10d::alltoall_base_", [[6144], [6144], [], [], [], []], [F, F, "", "", "", "Scalar"], 6144 * 4),
    ("c10d::_allgather_base_", [[1073741824], [16777216], []], ["signed char"] * 2 + [""], 1073741824),
    ("_c10d_functional::all_gather_into_tensor", [[128, 64], [], []], [F, "Scalar", ""], 8 * 128 * 64 * 4),
    ("_c10d_functional::reduce_scatter_tensor", [[1024], [], [], []], [F, "", "Scalar", ""], 4096),
    ("_c10d_functional::all_reduce", [[1024], [], []], [F, "", ""], 4096),
    ("c10d_functional::all_gather_into_tensor", [[128], [], [], []], [F, "", "ScalarList", "Scalar"], 4 * 128 * 4),
    ("symm_mem::one_shot_all_reduce", [[1024], [], []], ["c10::BFloat16", "", ""], 2048),
    ("_C_custom_ar::all_reduce", [[], [256, 64], [256, 64], [], []], ["Scalar", "c10::Half", "c10::Half", "Scalar", "Scalar"], 256 * 64 * 2),
])
def test_message_sizes(name, dims, types, bytes_):
    conc = {"_c10d_functional::all_gather_into_tensor": ["", "8", ""],
            "_c10d_functional::reduce_scatter_tensor": ["", "sum", "4", ""],
            "c10d_functional::all_gather_into_tensor": ["", "", "[0, 1, 2, 3]", "4"]}.get(name, [""] * len(dims))
    c = op_cost(name, dims, types, conc)
    assert c.comm_bytes == bytes_ and c.bytes == bytes_ and c.flops is None


def test_tensorlist_message_without_dtype():
    # a TensorList's element type is never recorded: the size is known, the bytes are not (the annotation inside
    # the c10d op records the tensors with their type)
    c = op_cost("c10d::allreduce_", [[[8]], [], [], [], [], []], ["TensorList", "", "", "", "Scalar", "Scalar"], [""] * 6)
    assert c.bytes is None and "dtype not recorded" in c.note
    ops = _chain([("c10d::allreduce_coalesced_", [[[8], [4]], [], [], [], []], ["TensorList", "", "", "Scalar", "Scalar"], -1),
                  ("gloo:all_reduce", [[8], [4]], [F, F], 0, "user_annotation")])
    c = cost_ops(ops)
    assert c.at[1, "comm_bytes"] == 48 and pd.isna(c.at[0, "bytes"])  # counted once, on the annotation


def test_unrecorded_tensorlist_says_so():
    c = op_cost("c10d::allreduce_", [[], [], [], []], ["TensorList", "", "", "Scalar"], [])
    assert c.bytes is None and "TensorList shapes not recorded" in c.note
    assert op_cost("c10d::barrier", [[1], [], [], [], []], ["unsigned char", "", "ScalarList", "Scalar", "Scalar"], []).bytes == 0
