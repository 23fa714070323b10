"""What a model offers the trainer and the counter is declared (ModelCapabilities): by every family, for any model."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from budgetsearch.models import ModelCapabilities, create_model, list_models

# Each family's declaration where it offers more than attention maps: (auxiliary weight, training-only modules,
# drop-path rate). DARTS's are the DARTS recipe's.
OFFERS = {"darts": (0.4, ("auxiliary_head",), 0.2)}


@pytest.mark.parametrize("name", list_models())
def test_every_family_declares_what_it_offers(name):
    with torch.device("meta"):
        model = create_model(name)
    assert isinstance(model, ModelCapabilities)
    declared = (model.auxiliary_weight, model.training_only_modules, model.drop_path_prob)
    assert declared == OFFERS.get(name, (0.0, (), None))
    assert model.gives_attention_maps is True
    assert model.substitution_points and all(model.get_submodule(p) for p in model.substitution_points)


def test_darts_without_its_head_declares_none():
    with torch.device("meta"):
        model = create_model("darts", auxiliary=False)
    assert (model.auxiliary_weight, model.training_only_modules) == (0.0, ())


@pytest.mark.parametrize("model", ["examples.tinyvgg:TinyVGG", nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten())],
                         ids=["reference", "module"])
def test_any_other_model_create_model_builds_declares_that_it_offers_nothing(model):
    built = create_model(model, substitute="tucker", setting=0.5)
    assert isinstance(built, ModelCapabilities)
    assert (built.auxiliary_weight, built.training_only_modules, built.drop_path_prob,
            built.gives_attention_maps) == (0.0, (), None, False)
    assert built.substitution_points  # the spatial convs it substituted
    if isinstance(model, nn.Module):
        assert not isinstance(model, ModelCapabilities)  # the module given is copied, never modified


@pytest.mark.parametrize("depth", [1, 2, 4, 6])
def test_a_vit_gives_the_token_maps_at_the_ends_of_three_equal_stages(depth):
    model = create_model(f"vit-{depth}-64").eval()
    outputs = []
    for block in model.blocks:
        block.register_forward_hook(lambda module, inputs, output: outputs.append(output))
    x = torch.randn(2, 3, 32, 32)
    logits, maps = model(x, return_attention=True)
    assert torch.equal(logits, model(x))
    # Blocks ⌈D/3⌉, ⌈2D/3⌉ and D (1-based); each map the L2-normalised mean over the width of the squared tokens.
    tapped = [outputs[math.ceil(stage * depth / 3) - 1] for stage in (1, 2, 3)]
    expected = [F.normalize(tokens.pow(2).mean(dim=-1), dim=1) for tokens in tapped]
    assert len(maps) == 3 and all(m.shape == (2, 64) for m in maps)
    for got, want in zip(maps, expected):
        torch.testing.assert_close(got, want)
