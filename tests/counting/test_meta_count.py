"""``count`` of a model on the meta device (the dispatch counter reads shapes only) against fvcore on real storage.

Independent expectation: the same network built twice on the meta device, one
given zero-filled CPU storage and traced by fvcore, the other counted where it
is, with no storage at all.
"""

import pytest

from budgetsearch.counting import count, zero_filled
from budgetsearch.counting._count import DISPATCH, FVCORE
from budgetsearch.errors import CountingError
from budgetsearch.models import create_model
from budgetsearch.substitutes import get_substitute, shape_only
from budgetsearch.solver._search import lowest

SIZE = (3, 8, 8)


def _on_meta(substitute: str):
    found = get_substitute(substitute)
    with shape_only():
        return create_model("wrn-10-1", num_classes=10, substitute=substitute,
                            setting=None if found.hyperparameter is None else lowest(found.hyperparameter))


@pytest.mark.parametrize("substitute", ["conv", "hashed", "acdc", "tensor-train"])
def test_a_network_on_meta_counts_as_fvcore_counts_it_on_real_storage(substitute):
    real, meta = count(zero_filled(_on_meta(substitute)), SIZE), count(_on_meta(substitute), SIZE, counter="dispatch")
    assert (meta.params, meta.mult_adds, meta.exact_mult_adds) == (real.params, real.mult_adds, real.exact_mult_adds)
    assert (meta.layers, meta.by_operator) == (real.layers, real.by_operator)
    assert meta.reconstruction_mult_adds == real.reconstruction_mult_adds
    assert (real.convention.counter, meta.convention.counter) == (FVCORE, DISPATCH)


def test_fvcore_refuses_a_model_on_meta_naming_the_counter_that_takes_it():
    with pytest.raises(CountingError, match="meta device with fvcore.*counter='dispatch'"):
        count(_on_meta("conv"), SIZE, counter="fvcore")
