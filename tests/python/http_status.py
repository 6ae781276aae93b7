# Reads nginx's stub_status page with self.http (the instance's `url`, the
# endpoint it is granted) and with `requests`, and tries an endpoint it is
# not granted (`other_url`).
import re

import requests
from datadog_checks.base import AgentCheck


class HttpStatusCheck(AgentCheck):
    def check(self, instance):
        response = self.http.get(instance["url"])
        response.raise_for_status()
        active = int(re.search(r"Active connections:\s+(\d+)", response.text).group(1))
        self.gauge("http_status.active", active, tags=["via:self.http"])
        self.gauge("http_status.code", response.status_code, tags=["via:self.http"])

        # The same through the runtime's `requests`, with basic auth.
        private = requests.get(instance["private_url"], auth=(instance["user"], instance["password"]), timeout=5)
        self.gauge("http_status.code", private.status_code, tags=["via:requests"])
        anonymous = requests.get(instance["private_url"], timeout=5)
        self.gauge("http_status.code", anonymous.status_code, tags=["via:requests-anonymous"])

        try:
            self.http.get(instance["other_url"])
        except requests.exceptions.ConnectionError as e:
            self.service_check("http_status.other", AgentCheck.CRITICAL, message=str(e))
        else:
            self.service_check("http_status.other", AgentCheck.OK)
