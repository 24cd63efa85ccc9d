"""Error types the CLI turns into one clear message (kept import-light: no torch here)."""


class BackboneError(RuntimeError):
    """A backbone's weights are missing or not the expected file; the message names the fix."""


class HeadError(BackboneError):
    """The Inception classifier head file exists but is not the expected one."""


class CompareError(ValueError):
    """A comparison that cannot be made (no runs of the method, no shared dataset or metric)."""
