"""The legacy import path of Agent 5 and Agent 6 before 6.6:
`from checks import AgentCheck`."""

from datadog_checks.base import AgentCheck

__all__ = ["AgentCheck"]
