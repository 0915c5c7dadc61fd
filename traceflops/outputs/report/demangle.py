"""Short, readable kernel names for tables: `namespace::name<…>` from a mangled (`_Z…`) or demangled C++ name.

Only the qualified name is decoded: template arguments and the parameter list are skipped (balanced, by
the Itanium C++ ABI grammar) and shown as `<…>`, so no type needs to be rebuilt. Pure Python, no c++filt.
A name that does not parse is shortened by the same rules applied to its text, never dropped.
"""
import re

_OPERATORS = {"cl": "operator()", "ix": "operator[]", "eq": "operator==", "ne": "operator!=", "lt": "operator<",
              "gt": "operator>", "pl": "operator+", "mi": "operator-", "ml": "operator*", "dv": "operator/",
              "aS": "operator=", "ls": "operator<<", "rs": "operator>>", "nw": "operator new", "dl": "operator delete"}
_STD = {"St": "std", "Sa": "std::allocator", "Sb": "std::basic_string", "Ss": "std::string", "Si": "std::istream",
        "So": "std::ostream", "Sd": "std::iostream"}
_DIGITS = re.compile(r"\d+")


class _Fail(Exception):
    pass


def _source_name(s, i):
    m = _DIGITS.match(s, i)
    if not m:
        raise _Fail
    n = int(m.group())
    j = m.end()
    if j + n > len(s):
        raise _Fail
    name = s[j:j + n]
    return ("(anonymous namespace)" if name.startswith("_GLOBAL__N") else name), j + n


