"""Results for people and for programs: aligned, rounded text; JSON without float noise."""
from __future__ import annotations

import math
from typing import Any


def rounded(value: Any, digits: int = 6) -> Any:
    """Floats to `digits` significant digits, all the way down (0.4166666666666667 -> 0.416667):
    what a measurement can say, without the binary expansion's noise."""
    if isinstance(value, float):
        return value if not math.isfinite(value) or value == 0 else float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    return value


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    return str(value)


def flatten(result: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'as_first': {'wins': 2}} -> {'as_first.wins': 2}."""
    out: dict[str, Any] = {}
    for key, value in result.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def as_text(result: dict[str, Any]) -> str:
    """One aligned `name  value` line per figure, nested ones named with dots; 4 significant
    digits; a missing value is '-'."""
    flat = flatten(result)
    width = max(map(len, flat), default=0)
    return "\n".join(f"{k:<{width}}  {_cell(v)}" for k, v in flat.items())
