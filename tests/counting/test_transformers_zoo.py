"""Every image classifier of transformers' auto mapping counts, built from its default config.

The mapping is enumerated, so a model transformers adds is counted the day it
appears. Each model is built from its config class's defaults with fewer blocks
per stage (at most ``MAX_BLOCKS``: the same layers, fewer repeats) on the meta
device, then given zero weights (``zero_filled``, as ``count_model`` does), and
counted on a small image. Independent expectations: Σnumel for the parameters,
torch's FlopCounterMode for the convolutions, linears and matmuls, and, for
attention, which FlopCounterMode does not count on the CPU (torch 2.13 has no
rule for ``_scaled_dot_product_flash_attention_for_cpu``), its formula from the
shapes of each call. A model this test cannot count is in ``NOT_COUNTED`` with
the reason and the error that shows it, and that error is asserted: a model
that starts to work must move out of the list.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch_counts import LINEAR_ALGEBRA, flop_counter_mult_adds

from budgetsearch.counting import count, zero_filled

transformers = pytest.importorskip("transformers")
from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES  # noqa: E402

MAX_BLOCKS = 3  # CvT's stage i needs more than i blocks (it indexes its drop-path rates by stage)
DEPTH_FIELDS = ("num_hidden_layers", "num_self_attends_per_block", "depths", "depth")
DEPTH_COEFFICIENT = 1.0  # EfficientNet's repeats per stage: B0's (the default config is B7's, 3.1)
IMAGE_SIZE = 64
# model type: (image size, why the small one is refused)
IMAGE_SIZES = {
    "swin": (224, "transformers' Swin breaks on a stage smaller than its 7×7 window; 224 = 4·7·8"),
    "donut-swin": (224, "Donut's Swin, as Swin"),
}
# class: (why it is not counted here, the error building it or its forward on a meta image raises)
NOT_COUNTED = {
    "DinatForImageClassification": ("needs the natten package", ImportError, "natten"),
    "TimmWrapperForImageClassification": ("needs the timm package", ImportError, "timm"),
    "ImageGPTForImageClassification": ("takes colour-cluster token ids, not an image", RuntimeError, "indices"),
    "ShieldGemma2ForImageClassification": ("takes a text prompt's token ids with the image", RuntimeError,
                                           "indices"),
    "Siglip2ForImageClassification": ("takes flattened patches with their spatial shapes, not an image",
                                      RuntimeError, "reduction dim"),
    "PerceiverForImageClassificationFourier": ("its default config does not build", ValueError,
                                               "must be divisible by num_heads"),
    "PerceiverForImageClassificationConvProcessing": ("its default config does not build", ValueError,
                                                      "must be divisible by num_heads"),
}
ATTENTION = "scaled_dot_product_attention"


def image_classifiers():
    for model_type, names in MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES.items():
        for name in (names,) if isinstance(names, str) else names:
            yield model_type, name


CLASSIFIERS = list(image_classifiers())


def fewer_blocks(config) -> dict:
    """Constructor arguments of ``config``'s class that cap every depth (blocks per stage, layers)."""
    changes = {}
    for name, value in vars(config).items():
        if isinstance(value, transformers.PretrainedConfig):
            changes[name] = fewer_blocks(value)
        elif name in DEPTH_FIELDS and isinstance(value, int):
            changes[name] = min(value, MAX_BLOCKS)
        elif name in DEPTH_FIELDS and isinstance(value, (list, tuple)):
            changes[name] = type(value)(min(depth, MAX_BLOCKS) for depth in value)
        elif name == "depth_coefficient":
            changes[name] = min(value, DEPTH_COEFFICIENT)
    return changes


def build_on_meta(model_type, class_name):
    """The classifier on the meta device and its (C, H, W) input."""
    size = IMAGE_SIZES.get(model_type, (IMAGE_SIZE,))[0]
    default = transformers.AutoConfig.for_model(model_type)
    config = type(default)(**fewer_blocks(default))
    vision = getattr(config, "vision_config", config)
    if hasattr(vision, "image_size"):  # ViTs size their position embeddings by it
        vision.image_size = size if isinstance(vision.image_size, int) else (size, size)
    with torch.device("meta"):
        model = getattr(transformers, class_name)(config)
    return model.eval(), (getattr(vision, "num_channels", 3), size, size)


class AttentionCalls(TorchFunctionMode):
    """Records the mult-adds of every ``F.scaled_dot_product_attention`` call by its formula (see ``_rules``)."""

    def __init__(self):
        super().__init__()
        self.mult_adds = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        if func is F.scaled_dot_product_attention:
            query, key, value = args[:3]
            mask = kwargs.get("attn_mask", args[3] if len(args) > 3 else None)
            dropout = kwargs.get("dropout_p", args[4] if len(args) > 4 else 0.0)
            scores = math.prod(result.shape[:-1]) * key.shape[-2]
            # QKᵀ and AV, the scale, the softmax's 3, a float mask's add, dropout's multiply
            per_score = query.shape[-1] + value.shape[-1] + 1 + 3
            per_score += (mask is not None and mask.dtype != torch.bool) + (dropout > 0)
            self.mult_adds += scores * per_score
        return result


def counted_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("model_type, class_name",
                         [pytest.param(*c, id=c[1]) for c in CLASSIFIERS if c[1] not in NOT_COUNTED])
def test_every_image_classifier_counts(model_type, class_name):
    model, size = build_on_meta(model_type, class_name)
    model = zero_filled(model)
    with AttentionCalls() as attention:
        torch_counts = flop_counter_mult_adds(model, size)
    result = count(model, size)

    assert result.params == counted_params(model)
    assert result.by_operator.get("conv", 0) == torch_counts.pop("convolution", 0)
    assert sum(result.by_operator.get(op, 0) for op in LINEAR_ALGEBRA) == sum(torch_counts.values())
    assert result.by_operator.get(ATTENTION, 0) == attention.mult_adds


@pytest.mark.parametrize("class_name", [pytest.param(name, id=f"{name} ({reason})")
                                        for name, (reason, *_) in NOT_COUNTED.items()])
def test_a_classifier_not_counted_here_fails_for_the_reason_given(class_name):
    model_type = next(model_type for model_type, name in CLASSIFIERS if name == class_name)
    _, error, message = NOT_COUNTED[class_name]
    with pytest.raises(error, match=message):
        model, size = build_on_meta(model_type, class_name)
        model(torch.zeros(1, *size, device="meta"))


# The 16 whose count stopped on an operator without a rule (issue 18).
ONCE_STOPPED = {"Swin", "Swinv2", "DonutSwin", "Dinov2", "Dinov2WithRegisters", "ConvNextV2", "CLIP", "MetaClip2",
                "Siglip", "MobileViT", "MobileViTV2", "Cvt", "FocalNet", "Hiera", "Bit", "SwiftFormer"}


def test_the_exclusions_and_the_models_that_once_stopped_are_in_the_mapping():
    names = {name for _, name in CLASSIFIERS}
    assert set(NOT_COUNTED) <= names
    assert {f"{model}ForImageClassification" for model in ONCE_STOPPED} <= names - set(NOT_COUNTED)
