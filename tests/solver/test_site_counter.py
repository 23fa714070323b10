"""The solver's per-site counts (the dispatch counter on meta-device layers) against fvcore on real layers.

Independent expectation: each site's layer built for real (zero storage) and
counted by fvcore's trace, the counter a user gets by default; the solver counts
the same layer on the meta device, where only shapes exist, with the dispatch
counter. For every substitute, at every site of a small network (strided and
not, widening and not) and at a linear site for those with a linear form.
"""

from __future__ import annotations

import pytest
from torch import nn

from budgetsearch.compat import MODES
from budgetsearch.compat import hyperparameter as compat_hyperparameter
from budgetsearch.counting import count, count_model, counter_in_use, reconstruction_mult_adds, zero_filled
from budgetsearch.counting._count import DISPATCH, FVCORE
from budgetsearch.solver import network_counter
from budgetsearch.solver._network import ON_META, SITES_ON_META, NetworkCounter, Site
from budgetsearch.solver._search import highest, lowest
from budgetsearch.substitutes import get_substitute, linear_substitutes, list_substitutes, shape_only

from combinations import CASES

NUM_CLASSES = 10

LINEAR_SITE = Site(24, 40, (1, 1), (1, 1), (0, 0), (1, 1), True, (5, 24), kind="linear")


def _real_count(site: Site, substitute, setting, compat=None):
    with shape_only():
        layer = zero_filled(site.build(substitute, setting, compat))
    return count(layer, site.counting_shape, compat=compat, counter="fvcore")


def _settings(substitute, compat):
    """Both ends of the domain; a mode's lowest may build no layer (the original's int(h·size) rounds to 0)."""
    hp = compat_hyperparameter(substitute, compat)
    return [None] if hp is None else [highest(hp)] if compat else [lowest(hp), highest(hp)]


@pytest.mark.parametrize("substitute", list_substitutes())
@pytest.mark.parametrize("compat", [None, *MODES])
def test_a_site_counted_on_meta_equals_fvcore_on_the_real_layer(substitute, compat):
    found = get_substitute(substitute)
    counter = network_counter("wrn-10-1", input_size=(3, 8, 8), compat=compat)
    sites = [*counter.sites, *([LINEAR_SITE] if substitute in linear_substitutes() and compat is None else [])]
    for site in sites:
        for setting in _settings(found, compat):
            real = _real_count(site, found, setting, compat)
            assert counter._site_mult_adds(site, found, setting) == real.exact_mult_adds, (site, setting)
            assert counter._site_rebuild(site, found, setting) == real.reconstruction_mult_adds, (site, setting)


class ReadsValues(nn.Module):
    """A forward that reads a value (``.item()``), which the meta device cannot give: counted on real storage."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv, self.head = nn.Conv2d(3, 8, 3, padding=1), nn.Linear(8, num_classes)

    def forward(self, x):
        x = self.conv(x)
        x = x * (x.sum().item() == x.sum().item())
        return self.head(x.mean((2, 3)))


def test_the_convention_names_the_counter_of_the_network_and_of_its_sites():
    """Sites and network on the meta device, for fvcore or as asked; a network the meta device cannot run,
    by the counter asked for (and its sites on the meta device)."""
    expected = {"fvcore": (ON_META, FVCORE + SITES_ON_META), "dispatch": (DISPATCH, DISPATCH)}
    for chosen, (on_meta, on_storage) in expected.items():
        with counter_in_use(chosen):
            assert network_counter("wrn-10-1", input_size=(3, 8, 8)).convention.counter == on_meta
            assert NetworkCounter(ReadsValues, input_size=(3, 8, 8)).convention.counter == on_storage


def test_a_network_counted_on_meta_has_the_fixed_part_fvcore_gives_it_on_real_storage():
    with counter_in_use("fvcore"):
        counter = network_counter(CASES["wrn"].model, NUM_CLASSES, CASES["wrn"].input_size)
        assert counter.convention.counter == ON_META
        dense = count_model(CASES["wrn"].model, num_classes=NUM_CLASSES, input_size=CASES["wrn"].input_size)
    assert (counter.dense.params, counter.dense.mult_adds) == (dense.params, dense.mult_adds)
    assert counter.reconstruction_mult_adds(get_substitute("conv"), None) == dense.reconstruction_mult_adds


def test_under_rules_of_the_users_own_sites_are_counted_by_the_chosen_counter(monkeypatch):
    from budgetsearch.counting import default_rules

    calls = []
    monkeypatch.setattr("budgetsearch.solver._network.reconstruction_mult_adds",
                        lambda layer, counter: calls.append(counter) or reconstruction_mult_adds(layer, counter))
    counter = NetworkCounter("wrn-10-1", input_size=(3, 8, 8), rules=default_rules())
    site = next(iter(counter.sites))
    hashed = get_substitute("hashed")
    setting = lowest(hashed.hyperparameter)
    counter._site_rebuild(site, hashed, setting)
    assert counter._site_mult_adds(site, hashed, setting) == _real_count(site, hashed, setting).exact_mult_adds
    assert calls == ["fvcore"]
    assert counter.convention.counter == FVCORE
