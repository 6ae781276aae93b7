from datadog_checks.base import AgentCheck
import yaml


class MissingModuleCheck(AgentCheck):
    def check(self, instance):
        self.gauge("never", len(yaml.safe_load("[1]")))
