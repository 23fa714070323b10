"""Parameter counts of the structured linear maps (Monarch, butterfly, Kronecker, BTT, BLAST), bias excluded.

The issue's formulas with each family's documented cap, written out independently
of budgetsearch's code; shared by the linear-form and the conv-form tests.
"""

import math


def largest_divisor_below_root(d):
    return max(k for k in range(1, d + 1) if d % k == 0 and k * k <= d)


def blast_blocks(d_in, d_out):
    """b: the largest of 1..4 that divides gcd(d_in, d_out)."""
    common = math.gcd(d_in, d_out)
    return max(b for b in range(1, 5) if common % b == 0)


def monarch_count(d_in, d_out, b):
    i, o = math.ceil(d_in / b), math.ceil(d_out / b)
    return b * i * i + b * o * i if b * i < b * o else b * o * i + b * o * o


def expected_params(name, d_in, d_out, h):
    dense = d_in * d_out
    if name == "monarch":
        # The fewest parameters among 1..h, searching on (up to the widest side) until one is at most dense's.
        counts = [monarch_count(d_in, d_out, b) for b in range(1, max(h, d_in, d_out) + 1)]
        within = counts[:h]
        while min(within) > dense and len(within) < len(counts):
            within = counts[:len(within) + 1]
        return min(within)
    if name == "butterfly":
        n = 2
        while n < d_in:
            n *= 2
        per_factor = 2 * math.ceil(d_out / n) * n * int(math.log2(n))
        return max(1, min(h, dense // per_factor)) * per_factor
    o1, i1 = largest_divisor_below_root(d_out), largest_divisor_below_root(d_in)
    o2, i2 = d_out // o1, d_in // i1
    if name == "kronecker":
        per_term = o1 * i1 + o2 * i2
        return max(1, min(h, dense // per_term)) * per_term
    if name == "btt":
        per_rank = i2 * o1 * (i1 + o2)  # r·m₁·n₀·(m₀ + n₁), m₀ = i1, n₀ = o1
        return max(1, min(h, dense // per_rank)) * per_rank
    if name == "blast":
        per_rank = d_in + d_out + blast_blocks(d_in, d_out) ** 2  # r·(m + n + b²)
        return max(1, min(h, dense // per_rank)) * per_rank
    raise AssertionError(name)


def expected_mult_adds_per_row(name, d_in, d_out, h):
    """Monarch, butterfly, BTT and BLAST use each factor element once per row; Kronecker runs the cheapest of its
    three contractions (the issue's K·i₁·o₂·(i₂ + o₁) is the X·Bᵀ-first one)."""
    if name != "kronecker":
        return expected_params(name, d_in, d_out, h)
    o1, i1 = largest_divisor_below_root(d_out), largest_divisor_below_root(d_in)
    o2, i2 = d_out // o1, d_in // i1
    terms = expected_params(name, d_in, d_out, h) // (o1 * i1 + o2 * i2)
    return min(kronecker_orders(d_in, d_out, terms).values())


def kronecker_orders(d_in, d_out, terms):
    """Mult-adds per row of Σₖ Aₖ·X·Bₖᵀ in each contraction order."""
    o1, i1 = largest_divisor_below_root(d_out), largest_divisor_below_root(d_in)
    o2, i2 = d_out // o1, d_in // i1
    return {"B first": terms * i1 * o2 * (i2 + o1),  # (N·i₁, i₂)·(i₂, K·o₂), then (N·o₂, K·i₁)·(K·i₁, o₁)
            "A first": terms * o1 * i2 * (i1 + o2),  # (N·i₂, i₁)·(i₁, K·o₁), then (N·o₁, K·i₂)·(K·i₂, o₂)
            "weight first": d_in * d_out}  # W = Σₖ Aₖ ⊗ Bₖ rebuilt once per step, then (N, d_in)·(d_in, d_out)
