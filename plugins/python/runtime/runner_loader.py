"""Loading a check's source the way the Datadog Agent does: import the
module, pick its check class, instantiate it with the instance. Every
failure comes back as one line a person can act on: the exception's type,
its message and where in the check's own file it happened."""

import importlib.abc
import sys
import types

from datadog_checks.base import AgentCheck
from runner_errors import describe

# Where the modules the runtime has are listed.
MODULES_DOC = "docs/python-checks.md lists the modules it has"


class Loaded:
    """A check module, imported, and its check class."""

    def __init__(self, path, module, check_class):
        self.path = path
        self.module = module
        self.check_class = check_class
        version = getattr(module, "__version__", "")
        self.version = version if isinstance(version, str) else str(version)


class MissingModules(importlib.abc.MetaPathFinder):
    """Last on `sys.meta_path`: a module nothing else found is not in the
    runtime (there is no file system to find it on). Say so, and where the
    list is, instead of Python's bare "No module named"."""

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition(".")[0]
        raise ModuleNotFoundError(
            f"No module named {fullname!r}: `{top}` is not in the runner's Python "
            f"runtime ({MODULES_DOC})",
            name=fullname,
        )


def _install_missing_modules_finder():
    if not any(isinstance(f, MissingModules) for f in sys.meta_path):
        sys.meta_path.append(MissingModules())


def load(source):
    """Import `source` (a `script.SourceFile`) as module `source.check`.
    Returns a `Loaded`, or the error as a string."""
    _install_missing_modules_finder()
    try:
        code = compile(source.text, source.path, "exec")
    except SyntaxError as e:
        return describe(e, source.path)
    module = types.ModuleType(source.check)
    module.__file__ = source.path
    # Importable under its name, as in the Agent, unless that would hide
    # a module of the runtime (a check named `json`).
    sys.modules.setdefault(source.check, module)
    try:
        exec(code, module.__dict__)
    except BaseException as e:  # noqa: BLE001 - anything the module raises is its error
        return "importing the check failed: " + describe(e, source.path)
    check_class = find_check_class(module)
    if check_class is None:
        return (
            "no check class: the file defines no subclass of AgentCheck "
            "(from datadog_checks.base import AgentCheck)"
        )
    return Loaded(source.path, module, check_class)


def find_check_class(module):
    """The module's check class, picked as the Agent picks it: in `dir()`
    order, the first subclass of AgentCheck (not AgentCheck itself) that
    has no subclasses of its own."""
    for name in dir(module):
        value = getattr(module, name, None)
        if not isinstance(value, type) or value is AgentCheck or not issubclass(value, AgentCheck):
            continue
        if value.__subclasses__():
            continue
        return value
    return None


def instantiate(loaded, init_config, instance):
    """An instance of the check class for one configured instance, built
    as the Agent builds it: `cls(name=, init_config=, instances=(instance,))`,
    then, if that signature does not fit, again with the legacy
    `agentConfig=` argument. Returns the check, or the error as a string."""
    arguments = {"name": loaded.module.__name__, "init_config": init_config or {}, "instances": (instance,)}
    try:
        try:
            check = loaded.check_class(**arguments)
        except TypeError:
            check = loaded.check_class(agentConfig={}, **arguments)
    except BaseException as e:  # noqa: BLE001 - anything __init__ raises is its error
        return "creating the check failed: " + describe(e, loaded.path)
    if not isinstance(check, AgentCheck):
        return f"creating the check failed: {type(check).__name__} is not an AgentCheck"
    check._runner_bind(loaded.path)
    return check
