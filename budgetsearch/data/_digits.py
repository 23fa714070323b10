"""scikit-learn's bundled handwritten digits, a tiny stand-in for CIFAR in smoke runs.

1,797 grey 8×8 images with values 0..16 (the test part of UCI "Optical
Recognition of Handwritten Digits"), shipped inside scikit-learn, so it needs
no download and no file.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

# One image in every TEST_EVERY of each class is a test image: 20 %.
TEST_EVERY = 5


def read_digits() -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(train_images, train_labels, test_images, test_labels)``, images uint8 [N, 1, 8, 8].

    The data set has no official test split. The one made here is fixed by the
    data alone (no seed, no random generator whose stream could change between
    library versions): within each class, in the bundled order, the 1st, 6th,
    11th, ... image is a test image. That keeps the classes balanced; a plain
    stride over all images would not, as the bundled labels cycle 0..9.
    """
    from sklearn.datasets import load_digits  # imported here: only this data set needs scikit-learn

    bunch = load_digits()
    values = np.asarray(bunch.images, dtype=np.int64)  # 0..16
    # Stretch 0..16 to 0..255 (rounding half up) so every data set is uint8 and normalised alike.
    images = ((values * 255 + 8) // 16).astype(np.uint8)[:, None, :, :]
    labels = np.asarray(bunch.target, dtype=np.int64)

    is_test = np.zeros(len(labels), dtype=bool)
    for digit in np.unique(labels):
        is_test[np.flatnonzero(labels == digit)[::TEST_EVERY]] = True
    return images[~is_test], labels[~is_test], images[is_test], labels[is_test]
