"""cost/code_eval.py: literals of Inductor decorators and integer size expressions, read without executing.

The decorator text is what Inductor writes in output code (`triton_meta={...}`, `inductor_meta={...}` with
DeviceProperties(...) calls, sets, negative numbers, names); the expected values are what Python's own
evaluation of the same text gives for the parts literal() keeps.
"""
import ast

import pytest

from traceflops.cost.code_eval import evaluate, literal


def lit(text):
    return literal(ast.parse(text, mode="eval").body)


def test_literal_keeps_the_structure():
    meta = lit("{'signature': {'in_ptr0': '*bf16', 'xnumel': 'i32'}, 'device': DeviceProperties(type='cuda', "
               "index=0, cc=90), 'constants': {}, 'configs': [{(0,): [['tt.divisibility', 16]]}], "
               "'mutated_arg_names': ['in_out_ptr0'], 'num_warps': -4, 'autotune_hints': set(), "
               "'tags': {'a', 'b'}, 'flag': True, 'none': None, 'kind': triton_heuristics.pointwise}")
    assert meta["signature"] == {"in_ptr0": "*bf16", "xnumel": "i32"}
    assert meta["device"] == {"__call__": "DeviceProperties", "type": "cuda", "index": 0, "cc": 90}
    assert meta["configs"] == [{(0,): [["tt.divisibility", 16]]}]
    assert meta["mutated_arg_names"] == ["in_out_ptr0"] and meta["num_warps"] == -4
    assert meta["autotune_hints"] == {"__call__": "set"}
    assert meta["tags"] == {"'a'", "'b'"}  # a set of reprs (hashable whatever its items)
    assert meta["flag"] is True and meta["none"] is None
    assert meta["kind"] == "triton_heuristics.pointwise"  # an attribute: its text


def test_literal_names_and_other_nodes():
    assert lit("XBLOCK") == "<XBLOCK>" and lit("False") is False
    assert lit("-XBLOCK") == "<XBLOCK>"  # a negated name stays the name
    assert lit("(1, 2.5)") == (1, 2.5)
    assert lit("{**base, 'x': 1}") == {"x": 1}  # a ** entry has no key
    assert lit("a + b") == "a + b"
    assert lit("f(1, k=2)") == {"__call__": "f", "k": 2}


@pytest.mark.parametrize("expr,env,want", [
    ("128*s0*s1", {"s0": 2, "s1": 3}, 768),
    ("(s0 + 1)//2", {"s0": 5}, 3),
    ("-s0 + 10", {"s0": 4}, 6),
    ("+s0", {"s0": 4}, 4),
    ("s0 % 3 + 2**s1", {"s0": 7, "s1": 4}, 17),
    ("max(s0, 3) * min(s1, 2) - abs(-5)", {"s0": 1, "s1": 9}, 1),
    ("s0 / 2", {"s0": 8}, 4),           # a true division that is an integer
    ("arg3_1_size[0] * 2", {"arg3_1_size[0]": 7}, 14),
    (12, {}, 12),                       # already an int
])
def test_evaluate(expr, env, want):
    assert evaluate(expr, env) == want


@pytest.mark.parametrize("expr,env", [
    ("s0 / 2", {"s0": 3}),               # not an integer
    ("s0", {}),                          # unknown symbol
    ("max(s0, key=1)", {"s0": 1}),       # keywords are not allowed
    ("len(s0)", {"s0": 1}),              # only max/min/abs
    ("s0 ** 1000 / 1.5", {"s0": 10}),    # overflow
    ("(", {}),                           # no expression
    (True, {}),                          # a bool is no size
    ("1 if s0 else 2", {"s0": 1}),       # no conditionals
])
def test_evaluate_refuses(expr, env):
    assert evaluate(expr, env) is None
