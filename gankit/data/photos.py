"""``photos``: 32x32 RGB patches of the two photographs that ship inside scikit-learn (offline).

The photographs (china.jpg, flower.jpg, 427x640) are halved with Lanczos, then cut into 32 px patches
every 8 px; the left 80 % of each photograph gives the train split (1,334 patches), the right 20 %
the test split (230 patches), so no test pixel is seen in training. RGB data for colorization.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from gankit.config import DataConfig
from gankit.data.dataset import ImageDataset, fit_images

PATCH, STRIDE, TRAIN_FRACTION = 32, 8, 0.8


def photo_patches(split: str) -> np.ndarray:
    """(N, 32, 32, 3) uint8 patches of the split."""
    from sklearn.datasets import load_sample_images  # scikit-learn loads in a second; only for this dataset

    out = []
    for photo in load_sample_images().images:
        im = Image.fromarray(photo)
        a = np.asarray(im.resize((im.width // 2, im.height // 2), Image.LANCZOS))
        cut = int(TRAIN_FRACTION * a.shape[1])
        region = a[:, :cut] if split == "train" else a[:, cut:]
        for top in range(0, region.shape[0] - PATCH + 1, STRIDE):
            for left in range(0, region.shape[1] - PATCH + 1, STRIDE):
                out.append(region[top: top + PATCH, left: left + PATCH])
    return np.stack(out)


def load_photos(cfg: DataConfig) -> ImageDataset:
    images = torch.from_numpy(photo_patches(cfg.split)).permute(0, 3, 1, 2).contiguous()
    return ImageDataset(fit_images(images, cfg.resolution, cfg.channels, "photos"), None, 0, "photos")
