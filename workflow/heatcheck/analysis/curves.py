"""Mean insertion and deletion curves per (model, explainer, configuration): the data of the
first paper's Figures 2, 4 and A3-A5. Torch-free."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..tables import read_curves, read_each
from .reliability import _SEED


def mean_curves(curve_stores) -> pd.DataFrame:
    """``curves/{metric}/{model}/{explainer}.zarr`` arrays (image x configuration x point) ->
    long table of the mean curve and its standard error over images, uniform seeds averaged
    per image first. ``fraction`` is the share of pixels inserted or deleted at each point, over
    each configuration's own points (the ``pixel`` granularity can have fewer than ``region``)."""
    frames = []
    # every store checked first: a damaged one is removed, so that the next run rewrites it
    stores = read_each(curve_stores, lambda p: read_curves(p, repair=True))
    for path, (curves, keys) in zip(curve_stores, stores):
        p = Path(path)
        metric, model, explainer = p.parent.parent.name, p.parent.name, p.name[: -len(".zarr")]
        data = np.asarray(curves, dtype=np.float64)
        configs = [_SEED.sub("", c) for c in keys]
        # configurations with fewer points are NaN-padded: each keeps its own points
        points = np.isfinite(data[0]).sum(-1).tolist()
        for cfg in dict.fromkeys(configs):
            cols = [i for i, c in enumerate(configs) if c == cfg]
            n = int(points[cols[0]])
            fraction = np.linspace(0, 1, n)
            per_image = data[:, cols, :n].mean(1)
            se = per_image.std(0, ddof=1) / np.sqrt(len(per_image)) if len(per_image) > 1 else np.zeros(len(fraction))
            frames.append(pd.DataFrame({"metric": metric, "model": model, "explainer": explainer, "config": cfg,
                                        "point": np.arange(len(fraction)), "fraction": fraction,
                                        "mean": per_image.mean(0), "stderr": se}))
    cols = ["metric", "model", "explainer", "config", "point", "fraction", "mean", "stderr"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)
