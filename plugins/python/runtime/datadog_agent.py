"""The `datadog_agent` module the Agent embeds for checks: the parts that
make sense in the runner."""

import runner_host

_cache = {}


def get_hostname():
    return runner_host.hostname()


def get_config(key):
    """Agent settings are not visible to checks: always None."""
    return None


def log(message, level):
    runner_host.log("info", str(message))


def set_check_metadata(check_id, name, value):
    runner_host.set_metadata([(str(name), str(value))])


def write_persistent_cache(key, value):
    """Kept for the life of the instance (the runner has no disk for checks)."""
    _cache[key] = value


def read_persistent_cache(key):
    return _cache.get(key, "")
