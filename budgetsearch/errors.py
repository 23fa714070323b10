"""The one exception hierarchy of budgetsearch.

Every error raised on bad input is a subclass of :class:`BudgetSearchError`
and says what was wrong, the value received and what is allowed, so the CLI
can print it as one line instead of a traceback.
"""


class BudgetSearchError(Exception):
    """Base class of every error budgetsearch raises on purpose."""


class ConfigError(BudgetSearchError, ValueError):
    """A setting, option or file field has a value that is not allowed."""


class UnknownNameError(BudgetSearchError, KeyError):
    """A name was looked up in a registry that does not hold it."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class CountingError(BudgetSearchError, RuntimeError):
    """A model could not be counted without guessing (e.g. an operator with no rule)."""


class InfeasibleBudgetError(BudgetSearchError, ValueError):
    """No setting of a substitute meets the requested budget."""


class DataError(BudgetSearchError, OSError):
    """A data set is missing, truncated or corrupt."""


class WeightsError(BudgetSearchError, ValueError):
    """A weights file is missing, unreadable, not tensors by name, or its tensors do not fit the model."""


class CheckpointError(WeightsError):
    """A checkpoint is missing, unreadable, or its weights do not fit the architecture it records."""
