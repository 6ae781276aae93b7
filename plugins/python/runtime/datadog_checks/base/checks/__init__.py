from datadog_checks.base.checks.base import AgentCheck

__all__ = ["AgentCheck"]
