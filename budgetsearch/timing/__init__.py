"""Measured speed beside the counts: how long a network's forward, and its training step, take on a device.

Mult-adds do not predict time for structured layers (a factorised layer can be
slower than the dense one it replaces at a tenth of the mult-adds), so a
frontier needs both. A measurement states how it was made: the device, its
threads, the batch, the warm-up and the number of timed repeats, of which the
median is reported.
"""

from .._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(globals(), {
    "_measure": ("check_device", "device_label", "measure"),
    "_settings": ("MAX_BATCH", "Timing", "TimingSettings"),
})
