"""The errors a user can fix. The CLI prints their message (one line naming what is wrong and how to fix it)
and exits with status 2; anything else is a bug and keeps its traceback. Import-light: no torch here."""


class UserError(Exception):
    """Bad input or a missing prerequisite; the message names the file or key, the value and the fix."""


class ConfigError(UserError, ValueError):
    """params.yaml, a study file or a run id that does not describe a valid protocol."""


class DatasetError(UserError, RuntimeError):
    """A dataset that cannot be prepared or loaded."""


class BackboneError(UserError, RuntimeError):
    """A backbone's weights are missing or not the expected file."""


class HeadError(BackboneError):
    """The Inception classifier head file exists but is not the expected one."""


class ScoreError(UserError, ValueError):
    """Images or a reference that `gbench score` cannot score."""


class CompareError(UserError, ValueError):
    """A comparison that cannot be made (no runs of the method, no shared dataset or metric)."""


class ResultsError(UserError, ValueError):
    """Results that cannot be put in one table (e.g. runs evaluated with different metric specs)."""
