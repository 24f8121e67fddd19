"""Sample images of a dataset with their object masks and boxes, and the models' accuracies."""

from __future__ import annotations

import json

import numpy as np
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from ..store import DatasetStore
from . import save


def plot_samples(store_path, accuracy_files, out_png, per_class: int = 2, max_classes: int = 10) -> None:
    """Grid of eval images, ``per_class`` per class: image, mask contour, box; accuracies on top."""
    store = DatasetStore(store_path)
    ev = store.split("eval")
    labels = ev.labels[:]
    classes = [c for c in np.unique(labels)][:max_classes]
    picks = [i for c in classes for i in np.flatnonzero(labels == c)[:per_class]]
    ids = ev.ids
    ncol = max(1, min(len(picks), 2 * per_class))
    nrow = int(np.ceil(len(picks) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(1.9 * ncol, 2.1 * nrow + 0.6), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, picks):
        img = np.asarray(ev.images[i]).transpose(1, 2, 0)
        ax.imshow(img.squeeze(), interpolation="nearest")
        if ev.masks is not None:
            ax.contour(np.asarray(ev.masks[i]), levels=[0.5], colors="white", linewidths=0.8)
        if ev.boxes is not None:
            for x0, y0, x1, y1 in np.asarray(ev.boxes[i]):
                if x0 >= 0:
                    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                                           edgecolor="yellow", linewidth=0.8))
        ax.set_title(f"{store.class_names[labels[i]]}\n{ids[i]}", fontsize=7)
    accs = []
    for f in accuracy_files:
        with open(f) as fh:
            r = json.load(fh)
        accs.append(f"{r['model']} ({r['arch']}): {100 * r['accuracy']:.1f}%")
    fig.suptitle(f"{store_path}: eval images with object mask (white) and box (yellow)\n"
                 f"held-out accuracy: {'; '.join(accs) if accs else 'no models'}", fontsize=8)
    save(fig, out_png)