def _seq_end(s, i, chars="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
    """Index after `<seq-id>_` starting at i."""
    while i < len(s) and s[i] in chars:
        i += 1
    if i >= len(s) or s[i] != "_":
        raise _Fail
    return i + 1


def _skip(s, i, depth=1):
    """Index after the `E` that closes a construct opened before `i` (template args, nested names, literals,
    expressions, function types), skipping source names by their length."""
    n = len(s)
    while depth:
        if i >= n:
            raise _Fail
        c = s[i]
        if c.isdigit():
            i = _source_name(s, i)[1]
        elif c == "E":
            depth, i = depth - 1, i + 1
        elif c in "NIXJF":
            depth, i = depth + 1, i + 1
        elif c == "Z":  # local name: Z <encoding> E <entity>
            depth, i = depth + 1, i + 1
        elif c == "L":
            i = _literal(s, i + 1)
        elif c == "S":
            i = i + 2 if i + 1 < n and (s[i + 1] in "tabsiod") else _seq_end(s, i + 1)
        elif c == "T":
            if i + 1 < n and s[i + 1] in "nyp":  # template-param-decl (C++20 mangling): a type follows
                i += 2
            elif i + 1 < n and s[i + 1] == "t":
                depth, i = depth + 1, i + 2
            else:
                i = _seq_end(s, i + 1, "0123456789")
        elif c == "D":
            d = s[i + 1] if i + 1 < n else ""
            if d in "tTO":
                depth, i = depth + 1, i + 2
            elif d in "vBU":  # Dv<n>_ vector, DB/DU<n>_ bit-int
                i = _seq_end(s, i + 2, "0123456789")
            elif d == "F":  # DF<n>_ / DF<n>x / DF16b
                m = _DIGITS.match(s, i + 2)
                if not m:
                    raise _Fail
                i = m.end() + 1
            else:
                i += 2
        elif c == "A":
            i = _seq_end(s, i + 1, "0123456789")
        elif c == "f" and i + 1 < n and s[i + 1] == "p":
            i = _seq_end(s, i + 2, "0123456789rVK")
        elif c == "U" and i + 1 < n and s[i + 1] in "tl":
            if s[i + 1] == "l":
                depth, i = depth + 1, i + 2
            else:
                i = _seq_end(s, i + 2, "0123456789")
        else:
            i += 1
    return i


def _literal(s, i):
    """Index after a literal whose `L` is at i − 1: `L <type> <value> E`, or `L _Z <encoding> E`."""
    if s.startswith("_Z", i):
        return _skip(s, i + 2)
    if i < len(s) and s[i].isdigit():
        i = _source_name(s, i)[1]
    elif i < len(s) and s[i] == "N":
        i = _skip(s, i + 1)
    elif i < len(s) and s[i] == "D":
        i += 2
    else:
        i += 1
    while i < len(s) and s[i] != "E":
        i += 1
    if i >= len(s):
        raise _Fail
    return i + 1


def _unqualified(s, i, parts):
    """One component of a name at i; returns (text, next index)."""
    c = s[i] if i < len(s) else ""
    if c.isdigit():
        return _source_name(s, i)
    if c == "L":
        return _source_name(s, i + 1)
    # a constructor / destructor is named after its class: the last component (`std::allocator` -> `allocator`)
    cls = parts[-1].split("<")[0].rsplit("::", 1)[-1] if parts else ""
    if c == "C" and i + 1 < len(s) and s[i + 1] in "12345I":
        return (cls or "{ctor}"), i + 2
    if c == "D" and i + 1 < len(s) and s[i + 1] in "0125":
        return "~" + cls, i + 2
    if c == "U" and s.startswith("Ut", i):
        return "{unnamed type}", _seq_end(s, i + 2, "0123456789")
    if c == "U" and s.startswith("Ul", i):
        return "{lambda}", _seq_end(s, _skip(s, i + 2), "0123456789")
    if s[i:i + 2] in _OPERATORS:
        return _OPERATORS[s[i:i + 2]], i + 2
    raise _Fail


def _name(s, i):
    """(components, index) of the <name> at i."""
    parts = []
    if s.startswith("St", i):
        parts.append("std")
        i += 2
    if i < len(s) and s[i] == "N":
        i += 1
        while i < len(s) and s[i] in "rVKRO":
            i += 1
        while i < len(s) and s[i] != "E":
            if s[i] == "I":
                i = _skip(s, i + 1)
                if parts:
                    parts[-1] += "<…>"
            elif s[i:i + 2] in _STD:
                parts.append(_STD[s[i:i + 2]])
                i += 2
            elif s[i] == "B":  # abi tag
                i = _source_name(s, i + 1)[1]
            elif s[i] == "M":
                i += 1
            elif s[i] == "S":
                raise _Fail  # a substitution inside the name: would need the whole table
            else:
                text, i = _unqualified(s, i, parts)
                parts.append(text)
        if i >= len(s):
            raise _Fail
        return parts, i + 1
    if i < len(s) and s[i] == "Z":  # local name: the function, then the entity inside it
        outer, j = _name(s, i + 1)
        j = _skip(s, j)  # the function's parameters, up to the E
        if s.startswith("s", j):
            return outer + ["{string}"], j + 1
        inner, j = _name(s, j)
        return outer + inner, j
    text, i = _unqualified(s, i, parts)
    parts.append(text)
    if i < len(s) and s[i] == "I":
        i = _skip(s, i + 1)
        parts[-1] += "<…>"
    return parts, i


def demangle_name(mangled):
    """`ns::name<…>` of an Itanium-mangled name (`_Z…`, also `__Z…`), or None when it does not parse."""
    if not isinstance(mangled, str):
        return None
    s = mangled[1:] if mangled.startswith("__Z") else mangled
    if not s.startswith("_Z"):
        return None
    try:
        parts, i = _name(s, 2)
        if i < len(s) and _skip(s + "E", i) != len(s) + 1:  # the parameter types must use up the rest exactly
            return None
    except (_Fail, IndexError, ValueError):
        return None
    return "::".join(parts) if parts and all(parts) else None


def _strip_balanced(s, open_, close, keep):
    """`s` with every top-level open_…close span replaced by `keep`."""
    out, depth = [], 0
    for ch in s:
        if ch == open_:
            if depth == 0:
                out.append(keep)
            depth += 1
        elif ch == close and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _params_start(s):
    """Index of the `(` that opens the parameter list closing `s`, or None."""
    depth = 0
    for i in range(len(s) - 1, -1, -1):
        if s[i] == ")":
            depth += 1
        elif s[i] == "(":
            depth -= 1
            if depth == 0:
                return i
    return None


def short_name(name, limit=80):
    """A short readable kernel name: demangled, template arguments of C++ names as `<…>`, no parameter list, at most
    `limit` characters. Names that are not C++ (Triton, `Memcpy DtoD (Device -> Device)`) keep their text."""
    if not isinstance(name, str):
        return name
    demangled = demangle_name(name.strip())
    s = (demangled or name.strip()).replace("(anonymous namespace)", "\0")
    cpp = bool(demangled) or s.startswith("void ") or "::" in s  # only C++ names have template arguments to elide
    if s.startswith("void "):
        s = s[5:]
    s = re.sub(r"\)(\s*(const|volatile|&&|&|noexcept))+$", ")", s)  # a member function's qualifiers
    if s.endswith(")") and not demangled:  # a demangled name has no parameter list (its `operator()` stays)
        i = _params_start(s)
        if i and " " not in _strip_balanced(s[:i], "<", ">", "").strip():
            s = s[:i]  # a C++ function's parameter list; `Memcpy DtoD (Device -> Device)` keeps its words
    if cpp and "<" in s:
        s = _strip_balanced(s, "<", ">", "<…>")
    s = " ".join(s.replace("\0", "(anonymous namespace)").split())
    return s if len(s) <= limit else s[: limit - 1] + "…"
