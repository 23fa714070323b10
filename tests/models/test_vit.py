"""The CIFAR ViT family: its counts against formulas written here, its substitution points, the solver on it."""

import json

import pytest
import torch

from budgetsearch.counting import count
from budgetsearch.errors import ConfigError
from budgetsearch.models import create_model
from budgetsearch.solver import solve_budget
from budgetsearch.substitutes import shape_only
from budgetsearch.substitutes import get_substitute
from cli import main

TOKENS = 64  # 4×4 patches of a 32×32 image


def vit_params(depth, width, classes=10, channels=3):
    block = 2 * 2 * width + (3 * width * width + 3 * width) + (width * width + width) \
        + (4 * width * width + 4 * width) + (4 * width * width + width)
    patch = channels * 16 * width + width
    return patch + TOKENS * width + depth * block + 2 * width + width * classes + classes


def vit_mult_adds(depth, width, classes=10, channels=3):
    """Dense ViT per image, under the documented rules: linear algebra its multiply-adds (bias excluded),
    adds and muls 1 per element, layer norm 4 per element (statistics 2, normalise 1, affine 1),
    GELU 1 per element, softmax 3 per element, a mean 1 per element read."""
    L, W, heads = TOKENS, width, width // 64
    per_block = (4 * L * W                      # norm1
                 + L * W * 3 * W                # qkv
                 + L * W                        # q scaled by 1/√64
                 + heads * L * L * 64           # QKᵀ
                 + 3 * heads * L * L            # softmax
                 + heads * L * L * 64           # AV
                 + L * W * W                    # attention output
                 + L * W                        # residual
                 + 4 * L * W                    # norm2
                 + L * W * 4 * W + L * 4 * W + L * 4 * W * W  # fc1, GELU, fc2
                 + L * W)                       # residual
    return (channels * 16 * W * L + L * W       # patch embedding, position embedding
            + depth * per_block
            + 4 * L * W + L * W + W * classes)  # final norm, mean pooling, head


def test_count_vit_6_256_matches_the_formulas(capsys):
    assert main(["count", "--model", "vit-6-256", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    model = create_model("vit-6-256")
    assert result["params"] == sum(p.numel() for p in model.parameters()) == vit_params(6, 256)
    assert result["mult_adds"] == vit_mult_adds(6, 256)


@pytest.mark.parametrize("depth, width, classes", [(1, 64, 10), (2, 128, 100), (3, 192, 7)])
def test_counts_match_the_formulas_at_other_sizes(depth, width, classes):
    counted = count(create_model(f"vit-{depth}-{width}", num_classes=classes), (3, 32, 32))
    assert (counted.params, counted.mult_adds) == (vit_params(depth, width, classes),
                                                   vit_mult_adds(depth, width, classes))


def test_substitution_points_are_the_qkv_output_and_mlp_linears():
    model = create_model("vit-2-128", substitute="monarch:4")
    expected = {f"blocks.{b}.{layer}" for b in range(2) for layer in ("attention.qkv", "attention.proj", "mlp.fc1",
                                                                       "mlp.fc2")}
    assert set(model.substitution_points) == expected
    linear_type = type(get_substitute("monarch").factory(4).linear(8, 8))
    assert all(isinstance(model.get_submodule(name), linear_type) for name in expected)
    assert isinstance(model.patch_embedding, torch.nn.Conv2d) and type(model.head) is torch.nn.Linear
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("name, message", [("vit-0-64", "depth must be >= 1"), ("vit-2-100", "multiple of 64")])
def test_bad_sizes_are_refused(name, message):
    with pytest.raises(ConfigError, match=message):
        create_model(name)


def whole_network_params(model, substitute, setting):
    with shape_only():
        return sum(p.numel() for p in create_model(model, substitute=get_substitute(substitute).factory(setting))
                   .parameters())


@pytest.mark.parametrize("substitute", ["monarch", "butterfly", "kronecker", "btt"])
def test_solver_is_exact_on_the_vit_against_brute_force(substitute):
    hp = get_substitute(substitute).hyperparameter
    # The sites are 128→384, 128→128, 128→512 and 512→128: a setting's sizes there decide the network,
    # so the whole network is built once per distinct sizes, for every setting of the domain.
    network_of, counts = {}, {}
    for setting in range(int(hp.low), int(hp.high) + 1):
        key = tuple(get_substitute(substitute).resolve(i, o, 1, setting) for i, o in ((128, 384), (128, 128),
                                                                                     (128, 512), (512, 128)))
        if key not in counts:
            counts[key] = whole_network_params("vit-2-128", substitute, setting)
        network_of[setting] = counts[key]
    low, high = min(counts.values()), max(counts.values())
    for cap in (low + (high - low) * f // 10 for f in (1, 4, 9)):
        solution = solve_budget("vit-2-128", substitute, cap)
        best = max(n for n in counts.values() if n <= cap)
        assert (solution.params, solution.setting) == (best, min(s for s, n in network_of.items() if n == best))


def test_the_vit_solution_is_counted_exactly():
    solution = solve_budget("vit-2-128", "monarch", "0.1x")
    counted = count(solution.build(), solution.input_size)
    assert (counted.params, counted.mult_adds) == (solution.params, solution.mult_adds)
