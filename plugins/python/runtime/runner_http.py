"""A small synchronous HTTP client over `wasi:http`, behind both
`AgentCheck.http` and the `requests` module of the runtime.

Why not `requests` itself: it sits on urllib3 and sockets, which open
connections and look names up in the guest; in the runner the host makes
the request (`wasi:http`), limited to the instance's grant, and DNS is the
host's. So this module speaks the `requests` API (the part checks use)
and hands each request to the host.
"""

import base64
import json as jsonlib
import urllib.parse
from http import HTTPStatus

from componentize_py_types import Err
from wit_world.imports import outgoing_handler, streams
from wit_world.imports import types as wasi_http

READ_CHUNK = 64 * 1024
MAX_REDIRECTS = 10

_METHODS = {
    "GET": wasi_http.Method_Get(),
    "HEAD": wasi_http.Method_Head(),
    "POST": wasi_http.Method_Post(),
    "PUT": wasi_http.Method_Put(),
    "DELETE": wasi_http.Method_Delete(),
    "OPTIONS": wasi_http.Method_Options(),
    "PATCH": wasi_http.Method_Patch(),
}


class RequestException(IOError):
    """Something went wrong with a request."""

    def __init__(self, *args, request=None, response=None):
        super().__init__(*args)
        self.request = request
        self.response = response


class ConnectionError(RequestException):  # noqa: A001 - the name requests uses
    """The request did not get a response: refused, denied, unreachable."""


class Timeout(RequestException):
    """The request timed out."""


class ConnectTimeout(ConnectionError, Timeout):
    pass


class ReadTimeout(Timeout):
    pass


class HTTPError(RequestException):
    """`raise_for_status` on a 4xx or 5xx response."""


class TooManyRedirects(RequestException):
    pass


class InvalidURL(RequestException, ValueError):
    pass


class InvalidHeader(RequestException, ValueError):
    pass


class CaseInsensitiveDict(dict):
    """Response headers: looked up in any case."""

    def __init__(self, items=()):
        super().__init__()
        for key, value in items:
            self[key] = value

    def __setitem__(self, key, value):
        super().__setitem__(key.lower(), value)

    def __getitem__(self, key):
        return super().__getitem__(key.lower())

    def __contains__(self, key):
        return super().__contains__(key.lower())

    def get(self, key, default=None):
        return super().get(key.lower(), default)


class Response:
    """What `requests.Response` offers that checks use."""

    def __init__(self, url, status_code, headers, content):
        self.url = url
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.encoding = _charset(headers.get("content-type", "")) or "utf-8"
        self.reason = _reason(status_code)
        self.history = []

    @property
    def ok(self):
        return self.status_code < 400

    @property
    def text(self):
        return self.content.decode(self.encoding, "replace")

    def json(self, **kwargs):
        return jsonlib.loads(self.text, **kwargs)

    def iter_lines(self, chunk_size=512, decode_unicode=False, delimiter=None):
        body = self.text if decode_unicode else self.content
        lines = body.split(delimiter) if delimiter else body.splitlines()
        yield from lines

    def iter_content(self, chunk_size=1, decode_unicode=False):
        body = self.text if decode_unicode else self.content
        for start in range(0, len(body), chunk_size or len(body) or 1):
            yield body[start : start + (chunk_size or len(body))]

    def raise_for_status(self):
        if 400 <= self.status_code < 600:
            kind = "Client" if self.status_code < 500 else "Server"
            raise HTTPError(f"{self.status_code} {kind} Error: {self.reason} for url: {self.url}", response=self)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<Response [{self.status_code}]>"


def request(
    method,
    url,
    params=None,
    data=None,
    headers=None,
    json=None,
    auth=None,
    timeout=None,
    allow_redirects=True,
    **ignored,
):
    """Send one request through the host and read the whole response.
    `timeout` is seconds (or a (connect, read) pair). `ignored` takes the
    `requests` options that have no meaning here (`verify`, `cert`,
    `proxies`, `stream`): TLS and proxies are the host's."""
    method = method.upper()
    url = _with_params(url, params)
    headers = dict(headers or {})
    body = _body(data, json, headers)
    if auth is not None:
        user, password = auth
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    history = []
    for _ in range(MAX_REDIRECTS + 1):
        response = _send(method, url, headers, body, timeout)
        location = response.headers.get("location")
        if not (allow_redirects and location and response.status_code in (301, 302, 303, 307, 308)):
            response.history = history
            return response
        history.append(response)
        url = urllib.parse.urljoin(url, location)
        if response.status_code in (301, 302, 303) and method != "HEAD":
            method, body = "GET", None
    raise TooManyRedirects(f"more than {MAX_REDIRECTS} redirects from {url}")


