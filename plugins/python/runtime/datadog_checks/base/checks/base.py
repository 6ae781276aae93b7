"""`AgentCheck`: the base class of Datadog checks, over the runner's
capabilities. Written for the runner from the documented behaviour of
`datadog_checks_base` (same names, signatures and semantics); what it
leaves out is listed in docs/python-checks.md."""

import copy
import json
import logging
import re
import time
import traceback
from collections import deque

import runner_host
from runner_errors import describe
from datadog_checks.base.errors import ConfigurationError  # noqa: F401 - re-exported
from datadog_checks.base.utils.common import to_native_string


class CheckLoggingAdapter(logging.LoggerAdapter):
    """`self.log`: a standard logger whose lines go to the runner's log,
    attributed to the instance."""

    def __init__(self, check):
        super().__init__(logging.getLogger("checks." + (check.name or "check")), {})
        self.check = check

    def isEnabledFor(self, level):
        return True

    def log(self, level, msg, *args, **kwargs):
        if args:
            try:
                msg = msg % args
            except Exception:  # noqa: BLE001 - as logging does, keep the line
                msg = f"{msg} {args!r}"
        if kwargs.get("exc_info"):
            msg = f"{msg}\n{traceback.format_exc()}"
        runner_host.log(_level_name(level), str(msg))

    def trace(self, msg, *args, **kwargs):
        runner_host.log("trace", str(msg % args if args else msg))


def _level_name(level):
    if level >= logging.ERROR:
        return "error"
    if level >= logging.WARNING:
        return "warn"
    if level >= logging.INFO:
        return "info"
    if level >= logging.DEBUG:
        return "debug"
    return "trace"


