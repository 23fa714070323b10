"""Budget solving: a parameter (and mult-adds) budget becomes each substitute's setting, exactly.

``solve_budget("wrn-28-10", "tucker", "1.2M")`` returns a :class:`Solution`;
:func:`settings_curve` sweeps a substitute's whole domain (the "settings
range" view of the original study).
"""

from .._lazy import lazy_exports

# Each name imports its module on first use: parsing a budget (a study file's) imports no torch.
__getattr__, __dir__, __all__ = lazy_exports(globals(), {
    "_budget": ("Budget", "parse_budget"),
    "_curves": ("draw_settings_curves", "settings_curve"),
    "_network": ("NetworkCounter", "Site", "network_counter"),
    "_solve": ("Solution", "solve_budget"),
})
