"""Counting third-party model definitions nobody here tuned: transformers' vision models, built from configs.

No weights, no download: each is built on the meta device and given zero weights, as ``count_model``
builds a registered model. Their forward returns a ``ModelOutput``, which ``count`` takes as it is.
Independent expectations: the parameter counts the models were published with, Σnumel, and
torch's own FlopCounterMode for the convolutions and the linear algebra.
"""

import pytest
import torch
from torch_counts import LINEAR_ALGEBRA, flop_counter_mult_adds

from budgetsearch.counting import count, count_parameters, zero_filled

transformers = pytest.importorskip("transformers")

EFFICIENTNET_B0 = dict(width_coefficient=1.0, depth_coefficient=1.0, image_size=224, hidden_dim=1280, dropout_rate=0.2)
CONVNEXT_S_DIMS = [96, 192, 384, 768]
SMALL_VIT = dict(image_size=32, patch_size=4, num_hidden_layers=2, hidden_size=64, num_attention_heads=4,
                 intermediate_size=128, num_labels=10)


def vit(attention="eager"):
    return transformers.ViTForImageClassification(transformers.ViTConfig(**SMALL_VIT, attn_implementation=attention))


# name: (build, input size); small inputs and few blocks, the counts are exact at any size
MODELS = {
    "resnet-50": (lambda: transformers.ResNetForImageClassification(transformers.ResNetConfig()), (3, 64, 64)),
    "convnext-s-dims": (lambda: transformers.ConvNextForImageClassification(
        transformers.ConvNextConfig(depths=[1, 1, 1, 1], hidden_sizes=CONVNEXT_S_DIMS)), (3, 64, 64)),
    "mobilenetv2-tf-padding": (lambda: transformers.MobileNetV2ForImageClassification(
        transformers.MobileNetV2Config(tf_padding=True)), (3, 64, 64)),
    "efficientnet-b0": (lambda: transformers.EfficientNetForImageClassification(
        transformers.EfficientNetConfig(**EFFICIENTNET_B0)), (3, 64, 64)),
    "vit": (vit, (3, 32, 32)),
}

def on_meta(build):
    with torch.device("meta"):
        return build()


@pytest.fixture(scope="module", params=list(MODELS))
def counted(request):
    build, size = MODELS[request.param]
    model = zero_filled(on_meta(build))
    return model, size, count(model, size)


def test_the_model_returns_a_model_output_and_count_takes_it(counted):
    model, size, _ = counted
    assert isinstance(model(torch.zeros(1, *size)), transformers.utils.ModelOutput)


def test_params_equal_the_sum_of_numel(counted):
    model, _, result = counted
    assert result.params == sum(p.numel() for p in model.parameters())
    assert sum(layer.params for layer in result.layers) == result.params


def test_conv_and_linear_mult_adds_equal_flop_counter_mode(counted):
    model, size, result = counted
    torch_counts = flop_counter_mult_adds(model, size)
    assert result.by_operator["conv"] == torch_counts["convolution"]
    ours = sum(result.by_operator.get(op, 0) for op in LINEAR_ALGEBRA)
    assert ours == sum(torch_counts.get(op, 0) for op in ("addmm", "mm", "bmm"))
    assert sum(layer.mult_adds for layer in result.layers) == result.mult_adds


@pytest.mark.parametrize("name, build, published", [
    ("ResNet-50", lambda: transformers.ResNetForImageClassification(transformers.ResNetConfig(num_labels=1000)),
     25_557_032),
    ("ConvNeXt-S", lambda: transformers.ConvNextForImageClassification(
        transformers.ConvNextConfig(depths=[3, 3, 27, 3], hidden_sizes=CONVNEXT_S_DIMS, num_labels=1000)),
     50_223_688),
    ("MobileNetV2", lambda: transformers.MobileNetV2ForImageClassification(
        transformers.MobileNetV2Config(tf_padding=True, num_labels=1000)), 3_504_872),
    ("EfficientNet-B0", lambda: transformers.EfficientNetForImageClassification(
        transformers.EfficientNetConfig(**EFFICIENTNET_B0, num_labels=1000)), 5_288_548),
])
def test_params_equal_the_published_counts(name, build, published):
    # the ImageNet models, 1000 classes, as torchvision/timm/Keras publish their trainable parameters
    assert count_parameters(on_meta(build)) == published


def test_vit_params_by_hand():
    width, mlp, patches = 64, 128, (32 // 4) ** 2
    embeddings = 3 * 4 * 4 * width + width + width + (patches + 1) * width  # patch conv, cls token, positions
    layer = 4 * (width * width + width) + (width * mlp + mlp) + (mlp * width + width) + 2 * 2 * width
    assert count_parameters(vit()) == embeddings + 2 * layer + 2 * width + (width * 10 + 10)


def test_vit_with_sdpa_counts_what_its_eager_attention_counts():
    # The scaled_dot_product_attention rule against the matmuls, scale and softmax the eager path runs.
    eager_count, fused_count = count(vit("eager"), (3, 32, 32)), count(vit("sdpa"), (3, 32, 32))
    assert "scaled_dot_product_attention" in fused_count.by_operator and "matmul" in eager_count.by_operator
    assert fused_count.mult_adds == eager_count.mult_adds
