"""What each built-in substitute is, without importing the module that builds it (nor torch).

A family file builds its layers; this table says what each substitute is
called, what sizes it and which paper it comes from, so that listing the
registry (``budgetsearch substitutes``, ``--help``) stays a fraction of a second.
The order of the table is the order of every listing. A family's module
registers its layers with ``register_substitute(implemented(NAME, build=...))``
on its first lookup (:func:`~budgetsearch.substitutes.get_substitute`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ._hyperparameter import Hyperparameter

# The fraction h of a dense weight's size kept (a rank, a hash budget), > 0: at 0 there is no layer.
_FRACTION = dict(type=float, low=0.0, high=1.0, grows=True, low_open=True)


@dataclass(frozen=True)
class Declaration:
    """A substitute's name, size hyperparameter and description; ``module`` is the family file that builds it."""

    name: str
    module: str
    original_name: str
    hyperparameter: Optional[Hyperparameter]
    summary: str
    paper: str = ""


HASHING_TRICK = "Chen et al., Compressing Neural Networks with the Hashing Trick, ICML 2015"

DECLARATIONS = (
    Declaration("conv", "conv", "Conv", None, "dense k×k convolution (the baseline)"),
    Declaration("separable", "separable", "Sep", None, "depthwise k×k (only if k>1) + dense 1×1",
                "Chollet, Xception, CVPR 2017"),
    # B = max(1, int(h·size)) shared values of the hashed weights (the dense k×k, or sep-hashed's 1×1)
    Declaration("hashed", "hashed", "Hashed", Hyperparameter("budget_scale", **_FRACTION),
                "HashedNet k×k conv: weights gathered with sign hashing from B shared values", HASHING_TRICK),
    Declaration("sep-hashed", "hashed", "SepHashed", Hyperparameter("budget_scale", **_FRACTION),
                "depthwise k×k + HashedNet 1×1", HASHING_TRICK),
    # bottleneck rank r = max(1, int(h·max(C_i, C_o)))
    Declaration("generic", "generic", "Generic", Hyperparameter("rank_scale", **_FRACTION),
                "depthwise + 1×1 to rank r + 1×1 to C_o", "Sandler et al., MobileNetV2, CVPR 2018 (linear bottleneck)"),
    # rank r = max(1, int(h·max(C_i, C_o))) of the tied bottleneck VᵀV
    Declaration("lowrank", "lowrank", "LR", Hyperparameter("rank_scale", **_FRACTION),
                "depthwise + tied-transpose bottleneck VᵀV",
                "Gray et al., Separable Layers Enable Structured Efficient Linear Substitutions, 2019"),
    # groups g of both 1×1 convs (falls back to the largest valid g' ≤ g)
    Declaration("shuffle", "shuffle", "Shuffle", Hyperparameter("groups", int, 1, 128, grows=False),
                "linear ShuffleNet unit: grouped 1×1, shuffle, depthwise, grouped 1×1",
                "Zhang et al., ShuffleNet, CVPR 2018"),
    # the number n of ACDC factors
    Declaration("acdc", "acdc", "ACDC", Hyperparameter("layers", int, 1, 128, grows=True),
                "depthwise k×k (only if k>1) + 1×1 built from n ACDC factors (diag·DCT·riffle·diag·IDCT)",
                "Moczulski et al., ACDC: A Structured Efficient Linear Layer, ICLR 2016"),
    # TT ranks r_j = max(1, round(h·min(d_j, d_{j+1}))), clipped to full TT ranks
    Declaration("tensor-train", "tensor_train", "TensorTrain", Hyperparameter("rank_scale", **_FRACTION),
                "depthwise k×k + 1×1 whose weight is a 3-core tensor train",
                "Novikov et al., Tensorizing Neural Networks, NeurIPS 2015; Garipov et al., 2016 (convolutions)"),
    # Tucker ranks t_j = max(1, round(h·d_j))
    Declaration("tucker", "tucker", "Tucker", Hyperparameter("rank_scale", **_FRACTION),
                "depthwise k×k + 1×1 whose weight is a Tucker core with three factor matrices",
                "Kim et al., Compression of Deep Convolutional Neural Networks for Fast and Low Power "
                "Mobile Applications, ICLR 2016"),
    # CP rank R = max(1, round(h·C_o·C_i / Σ d_j)), so h ≈ the fraction of the dense 1×1 kept
    Declaration("cp", "cp", "CP", Hyperparameter("rank_scale", **_FRACTION),
                "depthwise k×k + 1×1 whose weight is a rank-R CP tensor",
                "Lebedev et al., Speeding-up Convolutional Neural Networks Using Fine-tuned CP-Decomposition, "
                "ICLR 2015"),
    # block count b: the fewest-parameter count among 1..b, at most dense's
    Declaration("monarch", "monarch", "Monarch", Hyperparameter("blocks", int, 1, 1024, grows=False),
                "depthwise k×k + Monarch 1×1 (two block-diagonal factors and a permutation)",
                "Dao et al., Monarch: Expressive Structured Matrices for Efficient and Accurate Training, ICML 2022"),
    # butterfly blocks, capped where parameters would exceed dense's
    Declaration("butterfly", "butterfly", "Butterfly", Hyperparameter("factors", int, 1, 64, grows=True),
                "depthwise k×k + butterfly 1×1 (log₂n sparse factors per block, stacked to d_out)",
                "Dao et al., Learning Fast Algorithms for Linear Transforms Using Butterfly Factorizations, "
                "ICML 2019"),
    # Kronecker terms K, capped where parameters would exceed dense's
    Declaration("kronecker", "kronecker", "Kronecker", Hyperparameter("terms", int, 1, 1024, grows=True),
                "depthwise k×k + 1×1 whose weight is a sum of K Kronecker products",
                "Qiu et al., Compute Better Spent: Replacing Dense Layers with Structured Matrices, ICML 2024"),
    # BTT rank r, capped where parameters would exceed dense's
    Declaration("btt", "btt", "BTT", Hyperparameter("rank", int, 1, 256, grows=True),
                "depthwise k×k + Block Tensor-Train 1×1 (two cores, rank-r blocks)",
                "Qiu et al., Compute Better Spent, ICML 2024; Potapczynski et al., NeurIPS 2024"),
    # BLAST rank r, capped where parameters would exceed dense's
    Declaration("blast", "blast", "BLAST", Hyperparameter("rank", int, 1, 1024, grows=True),
                "depthwise k×k + BLAST 1×1 (b×b blocks sharing left and right bases, diagonal couplings)",
                "Lee et al., BLAST: Block-Level Adaptive Structured Matrices for Efficient Deep Neural Network "
                "Inference, NeurIPS 2024"),
)
