"""Figure 1 of the first paper: images and every explainer's map side by side, per model."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ..postprocess import relu_minmax
from ..store import DatasetStore, open_saliency, saliency_name
from . import save


def plot_examples(store_path, saliency_jsons, out_png, n_images: int = 4, title: str | None = None) -> None:
    """Rows: (model, image); columns: the input then each map set in the order given (Figure 1;
    with ``{explainer}`` and ``{explainer}+blur`` markers, Figure A1), maps post-processed as in
    the paper (ReLU, then min-max to [0, 1])."""
    store = DatasetStore(store_path)
    ev = store.split("eval")
    entries = [saliency_name(p) for p in saliency_jsons]
    models = list(dict.fromkeys(m for m, _ in entries))
    explainers = list(dict.fromkeys(e for _, e in entries))
    labels = ev.labels[:]
    # one image per class first, so the rows show different classes
    _, first = np.unique(labels, return_index=True)
    picks = list(np.sort(first))[:n_images]
    picks += [i for i in range(len(labels)) if i not in picks][: n_images - len(picks)]
    ids = ev.ids
    ncol = 1 + len(explainers)
    nrow = len(models) * len(picks)
    fig, axes = plt.subplots(nrow, ncol, figsize=(1.25 * ncol + 0.6, 1.3 * nrow + 0.6), squeeze=False)
    im = None
    for mi, model in enumerate(models):
        maps = {}
        for path in saliency_jsons:
            m, e = saliency_name(path)
            if m == model:
                with open(path) as fh:
                    arr = open_saliency(json.load(fh)["path"])
                maps[e] = relu_minmax(np.asarray(arr.get_orthogonal_selection((np.array(picks),))))
        for r, i in enumerate(picks):
            row = axes[mi * len(picks) + r]
            img = np.asarray(ev.images[i]).transpose(1, 2, 0)
            row[0].imshow(img.squeeze(), interpolation="nearest")
            row[0].set_ylabel(f"{model}\n{store.class_names[labels[i]]}", fontsize=7)
            for c, e in enumerate(explainers, start=1):
                if e in maps:
                    im = row[c].imshow(maps[e][r], cmap="jet", vmin=0, vmax=1, interpolation="nearest")
                if mi == 0 and r == 0:
                    row[c].set_title(e, fontsize=7, rotation=20)
            if mi == 0 and r == 0:
                row[0].set_title("input", fontsize=7)
            for ax in row:
                ax.set_xticks([])
                ax.set_yticks([])
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.5, label="relevance (ReLU, min-max)")
    fig.suptitle(title or f"{Path(store_path).parent.name}: explanations of the target class", fontsize=9)
    save(fig, out_png)
