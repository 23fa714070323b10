"""Counting of parameters and mult-adds (fvcore, with a rule for every operator)."""

from ._build import count_model, zero_filled
from ._count import Convention, Count, LayerCount, count, count_parameters
from ._reconstruction import reconstruction_mult_adds, reconstruction_rules
from ._rules import default_rules

__all__ = ["Convention", "Count", "LayerCount", "count", "count_model", "count_parameters", "default_rules",
           "reconstruction_mult_adds", "reconstruction_rules", "zero_filled"]
