"""`get_subprocess_output`: checks in the runner's sandbox cannot start
programs, so it raises, naming why."""

from datadog_checks.base.errors import CheckException


class SubprocessOutputEmptyError(Exception):
    pass


def get_subprocess_output(command, log=None, raise_on_empty_output=True, log_debug=True, env=None):
    raise CheckException(
        "running a command ({}) is not possible: checks run in the runner's sandbox, "
        "which has no processes; read what the command would show through the "
        "runner's capabilities or an HTTP endpoint instead".format(
            command if isinstance(command, str) else " ".join(map(str, command))
        )
    )
