"""User-facing errors.

Anything a user can cause (a bad path, a typo, a wrong shape) raises ``GankitError`` with a one-line
message saying what is wrong and where. The CLI prints it without a traceback and exits non-zero;
everything else is a bug in gankit and keeps its traceback.
"""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none): for one-line errors."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class GankitError(Exception):
    """An error caused by input, configuration or environment, explained in one line."""


class ConfigError(GankitError):
    """Invalid configuration: unknown key, wrong type, value out of range."""


class DataError(GankitError):
    """A dataset that is missing, unreadable or malformed."""


class CheckpointError(GankitError):
    """A checkpoint or run directory that cannot be used."""


class TrainingDiverged(GankitError):
    """Training produced non-finite numbers and could not recover."""


class Interrupted(KeyboardInterrupt):
    """Training stopped by SIGINT or SIGTERM; the CLI exits with the shell's 128 + signal number."""

    def __init__(self, signum: int = 2, message: str = "interrupted") -> None:
        super().__init__(message)
        self.signum, self.message = signum, message
