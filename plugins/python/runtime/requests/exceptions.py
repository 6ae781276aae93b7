"""`requests.exceptions`."""

from runner_http import (  # noqa: F401 - re-exported
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
