"""Closed-form nearest structured matrices, in float64 and free of any layer.

Each function takes a target and a size and returns the factors of the closest
matrix of that structure in Frobenius norm (or, for :func:`whitened_low_rank`, in
output norm on given inputs). Layouts follow the substitutes they serve; the
family writers (:mod:`._families`) copy the factors into the parameters.
"""

from __future__ import annotations

import torch


def truncated_svd(matrix: torch.Tensor, rank: int) -> tuple:
    """``(U, S, Vh)`` of the best rank-``rank`` approximation, zero-padded when ``rank`` exceeds min(m, n).

    Eckart–Young: ``U·diag(S)·Vh`` is the closest rank-``rank`` matrix; padding with zero
    singular triples keeps the requested shapes without changing the product.
    """
    u, s, vh = torch.linalg.svd(matrix, full_matrices=False)
    keep = min(rank, s.shape[-1])
    u, s, vh = u[..., :keep], s[..., :keep], vh[..., :keep, :]
    missing = rank - keep
    if missing:
        u = torch.cat((u, u.new_zeros(*u.shape[:-1], missing)), -1)
        s = torch.cat((s, s.new_zeros(*s.shape[:-1], missing)), -1)
        vh = torch.cat((vh, vh.new_zeros(*vh.shape[:-2], missing, vh.shape[-1])), -2)
    return u, s, vh


def balanced_factors(matrix: torch.Tensor, rank: int) -> tuple:
    """``(left, right)`` with ``left @ right`` the best rank-``rank`` approximation and √σ on each side.

    Splitting σ evenly keeps both factors at the same scale, which is what later
    fine-tuning (and its weight decay) sees.
    """
    u, s, vh = truncated_svd(matrix, rank)
    root = s.sqrt()
    return u * root.unsqueeze(-2), root.unsqueeze(-1) * vh


def whitened_low_rank(matrix: torch.Tensor, inputs: torch.Tensor, rank: int) -> tuple:
    """``(left, right)``, ``left @ right`` of rank ``rank`` minimising ``‖(matrix − left·right)·inputs‖_F``.

    SVD-LLM (Wang et al., 2024): with ``G = X·Xᵀ = L·Lᵀ``, ``‖(W − W')X‖ = ‖(W − W')L‖``,
    so the truncated SVD of ``W·L`` gives ``W' = (W·L)_r·L⁺``. L is taken from the
    eigendecomposition of G rather than a Cholesky factor, so a singular G (channels a
    ReLU left dead, fewer samples than channels) needs no ridge and the result stays exact.
    ``inputs`` is ``(in_features, samples)``.
    """
    second_moment = inputs @ inputs.t()
    eigenvalues, eigenvectors = torch.linalg.eigh(second_moment)
    kept = eigenvalues > eigenvalues.max().clamp_min(0) * second_moment.shape[0] * torch.finfo(inputs.dtype).eps
    roots = torch.where(kept, eigenvalues.clamp_min(0).sqrt(), torch.zeros_like(eigenvalues))
    root = eigenvectors * roots  # L with L·Lᵀ = G, up to the directions that carry no signal
    inverse_roots = torch.where(kept, 1.0 / torch.where(kept, roots, torch.ones_like(roots)), torch.zeros_like(roots))
    root_pinv = inverse_roots.unsqueeze(1) * eigenvectors.t()  # L⁺
    left, right = balanced_factors(matrix @ root, rank)
    return left, right @ root_pinv


def depthwise_split(weight: torch.Tensor) -> tuple:
    """``(pointwise, depthwise)`` of the closest depthwise-then-1×1 pair to a (C_o, C_i, k_h, k_w) weight.

    The composite's weight is ``P[o, i]·D[i, :, :]``, one rank-one (C_o, k²) slice per
    input channel with its own factors, so the rank-one SVD of each slice is optimal.
    Each depthwise kernel has unit norm (sign: its largest entry positive), so the error
    of any later approximation P' of P adds exactly: ‖W − P'⊗D‖² = ‖W − P⊗D‖² + ‖P − P'‖².
    """
    out_channels, in_channels, kh, kw = weight.shape
    slices = weight.permute(1, 0, 2, 3).reshape(in_channels, out_channels, kh * kw)
    u, s, vh = truncated_svd(slices, 1)
    kernels, columns = vh[:, 0, :], u[:, :, 0] * s
    largest = kernels.gather(1, kernels.abs().argmax(1, keepdim=True))
    sign = torch.where(largest < 0, -1.0, 1.0).to(weight.dtype)
    return (columns * sign).t(), (kernels * sign).reshape(in_channels, 1, kh, kw)


def kronecker_sum(matrix: torch.Tensor, out_split: tuple, in_split: tuple, terms: int) -> tuple:
    """``(A, B)`` of shapes (K, o₁, i₁), (K, o₂, i₂) with Σₖ Aₖ ⊗ Bₖ closest to ``matrix`` (o₁o₂ × i₁i₂).

    Van Loan and Pitsianis (1993): rearranging W so that every Kronecker product becomes a
    rank-one matrix vec(A)·vec(B)ᵀ turns the problem into a truncated SVD of the rearrangement.
    """
    (o1, o2), (i1, i2) = out_split, in_split
    rearranged = matrix.reshape(o1, o2, i1, i2).permute(0, 2, 1, 3).reshape(o1 * i1, o2 * i2)
    left, right = balanced_factors(rearranged, terms)
    return left.t().reshape(terms, o1, i1), right.reshape(terms, o2, i2)


def signed_bucket_means(weight: torch.Tensor, signed_index: torch.Tensor, budget: int) -> torch.Tensor:
    """The bank ``w`` minimising Σⱼ (W_j − ξⱼ·w[h(j)])², for ``signed_index`` j ↦ h(j) + B·[ξⱼ = −1].

    Its normal equations decouple per bucket: ``count_b·w_b = Σ_{h(j)=b} ξⱼ·W_j``.
    An empty bucket touches no entry; it gets 0.
    """
    index = signed_index.long().flatten()
    bucket = index % budget
    sign = torch.where(index < budget, 1.0, -1.0).to(weight.dtype)
    sums = weight.new_zeros(budget).index_add_(0, bucket, sign * weight.flatten())
    counts = weight.new_zeros(budget).index_add_(0, bucket, torch.ones_like(sign))
    return sums / counts.clamp_min(1)
