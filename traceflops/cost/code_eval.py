"""Safe reading of the literals and size expressions of Inductor output code: nothing is executed.

`literal` is ast.literal_eval that tolerates the calls and names a decorator's arguments hold
(`DeviceProperties(...)`, `set()`); `evaluate` computes an integer size expression ('128*s0*s1', '(s0 + 1)//2',
'max(s0, 3)', 'arg3_1_size[0]') from a dict of symbol values, with + - * // % ** / and min/max/abs only.
"""
from __future__ import annotations

import ast
import math
import operator

def literal(node):
    """ast.literal_eval that tolerates calls (DeviceProperties(...), set()) and names (as '<name>')."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Dict):
        return {literal(k): literal(v) for k, v in zip(node.keys, node.values) if k is not None}
    if isinstance(node, (ast.List, ast.Tuple)):
        vals = [literal(e) for e in node.elts]
        return vals if isinstance(node, ast.List) else tuple(vals)
    if isinstance(node, ast.Set):
        return {repr(literal(e)) for e in node.elts}
    if isinstance(node, ast.Name):
        return {"True": True, "False": False, "None": None}.get(node.id, f"<{node.id}>")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = literal(node.operand)
        return -v if isinstance(v, (int, float)) else v
    if isinstance(node, ast.Call):
        return {"__call__": ast.unparse(node.func), **{kw.arg: literal(kw.value) for kw in node.keywords if kw.arg}}
    return ast.unparse(node)


POW_BITS = 256  # far above any size; an unbounded ** ('9**9**9**9') would run for ever


def _pow(a, b):
    a, b = operator.index(a), operator.index(b)  # integers only (numpy's too): a float ** has no size meaning
    if b < 0 or max(abs(a).bit_length(), 1) * b > POW_BITS:
        raise ValueError(f"{a!r} ** {b!r}")
    return a ** b


_BIN = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
        ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b, ast.Pow: _pow,
        ast.Div: lambda a, b: a / b}
FUNCS = {"max": max, "min": min, "abs": abs}


def evaluate(expr, env):
    """An integer size expression ('128*s0*s1', '(s0 + 1)//2', 'arg3_1_size[0]') under `env`, or None."""
    if isinstance(expr, bool):
        return None
    if isinstance(expr, int):
        return expr
    try:
        node = ast.parse(str(expr), mode="eval").body
        v = _ev(node, env)
        # inside the try: math.isfinite of an int too large for a float raises OverflowError
        return int(v) if isinstance(v, (int, float)) and math.isfinite(v) and float(v).is_integer() else None
    except (SyntaxError, KeyError, ValueError, TypeError, ZeroDivisionError, OverflowError, RecursionError,
            MemoryError):
        return None


def _ev(n, env):
    if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)) and not isinstance(n.value, bool):
        return n.value
    if isinstance(n, ast.Name):
        return env[n.id]
    if isinstance(n, ast.BinOp) and type(n.op) in _BIN:
        return _BIN[type(n.op)](_ev(n.left, env), _ev(n.right, env))
    if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
        v = _ev(n.operand, env)
        return -v if isinstance(n.op, ast.USub) else v
    if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in FUNCS and not n.keywords:
        return FUNCS[n.func.id](*[_ev(a, env) for a in n.args])
    if isinstance(n, ast.Subscript):
        return env[f"{ast.unparse(n.value)}[{_ev(n.slice, env)}]"]
    raise ValueError(ast.unparse(n))
