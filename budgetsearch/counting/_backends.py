"""The counting backends by the name ``count(counter=...)`` and ``--counter`` take."""

from ._dispatch import dispatched_tally
from ._trace import traced_tally

COUNTERS = {"fvcore": traced_tally, "dispatch": dispatched_tally}
