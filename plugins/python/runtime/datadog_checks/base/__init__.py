"""`datadog_checks.base`: what custom checks import from it."""

from datadog_checks.base.checks import AgentCheck
from datadog_checks.base.config import is_affirmative
from datadog_checks.base.errors import CheckException, ConfigurationError
from datadog_checks.base.utils.common import ensure_bytes, ensure_unicode, round_value, to_native_string, to_string

__all__ = [
    "AgentCheck",
    "CheckException",
    "ConfigurationError",
    "ensure_bytes",
    "ensure_unicode",
    "is_affirmative",
    "round_value",
    "to_native_string",
    "to_string",
]
