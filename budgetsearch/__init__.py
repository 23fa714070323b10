"""budgetsearch: fair parameter budgets for structured substitutes of convolutions."""

from ._factories import model_factory

__version__ = "0.1.0"

__all__ = ["__version__", "model_factory"]
