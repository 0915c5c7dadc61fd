"""`Args`: a positional view of one op's recorded inputs (Input Dims, Input type, Concrete Inputs, extras)."""
from __future__ import annotations

import math

from .dtypes import NON_TENSOR, canonical, dtype_bytes

LISTS = ("TensorList", "GenericList")


def numel(shape) -> int:
    return math.prod(shape) if shape else 1


def _as_int(x):
    if isinstance(x, bool):
        return int(x)
    if isinstance(x, int):
        return x
    if isinstance(x, float) and x.is_integer():
        return int(x)
    raise ValueError(f"not an int: {x!r}")


def _is_shape(d):
    return isinstance(d, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in d)


def _unflatten(dims, types):
    """Torch 1.10-1.12 with list flattening wrote a list input's tensor shapes into Input Dims in its place
    (one entry per tensor, none for an empty list), so Input Dims is longer than Input type. With exactly one
    list input the list's shapes are the surplus entries from its position on: nest them back."""
    extra = len(dims) - len(types)
    lists = [i for i, t in enumerate(types) if t in LISTS]
    if extra <= 0 or len(lists) != 1:
        return dims
    i = lists[0]
    return dims[:i] + [dims[i:i + extra + 1]] + dims[i + extra + 1:]


class Args:
    """Positional view of one op's recorded inputs; every accessor tolerates missing data.

    Recording formats: `types` empty while dims are recorded (torch 1.8 wrote `Input dims` without types):
    `untyped`, a non-empty shape is a tensor of unknown dtype (a 0-dim tensor cannot be told from a scalar).
    TensorLists nested (>= 2.1), flattened into Input Dims (1.10-1.12), or `[]` (not recorded: 1.8-2.0).
    """

    __slots__ = ("dims", "types", "concrete", "extra", "untyped")

    def __init__(self, dims, types, concrete, extra=None):
        self.dims = dims if isinstance(dims, list) else []
        self.types = types if isinstance(types, list) else []
        self.concrete = concrete if isinstance(concrete, list) else []
        self.extra = extra or {}
        self.untyped = not self.types and bool(self.dims)
        if len(self.dims) > len(self.types) and self.types:
            self.dims = _unflatten(self.dims, self.types)

    def __len__(self):
        return len(self.dims)

    def type(self, i) -> str:
        """The recorded type of input i in its canonical spelling ('float', 'long int', ...), the marker as
        recorded for non-tensors ('Scalar', 'TensorList', '')."""
        t = self.types[i] if i < len(self.types) else ""
        if not isinstance(t, str):
            return ""
        return canonical(t) or t

    def is_tensor(self, i) -> bool:
        if self.untyped:
            return i < len(self.dims) and bool(self.dims[i]) and _is_shape(self.dims[i])
        return i < len(self.dims) and self.type(i) not in NON_TENSOR and dtype_bytes(self.type(i)) is not None

    def shape(self, i):
        """The shape of tensor input i (a 0-dim tensor gives []), or None when i is no tensor."""
        if not self.is_tensor(i):
            return None
        d = self.dims[i]
        return d if _is_shape(d) else None

    def tensor_list(self, i):
        """Shapes of a TensorList input, or None when they were not recorded (an empty list records as `[]`
        too, so `[]` reads as not recorded). A flat shape under a TensorList type is a one-tensor list."""
        if i >= len(self.dims) or self.type(i) not in LISTS:
            return None
        d = self.dims[i]
        if not isinstance(d, list) or not d:
            return None
        if _is_shape(d):  # a flattened list of one tensor (int lists record no dims, so this is a shape)
            return [d]
        if not all(_is_shape(s) for s in d):
            return None
        return d

    def list_not_recorded(self, i) -> bool:
        """Input i is a TensorList whose shapes this PyTorch version did not record."""
        return i < len(self.types) and self.type(i) in LISTS and self.tensor_list(i) is None

    def itemsize(self, i):
        return dtype_bytes(self.type(i))

    def nbytes(self, i):
        """Bytes of distinct elements of tensor input i (numel * element size, where a dimension with stride
        0 - an expand()ed view - counts once), None when unknown; absent optional tensors are 0."""
        if i < len(self.types) and self.type(i) == "" and (i >= len(self.dims) or self.dims[i] == []):
            return 0
        s, b = self.shape(i), self.itemsize(i)
        if s is None or b is None:
            return None
        st = self.strides(i)
        if st is not None and 0 in st:
            return numel([d for d, x in zip(s, st) if x != 0]) * b
        return numel(s) * b

    def strides(self, i):
        """Recorded strides of tensor input i (torch >= 2.1 with record_shapes), or None."""
        raw = self.extra.get("input_strides")
        st = raw[i] if isinstance(raw, list) and i < len(raw) else None
        s = self.shape(i)
        if not isinstance(st, list) or s is None or len(st) != len(s):
            return None
        if any(not isinstance(x, int) or isinstance(x, bool) for x in st):
            return None
        return st

    def raw(self, i) -> str:
        c = self.concrete[i] if i < len(self.concrete) else ""
        return c if isinstance(c, str) else ""

    def num(self, i, default=None):
        s = self.raw(i).strip()
        if s == "":
            return default
        if s in ("True", "False"):
            return 1.0 if s == "True" else 0.0
        try:
            return float(s)
        except ValueError:
            return default

    def int(self, i, default=None):
        v = self.num(i)
        if v is None or not math.isfinite(v) or not float(v).is_integer():
            return default
        return int(v)

    def bool(self, i, default=None):
        s = self.raw(i).strip()
        if s in ("True", "1", "true"):
            return True
        if s in ("False", "0", "false"):
            return False
        return default

    def ints(self, i, default=None):
        """Parse an int list such as '[1, 1]' (or a bare int)."""
        s = self.raw(i).strip()
        if not s:
            return default
        if s.startswith("[") and s.endswith("]"):
            body = s[1:-1].strip()
            if not body:
                return []
            try:
                return [_as_int(float(x)) for x in body.split(",")]
            except ValueError:
                return default
        v = self.int(i)
        return [v] if v is not None else default

    def bools(self, i, default=None):
        s = self.raw(i).strip()
        if not (s.startswith("[") and s.endswith("]")):
            return default
        out = []
        for x in s[1:-1].split(","):
            x = x.strip()
            if x not in ("True", "False"):
                return default
            out.append(x == "True")
        return out

    def tensor_idx(self):
        return [i for i in range(len(self.dims)) if self.shape(i) is not None]

    def nbytes_sum(self, idx, tensors_only=False):
        """Bytes of inputs `idx` (see nbytes) as a float, None when any is unknown. Positions past the recorded
        inputs add 0: older schemas lack trailing optional tensors. tensors_only: non-tensor inputs (Scalars
        among a schema's positions) add 0 instead of making the sum unknown."""
        total = 0
        for i in idx:
            if i >= len(self.dims) or (tensors_only and not self.is_tensor(i) and self.type(i) != ""):
                continue
            b = self.nbytes(i)
            if b is None:
                return None
            total += b
        return float(total)
