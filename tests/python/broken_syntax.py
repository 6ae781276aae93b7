from datadog_checks.base import AgentCheck


class BrokenCheck(AgentCheck):
    def check(self, instance)
        self.gauge("never", 1)
