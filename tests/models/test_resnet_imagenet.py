"""WRN-50-2 (ResNet-50 bottlenecks, doubled widths, expansion 2) against hand-derived totals and fvcore's own parameter count."""

import pytest
import torch
from fvcore.nn import parameter_count
from torch import nn

from budgetsearch.counting import count_model
from budgetsearch.models import ImageNetResNet, create_model, find_model

STAGES = [(128, 3, 1), (256, 4, 2), (512, 6, 2), (1024, 3, 2)]  # bottleneck width, blocks, stride


def hand_derived():
    """Params, conv mult-adds and ReLU elements of dense WRN-50-2 at 224², written out block by block."""
    params = 3 * 64 * 49 + 2 * 64 + 2048 * 1000 + 1000
    conv = 3 * 64 * 49 * 112 * 112
    relu = 64 * 112 * 112
    channels, size = 64, 56
    for width, blocks, stride in STAGES:
        for b in range(blocks):
            s = stride if b == 0 else 1
            out_size = size // s
            params += channels * width + 9 * width * width + width * 2 * width + 2 * (width + width + 2 * width)
            conv += channels * width * size * size + 9 * width * width * out_size ** 2 + 2 * width * width * out_size ** 2
            relu += width * size * size + width * out_size ** 2 + 2 * width * out_size ** 2
            if b == 0:
                params += channels * 2 * width + 2 * 2 * width
                conv += channels * 2 * width * out_size ** 2
            channels, size = 2 * width, out_size
    return params, conv, relu


@pytest.fixture(scope="module")
def dense_count():
    return count_model("wrn-50-2")  # built for its shapes: a count reads nothing else


def test_dense_parameters_match_the_hand_derived_total_and_fvcore():
    with torch.device("meta"):
        model = create_model("wrn-50-2")
    params, _, _ = hand_derived()
    assert params == 68_883_240  # torchvision's published wide_resnet50_2 count
    assert parameter_count(model)[""] == params


def test_dense_mult_adds_match_the_hand_derived_total(dense_count):
    params, conv, _ = hand_derived()
    assert dense_count.params == params
    assert dense_count.by_operator["conv"] == conv
    assert dense_count.by_operator["linear"] == 2048 * 1000


def test_dense_mult_adds_under_the_original_convention():
    _, conv, relu = hand_derived()
    result = count_model("wrn-50-2", compat="deficient-efficient")
    maxpool = 64 * 56 * 56 * 9
    average_pool = 2048 * 1 * 1 * 7 * 7  # the original's nn.AvgPool2d(7, stride=1): N·C·H_out·W_out·k²
    assert result.mult_adds == conv + relu + maxpool + average_pool + 2048 * 1000 + 1000


def test_the_compat_network_ends_in_the_original_fixed_average_pool():
    with torch.device("meta"):
        default, original = create_model("wrn-50-2"), create_model("wrn-50-2", compat="deficient-efficient")
    assert isinstance(default.pool, nn.AdaptiveAvgPool2d)
    assert isinstance(original.pool, nn.AvgPool2d) and (original.pool.kernel_size, original.pool.stride) == (7, 1)


def test_the_name_is_the_imagenet_family_not_a_cifar_wrn():
    family, _ = find_model("wrn-50-2")
    assert family.input_size == (3, 224, 224) and family.num_classes == 1000
    assert find_model("wrn-28-10")[0].input_size == (3, 32, 32)


def test_substitution_points_are_the_bottleneck_and_downsample_convs():
    calls, biases = [], []

    def recording(c_in, c_out, kernel, stride=1, padding=0, dilation=1, bias=True):
        calls.append((c_in, c_out, kernel, stride))
        biases.append(bias)
        return nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation, bias=bias)

    with torch.device("meta"):
        create_model("wrn-50-2", substitute=recording)
    assert len(calls) == 3 * 16 + 4
    assert sum(1 for c in calls if c[2] == 3) == 16
    assert (64, 256, 1, 1) in calls and (1024, 2048, 1, 2) in calls  # the first and last downsample
    assert not any(biases)


def test_forward_and_attention_maps_after_each_stage():
    model = ImageNetResNet(blocks=(1, 1, 1, 1), widen=1, num_classes=5).eval()
    logits, maps = model(torch.randn(2, 3, 64, 64), return_attention=True)
    assert logits.shape == (2, 5)
    assert [m.shape for m in maps] == [(2, 16 * 16), (2, 8 * 8), (2, 4 * 4), (2, 2 * 2)]
    assert torch.allclose(maps[0].norm(dim=1), torch.ones(2))