def _send(method, url, headers, body, timeout):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidURL(f"invalid URL {url!r}: it must be http:// or https:// with a host")
    outgoing = wasi_http.OutgoingRequest(_fields(headers))
    outgoing.set_method(_METHODS.get(method) or wasi_http.Method_Other(method))
    outgoing.set_scheme(wasi_http.Scheme_Https() if parts.scheme == "https" else wasi_http.Scheme_Http())
    outgoing.set_authority(parts.netloc.rpartition("@")[2])
    outgoing.set_path_with_query((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    out_body = outgoing.body()
    try:
        future = outgoing_handler.handle(outgoing, _options(timeout))
    except Err as e:
        raise _error(e.value, url) from None
    if body:
        stream = out_body.write()
        for start in range(0, len(body), 4096):
            stream.blocking_write_and_flush(body[start : start + 4096])
        stream.__exit__(None, None, None)
    wasi_http.OutgoingBody.finish(out_body, None)
    incoming = _wait(future, url)
    status = incoming.status()
    with incoming.headers() as fields:
        response_headers = CaseInsensitiveDict(
            (name, value.decode("latin-1")) for name, value in fields.entries()
        )
    content = _read_body(incoming, url)
    return Response(url, status, response_headers, content)


def _fields(headers):
    """The request's headers, without those the host sets itself (`Host`,
    from the URL, and the connection's own: `Connection`, `Upgrade`,
    ...), which it refuses from a guest."""
    fields = wasi_http.Fields()
    for name, value in headers.items():
        try:
            fields.append(str(name).lower(), str(value).encode("latin-1", "replace"))
        except Err as e:
            if not isinstance(e.value, wasi_http.HeaderError_Forbidden):
                raise InvalidHeader(f"invalid header {name!r}: {type(e.value).__name__}") from None
    return fields


def _wait(future, url):
    while True:
        result = future.get()
        if result is None:
            with future.subscribe() as pollable:
                pollable.block()
            continue
        if isinstance(result, Err):
            raise ConnectionError(f"the response of {url} was already taken")
        inner = result.value
        if isinstance(inner, Err):
            raise _error(inner.value, url)
        return inner.value


def _read_body(incoming, url):
    body = incoming.consume()
    stream = body.stream()
    chunks = []
    while True:
        try:
            chunks.append(stream.blocking_read(READ_CHUNK))
        except Err as e:
            if isinstance(e.value, streams.StreamError_Closed):
                break
            raise ConnectionError(f"reading the response of {url} failed: {e.value}") from None
    stream.__exit__(None, None, None)
    wasi_http.IncomingBody.finish(body)
    return b"".join(chunks)


def _options(timeout):
    if timeout is None:
        return None
    connect, read = timeout if isinstance(timeout, (tuple, list)) else (timeout, timeout)
    options = wasi_http.RequestOptions()
    if connect is not None:
        options.set_connect_timeout(int(float(connect) * 1e9))
    if read is not None:
        options.set_first_byte_timeout(int(float(read) * 1e9))
        options.set_between_bytes_timeout(int(float(read) * 1e9))
    return options


def _error(code, url):
    """A `wasi:http` error code as the `requests` exception a check
    expects, with words that say what happened."""
    name = type(code).__name__.removeprefix("ErrorCode_")
    if name == "HttpRequestDenied":
        return ConnectionError(
            f"request to {url} denied: the instance is not granted this endpoint "
            "(grant it with the instance's `url` or `network.allow`)"
        )
    if name == "ConnectionRefused":
        return ConnectionError(f"connection to {url} refused")
    if name in ("ConnectionTimeout",):
        return ConnectTimeout(f"connecting to {url} timed out")
    if name in ("ConnectionReadTimeout", "HttpResponseTimeout"):
        return ReadTimeout(f"reading from {url} timed out")
    detail = getattr(code, "value", None)
    return ConnectionError(f"request to {url} failed: {name}" + (f" ({detail})" if detail else ""))


def _with_params(url, params):
    if not params:
        return url
    query = urllib.parse.urlencode(params, doseq=True)
    return url + ("&" if "?" in url else "?") + query


def _body(data, json, headers):
    if json is not None:
        headers.setdefault("Content-Type", "application/json")
        return jsonlib.dumps(json).encode()
    if data is None:
        return None
    if isinstance(data, dict):
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return urllib.parse.urlencode(data, doseq=True).encode()
    return data.encode() if isinstance(data, str) else bytes(data)


def _charset(content_type):
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset":
            return value.strip('"') or None
    return None



def _reason(status_code):
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return ""
