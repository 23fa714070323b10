"""Projection: the closest structured layer to a trained dense one, at a substitute's setting.

:func:`project` walks a substituted model's substitution points and writes, into
each substitute, the structured weights closest to the dense model's, family by
family; :func:`project_layer` does one layer. Each records the relative error of
the weight and, given a calibration batch, of the layer's outputs.

Closed forms (closest in Frobenius norm at the layer's size unless said):

=====================  ===============================================================
conv, separable (1×1)  copy; behind a depthwise k×k, the rank-one SVD of each input
                       channel's (C_o, k²) slice, optimal for ``separable``
generic                truncated SVD (Eckart–Young); ``whitened``: SVD of W·L,
                       L·Lᵀ the inputs' second moment (SVD-LLM), optimal in output
hashed, sep-hashed     signed bucket means (least squares for the fixed hash)
kronecker              Van Loan–Pitsianis rearrangement + truncated SVD
monarch                block-wise low rank on the permuted matrix (Dao et al. 2022)
btt                    truncated SVD of each rank-r block
tucker                 HOSVD then HOOI (≤ √3·best)
tensor-train           TT-SVD (≤ √2·best)
cp                     ALS from HOSVD factors (no closed form exists)
lowrank (tied VᵀV)     nearest rank-r PSD matrix (eigendecomposition of the symmetric
                       part), optimal when C_i = C_o; lifted through the channel maps
                       otherwise
=====================  ===============================================================

Every other family behind a depthwise k×k is a two-step approximation: the
separable split, then the family's projection of the 1×1 factor (the kernels
have unit norm, so the two squared errors add exactly). ACDC, butterfly and
shuffle have no closed form, nor has BLAST, and ``method="closed"`` refuses them
by name; ``method="fit"`` fits any family's own parameters by least squares on its
outputs (Adam), from the best closed form available, and BLAST from its own
factorisation (Lee et al. 2024's preconditioned gradient descent, :mod:`._blast`).
"""

from .._lazy import lazy_exports

# Each name imports its module on first use: METHODS alone, which validating a study needs, imports no torch.
__getattr__, __dir__, __all__ = lazy_exports(globals(), {
    "_layer": ("NoClosedFormError", "check_closed_forms", "project_closed", "project_layer", "structured_part"),
    "_methods": ("METHODS",),
    "_probe": ("effective_weight", "geometry_of"),
    "_project": ("project",),
    "_report": ("LayerProjection", "ProjectionReport"),
})
