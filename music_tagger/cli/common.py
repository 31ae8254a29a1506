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


def positive_int_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def non_negative_int_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def positive_float_arg(text: str) -> float:
    """A finite number > 0 (not inf, nan or 0)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite positive number, got {text!r}")
    return value


#: The help of every --workers option: one meaning everywhere.
WORKERS_HELP = (
    "worker processes that read audio (0: in the main process; default: the CPU "
    "cores this process may use)"
)


def print_error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)
