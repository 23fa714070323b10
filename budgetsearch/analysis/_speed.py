"""Measured speed beside the counts: each point's inference latency and training throughput, and how they were measured.

Mult-adds do not predict time for structured layers, so a study run with
``measure = true`` records per trial its trained network's inference latency,
and every trial its training throughput (see ``TrialRecord``). A point's speed
is the mean over the seeds that stand for it, taken by
:func:`~budgetsearch.analysis.aggregate_seeds` like its error. Nothing here
runs unless the trials hold measurements.
"""

from __future__ import annotations

import pandas as pd

from ._pareto import MEASURED_COSTS
from ._plot import COST_LABELS

# Speeds averaged over each point's seeds: the two measured costs and the latency as images per second.
SPEED_METRICS = ("latency_ms", "inference_images_per_second", "train_images_per_second")
# Which part of a trial's `timing` record says how each cost was measured.
_TIMING_PART = {"latency_ms": "inference", "train_images_per_second": "training"}


def speed_metrics(trials: pd.DataFrame) -> tuple:
    """The ``SPEED_METRICS`` some trial of ``trials`` recorded, to aggregate beside the errors."""
    return tuple(m for m in SPEED_METRICS if m in trials.columns and trials[m].notna().any())


def with_speeds(aggregated: pd.DataFrame) -> pd.DataFrame:
    """The points with each aggregated speed's mean under the speed's own name (``latency_ms``), like ``params``.

    The spread of a speed over seeds is measurement noise, not a property of
    the network: its standard deviation and interval are left out.
    """
    present = [m for m in SPEED_METRICS if f"{m}_mean" in aggregated.columns]
    spread = [f"{m}_{s}" for m in present for s in ("std", "low", "high")]
    return aggregated.drop(columns=spread).rename(columns={f"{m}_mean": m for m in present})


def measured_with(trials: pd.DataFrame, cost: str) -> str:
    """How ``cost`` was measured, for a title: ``"inference latency (ms per batch) at batch 32 on cpu (2 threads)"``.

    Every batch size and device among the complete trials that measured it, joined by " / ".
    """
    measured = trials[trials["status"].eq("complete").fillna(False).astype(bool) & trials[cost].notna()]
    part = _TIMING_PART[cost]
    batches = sorted({t[part]["batch_size"] for t in measured.get("timing", ())
                      if isinstance(t, dict) and isinstance(t.get(part), dict)})
    devices = sorted({str(d) for d in measured.get("timing_device", pd.Series(dtype=object)).dropna()})
    return (f"{COST_LABELS[cost]}" + (f" at batch {' / '.join(map(str, batches))}" if batches else "")
            + (f" on {' / '.join(devices)}" if devices else ""))


def speed_section(trials: pd.DataFrame, points: pd.DataFrame, metric: str) -> list:
    """Markdown lines: every point's measured speeds beside its counts and error; none without measurements."""
    costs = [c for c in MEASURED_COSTS if c in points.columns and points[c].notna().any()]
    if not costs:
        return []
    methods = sorted({t[part]["method"] for t in trials.get("timing", ()) if isinstance(t, dict)
                      for part in ("inference", "training") if isinstance(t.get(part), dict)})
    lines = ["## Measured speed", "",
             "Mult-adds do not predict time for structured layers: here each point's measured speed is beside "
             "its counts, the mean over its seeds' trials. Measured: "
             + "; ".join(measured_with(trials, c) for c in costs) + ".",
             "", "How each was measured: " + "; ".join(methods) + ".", "",
             "| substitute | budget | params | mult-adds | latency (ms) | inference (images/s) | training (images/s) "
             "| error (%) | front | device |", "|---|---|---:|---:|---:|---:|---:|---:|:---:|---|"]
    for _, p in points.iterrows():
        marks = "".join(mark for cost, mark in zip(MEASURED_COSTS, "LT") if p.get(f"on_front_{cost}", False))
        lines.append(f"| {p['substitute']} | {p['budget']} | {_count(p['params'])} | {_count(p['mult_adds'])} "
                     f"| {_speed(p.get('latency_ms'), '{:.3f}')} "
                     f"| {_speed(p.get('inference_images_per_second'), '{:,.0f}')} "
                     f"| {_speed(p.get('train_images_per_second'), '{:,.0f}')} "
                     f"| {_speed(p[f'{metric}_mean'], '{:.2f}')} "
                     f"| {marks} | {p.get('timing_device') or '-'} |")
    return lines + ["", "Front: L = on the front of error against inference latency, T = against training "
                    "throughput (more is better), over all substitutes measured on one device.", ""]


def _speed(value, form: str) -> str:
    return "-" if value is None or pd.isna(value) else form.format(float(value))


def _count(value) -> str:
    return "-" if value is None or pd.isna(value) else f"{int(value):,}"
