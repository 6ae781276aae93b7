"""Datadog's check namespace package, as the runner's Python runtime
provides it: only `datadog_checks.base`."""
