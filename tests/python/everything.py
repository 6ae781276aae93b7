from datadog_checks.base import AgentCheck, ConfigurationError, is_affirmative
from datadog_checks.base.errors import CheckException


class EverythingCheck(AgentCheck):
    __NAMESPACE__ = "everything"

    def __init__(self, name, init_config, instances):
        super().__init__(name, init_config, instances)
        self.runs = 0
        if not is_affirmative(self.instance.get("enabled", "yes")):
            raise ConfigurationError("enabled must be true")

    def check(self, instance):
        self.runs += 1
        base = ["check_name:" + self.name, "check_id:" + self.check_id, "factor:" + str(self.init_config["factor"])]
        self.gauge("gauge", 42.5, tags=base + ["kind:gauge"], device_name="sda")
        self.gauge("other_host", 1, hostname="db-1.example")
        self.gauge("raw.gauge", 7, raw=True)
        self.count("count", 2, tags=["kind:count"])
        self.count("count", 3, tags=["kind:count"])
        self.monotonic_count("monotonic", 10 if self.runs == 1 else 25)
        self.rate("rate", 100 * self.runs)
        for value in (1, 2, 3, 4, 5):
            self.histogram("histogram", value)
        self.historate("historate", 1000 * self.runs)
        self.increment("increment")
        self.gauge("not_a_number", "abc")
        self.service_check("can_connect", AgentCheck.CRITICAL, tags=["port:1"], message="refused on port 1")
        self.service_check("ok", self.OK)
        self.event({
            "timestamp": 1700000000,
            "msg_title": "Something happened",
            "msg_text": "It happened on run %d" % self.runs,
            "alert_type": "error",
            "priority": "low",
            "tags": ["source:everything"],
            "aggregation_key": "everything-1",
            "host": "db-1.example",
        })
        self.set_metadata("version", "1.2.3-rc.1+build.5")
        self.set_metadata("flavor", 42)
        self.warning("run %d: %s", self.runs, "careful")
        self.log.info("run %s done", self.runs)
