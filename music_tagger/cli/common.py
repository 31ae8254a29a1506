"""What every command group shares: the program name, the help formatter, argument types, the error line."""
import argparse
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


def print_error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)
