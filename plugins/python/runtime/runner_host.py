"""The runner's capabilities, as the `datadog_checks.base` layer uses them.
The only module of the layer that touches the generated bindings, so the
rest reads like the Agent's own code.

Samples are batched (one host call per `BATCH` samples) and flushed when a
run ends, whether it succeeded or not, as the Agent keeps what a failed
run submitted. Batching in chunks keeps the runner's per-run budgets
(`limits.max_metrics`, `limits.max_submission_kib`) in charge: a check that
submits without end is stopped by them, not by its own memory.
"""

from wit_world.imports import log as wit_log
from wit_world.imports import metrics as wit_metrics
from wit_world.imports import reporting as wit_reporting
from wit_world.imports import script as wit_script

BATCH = 512

GAUGE = wit_metrics.MetricType.GAUGE
COUNT = wit_metrics.MetricType.COUNT
MONOTONIC_COUNT = wit_metrics.MetricType.MONOTONIC_COUNT
RATE = wit_metrics.MetricType.RATE
HISTOGRAM = wit_metrics.MetricType.HISTOGRAM

_STATUSES = list(wit_reporting.Status)
_PRIORITIES = {"normal": wit_reporting.EventPriority.NORMAL, "low": wit_reporting.EventPriority.LOW}
_ALERT_TYPES = {
    "info": wit_reporting.AlertType.INFO,
    "warning": wit_reporting.AlertType.WARNING,
    "error": wit_reporting.AlertType.ERROR,
    "success": wit_reporting.AlertType.SUCCESS,
}
_LEVELS = {
    "trace": wit_log.Level.TRACE,
    "debug": wit_log.Level.DEBUG,
    "info": wit_log.Level.INFO,
    "warn": wit_log.Level.WARN,
    "error": wit_log.Level.ERROR,
}

_metrics = []
_service_checks = []
_events = []


def submit_metric(kind, name, value, tags, hostname):
    _metrics.append(wit_metrics.Metric(name=name, kind=kind, value=value, tags=tags, hostname=hostname))
    if len(_metrics) >= BATCH:
        _flush_metrics()


def submit_service_check(name, status, tags, hostname, message):
    check = wit_reporting.ServiceCheck(
        name=name, status=_STATUSES[status], message=message, tags=tags, hostname=hostname
    )
    _service_checks.append(check)
    if len(_service_checks) >= BATCH:
        _flush_service_checks()


def submit_event(title, text, timestamp, priority, alert_type, tags, aggregation_key, hostname):
    event = wit_reporting.Event(
        title=title,
        text=text,
        timestamp=timestamp,
        priority=_PRIORITIES.get(priority, wit_reporting.EventPriority.NORMAL),
        alert_type=_ALERT_TYPES.get(alert_type, wit_reporting.AlertType.INFO),
        tags=tags,
        aggregation_key=aggregation_key,
        hostname=hostname,
    )
    _events.append(event)
    if len(_events) >= BATCH:
        _flush_events()


def set_metadata(entries):
    if entries:
        wit_reporting.set_metadata(entries)


def log(level, message):
    wit_log.log(_LEVELS[level], message)


def hostname():
    return wit_metrics.hostname()


def check_id():
    return wit_script.check_id()


def flush():
    """Hand over everything buffered."""
    _flush_metrics()
    _flush_service_checks()
    _flush_events()


def discard():
    """Drop what is buffered (a run the runner already stopped)."""
    _metrics.clear()
    _service_checks.clear()
    _events.clear()


def _flush_metrics():
    if _metrics:
        batch = list(_metrics)
        _metrics.clear()
        wit_metrics.submit_metrics(batch)


def _flush_service_checks():
    if _service_checks:
        batch = list(_service_checks)
        _service_checks.clear()
        wit_reporting.submit_service_checks(batch)


def _flush_events():
    if _events:
        batch = list(_events)
        _events.clear()
        wit_reporting.submit_events(batch)
