"""Data selection: train on some classes only (``data.classes``), and keep the labels of only a few
images per class (``data.labels_per_class``), the rest unlabelled.

Both are pure functions of the config, so a run, its resume and a later ``gankit eval`` see the same
images; ``Selection.record()`` is what the run directory keeps of it (``selection.json``): the
classes, and the indices into the dataset's split of every image whose label was kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from gankit.config import DataConfig
from gankit.data.dataset import ImageDataset
from gankit.errors import DataError


@dataclass
class Selection:
    """What was selected, for run.json's neighbour selection.json and for --dry-run."""
    dataset: str
    split: str
    classes: list[int] | None
    images: int  # images trained on
    labels_per_class: int | None = None
    label_seed: int = 0
    labelled: list[int] | None = None  # indices into the split (before the class selection)
    labels: list[int] | None = None

    def record(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def describe(self) -> str:
        what = f"{self.images} images of {self.dataset} ({self.split})"
        if self.classes is not None:
            what += f", classes {self.classes}"
        if self.labels_per_class is not None:
            what += (f"; labels kept for {self.labels_per_class} per class ({len(self.labelled or [])} images, "
                     f"data.label_seed {self.label_seed}), the rest unlabelled")
        return what


@dataclass
class SelectedDataset(ImageDataset):
    """A selected dataset, carrying what was selected. With ``data.labels_per_class`` its images are all
    unlabelled (``labels`` None) except a labelled subset: the engine's batches then carry no labels,
    so nothing learns from a label that was dropped; a task that wants the labelled images (``ssgan``)
    draws them from ``labelled()`` itself.
    """
    selection: Selection | None = None
    labelled_index: torch.Tensor | None = None  # (M,) rows of images whose labels are kept
    labelled_labels: torch.Tensor | None = None  # (M,) their labels

    def labelled(self) -> ImageDataset | None:
        if self.labelled_index is None or self.labelled_labels is None:
            return None
        return ImageDataset(self.images[self.labelled_index], self.labelled_labels, self.num_classes,
                            f"{self.name} (labelled)", self.class_names)


def select(ds: ImageDataset, cfg: DataConfig) -> ImageDataset:
    """``ds`` restricted to ``cfg.classes`` and, on the training split, labelled only for
    ``cfg.labels_per_class`` images per class (a SelectedDataset); ``ds`` itself when neither is set."""
    labels_kept = cfg.labels_per_class is not None and cfg.split == "train"
    if cfg.classes is None and not labels_kept:
        return ds
    if ds.labels is None:
        key = "data.classes" if cfg.classes is not None else "data.labels_per_class"
        raise DataError(f"{key} needs class labels, but dataset {ds.name!r} has none")
    original = torch.arange(len(ds))  # rows of the split, recorded so the selection can be found again
    classes = None
    if cfg.classes is not None:
        classes = sorted(set(cfg.classes))
        present = set(ds.labels.unique().tolist())
        missing = [c for c in classes if c not in present]
        if missing:
            names = f" ({', '.join(ds.class_names)})" if ds.class_names else ""
            raise DataError(f"data.classes: dataset {ds.name!r} has no class {missing[0]}; its classes are "
                            f"0..{ds.num_classes - 1}{names}")
        keep = torch.isin(ds.labels, torch.tensor(classes))
        original = original[keep]
        # labels stay as they are (class 7 is still 7), so sampling and evaluation by class mean the same
        ds = ImageDataset(ds.images[keep], ds.labels[keep], ds.num_classes, ds.name, ds.class_names)
    selection = Selection(ds.name, cfg.split, classes, len(ds))
    if not labels_kept:
        return SelectedDataset(ds.images, ds.labels, ds.num_classes, ds.name, ds.class_names, selection)
    n, gen = int(cfg.labels_per_class), torch.Generator().manual_seed(cfg.label_seed)
    rows = []
    assert ds.labels is not None
    for c in sorted(set(ds.labels.tolist())):
        members = torch.nonzero(ds.labels == c).flatten()
        if len(members) < n:
            raise DataError(f"data.labels_per_class={n}, but class {c} of {ds.name!r} has only {len(members)} "
                            f"images; lower it to {len(members)} or less")
        rows.append(members[torch.randperm(len(members), generator=gen)[:n]].sort().values)
    index = torch.cat(rows)
    selection.labels_per_class, selection.label_seed = n, cfg.label_seed
    selection.labelled, selection.labels = original[index].tolist(), ds.labels[index].tolist()
    return SelectedDataset(ds.images, None, ds.num_classes, ds.name, ds.class_names, selection,
                           labelled_index=index, labelled_labels=ds.labels[index])
