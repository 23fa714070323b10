import pytest
import torch

from budgetsearch.data import AugmentRecipe, Dataset


@pytest.fixture
def random_cifar():
    """``make(count, held_out)``: ``count`` random 3×32×32 uint8 images with labels, the CIFAR augmentation,
    and the first ``held_out`` of them as validation and test sets."""

    def make(count: int, held_out: int = 32) -> Dataset:
        generator = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (count, 3, 32, 32), dtype=torch.uint8, generator=generator)
        labels = torch.randint(0, 10, (count,), generator=generator)
        few_images, few_labels = images[:held_out], labels[:held_out]
        return Dataset("random", "torch.randint", images, labels, few_images, few_labels, few_images, few_labels,
                       10, tuple("0123456789"), (3, 32, 32), (0.5,) * 3, (0.25,) * 3, AugmentRecipe(4, True, 16), 0)

    return make
