"""What every command group shares: the program name, the help formatter, argument types, the error line."""

import argparse
import math
import sys

PROG = "music-tagger"


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in the help, except None and False (the help text says what unset means)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False:
            return action.help or ""
        return super()._get_help_string(action)


def _number_arg(text: str, kind: type, ok, expected: str):
    """``kind(text)`` if it converts and passes ``ok``, else argparse's error naming ``expected``."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int_arg(text: str) -> int:
    return _number_arg(text, int, lambda v: v >= 1, "a positive integer")


def non_negative_int_arg(text: str) -> int:
    return _number_arg(text, int, lambda v: v >= 0, "a non-negative integer")


def positive_float_arg(text: str) -> float:
    """A finite number > 0 (not inf, nan or 0)."""
    return _number_arg(text, float, lambda v: math.isfinite(v) and v > 0, "a finite positive number")


def probability_arg(text: str) -> float:
    """A number in [0, 1] (not nan)."""
    return _number_arg(text, float, lambda v: 0.0 <= v <= 1.0, "a number in [0, 1]")


#: The help of every --workers option: one meaning everywhere.
WORKERS_HELP = "worker processes that read audio (0: in the main process; default: the CPU cores this process may use)"


def print_error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` of the command: one line, ``music-tagger: warning: ...``
    (Python's own shows the source line too)."""
    print(f"{PROG}: warning: {message}", file=sys.stderr if file is None else file)
