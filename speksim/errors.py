"""Typed errors. The library raises these and never prints or exits; the CLI maps them to exit codes."""


class SpeksimError(Exception):
    """Base of every error speksim raises on purpose.

    `cli`, when given, is the same message worded for the command line (naming flags such as
    `--format` instead of Python arguments such as `format=`); the command line prints it.
    """

    def __init__(self, *args, cli=None):
        super().__init__(*args)
        self.cli = cli


class ChipFileError(SpeksimError, ValueError):
    """A chip file is missing, unreadable, or has a key or value that is not allowed."""


class UnknownChipError(ChipFileError):
    """A chip name is neither a built-in chip nor an existing file."""


class ConfigError(SpeksimError, ValueError):
    """A chip configuration (or run option) breaks a rule of the chip. `problems` lists every
    rule broken; `cli`, when given, lists the same problems worded for the command line."""

    def __init__(self, problems, cli=None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        if cli is not None:
            cli = [cli] if isinstance(cli, str) else list(cli)
        super().__init__(_problem_text(self.problems), cli=None if cli is None else _problem_text(cli))
        self.cli_problems = cli


def _problem_text(problems: list) -> str:
    if len(problems) == 1:
        return problems[0]
    return f"the configuration has {len(problems)} problems:\n  - " + "\n  - ".join(problems)


class EventError(SpeksimError, ValueError):
    """Input events have the wrong dtype, missing fields, unsorted times or out-of-range values."""


class ReaderError(SpeksimError, ValueError):
    """A recording file cannot be decoded: unknown format, truncated or corrupt data."""


class DeadlockError(SpeksimError, RuntimeError):
    """The simulated chip deadlocked (SPEC T9): senders wait for FIFO slots in a cycle.

    `blocks`: {block id: {"fifo": [(feature, x, y), ...] in FIFO order, "fifo_depth", "out_queue",
    "out_depth", "waits_for": block id}} for every block that waits or is waited for; `link`:
    (input index, target block) when the input link waits too, else None."""

    def __init__(self, message, t_ns=None, cycle=None, blocks=None, link=None):
        super().__init__(message)
        self.t_ns = t_ns
        self.cycle = list(cycle or [])
        self.blocks = dict(blocks or {})
        self.link = link


class RunFileError(SpeksimError, ValueError):
    """A run file is missing, incomplete or not a speksim run file."""


class ModelError(SpeksimError, ValueError):
    """A trained model (PyTorch, sinabs or NIR) cannot be put on the chip: the message names the
    module or node, says why, and what to change."""


class PlacementError(ModelError):
    """The layers of a model do not fit the chip's cores; `needs` lists each layer's memory needs
    and the cores it could take."""

    def __init__(self, message, needs=None):
        super().__init__(message)
        self.needs = list(needs or [])


class MissingExtraError(SpeksimError, ImportError):
    """An optional dependency (torch, sinabs, nir) is needed and not installed; the message says
    which extra to install."""