# Semantic versioning 2.0.0, with an optional leading `v`.
SEMVER = re.compile(
    r"v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<release>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


class AgentCheck(object):
    """The base class for all checks."""

    OK, WARNING, CRITICAL, UNKNOWN = (0, 1, 2, 3)

    # A prefix for every metric and service check name the check submits
    # without `raw=True`.
    __NAMESPACE__ = ""

    HTTP_CONFIG_REMAPPER = None

    def __init__(self, *args, **kwargs):
        """`AgentCheck(name, init_config, instances)`; the legacy
        `AgentCheck(name, init_config, agentConfig, instances)` too."""
        self.name = kwargs.get("name", "")
        self.init_config = kwargs.get("init_config", {})
        self.agentConfig = kwargs.get("agentConfig", {})
        self.instances = kwargs.get("instances", [])
        if len(args) > 0:
            self.name = args[0]
        if len(args) > 1:
            self.init_config = args[1]
        if len(args) > 2:
            # The Agent passes instances as a tuple; tests often use a list.
            if len(args) > 3 or not isinstance(args[2], (list, tuple)) or "instances" in kwargs:
                # The legacy signature: the third argument is agentConfig.
                self.agentConfig = args[2]
                if len(args) > 3:
                    self.instances = args[3]
            else:
                self.instances = args[2]
        self.init_config = self.init_config or {}
        self.agentConfig = self.agentConfig or {}
        self.instances = self.instances or []
        self.instance = self.instances[0] if self.instances else None

        self.check_id = ""
        self.hostname = runner_host.hostname()
        self.log = CheckLoggingAdapter(self)
        self.warnings = []
        self.check_initializations = deque()
        self.metric_limiter = None
        self._http = None
        self._historates = {}
        self._runner_path = ""

    # -- the runner's side --------------------------------------------

    def _runner_bind(self, path):
        """Set what the Agent sets after building the check."""
        self._runner_path = path
        self.check_id = runner_host.check_id()

    def _runner_run(self):
        """One run: the pending initializations, then `check` on a copy of
        the instance. Returns '' or the error, one line."""
        try:
            while self.check_initializations:
                initialization = self.check_initializations.popleft()
                try:
                    initialization()
                except BaseException:
                    self.check_initializations.appendleft(initialization)
                    raise
            self.check(copy.deepcopy(self.instances[0]))
            return ""
        except BaseException as e:  # noqa: BLE001 - the check's error is the run's
            # The whole traceback, for `RUST_LOG=check=debug`; its end is
            # what matters, and the log shares the run's output cap.
            runner_host.log("debug", "".join(traceback.format_exception(e))[-4000:])
            return describe(e, self._runner_path)
        finally:
            self._runner_report_warnings()
            runner_host.flush()

    def _runner_report_warnings(self):
        for warning in self.warnings:
            runner_host.log("warn", warning)
        self.warnings = []

    def run(self):
        """As the Agent's `run`: '' on success, else a JSON list with the
        error's message and traceback."""
        error = self._runner_run()
        if not error:
            return ""
        return json.dumps([{"message": error, "traceback": ""}])

    def check(self, instance):
        raise NotImplementedError

    def cancel(self):
        """Called by the Agent when the check is unscheduled."""

    # -- configuration helpers ----------------------------------------

    @property
    def http(self):
        """A `requests`-like client configured from the instance (timeout,
        headers, auth, ...), limited to the instance's network grant."""
        if self._http is None:
            from datadog_checks.base.utils.http import RequestsWrapper

            self._http = RequestsWrapper(self.instance or {}, self.init_config, self.HTTP_CONFIG_REMAPPER, self.log)
        return self._http

    def is_metadata_collection_enabled(self):
        return True

    def get_warnings(self):
        warnings, self.warnings = self.warnings, []
        return warnings

    # -- submission -----------------------------------------------------

    def gauge(self, name, value, tags=None, hostname=None, device_name=None, raw=False):
        """Sample a gauge: the last value of a run wins."""
        self._submit_metric(runner_host.GAUGE, name, value, tags, hostname, device_name, raw)

    def count(self, name, value, tags=None, hostname=None, device_name=None, raw=False):
        """Sample a count: summed over a flush."""
        self._submit_metric(runner_host.COUNT, name, value, tags, hostname, device_name, raw)

    def monotonic_count(
        self, name, value, tags=None, hostname=None, device_name=None, raw=False, flush_first_value=False
    ):
        """Sample a counter that only goes up: the increase since the last
        sample is sent as a count (the first sample sets the baseline)."""
        if flush_first_value:
            self._runner_unsupported("flush_first_value", "the first value of a monotonic count sets its baseline")
        self._submit_metric(runner_host.MONOTONIC_COUNT, name, value, tags, hostname, device_name, raw)

    def rate(self, name, value, tags=None, hostname=None, device_name=None, raw=False):
        """Sample a value whose change per second is sent as a gauge, from
        the second run on."""
        self._submit_metric(runner_host.RATE, name, value, tags, hostname, device_name, raw)

    def histogram(self, name, value, tags=None, hostname=None, device_name=None, raw=False):
        """Sample a histogram: max, median, avg, count and 95th percentile
        of a flush."""
        self._submit_metric(runner_host.HISTOGRAM, name, value, tags, hostname, device_name, raw)

    def historate(self, name, value, tags=None, hostname=None, device_name=None, raw=False):
        """Sample a value whose change per second between consecutive
        samples goes into a histogram."""
        value = self._numeric(name, value)
        if value is None:
            return
        tags = self._normalize_tags_type(tags, device_name, name)
        full_name = self._format_namespace(name, raw)
        key = (full_name, tuple(sorted(tags)), hostname)
        now = time.time()
        previous = self._historates.get(key)
        self._historates[key] = (value, now)
        if previous is None or now <= previous[1]:
            return
        rate = (value - previous[0]) / (now - previous[1])
        runner_host.submit_metric(runner_host.HISTOGRAM, full_name, rate, tags, hostname or None)

    def increment(self, name, value=1, tags=None, hostname=None, device_name=None, raw=False):
        """Deprecated in the Agent (a `counter`, sent per second); here it
        adds to a count."""
        self._submit_metric(runner_host.COUNT, name, value, tags, hostname, device_name, raw)

    def decrement(self, name, value=-1, tags=None, hostname=None, device_name=None, raw=False):
        """Deprecated in the Agent (a `counter`, sent per second); here it
        subtracts from a count."""
        self._submit_metric(runner_host.COUNT, name, value, tags, hostname, device_name, raw)

    def _submit_metric(self, kind, name, value, tags=None, hostname=None, device_name=None, raw=False):
        value = self._numeric(name, value)
        if value is None:
            return
        tags = self._normalize_tags_type(tags, device_name, name)
        runner_host.submit_metric(kind, self._format_namespace(name, raw), value, tags, hostname or None)

    def _numeric(self, name, value):
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            self.warning(
                "Metric: {} has non float value: {}. Only float values can be submitted as metrics.".format(
                    repr(name), repr(value)
                )
            )
            return None

    def service_check(self, name, status, tags=None, hostname=None, message=None, raw=False):
        """Report a service check: `AgentCheck.OK`, `WARNING`, `CRITICAL` or
        `UNKNOWN`."""
        if not isinstance(status, int) or status not in (0, 1, 2, 3):
            raise TypeError(
                f"service check {name!r}: status must be AgentCheck.OK, WARNING, CRITICAL or UNKNOWN (0-3), not {status!r}"
            )
        tags = self._normalize_tags_type(tags, None, name)
        message = to_native_string(message) if message is not None else ""
        runner_host.submit_service_check(self._format_namespace(name, raw), status, tags, hostname or None, message)

    def event(self, event):
        """Report an event: a dict with `msg_title`, `msg_text`, and
        optionally `timestamp`, `alert_type` (`info`, `warning`, `error`,
        `success`), `priority` (`normal`, `low`), `tags`,
        `aggregation_key` and `host`."""
        if not isinstance(event, dict):
            raise TypeError("event must be a dict")
        for key in ("event_type", "source_type_name"):
            if key in event:
                self._runner_unsupported(f"event `{key}`", "the runner's events have no such field")
        timestamp = event.get("timestamp")
        runner_host.submit_event(
            title=to_native_string(event.get("msg_title", "")),
            text=to_native_string(event.get("msg_text", "")),
            timestamp=int(timestamp) if timestamp else None,
            priority=str(event.get("priority") or "normal"),
            alert_type=str(event.get("alert_type") or "info"),
            tags=self._normalize_tags_type(event.get("tags"), None, "event"),
            aggregation_key=to_native_string(event["aggregation_key"]) if event.get("aggregation_key") else None,
            hostname=to_native_string(event["host"]) if event.get("host") else None,
        )

    def set_metadata(self, name, value, **options):
        """Set metadata. `version` is split as the Agent does, by scheme:
        `semver` (the default), `regex` (with a `pattern` of named groups)
        or `parts` (with a `part_map`); anything else is sent as text."""
        if name != "version":
            runner_host.set_metadata([(str(name), str(value))])
            return
        try:
            entries = _version_metadata(str(value), options, self.name)
        except ValueError as e:
            self.warning("Unable to transform `%s` metadata value `%s`: %s", name, value, e)
            return
        runner_host.set_metadata(entries)

    def warning(self, warning_message, *args, **kwargs):
        """Record a warning for this run (shown by `runner check` and
        `runner status`), formatted with `args` like a log line."""
        message = to_native_string(warning_message)
        if args:
            try:
                message = message % args
            except Exception:  # noqa: BLE001
                message = f"{message} {args!r}"
        self.warnings.append(message)

    # -- names and tags ----------------------------------------------

    def _format_namespace(self, name, raw=False):
        name = to_native_string(name)
        if raw or not self.__NAMESPACE__:
            return name
        return f"{self.__NAMESPACE__}.{name}"

    def _normalize_tags_type(self, tags, device_name=None, metric_name=None):
        """Tags as a list of strings, as the Agent takes them: bytes
        decoded, anything that is not text dropped; `device_name` adds
        `device:<name>` first."""
        normalized = []
        if device_name:
            normalized.append(f"device:{to_native_string(device_name)}")
        for tag in tags or []:
            if isinstance(tag, bytes):
                try:
                    tag = tag.decode("utf-8")
                except UnicodeError:
                    self.log.warning("Encoding error with tag `%s` for metric `%s`, ignoring tag", tag, metric_name)
                    continue
            if isinstance(tag, str):
                normalized.append(tag)
        return normalized

    def _runner_unsupported(self, what, why):
        """Say once per instance that an option has no effect here."""
        said = self.__dict__.setdefault("_runner_said", set())
        if what not in said:
            said.add(what)
            self.log.info("%s is ignored: %s", what, why)


def _version_metadata(raw, options, check_name):
    """`version.<part>`, `version.raw` and `version.scheme`, as the
    Agent's version transformer gives them; ValueError when `raw` does not
    fit the scheme."""
    scheme = options.get("scheme", "semver")
    if scheme == "semver":
        match = SEMVER.search(raw)
        if not match:
            raise ValueError("Version does not adhere to semantic versioning")
        parts = match.groupdict()
    elif scheme == "regex":
        pattern = options.get("pattern")
        if not pattern:
            raise ValueError("Version scheme `regex` requires a `pattern` option")
        match = re.search(pattern, raw)
        if not match:
            raise ValueError("Version does not match the regular expression pattern")
        parts = match.groupdict()
        if not parts:
            raise ValueError("Regular expression pattern has no named subgroups")
        scheme = options.get("final_scheme", check_name)
    elif scheme == "parts":
        part_map = options.get("part_map")
        if not part_map:
            raise ValueError("Version scheme `parts` requires a `part_map` option")
        parts = dict(part_map)
        scheme = options.get("final_scheme", check_name)
    else:
        raise ValueError(f"Unsupported version scheme `{scheme}`")
    entries = [(f"version.{key}", str(value)) for key, value in parts.items() if value is not None]
    return entries + [("version.raw", raw), ("version.scheme", scheme)]
