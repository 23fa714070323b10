"""DARTS-V2 (36 channels, 20 cells, auxiliary head) against hand-derived totals and fvcore's own parameter count."""

import pytest
import torch
from fvcore.nn import parameter_count
from torch import nn

from budgetsearch.counting import count
from budgetsearch.errors import ConfigError
from budgetsearch.models import DARTS, AuxiliaryOutput, create_model, find_model
from budgetsearch.substitutes import get_substitute, list_substitutes


def cells(channels=36, layers=20):
    """(C_prev_prev, C_prev, C, reduction, reduction_prev, input size) of every cell."""
    c_pp = c_p = 3 * channels
    c, size, reduction_prev, out = channels, 32, False, []
    for i in range(layers):
        reduction = i in (layers // 3, 2 * layers // 3)
        if reduction:
            c *= 2
        out.append((c_pp, c_p, c, reduction, reduction_prev, size))
        if reduction:
            size //= 2
        c_pp, c_p, reduction_prev = c_p, 4 * c, reduction
    return out


def hand_derived_separable(classes=10):
    """Params and conv mult-adds of the published DARTS-V2 (separable convs), auxiliary head excluded."""
    params = 3 * 108 * 9 + 2 * 108 + 576 * classes + classes
    conv = 3 * 108 * 9 * 32 * 32
    for c_pp, c_p, c, reduction, reduction_prev, size in cells():
        area = size * size
        if reduction_prev:  # FactorizedReduce from the previous resolution
            params += c_pp * c + 2 * c
            conv += c_pp * c * area
        else:
            params += c_pp * c + 2 * c
            conv += c_pp * c * area
        params += c_p * c + 2 * c
        conv += c_p * c * area
        if not reduction:  # 5 sep convs (two separable convs + two BN each) and one dilated separable conv
            params += 5 * (2 * (9 * c + c * c) + 4 * c) + (9 * c + c * c) + 2 * c
            conv += 5 * 2 * (9 * c + c * c) * area + (9 * c + c * c) * area
    return params, conv


@pytest.fixture(scope="module")
def published():
    return create_model("darts", substitute="separable")


def test_published_network_matches_the_hand_derived_total_and_fvcore(published):
    params, conv = hand_derived_separable()
    assert round(params, -1) == 3_349_340  # the original study's log: 3.34934E+06
    assert parameter_count(published)[""] - parameter_count(published)["auxiliary_head"] == params
    result = count(published, (3, 32, 32))
    assert result.params == params  # the auxiliary head is training-only
    assert result.by_operator["conv"] == conv
    assert result.by_operator["linear"] == 576 * 10


def test_reference_substitute_is_separable():
    assert find_model("darts")[0].reference == "separable"


def test_substitution_points():
    calls = []

    def recording(c_in, c_out, kernel, stride=1, padding=0, dilation=1, bias=True):
        calls.append((kernel, stride, dilation))
        return nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation, bias=bias)

    with torch.device("meta"):
        create_model("darts", substitute=recording)
    # 18 normal cells: 2 preprocessing 1×1s (+1 for the two FactorizedReduce ones) + 5·2 sep + 1 dil;
    # 2 reduction cells: 2 preprocessing 1×1s.
    assert len(calls) == 18 * 13 + 2 + 2 * 2
    assert calls.count((3, 1, 2)) == 18  # the dilated convs
    assert calls.count((1, 2, 1)) == 4  # both strided 1×1s of the two FactorizedReduce


def small():
    return DARTS(channels=8, layers=5, num_classes=3, drop_path_prob=0.2)


def test_training_mode_returns_auxiliary_logits_and_eval_mode_does_not():
    model = small()
    out, maps = model(torch.randn(2, 3, 32, 32), return_attention=True)
    assert isinstance(out, AuxiliaryOutput)
    assert out.logits.shape == out.auxiliary.shape == (2, 3)
    assert [m.shape[1] for m in maps] == [32 * 32, 16 * 16]  # cells feeding the two reduction cells
    model.eval()
    logits = model(torch.randn(2, 3, 32, 32))
    assert isinstance(logits, torch.Tensor) and logits.shape == (2, 3)
    without = DARTS(channels=8, layers=5, num_classes=3, auxiliary=False)
    assert isinstance(without(torch.randn(2, 3, 32, 32)), torch.Tensor)


def test_inputs_too_small_for_the_auxiliary_head_are_a_clear_error():
    model = DARTS(channels=4, layers=3, num_classes=3, in_channels=1)
    with pytest.raises(ConfigError, match=r"at least 8×8 .* but got 2×2"):
        model(torch.randn(2, 1, 8, 8))  # digits: the head branches off at 2×2
    model.eval()  # the head does not run in eval mode, so inference on small inputs still works
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 3)


def test_drop_path_acts_only_in_training():
    model = small()
    x = torch.randn(4, 3, 32, 32)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    model.drop_path_prob = 0.5
    torch.manual_seed(1)
    a = model(x).logits
    torch.manual_seed(2)
    assert not torch.allclose(a, model(x).logits)  # train-mode BN alone is deterministic: the paths differ


@pytest.mark.parametrize("name", list_substitutes())
def test_every_substitute_builds_and_runs_one_batch(name):
    hp = get_substitute(name).hyperparameter
    setting = None if hp is None else (0.25 if hp.type is float else 2)
    model = DARTS(channels=4, layers=3, num_classes=3, conv=get_substitute(name).factory(setting))
    out = model(torch.randn(2, 3, 32, 32))
    out.logits.sum().backward()
