"""`AgentCheck.http`: the Agent's `RequestsWrapper`, configured from the
instance and `init_config` with the Agent's keys and defaults, sending
through the runner (`wasi:http`, limited to the instance's grant).

Keys read: `timeout` (10 s; `init_config.timeout` changes the default),
`connect_timeout`, `read_timeout`, `headers` (replaces the default
headers), `extra_headers` (adds to them), `username` and `password`
(basic auth), `auth_type` (`basic` only), `allow_redirects` (true). The
TLS, proxy and Kerberos keys are accepted and have no effect: TLS is the
host's, and there are no proxies in the sandbox.
"""

import gzip
import zlib

import runner_http
from datadog_checks.base.config import is_affirmative

DEFAULT_TIMEOUT = 10

DEFAULT_HEADERS = {
    "User-Agent": "Datadog Agent (runner)",
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
}


class RequestsWrapper(object):
    """`get`, `post`, `head`, `put`, `patch`, `delete`, `options_method`,
    each `(url, **options)` with the `requests` options (`params`, `data`,
    `json`, `headers`, `extra_headers`, `auth`, `timeout`,
    `allow_redirects`), which take precedence over the instance's."""

    def __init__(self, instance, init_config, remapper=None, logger=None):
        config = dict(instance or {})
        for name, spec in (remapper or {}).items():
            if name in config and spec.get("name"):
                value = config.pop(name)
                if spec.get("invert"):
                    value = not is_affirmative(value)
                config.setdefault(spec["name"], value)
        self.logger = logger
        default_timeout = (init_config or {}).get("timeout", DEFAULT_TIMEOUT)
        timeout = float(config.get("timeout", default_timeout))
        connect = config.get("connect_timeout")
        read = config.get("read_timeout")
        headers = dict(DEFAULT_HEADERS)
        if config.get("headers"):
            headers = {str(k): str(v) for k, v in dict(config["headers"]).items()}
        for key, value in dict(config.get("extra_headers") or {}).items():
            headers[str(key)] = str(value)
        auth = None
        auth_type = str(config.get("auth_type") or "basic").lower()
        if auth_type != "basic" and logger is not None:
            logger.warning("auth_type %s is not supported, defaulting to basic", auth_type)
        if config.get("username") is not None and config.get("password") is not None:
            auth = (str(config["username"]), str(config["password"]))
        self.options = {
            "auth": auth,
            "headers": headers,
            "timeout": (
                float(connect) if connect is not None else timeout,
                float(read) if read is not None else timeout,
            ),
            "allow_redirects": is_affirmative(config.get("allow_redirects", True)),
        }

    def get(self, url, **options):
        return self._request("GET", url, options)

    def post(self, url, **options):
        return self._request("POST", url, options)

    def head(self, url, **options):
        options.setdefault("allow_redirects", False)
        return self._request("HEAD", url, options)

    def put(self, url, **options):
        return self._request("PUT", url, options)

    def patch(self, url, **options):
        return self._request("PATCH", url, options)

    def delete(self, url, **options):
        return self._request("DELETE", url, options)

    def options_method(self, url, **options):
        return self._request("OPTIONS", url, options)

    def _request(self, method, url, options):
        extra_headers = options.pop("extra_headers", None)
        options.pop("persist", None)
        merged = dict(self.options)
        merged.update({k: v for k, v in options.items() if v is not None or k == "auth"})
        headers = dict(options.get("headers") or self.options["headers"])
        headers.update({str(k): str(v) for k, v in dict(extra_headers or {}).items()})
        merged["headers"] = headers
        return decompressed(runner_http.request(method, url, **merged))


def decompressed(response):
    """The response with a gzip or deflate body decoded, as `requests`
    does: the host hands bodies over as they came."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding == "gzip":
        response.content = gzip.decompress(response.content)
    elif encoding == "deflate":
        try:
            response.content = zlib.decompress(response.content)
        except zlib.error:
            response.content = zlib.decompress(response.content, -zlib.MAX_WBITS)
    return response
