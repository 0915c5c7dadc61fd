"""Number helpers shared by every stage that reads loosely typed trace values."""
import math


def finite_or_none(x):
    """float(x) when it is a finite number (or numeric string), else None."""
    try:
        x = float(x)
    except (TypeError, ValueError, OverflowError):
        return None
    return x if math.isfinite(x) else None
