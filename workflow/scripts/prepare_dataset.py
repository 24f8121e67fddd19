"""Rule prepare_dataset: one dataset config entry -> results/{dataset}/images.zarr (+ summary)."""
import json
from pathlib import Path

from heatcheck.data import load_dataset, summarize
from heatcheck.runtime import setup_logging
from heatcheck.store import write_dataset

setup_logging(snakemake.log[0])  # no model here: torch is not imported
spec = snakemake.params.spec
loaded = load_dataset(spec)
write_dataset(snakemake.output.store, loaded, spec["kind"])
# written whole or not at all: the workflow's params read it while building the DAG
tmp = Path(snakemake.output.summary).with_suffix(".json.tmp")
tmp.write_text(json.dumps(summarize(loaded, spec["kind"]), indent=1))
tmp.replace(snakemake.output.summary)
