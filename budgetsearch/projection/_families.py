"""Closed-form projections of a dense (C_o, C_i) matrix onto each family's structured part.

A writer takes the structured module, the target matrix (float64) and, for the
data-aware low rank, the inputs the module sees as columns; it writes the
module's parameters and returns the matrix the module now computes, built from
the factors by the writer's own algebra (the tests compare it with the module's
effective weight, which catches layout mistakes).

Optimal (closest in Frobenius norm at the module's size): dense copy, low rank
(Eckart–Young), Kronecker sums (Van Loan–Pitsianis), hashed banks (the signed
bucket means solve the least squares for the fixed hash), Monarch (each
(output block, input block) pair of the permuted matrix is a free product of as
many rank-one terms as the permutation routes there: Dao et al. 2022's
block-wise projection) and BTT (each block a free rank-r product). Tucker
(HOSVD + HOOI), TT (TT-SVD) and CP (ALS) are the standard algorithms, within
their known bounds of the optimum. The tied low rank VᵀV is the closest rank-r
positive semidefinite matrix when C_i = C_o, and a start for the fit otherwise.
BLAST has no closed form: its writer is only its fit's start (``FIT_STARTS``).
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import nn

from ..substitutes.blast import BlastLinear
from ..substitutes.btt import BlockTensorTrainLinear
from ..substitutes.cp import CPPointwise
from ..substitutes.generic import LowRankPointwise
from ..substitutes.hashed import HashedConv
from ..substitutes.kronecker import KroneckerLinear
from ..substitutes.lowrank import TiedLowRank
from ..substitutes.monarch import MonarchLinear
from ..substitutes.tensor_train import TensorTrainPointwise
from ..substitutes.tucker import TuckerPointwise
from ._blast import blast_factors, blast_matrix
from ._linalg import balanced_factors, kronecker_sum, signed_bucket_means, whitened_low_rank
from ._tensors import cp_als, cp_tensor, tensor_train, tt_tensor, tucker

Writer = Callable[..., torch.Tensor]


def _write(parameter: torch.Tensor, value: torch.Tensor) -> None:
    with torch.no_grad():
        parameter.copy_(value.reshape(parameter.shape).to(parameter))


def _dense(module: nn.Module, target: torch.Tensor, **_) -> torch.Tensor:
    _write(module.weight, target)
    return target


def _low_rank(module: LowRankPointwise, target: torch.Tensor, columns: Optional[torch.Tensor] = None, **_):
    rank = module.contract.weight.shape[0]
    left, right = balanced_factors(target, rank) if columns is None else whitened_low_rank(target, columns, rank)
    _write(module.contract.weight, right)
    _write(module.expand.weight, left)
    return left @ right


def _tied_low_rank(module: TiedLowRank, target: torch.Tensor, **_) -> torch.Tensor:
    """W = S·VᵀV·T, S summing the c outputs into C_o and T tiling C_i inputs to c (identities when square).

    The closest rank-r PSD matrix to M is the symmetric part's eigendecomposition cut to its r
    largest positive eigenvalues (Higham 1988): optimal for M = W when C_i = C_o. Otherwise M is
    W lifted through the pseudo-inverses of S and T (S·M·T = W), a two-step approximation.
    """
    rank = module.V.shape[0]
    summing = nn.functional.one_hot(module.output_of.long(), module.out_channels).t().to(target)  # S
    tiling = nn.functional.one_hot(module.input_of.long(), module.in_channels).to(target)  # T
    lifted = (summing.t() / summing.sum(1)) @ target @ (tiling.t() / tiling.sum(0)[:, None])
    values, vectors = torch.linalg.eigh((lifted + lifted.t()) / 2)
    largest = values.argsort(descending=True)[:rank]
    tied = (vectors[:, largest] * values[largest].clamp_min(0).sqrt()).t()
    _write(module.V, tied)  # r ≤ c: the rank is at most max(C_i, C_o)
    return summing @ tied.t() @ tied @ tiling


def _hashed(module: HashedConv, target: torch.Tensor, **_) -> torch.Tensor:
    bank = signed_bucket_means(target, module.signed_index, module.bank.numel())
    _write(module.bank, bank)
    return torch.cat((bank, -bank))[module.signed_index.long()].reshape(target.shape)


def _kronecker(module: KroneckerLinear, target: torch.Tensor, **_) -> torch.Tensor:
    a, b = kronecker_sum(target, (module.o1, module.o2), (module.i1, module.i2), module.terms)
    _write(module.A, a)
    _write(module.B, b)
    return sum(torch.kron(a_k, b_k) for a_k, b_k in zip(a, b))


def _block_tensor_train(module: BlockTensorTrainLinear, target: torch.Tensor, **_) -> torch.Tensor:
    """Block (t, j) of W, rows t·n₁ + c and columns j·m₀ + a, is Σₛ core2[t, s·m₁ + j, c]·core1[j, a, s·n₀ + t]."""
    m0, m1, n0, n1, rank = module.m0, module.m1, module.n0, module.n1, module.rank
    blocks = target.reshape(n0, n1, m1, m0).permute(0, 2, 1, 3)  # (t, j, c, a)
    left, right = balanced_factors(blocks, rank)  # (t, j, c, s), (t, j, s, a)
    _write(module.core2, left.permute(0, 3, 1, 2))  # (t, s, j, c)
    _write(module.core1, right.permute(1, 3, 2, 0))  # (j, a, s, t)
    return (left @ right).permute(0, 2, 1, 3).reshape(target.shape)


def _monarch(module: MonarchLinear, target: torch.Tensor, **_) -> torch.Tensor:
    """Output block k' (rows c·b + k') and input block k (columns k·in_blk + a) meet in the rank-one terms

    second[k', :, l']·first[k, l, :] for every l' with k·inner + l = l'·b + k' (the reshape between the factors).
    Each factor row and column serves one term, so each meeting is a free product of that many terms: its
    truncated SVD, on the rows and columns that the crop and the zero padding leave real, is optimal.
    """
    blocks, inner, out_block = module.blocks, module.inner, module.out_block
    in_block = module.blkdiag1.shape[2]
    first = target.new_zeros(module.blkdiag1.shape)
    second = target.new_zeros(module.blkdiag2.shape)
    approximation = torch.zeros_like(target)
    rows = torch.arange(out_block, device=target.device) * blocks
    for out_index in range(blocks):
        routes = {}
        for term in range(inner):
            in_index, row_of_first = divmod(term * blocks + out_index, inner)
            routes.setdefault(in_index, []).append((term, row_of_first))
        out_rows = rows + out_index
        real_rows = out_rows < module.out_features
        for in_index, terms in routes.items():
            in_columns = in_index * in_block + torch.arange(in_block, device=target.device)
            real_columns = in_columns < module.in_features
            meeting = target[out_rows[real_rows]][:, in_columns[real_columns]]
            left, right = balanced_factors(meeting, len(terms))
            second_terms, first_rows = (torch.tensor(t, device=target.device) for t in zip(*terms))
            second[out_index, real_rows.nonzero()[:, 0, None], second_terms] = left
            first[in_index, first_rows[:, None], real_columns.nonzero()[:, 0]] = right
            approximation[out_rows[real_rows][:, None], in_columns[real_columns]] = left @ right
    _write(module.blkdiag1, first)
    _write(module.blkdiag2, second)
    return approximation


def _tucker(module: TuckerPointwise, target: torch.Tensor, **_) -> torch.Tensor:
    core, factors = tucker(target.reshape(module.shape), module.ranks)
    for parameter, factor in zip(module.factors, factors):
        _write(parameter, factor)
    if module.core is not None:
        _write(module.core, core)
    else:  # the compatibility mode's core, itself a tensor train: TT-SVD of the Tucker core
        ranks = tuple(c.shape[2] for c in module.core_cores[:2])
        cores = tensor_train(core, ranks)
        for parameter, value in zip(module.core_cores, cores):
            _write(parameter, value)
        core = tt_tensor(cores)
    return torch.einsum("abc,ia,jb,kc->ijk", core, *factors).reshape(target.shape)


def _tensor_train(module: TensorTrainPointwise, target: torch.Tensor, **_) -> torch.Tensor:
    cores = tensor_train(target.reshape(module.shape), module.ranks)
    for parameter, core in zip(module.cores, cores):
        _write(parameter, core)
    return tt_tensor(cores).reshape(target.shape)


def _cp(module: CPPointwise, target: torch.Tensor, generator: Optional[torch.Generator] = None, **_) -> torch.Tensor:
    factors = cp_als(target.reshape(module.shape), module.rank, generator=generator)
    for parameter, factor in zip(module.factors, factors):
        _write(parameter, factor)
    return cp_tensor(factors).reshape(target.shape)


def _blast(module: BlastLinear, target: torch.Tensor, generator: Optional[torch.Generator] = None,
           **_) -> torch.Tensor:
    left, coupling, right = blast_factors(target, module.blocks, module.rank, generator=generator)
    _write(module.left, left)
    _write(module.coupling, coupling)
    _write(module.right, right)
    return blast_matrix(left, coupling, right)


# Checked in order with isinstance: a subclass of a listed type is projected as that type.
CLOSED_FORMS: tuple = (
    ((nn.Conv2d, nn.Linear), _dense),
    (LowRankPointwise, _low_rank),
    (TiedLowRank, _tied_low_rank),
    (HashedConv, _hashed),
    (KroneckerLinear, _kronecker),
    (MonarchLinear, _monarch),
    (BlockTensorTrainLinear, _block_tensor_train),
    (TuckerPointwise, _tucker),
    (TensorTrainPointwise, _tensor_train),
    (CPPointwise, _cp),
)

# Families without a closed form whose fit starts from a factorisation of their own (good, not optimal):
# method="closed" refuses them as it does ACDC, method="fit" writes this first.
FIT_STARTS: tuple = (
    (BlastLinear, _blast),
)

# The structured parts whose projection uses the inputs they see (``method="whitened"``).
DATA_AWARE = (LowRankPointwise,)


def closed_form(module: nn.Module, for_fit: bool = False) -> Optional[Writer]:
    """The module's closed-form writer; ``for_fit``: else its fit's start, where it has one."""
    table = CLOSED_FORMS + FIT_STARTS if for_fit else CLOSED_FORMS
    return next((writer for types, writer in table if isinstance(module, types)), None)


def has_closed_form(kind: type) -> bool:
    """Whether modules of ``kind`` have a closed form, known from the type alone (before anything is built)."""
    return any(issubclass(kind, types) for types, _ in CLOSED_FORMS)
