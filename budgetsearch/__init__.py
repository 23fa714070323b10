"""budgetsearch: fair parameter budgets for structured substitutes of convolutions."""

__version__ = "0.1.0"
