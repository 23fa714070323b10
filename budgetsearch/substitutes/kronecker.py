"""Kronecker: a sum of K Kronecker products, W = Σₖ Aₖ ⊗ Bₖ.

As compared in Qiu et al., "Compute Better Spent: Replacing Dense Layers with
Structured Matrices", ICML 2024. Aₖ is o₁×i₁ and Bₖ is o₂×i₂, where o₁ is the
largest divisor of d_out not above √d_out and o₂ = d_out/o₁ (i₁, i₂ likewise from
d_in): K·(o₁·i₁ + o₂·i₂) parameters (+ d_out for a bias).

The input, read as an i₁×i₂ matrix X, maps to Σₖ Aₖ·X·Bₖᵀ. Of the three ways to
contract it, the layer runs the one with the fewest mult-adds per row (the first
listed on a tie), and the count traces the one that runs:

* X·Bₖᵀ first, then Aₖ (two matmuls, all K terms at once): K·i₁·o₂·(i₂ + o₁);
* Aₖ·X first, then Bₖᵀ: K·o₁·i₂·(i₁ + o₂);
* W = Σₖ Aₖ ⊗ Bₖ first, then one dense matmul: d_in·d_out, once K·min(…) above
  exceeds it (many terms). W depends on the parameters alone, so it is rebuilt
  once per forward in training (K·d_in·d_out mult-adds per step, whatever the
  batch) and once at inference, and counted as every rebuilt weight is
  (:class:`~._blocks.ReconstructedModule`): per image, the dense matmul only.

Decisions: a prime d (o₁ = 1) is not padded, so that side degenerates to a full
matrix, as the definition says. A setting builds min(K, K_max) terms, K_max the
most whose parameters stay at or below the dense layer's d_in·d_out (at least 1);
this is below the full Kronecker rank min(o₁·i₁, o₂·i₂), past which terms add
parameters without adding any matrix.
"""

import math

import torch
from torch import nn

from ._blocks import ReconstructedModule
from ._features_last import FeaturesLastLinear, check_features, check_size, conv_form
from ._registry import implemented, register_substitute


def divisor_split(features: int) -> tuple:
    """(d₁, d₂) with d₁ the largest divisor of ``features`` not above its square root."""
    first = next(d for d in range(math.isqrt(features), 0, -1) if features % d == 0)
    return first, features // first


def kronecker_terms(in_features: int, out_features: int, terms: int) -> int:
    """The number of terms a setting builds: capped at dense's parameter count, at least 1."""
    check_features(in_features, out_features)
    check_size("terms", terms)
    (o1, o2), (i1, i2) = divisor_split(out_features), divisor_split(in_features)
    return max(1, min(terms, in_features * out_features // (o1 * i1 + o2 * i2)))


def kronecker_orders(in_features: int, out_features: int, terms: int) -> dict:
    """Mult-adds per row of each way to contract Σₖ Aₖ·X·Bₖᵀ, in the order ties are broken."""
    (o1, o2), (i1, i2) = divisor_split(out_features), divisor_split(in_features)
    return {"B first": terms * i1 * o2 * (i2 + o1), "A first": terms * o1 * i2 * (i1 + o2),
            "weight first": in_features * out_features}


class KroneckerLinear(FeaturesLastLinear, ReconstructedModule):
    def __init__(self, in_features, out_features, bias=True, *, terms):
        super().__init__(in_features, out_features, bias)
        self.terms = kronecker_terms(in_features, out_features, terms)
        (self.o1, self.o2), (self.i1, self.i2) = divisor_split(out_features), divisor_split(in_features)
        costs = kronecker_orders(in_features, out_features, self.terms)
        self.order = min(costs, key=costs.get)
        self.A = nn.Parameter(torch.empty(self.terms, self.o1, self.i1))
        self.B = nn.Parameter(torch.empty(self.terms, self.o2, self.i2))
        # X·Bₖᵀ keeps unit variance; the A side sums K·i₁ of those and carries the He gain 2·d_in/d_out.
        nn.init.normal_(self.B, std=math.sqrt(1.0 / self.i2))
        nn.init.normal_(self.A, std=math.sqrt(2.0 * self.i2 / (self.terms * out_features)))

    def reconstruct(self):
        """What :meth:`mix` multiplies the input by: W, or the two factors laid out for its matmuls."""
        terms, o1, o2, i1, i2 = self.terms, self.o1, self.o2, self.i1, self.i2
        if self.order == "weight first":
            # W[(p, q), (a, b)] = Σₖ Aₖ[p, a]·Bₖ[q, b]
            return torch.einsum("kpa,kqb->pqab", self.A, self.B).reshape(self.out_features, self.in_features)
        if self.order == "B first":
            return self.B.reshape(terms * o2, i2).t(), self.A.permute(0, 2, 1).reshape(terms * i1, o1)
        return self.A.reshape(terms * o1, i1).t(), self.B.permute(0, 2, 1).reshape(terms * i2, o2)

    def mix(self, x):
        # Sizes are plain ints, not read off traced tensors: size arithmetic would show up in the count.
        terms, o1, o2, i1, i2 = self.terms, self.o1, self.o2, self.i1, self.i2
        if self.order == "weight first":
            return nn.functional.linear(x, self.reconstructed())
        first, second = self.reconstructed()
        if self.order == "B first":
            # (N·i₁, i₂) @ (i₂, K·o₂): every term's X·Bₖᵀ in one product.
            x = x.reshape(-1, i2) @ first
            # (N·o₂, K·i₁) @ (K·i₁, o₁): Σₖ Aₖ·(X·Bₖᵀ), the sum over terms folded into the contraction.
            x = x.reshape(-1, i1, terms, o2).permute(0, 3, 2, 1).reshape(-1, terms * i1) @ second
            return x.reshape(-1, o2, o1).transpose(1, 2).reshape(-1, o1 * o2)
        # (N·i₂, i₁) @ (i₁, K·o₁): every term's Aₖ·X, transposed.
        x = x.reshape(-1, i1, i2).transpose(1, 2).reshape(-1, i1) @ first
        # (N·o₁, K·i₂) @ (K·i₂, o₂): Σₖ (Aₖ·X)·Bₖᵀ, rows already in the output's (o₁, o₂) order.
        x = x.reshape(-1, i2, terms, o1).permute(0, 3, 2, 1).reshape(-1, terms * i2) @ second
        return x.reshape(-1, o1 * o2)

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, terms={self.terms}, A={tuple(self.A.shape[1:])}, B={tuple(self.B.shape[1:])}, "
                f"order={self.order!r}")


register_substitute(implemented(
    "kronecker",
    build=conv_form(KroneckerLinear),
    compressed_types=(KroneckerLinear,),
    sizes=lambda c_in, c_out, kernel, terms: kronecker_terms(c_in, c_out, terms),
    linear=KroneckerLinear,
))
