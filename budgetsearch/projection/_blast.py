"""A BLAST factorisation of a dense matrix: the authors' preconditioned gradient descent.

No closed form gives the closest BLAST matrix; Lee et al. (NeurIPS 2024) factorise
by gradient descent, and this follows their reference code. It starts the fit of
BLAST layers (:mod:`._fit`); it is not an optimum.

* Start: the reference's, small random bases (N(0, 10⁻⁶/r)) and N(0, 1) couplings, from
  the caller's generator. A block-wise SVD start (each block's truncated SVD on r/b
  rank slots of its own, exact at full rank) was tried: after 100 rounds its error was
  as large or larger on Gaussian, low-rank-plus-noise and decaying-spectrum matrices
  (64×96, b = 4), up to twice as large (0.145 against 0.072 at r = 24).
* Rounds: U, V and s in turn, each step the gradient of ‖W − Ŵ‖² times (H + δ·I)⁻¹,
  H the factor's Gauss–Newton matrix and δ = 0.1·‖W − Ŵ‖_F on W scaled to unit RMS,
  the step size decaying linearly from 1 to 0.01. At step size 1 that is twice the
  damped Gauss–Newton step P·g (P = (H + δI)⁻¹) of the factor's quadratic, whose
  change −2gᵀPg + 2gᵀPHPg = −2δ·gᵀP²g is never positive: no step raises the error.
"""

from __future__ import annotations

from typing import Optional

import torch

# The reference decomposition's settings (its Llama script): damping δ = 0.1·‖residual‖, the step size
# decaying linearly from 1 to 0.01. Rounds: 100, not its 300: on 64×96 test matrices 100 come within a few
# per cent of 300's error where it is above 0.05, and a round of a 640-wide layer at rank 316 takes 0.7 s
# on one CPU thread.
DAMPING = 0.1
ROUNDS = 100
FINAL_STEP = 0.01
# Keeps the Grams invertible where the residual vanishes (an exact fit) and a rank slot holds zeros.
DAMPING_FLOOR = 1e-12


def blast_matrix(left: torch.Tensor, coupling: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """W from (b, p, r) left bases, (b, b, r) couplings, (b, q, r) right bases: block (i, j) = U_i·diag(s_ij)·V_jᵀ."""
    (blocks, p, _), q = left.shape, right.shape[1]
    return torch.einsum("ipr,ijr,jqr->ipjq", left, coupling, right).reshape(blocks * p, blocks * q)


def _gram(bases: torch.Tensor) -> torch.Tensor:
    """Xᵀ·X of each of a stack of bases."""
    return bases.transpose(1, 2) @ bases


def blast_factors(matrix: torch.Tensor, blocks: int, rank: int, rounds: int = ROUNDS,
                  generator: Optional[torch.Generator] = None) -> tuple:
    """(left, coupling, right) of a BLAST matrix close to ``matrix`` (d_out × d_in, both divisible by ``blocks``).

    Deterministic given ``generator`` (a CPU generator: the start is drawn there, then moved).
    """
    scale = matrix.square().mean().sqrt().clamp_min(torch.finfo(matrix.dtype).tiny)
    (rows, columns), eye = matrix.shape, torch.eye(rank, dtype=matrix.dtype, device=matrix.device)
    p, q = rows // blocks, columns // blocks
    grid = (matrix / scale).reshape(blocks, p, blocks, q).permute(0, 2, 1, 3)  # block (i, j): grid[i, j]
    start = [torch.randn(shape, generator=generator, dtype=matrix.dtype).to(matrix.device)
             for shape in ((blocks, p, rank), (blocks, blocks, rank), (blocks, q, rank))]
    left, coupling, right = start[0] * (1e-3 / rank ** 0.5), start[1], start[2] * (1e-3 / rank ** 0.5)

    def residual_and_damping():
        residual = grid - torch.einsum("ipr,ijr,jqr->ijpq", left, coupling, right)
        return residual, (DAMPING * residual.norm() + DAMPING_FLOOR) * eye

    for step in range(rounds):
        # The reference's step size on ‖·‖², whose gradient is twice the descent directions below.
        rate = 2 * (1 - (1 - FINAL_STEP) * step / rounds)
        # U_i against block row i, Σ_j U_i·diag(s_ij)·V_jᵀ: Gauss–Newton matrix Σ_j (s_ij·s_ijᵀ) ∘ V_jᵀV_j.
        residual, damping = residual_and_damping()
        descent = torch.einsum("ijpq,jqc,ijc->ipc", residual, right, coupling)
        gram = torch.einsum("ijc,ijd,jcd->icd", coupling, coupling, _gram(right))
        left = left + rate * torch.linalg.solve(gram + damping, descent, left=False)
        # V_j against block column j, likewise with the U_i.
        residual, damping = residual_and_damping()
        descent = torch.einsum("ijpq,ipc,ijc->jqc", residual, left, coupling)
        gram = torch.einsum("ijc,ijd,icd->jcd", coupling, coupling, _gram(left))
        right = right + rate * torch.linalg.solve(gram + damping, descent, left=False)
        # s_ij against block (i, j): Gauss–Newton matrix U_iᵀU_i ∘ V_jᵀV_j.
        residual, damping = residual_and_damping()
        descent = torch.einsum("ipc,ijpq,jqc->ijc", left, residual, right)
        gram = _gram(left)[:, None] * _gram(right)[None]
        coupling = coupling + rate * torch.linalg.solve(gram + damping, descent[..., None])[..., 0]
    return _balanced(left, coupling * scale, right)


def _balanced(left: torch.Tensor, coupling: torch.Tensor, right: torch.Tensor) -> tuple:
    """The same matrix with unit-norm basis columns, then one common scale moved so all three tensors have equal RMS.

    The descent leaves the factors at whatever scales its start and steps gave them; fine-tuning
    (its weight decay, its step sizes) sees the factors, so they are rebalanced along BLAST's symmetry
    U_i[:, c]·α, V_j[:, c]·β, s_ij[c]/(α·β).
    """
    tiny = torch.finfo(left.dtype).tiny
    left_norms, right_norms = left.norm(dim=1).clamp_min(tiny), right.norm(dim=1).clamp_min(tiny)  # (b, r)
    left, right = left / left_norms[:, None], right / right_norms[:, None]
    coupling = coupling * left_norms[:, None] * right_norms[None]
    bases_rms = torch.cat((left.flatten(), right.flatten())).square().mean().sqrt().clamp_min(tiny)
    factor = (coupling.square().mean().sqrt() / bases_rms).pow(1 / 3)
    return left * factor, coupling / factor ** 2, right * factor
