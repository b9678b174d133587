"""Formatting and escaping for view models: every value leaves here as safe, final text.

Usage::

    from dissect_report.render.fmt import esc, num, pct, versus
    esc("<b>")        # Markup('&lt;b&gt;')
    num(0.12345)      # '0.123'
    pct(0.5)          # '50%'
    versus(0.0396, 0.04)   # ('0.0396', '0.04'): never "0.040 < 0.04"
    fixed(-0.0004, 2)      # '0.00': a value that rounds to zero never reads "-0.00"
    few([3, 5, 9, 12], 2)  # '3, 5 and 2 more': a long list of ids in a console line
    usual_position("sky")  # 'at its usual position (mostly over sky)': a Paint brush's place
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from markupsafe import Markup, escape

DASH = "\u2013"


def esc(value: Any) -> Markup:
    """HTML-escape any model- or user-supplied value (quotes included)."""
    return escape(str(value))


def unsigned_zero(text: str) -> str:
    """``text`` without its minus sign when it reads as zero ("-0.00" -> "0.00"): a tiny
    negative value (or -0.0) rounded away must not look like a negative amount."""
    if text.startswith("-"):
        try:
            if float(text) == 0:
                return text[1:]
        except ValueError:
            pass
    return text


def num(value: float, digits: int = 3) -> str:
    """A float with ``digits`` significant digits; a dash for NaN/None; never "-0"."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return DASH
    # One format everywhere: significant digits, plain decimals down to 1e-4 (0.000656, not
    # 6.56e-04); only smaller values fall back to an exponent.
    return unsigned_zero(f"{value:.{digits}g}")


def fixed(value: float, places: int = 3) -> str:
    """A float with ``places`` decimals; a dash for NaN/None; never "-0.00"."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return DASH
    return unsigned_zero(f"{value:.{places}f}")


def few(items: Any, limit: int = 8) -> str:
    """The first ``limit`` of ``items`` and how many more: ``'3, 5, 9 and 40 more'``; all of
    them when there are at most ``limit`` (a console line never lists hundreds of ids)."""
    items = list(items)
    shown = ", ".join(map(str, items[:limit]))
    rest = len(items) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


def usual_position(context: Any) -> str:
    """Where a Paint brush's second measurement was taken (paint.json ``place``): the windows
    where its concept usually appears in the dissection's samples, ``context`` the concept that
    mostly covered them; e.g. ``usual_position("sky")`` -> "at its usual position (mostly over
    sky)"."""
    return f"at its usual position (mostly over {context})"


def pct(value: float, missing: str = DASH) -> str:
    """A share as a percentage; ``missing`` (a dash) for NaN/None.

    Whole percents, except that a share that is not 0 (or not 1) never reads "0%" (or
    "100%"): it gets the decimals that tell it apart (``pct(0.0004)`` is ``'0.04%'``), so a
    door's pixel fraction is never "0%" beside "55% removed" of it.
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return missing
    text = f"{100 * value:.0f}%"
    for places in range(1, 7):
        shown = float(text[:-1])
        if not ((shown == 0 and value != 0) or (shown == 100 and value != 1)):
            break
        text = f"{100 * value:.{places}f}%"
    return "0%" if text == "-0%" else text


def versus(value: float, bound: float, places: int = 3) -> tuple[str, str]:
    """``value`` and the ``bound`` it is compared with, as texts that never contradict it.

    The one rule for a number shown beside its comparison: ``value`` gets ``places`` decimals,
    more when rounding would make it equal the bound or cross it (0.0396 against a floor of
    0.04 reads "0.0396 < 0.04", never "0.040 < 0.04"). Usage::

        v, b = versus(row.iou, floor)    # ('0.0396', '0.04')
    """
    if value is None or bound is None or not math.isfinite(value) or not math.isfinite(bound):
        return fixed(value, places), num(bound)
    bound_text = num(bound)
    shown = float(bound_text)
    text = fixed(value, places)
    for more in range(places + 1, places + 10):
        read = float(text)
        if (value < bound) == (read < shown) and (value == bound) == (read == shown):
            break
        text = fixed(value, more)
    return text, bound_text


def seconds(value: Any) -> str:
    """A duration in seconds, e.g. ``12.3 s``."""
    try:
        return f"{float(value):.1f} s"
    except (TypeError, ValueError):
        return str(escape(str(value)))


_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})")


def yaml_str(value: str) -> Markup:
    """A YAML-safe double-quoted scalar of already-escaped HTML text (pure ASCII).

    JSON string syntax, except that a character beyond the BMP (an emoji) is written as
    YAML's ``\\UXXXXXXXX``: JSON's surrogate pair ``\\ud83c\\udf32`` would reach a YAML
    reader as two lone surrogates, which no page can then be encoded with.
    """
    text = json.dumps(str(value))
    return Markup(_PAIR.sub(lambda m: f"\\U{ord(_join(m)):08x}", text))


def _join(m: re.Match[str]) -> str:
    high, low = int(m.group(1), 16), int(m.group(2), 16)
    return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


def pretty_json(value: Any) -> Markup:
    """Indented JSON, HTML-escaped, for a ``<pre>`` block."""
    return esc(json.dumps(value, indent=2, sort_keys=True, default=str))
