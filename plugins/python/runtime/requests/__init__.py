"""`requests`, as the runner's Python runtime provides it: the API custom
checks use (`get`, `post`, ..., `request`, `Session`, `Response`,
`exceptions`), sending through the runner (`wasi:http`, limited to the
instance's grant). The real `requests` cannot work in the sandbox: it
opens sockets and looks names up itself. TLS and proxies are the host's;
`verify`, `cert` and `proxies` are accepted and have no effect."""

from requests import exceptions
from requests.exceptions import (
    ConnectionError,
    ConnectTimeout,
    HTTPError,
    InvalidHeader,
    InvalidURL,
    ReadTimeout,
    RequestException,
    Timeout,
    TooManyRedirects,
)
from runner_http import CaseInsensitiveDict, Response

__all__ = [
    "ConnectTimeout",
    "ConnectionError",
    "HTTPError",
    "InvalidHeader",
    "InvalidURL",
    "ReadTimeout",
    "RequestException",
    "Response",
    "Session",
    "Timeout",
    "TooManyRedirects",
    "CaseInsensitiveDict",
    "delete",
    "exceptions",
    "get",
    "head",
    "options",
    "patch",
    "post",
    "put",
    "request",
]


def request(method, url, **kwargs):
    from datadog_checks.base.utils.http import decompressed
    import runner_http

    return decompressed(runner_http.request(method, url, **kwargs))


def get(url, params=None, **kwargs):
    return request("GET", url, params=params, **kwargs)


def options(url, **kwargs):
    return request("OPTIONS", url, **kwargs)


def head(url, **kwargs):
    kwargs.setdefault("allow_redirects", False)
    return request("HEAD", url, **kwargs)


def post(url, data=None, json=None, **kwargs):
    return request("POST", url, data=data, json=json, **kwargs)


def put(url, data=None, **kwargs):
    return request("PUT", url, data=data, **kwargs)


def patch(url, data=None, **kwargs):
    return request("PATCH", url, data=data, **kwargs)


def delete(url, **kwargs):
    return request("DELETE", url, **kwargs)


class Session(object):
    """A `requests.Session`: default `headers`, `auth` and `params` merged
    into every request (connections are the host's)."""

    def __init__(self):
        self.headers = CaseInsensitiveDict([("Accept", "*/*"), ("Accept-Encoding", "gzip, deflate")])
        self.auth = None
        self.params = {}
        self.verify = True

    def request(self, method, url, **kwargs):
        headers = dict(self.headers)
        headers.update(kwargs.pop("headers", None) or {})
        params = dict(self.params)
        params.update(kwargs.pop("params", None) or {})
        kwargs.setdefault("auth", self.auth)
        return request(method, url, headers=headers, params=params or None, **kwargs)

    def get(self, url, **kwargs):
        return self.request("GET", url, **kwargs)

    def options(self, url, **kwargs):
        return self.request("OPTIONS", url, **kwargs)

    def head(self, url, **kwargs):
        kwargs.setdefault("allow_redirects", False)
        return self.request("HEAD", url, **kwargs)

    def post(self, url, data=None, json=None, **kwargs):
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url, data=None, **kwargs):
        return self.request("PUT", url, data=data, **kwargs)

    def patch(self, url, data=None, **kwargs):
        return self.request("PATCH", url, data=data, **kwargs)

    def delete(self, url, **kwargs):
        return self.request("DELETE", url, **kwargs)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
