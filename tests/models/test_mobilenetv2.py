"""MobileNetV2-1.0 (as the original study built it) against hand-derived totals and fvcore's own parameter count."""

import pytest
import torch
from fvcore.nn import parameter_count
from torch import nn

from budgetsearch.counting import count
from budgetsearch.errors import ConfigError
from budgetsearch.models import create_model

TABLE = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def hand_derived(classes=1000):
    """Params and conv mult-adds of dense MobileNetV2 at 224², block by block."""
    params = 3 * 32 * 9 + 2 * 32
    conv = 3 * 32 * 9 * 112 * 112
    channels, size = 32, 112
    for t, c, n, s in TABLE:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden, out_size = channels * t, size // stride
            if t != 1:
                params += channels * hidden + 2 * hidden
                conv += channels * hidden * size * size
            params += 9 * hidden + 2 * hidden + hidden * c + 2 * c
            conv += 9 * hidden * out_size ** 2 + hidden * c * out_size ** 2
            channels, size = c, out_size
    params += 320 * 1280 + 2 * 1280 + 1280 * classes + classes
    conv += 320 * 1280 * 7 * 7 + 1280 * classes
    return params, conv


def test_dense_totals_match_hand_derived_numbers_and_fvcore():
    params, conv = hand_derived()
    assert params == 3_504_872  # the published MobileNetV2-1.0 count
    model = create_model("mobilenetv2")
    assert parameter_count(model)[""] == params
    result = count(model, (3, 224, 224))
    assert result.params == params
    assert result.by_operator["conv"] == conv
    # The original's convention: convs only (ReLU6 is not a "ReLU" to count.py; BN, adds, mean pooling free).
    assert count(model, (3, 224, 224), compat="deficient-efficient").mult_adds == conv


def test_substitution_points_are_the_pointwise_convs_and_the_classifier():
    calls = []

    def recording(c_in, c_out, kernel, stride=1, padding=0, dilation=1, bias=True):
        calls.append((c_in, c_out, kernel, stride, bias))
        return nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation, bias=bias)

    with torch.device("meta"):
        model = create_model("mobilenetv2", substitute=recording)
    assert len(calls) == 1 + 2 * 16 + 1 + 1
    assert all(kernel == 1 and stride == 1 for _, _, kernel, stride, _ in calls)
    assert calls[-1] == (1280, 1000, 1, 1, True)  # the classifier, with bias
    depthwise = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert len(depthwise) == 17


def test_forward_and_attention_maps_at_the_end_of_each_resolution():
    model = create_model("mobilenetv2", num_classes=7).eval()
    logits, maps = model(torch.randn(2, 3, 64, 64), return_attention=True)
    assert logits.shape == (2, 7)
    assert [m.shape[1] for m in maps] == [16 * 16, 8 * 8, 4 * 4, 2 * 2]


def test_the_budget_solver_works_on_it_unchanged():
    from budgetsearch.solver import solve_budget

    solution = solve_budget("mobilenetv2", "tucker", "0.5x")
    assert solution.dense_params == 3_504_872
    assert solution.params <= 3_504_872 // 2
    built = count(create_model("mobilenetv2", substitute="tucker", setting=solution.setting), (3, 224, 224))
    assert (built.params, built.mult_adds) == (solution.params, solution.mult_adds)


def test_width_multiplier_scales_every_layer_but_the_last_as_the_paper():
    # Keras' MobileNetV2(alpha=0.35) channels: stem 16, stages 8, 8, 16, 24, 32, 56, 112, last 1×1 kept at 1280.
    network = create_model("mobilenetv2", width=0.35)
    assert network.stem[0].out_channels == 16
    ends = [network.blocks[i].conv[-2].out_channels for i in (0, 2, 5, 9, 12, 15, 16)]
    assert ends == [8, 8, 16, 24, 32, 56, 112]
    assert network.head[0].out_channels == 1280 and create_model("mobilenetv2", width=1.4).head[0].out_channels == 1792


@pytest.mark.parametrize("width", [0, -1, 5, True, "1"])
def test_a_width_outside_the_multipliers_is_refused(width):
    with pytest.raises(ConfigError, match="width"):
        create_model("mobilenetv2", width=width)
