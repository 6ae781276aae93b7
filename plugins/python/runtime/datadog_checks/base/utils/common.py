"""Text and number helpers of `datadog_checks.base`."""

from decimal import ROUND_HALF_UP, Decimal


def ensure_bytes(s):
    """`s` as UTF-8 bytes."""
    if isinstance(s, str):
        return s.encode("utf-8")
    return s


def ensure_unicode(s):
    """`s` as text (bytes decoded as UTF-8)."""
    if isinstance(s, bytes):
        return s.decode("utf-8")
    return s


to_native_string = ensure_unicode


to_string = to_native_string


def round_value(value, precision=0, rounding_method=ROUND_HALF_UP):
    """Round half up (not Python's round-half-even)."""
    precision = "0.{}".format("0" * precision)
    return float(Decimal(str(value)).quantize(Decimal(precision), rounding=rounding_method))
