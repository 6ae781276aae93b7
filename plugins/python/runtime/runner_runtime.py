"""The runner's Python runtime: one component, shared by every Python check.

componentize-py imports this module when it builds the component and
snapshots the interpreter; nothing is read from disk at run time. So every
standard module a check may import is imported here (the list below,
documented in docs/python-checks.md), and so is the
`datadog_checks.base` layer. A check's source comes in through the
`script` capability (its own file and nothing else) when the runner loads
the check (`ScriptLoader.load`) and when an instance is configured.
"""

# The standard modules a check can import. Keep the list in
# docs/python-checks.md in step when changing this one.
import abc
import argparse
import base64
import binascii
import bisect
import calendar
import codecs
import collections
import collections.abc
import contextlib
import copy
import csv
import dataclasses
import datetime
import decimal
import difflib
import email.utils
import encodings.idna
import encodings.latin_1
import encodings.ascii
import encodings.utf_16
import enum
import errno
import fnmatch
import fractions
import functools
import gc
import gzip
import hashlib
import heapq
import hmac
import html
import html.parser
import http
import http.client
import io
import ipaddress
import itertools
import json
import keyword
import locale
import logging
import math
import numbers
import operator
import os
import os.path
import platform
import pprint
import queue
import random
import re
import secrets
import shlex
import socket
import statistics
import string
import struct
import subprocess
import sys
import textwrap
import threading
import time
import traceback
import types
import typing
import unicodedata
import urllib
import urllib.parse
import urllib.request
import uuid
import warnings
import weakref
import xml.etree.ElementTree
import zlib

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.check import CheckInfo, EndpointKey_HostPort, EndpointKey_Url, HostPortKeys
from wit_world.imports import script

import datadog_agent
import datadog_checks.base
import datadog_checks.base.utils.http
import datadog_checks.base.utils.subprocess_output
import checks
import requests
import runner_loader
import runner_network

runner_network.install()

# Instance keys that name the endpoints a Python check talks to: the URL
# keys of Datadog's HTTP-based checks, and host + port. The runner grants
# exactly what an instance's values under these keys name (plus its
# `network.allow`).
URL_KEYS = ["url", "openmetrics_endpoint", "prometheus_url"]
HOST_PORT_KEYS = HostPortKeys(host="host", port="port", default_host=None, default_port=None)

# Any JSON object: like the Agent, the runner does not validate a Python
# check's configuration; the check itself does.
ANY_OBJECT = '{"type": "object", "additionalProperties": true}'


# The instance of the check class this component instance runs (one per
# component instance). Module state: componentize-py makes a new `Check`
# object for every call.
_check = None


class Check(exports.Check):
    """The `check` export."""

    def info(self) -> CheckInfo:
        source = script.source()
        return CheckInfo(
            name=source.check,
            version="",
            instance_schema=ANY_OBJECT,
            init_config_schema=ANY_OBJECT,
            endpoint_keys=[EndpointKey_Url(key) for key in URL_KEYS]
            + [EndpointKey_HostPort(HOST_PORT_KEYS)],
            file_keys=[],
        )

    def configure(self, init_config: str, instance: str) -> None:
        loaded = runner_loader.load(script.source())
        if isinstance(loaded, str):
            raise Err(loaded)
        global _check
        check = runner_loader.instantiate(loaded, json.loads(init_config), json.loads(instance))
        if isinstance(check, str):
            raise Err(check)
        _check = check

    def run(self) -> None:
        if _check is None:
            raise Err("the check is not configured")
        error = _check._runner_run()
        if error:
            raise Err(error)


class ScriptLoader(exports.ScriptLoader):
    """The `script-loader` export: load the source once, as the Agent does
    when it loads a check, to report errors before any instance runs."""

    def load(self) -> str:
        loaded = runner_loader.load(script.source())
        if isinstance(loaded, str):
            raise Err(loaded)
        return loaded.version


# Last, once everything above is imported: move every object of the
# snapshot out of the garbage collector's reach. Instances share the
# snapshot's memory until they write to it; a full collection would
# write to every object it tracks (and copy each page into the instance's
# private memory). Frozen objects are never collected (they are the
# runtime's own, alive for good).
gc.collect()
gc.freeze()
