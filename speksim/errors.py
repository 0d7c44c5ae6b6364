"""Typed errors. The library raises these and never prints or exits; the CLI maps them to exit codes."""


class SpeksimError(Exception):
    """Base of every error speksim raises on purpose."""

    def __init__(self, *args, cli=None):
        super().__init__(*args)
        self.cli = cli


class ChipFileError(SpeksimError, ValueError):
    """A chip file is missing, unreadable, or has a key or value that is not allowed."""


class UnknownChipError(ChipFileError):
    """A chip name is neither a built-in chip nor an existing file."""


class ConfigError(SpeksimError, ValueError):
    """A chip configuration breaks a rule of the chip. `problems` lists every rule broken."""

    def __init__(self, problems):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        head = f"the configuration has {len(self.problems)} problem(s):" if len(self.problems) > 1 else ""
        super().__init__((head + "\n  - " + "\n  - ".join(self.problems)) if head else self.problems[0])


class EventError(SpeksimError, ValueError):
    """Input events have the wrong dtype, missing fields, unsorted times or out-of-range values."""


class ReaderError(SpeksimError, ValueError):
    """A recording file cannot be decoded: unknown format, truncated or corrupt data."""


class DeadlockError(SpeksimError, RuntimeError):
    """The simulated chip deadlocked (SPEC T9): senders wait for FIFO slots in a cycle."""

    def __init__(self, message, t_ns=None, cycle=None):
        super().__init__(message)
        self.t_ns = t_ns
        self.cycle = list(cycle or [])


class RunFileError(SpeksimError, ValueError):
    """A run file is missing, incomplete or not a speksim run file."""
