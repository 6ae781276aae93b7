"""Errors of a check, in one line a person can act on: the exception's
type, its message and where in the check's own file it happened."""

import traceback


def describe(error, path):
    """`Type: message (path:line, in function)`: the innermost frame in the
    check's own file; for a syntax error, its file and line."""
    if isinstance(error, SyntaxError) and error.filename:
        return f"{type(error).__name__}: {error.msg} ({error.filename}:{error.lineno})"
    text = f"{type(error).__name__}: {_message(error)}"
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == path]
    if frames:
        frame = frames[-1]
        text += f" ({path}:{frame.lineno}, in {frame.name})"
    return text


def _message(error):
    """`str(error)`, which is the check's own code and may itself fail."""
    try:
        return str(error)
    except BaseException:  # noqa: BLE001
        return "<unprintable message>"
