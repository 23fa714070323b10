"""Mult-adds of an einsum, contracted in budgetsearch's order: left to right.

That is torch's own order without opt_einsum. With opt_einsum installed, torch
contracts three or more operands along the path opt_einsum finds and records
it in the trace; the count does not read it, so it never depends on an
optional package (opt_einsum's path is chosen to cost less).

Each pair costs the product of the sizes of every label left in the pair (its
batch, kept and contracted labels: one multiply-add per point of the product's
iteration space, what the ``bmm`` torch reduces it to costs). Before a pair, a
label that neither the other operand, a later one nor the output needs is
summed out, one addition per element read (none for labels of size 1, which a
squeeze drops). ``...`` stands for the broadcast leading dimensions; an
equation without ``->`` has numpy's implicit output.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Dict, List, Sequence

ELLIPSIS = "..."


def _labels(term: str, rank: int) -> List[str]:
    """The term's labels, one per dimension; ellipsis dimensions are named by their position from the right."""
    if ELLIPSIS not in term:
        return list(term)
    before, after = term.split(ELLIPSIS)
    broadcast = rank - len(before) - len(after)
    return [*before, *(f"{ELLIPSIS}{i}" for i in reversed(range(broadcast))), *after]


def _output(terms: Sequence[List[str]], explicit: str | None, ellipsis_rank: int) -> set:
    if explicit is not None:
        return set(_labels(explicit, len(explicit.replace(ELLIPSIS, "")) + ellipsis_rank))
    letters = Counter(label for term in terms for label in term if not label.startswith(ELLIPSIS))
    return {label for term in terms for label in term if label.startswith(ELLIPSIS)} | {
        letter for letter, uses in letters.items() if uses == 1}


def einsum_mult_adds(equation: str, shapes: Sequence[Sequence[int]]) -> int:
    inputs, arrow, explicit = equation.replace(" ", "").partition("->")
    terms = [_labels(term, len(shape)) for term, shape in zip(inputs.split(","), shapes)]
    ellipsis_rank = max((sum(label.startswith(ELLIPSIS) for label in term) for term in terms), default=0)
    output = _output(terms, explicit if arrow else None, ellipsis_rank)
    # A repeated label within one term takes a diagonal: free, and the label is then one dimension.
    operands: List[Dict[str, int]] = [dict(zip(term, shape)) for term, shape in zip(terms, shapes)]
    mult_adds = 0

    def sum_out(operand: Dict[str, int], needed: set) -> Dict[str, int]:
        nonlocal mult_adds
        if math.prod(size for label, size in operand.items() if label not in needed) > 1:
            mult_adds += math.prod(operand.values())
        return {label: size for label, size in operand.items() if label in needed}

    current = operands[0]
    for i, right in enumerate(operands[1:], start=1):
        later = output.union(*operands[i + 1:])
        current, right = sum_out(current, later | set(right)), sum_out(right, later | set(current))
        pair = {label: max(current.get(label, 1), right.get(label, 1)) for label in current.keys() | right.keys()}
        mult_adds += math.prod(pair.values())
        current = {label: size for label, size in pair.items() if label in later}
    sum_out(current, output)
    return mult_adds
