# A typical custom check for the Python benchmark: parse a status payload
# (as an HTTP endpoint would return it) and submit 60 samples and a
# service check.
import json

from datadog_checks.base import AgentCheck

PAYLOAD = json.dumps(
    {
        "queues": [
            {"name": "queue-%d" % i, "depth": i * 3, "consumers": i % 4, "published": i * 1000}
            for i in range(20)
        ]
    }
)


class TypicalCheck(AgentCheck):
    __NAMESPACE__ = "typical"

    def __init__(self, name, init_config, instances):
        super().__init__(name, init_config, instances)
        self.runs = 0

    def check(self, instance):
        self.runs += 1
        stats = json.loads(PAYLOAD)
        tags = instance.get("tags", [])
        for queue in stats["queues"]:
            queue_tags = tags + ["queue:" + queue["name"]]
            self.gauge("queue.depth", queue["depth"], tags=queue_tags)
            self.gauge("queue.consumers", queue["consumers"], tags=queue_tags)
            self.monotonic_count("queue.published", queue["published"] + self.runs, tags=queue_tags)
        self.service_check("can_connect", AgentCheck.OK, tags=tags)
