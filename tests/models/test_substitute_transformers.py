"""substitute() on transformers' MobileNetV2 with TF padding, whose forward reads each conv's stride and kernel_size."""

import copy

import pytest
import torch
from torch import nn

from budgetsearch.models import substitute

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def mobilenet():
    # A small config and no weights: nothing is downloaded.
    config = transformers.MobileNetV2Config(depth_multiplier=0.35, image_size=32, tf_padding=True, num_labels=10)
    torch.manual_seed(0)
    return transformers.MobileNetV2ForImageClassification(config).eval()


def _geometry(model):
    return {name: (m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation)
            for name, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.groups == 1}


@pytest.mark.parametrize("setting", ["tucker:0.5", "shuffle:2", "hashed:0.3"])
def test_substituted_mobilenet_keeps_its_tf_padding_forward(mobilenet, setting):
    model = copy.deepcopy(mobilenet)
    before = _geometry(model)
    grouped = [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    report = substitute(model, setting, select="convs")
    assert len(report) == len(before)
    assert [k.name for k in report.kept_dense] == grouped and all(k.reason.startswith("grouped") for k in report.kept_dense)
    for name, geometry in before.items():
        layer = model.get_submodule(name)
        assert not isinstance(layer, nn.Conv2d)
        assert (layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding,
                layer.dilation) == geometry
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).logits.shape == (2, 10)


def test_dense_substitution_with_the_original_weights_gives_the_original_logits(mobilenet):
    model = copy.deepcopy(mobilenet)
    substitute(model, "conv", select="all")
    model.load_state_dict(mobilenet.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x).logits, mobilenet(x).logits)


def test_the_classifier_takes_a_linear_form(mobilenet):
    model = copy.deepcopy(mobilenet)
    report = substitute(model, "generic", 0.25, select="linear")
    assert [(r.name, r.kind) for r in report.replaced] == [("classifier", "linear")]
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).logits.shape == (2, 10)
