"""Budget solving: a parameter (and mult-adds) budget becomes each substitute's setting, exactly.

``solve_budget("wrn-28-10", "tucker", "1.2M")`` returns a :class:`Solution`;
:func:`settings_curve` sweeps a substitute's whole domain (the "settings
range" view of the original study).
"""

from ._budget import Budget, parse_budget
from ._curves import draw_settings_curves, settings_curve
from ._network import NetworkCounter, Site, network_counter
from ._solve import Solution, solve_budget

__all__ = ["Budget", "NetworkCounter", "Site", "Solution", "draw_settings_curves", "network_counter", "parse_budget",
           "settings_curve", "solve_budget"]
