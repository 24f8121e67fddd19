"""Rule prepare_dataset: one dataset config entry -> results/{dataset}/images.zarr (+ summary)."""
import json

from heatcheck.data import load_dataset
from heatcheck.runtime import setup
from heatcheck.store import write_dataset

setup(snakemake.threads, logfile=snakemake.log[0])
spec = snakemake.params.spec
loaded = load_dataset(spec)
write_dataset(snakemake.output.store, loaded, spec["kind"])
ev = loaded.splits["eval"]
with open(snakemake.output.summary, "w") as fh:
    json.dump({"kind": spec["kind"], "n": {k: len(s) for k, s in loaded.splits.items()},
               "size": list(ev.images.shape[1:]), "num_classes": len(loaded.class_names),
               "has_boxes": ev.boxes is not None, "has_masks": ev.masks is not None}, fh, indent=1)
