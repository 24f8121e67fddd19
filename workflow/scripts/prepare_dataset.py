"""Rule prepare_dataset: one dataset config entry -> results/{dataset}/images.zarr (+ summary)."""
import json

from heatcheck.data import load_dataset, summarize
from heatcheck.runtime import setup
from heatcheck.store import write_dataset

setup(snakemake.threads, logfile=snakemake.log[0])
spec = snakemake.params.spec
loaded = load_dataset(spec)
write_dataset(snakemake.output.store, loaded, spec["kind"])
with open(snakemake.output.summary, "w") as fh:
    json.dump(summarize(loaded, spec["kind"]), fh, indent=1)
