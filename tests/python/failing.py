from datadog_checks.base import AgentCheck, ConfigurationError


class FailingCheck(AgentCheck):
    def __init__(self, name, init_config, instances):
        super().__init__(name, init_config, instances)
        if "divisor" not in self.instance:
            raise ConfigurationError("divisor is required")

    def check(self, instance):
        self.gauge("failing.before_error", 3)
        self.gauge("failing.ratio", ratio(instance))


def ratio(instance):
    return 10 / instance["divisor"]
