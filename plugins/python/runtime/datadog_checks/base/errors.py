"""The exceptions checks raise."""


class CheckException(Exception):
    """A check failed."""


class ConfigurationError(CheckException):
    """The instance's configuration is wrong: raise it from `__init__` or
    `check` with a message naming the key."""
