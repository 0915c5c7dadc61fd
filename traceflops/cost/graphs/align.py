"""Alignment of a replay's kernel sequence with a reference window (a capture, or an eager step).

A kernel's key is (name, grid, block); keys agree when the names are equal and grid/block are equal where both
sides have them. `graph_confidence` is the share of the replay that agrees, divided by the number of distinct
candidate windows that fit equally well but would give different costs.
"""
import difflib

MIN_EAGER_SCORE = 0.6  # an eager window must agree on at least this share of the replay to be used

def kernel_key(name, grid, block):
    return (name, grid if isinstance(grid, str) else None, block if isinstance(block, str) else None)


def agree(a, b):
    """Name equal; grid/block equal where both sides have them."""
    return a[0] == b[0] and all(x is None or y is None or x == y for x, y in zip(a[1:], b[1:]))


def align(replay, ref):
    """Pairs (i_replay, j_ref) aligning two key sequences, and the share of the replay that agrees."""
    if not replay or not ref:
        return [], 0.0
    if len(replay) == len(ref) and all(r[0] == f[0] for r, f in zip(replay, ref)):
        pairs = list(zip(range(len(replay)), range(len(ref))))
    else:
        sm = difflib.SequenceMatcher(None, [r[0] for r in replay], [f[0] for f in ref], autojunk=False)
        pairs = [(b.a + t, b.b + t) for b in sm.get_matching_blocks() for t in range(b.size)]
    good = [(i, j) for i, j in pairs if agree(replay[i], ref[j])]
    return good, len(good) / len(replay)


def _signature(ref, rows):
    """What a reference window would give: distinct windows that give the same costs are no ambiguity."""
    sub = ref.iloc[rows]
    return tuple(map(tuple, sub[["op", "flops", "bytes", "input_dims"]].astype(str).to_numpy()))


def capture_ties(replay_keys, ref, ref_keys_by_win):
    """The capture windows that align best with one replay, as (score, window, pairs, rows), and how many
    distinct costs they would give; ([], 0) when none aligns at all."""
    best, scored = -1.0, []
    for w, (rows, keys_) in ref_keys_by_win.items():
        pairs, score = align(replay_keys, keys_)
        scored.append((score, w, pairs, rows))
        best = max(best, score)
    if best <= 0:
        return [], 0
    tied = [s for s in scored if s[0] >= best - 1e-12]
    sigs = {_signature(ref, [rows[j] for _, j in pairs]) + (tuple(i for i, _ in pairs),) for _, _, pairs, rows in tied}
    return tied, len(sigs)


def match_capture(tied, n_sigs, wins, ordinal):
    """The window of `tied` (capture_ties) the `ordinal`-th replay takes: (pairs as (i, ref row), confidence).
    `wins`: every capture window, sorted."""
    if not tied:
        return [], 0.0
    # Same number of captures as replays: the k-th replay most likely replays the k-th capture.
    target = wins[ordinal % len(wins)]
    score, w, pairs, rows = min(tied, key=lambda s: (abs(s[1] - target), s[1]))
    return [(i, rows[j]) for i, j in pairs], score / n_sigs


def match_eager(replay_keys, eager_keys, eager_names_pos):
    """Best window of the eager kernel sequence for one replay: (pairs (i, eager pos), score)."""
    L = len(replay_keys)
    starts = set()
    for i in range(min(L, 4)):
        for p in eager_names_pos.get(replay_keys[i][0], ()):
            if p - i >= 0:
                starts.add(p - i)
    best, best_start = 0.0, None
    for s in sorted(starts):
        window = eager_keys[s:s + L]
        if len(window) < L:
            continue
        score = sum(agree(a, b) for a, b in zip(replay_keys, window)) / L
        if score > best + 1e-12:
            best, best_start = score, s
    if best_start is None or best < MIN_EAGER_SCORE:
        return [], 0.0
    pairs = [(i, best_start + i) for i in range(L) if agree(replay_keys[i], eager_keys[best_start + i])]
    return pairs, best
