"""Counting of parameters and mult-adds (one rule table for every operator; fvcore or dispatch backend)."""

from ._build import build_for_counting, count_model, zero_filled
from ._count import (COUNTERS, Convention, Count, LayerCount, check_counter, count, count_parameters,
                     counter_in_use)
from ._fixed import fixed_part
from ._reconstruction import reconstruction_mult_adds, reconstruction_rules
from ._rules import default_rules, register_rule, traced_shape

__all__ = ["COUNTERS", "Convention", "Count", "LayerCount", "build_for_counting", "check_counter", "count",
           "count_model", "count_parameters", "counter_in_use", "default_rules", "fixed_part",
           "reconstruction_mult_adds", "reconstruction_rules", "register_rule", "traced_shape", "zero_filled"]
