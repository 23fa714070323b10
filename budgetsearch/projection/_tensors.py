"""Decompositions of a 3-way tensor at given ranks: Tucker, tensor train, CP.

Written by hand in a few lines each (no tensorly dependency): the tensors are a
1×1 weight viewed as (d1, d2, d3), small enough that plain SVDs are exact and fast.

* Tucker: HOSVD (De Lathauwer et al., 2000a), error ≤ √d·best, then HOOI
  (De Lathauwer et al., 2000b), which never increases the error.
* Tensor train: TT-SVD (Oseledets, 2011), error² ≤ Σ_k (discarded σ² of unfolding k) ≤ (d−1)·best².
* CP: alternating least squares (Kolda and Bader, 2009) from the HOSVD factors;
  no closed form exists (best rank-R CP may not even exist), ALS never increases the error.
"""

from __future__ import annotations

import torch

from ._linalg import truncated_svd


def unfolding(tensor: torch.Tensor, mode: int) -> torch.Tensor:
    """Mode-``mode`` unfolding: the mode's index on the rows, the others (in order) on the columns."""
    return tensor.movedim(mode, 0).reshape(tensor.shape[mode], -1)


def leading_vectors(matrix: torch.Tensor, rank: int) -> torch.Tensor:
    return truncated_svd(matrix, rank)[0]


def tucker_core(tensor: torch.Tensor, factors) -> torch.Tensor:
    return torch.einsum("ijk,ia,jb,kc->abc", tensor, *factors)


def hosvd(tensor: torch.Tensor, ranks: tuple) -> tuple:
    """``(core, factors)``: each factor the leading left singular vectors of its unfolding."""
    factors = [leading_vectors(unfolding(tensor, mode), rank) for mode, rank in enumerate(ranks)]
    return tucker_core(tensor, factors), factors


def tucker(tensor: torch.Tensor, ranks: tuple, sweeps: int = 20) -> tuple:
    """``(core, factors)`` by HOSVD then ``sweeps`` HOOI sweeps (each factor refit to the others' projection)."""
    _, factors = hosvd(tensor, ranks)
    for _ in range(sweeps):
        for mode in range(3):
            identity = torch.eye(tensor.shape[mode], dtype=tensor.dtype, device=tensor.device)
            others = [identity if m == mode else f for m, f in enumerate(factors)]
            projected = torch.einsum("ijk,ia,jb,kc->abc", tensor, *others)
            factors[mode] = leading_vectors(unfolding(projected, mode), ranks[mode])
    return tucker_core(tensor, factors), factors


def tensor_train(tensor: torch.Tensor, ranks: tuple) -> list:
    """TT-SVD: cores ``(r_{j-1}, d_j, r_j)`` (outer ranks 1), each the leading left vectors of what is left."""
    shape, cores, rest, bond = tensor.shape, [], tensor, 1
    for size, rank in zip(shape[:-1], ranks):
        u, s, vh = truncated_svd(rest.reshape(bond * size, -1), rank)
        cores.append(u.reshape(bond, size, rank))
        rest, bond = s.unsqueeze(1) * vh, rank
    cores.append(rest.reshape(bond, shape[-1], 1))
    return cores


def cp_als(tensor: torch.Tensor, rank: int, sweeps: int = 1000, tolerance: float = 1e-6, generator=None) -> list:
    """Factors ``(d_j, R)`` of a rank-R CP approximation by ALS.

    Start: the leading R left singular vectors of each unfolding (HOSVD); where R
    exceeds d_j, the columns that SVD cannot give are drawn from ``generator``.
    Each sweep solves every factor's least-squares problem exactly, so the error
    never increases; ``pinv`` keeps rank-deficient Gram matrices (repeated columns) safe.
    Sweeps stop once one gains less than ``tolerance``·‖T‖: ALS can crawl through a
    "swamp" for hundreds of sweeps before it converges, so a fixed small count is not enough.
    """
    factors = []
    for mode in range(3):
        u, s, _ = torch.linalg.svd(unfolding(tensor, mode), full_matrices=False)
        start = u[:, :rank][:, s[:rank] > 0]
        if start.shape[1] < rank:
            missing = rank - start.shape[1]
            extra = torch.randn(tensor.shape[mode], missing, generator=generator, dtype=tensor.dtype).to(start)
            start = torch.cat((start, extra), 1)
        factors.append(start)
    equations = ("ijk,jr,kr->ir", "ijk,ir,kr->jr", "ijk,ir,jr->kr")
    norm, error = tensor.norm().item(), float("inf")
    for _ in range(sweeps):
        for mode, equation in enumerate(equations):
            others = [f for m, f in enumerate(factors) if m != mode]
            gram = (others[0].t() @ others[0]) * (others[1].t() @ others[1])
            factors[mode] = torch.einsum(equation, tensor, *others) @ torch.linalg.pinv(gram, hermitian=True)
        error, previous = (cp_tensor(factors) - tensor).norm().item(), error
        if previous - error <= tolerance * norm:
            break
    return factors


def cp_tensor(factors) -> torch.Tensor:
    return torch.einsum("ir,jr,kr->ijk", *factors)


def tt_tensor(cores) -> torch.Tensor:
    first, middle, last = cores
    return torch.einsum("xia,ajb,bky->ijk", first, middle, last)
