"""Rule prepare_dataset: one dataset config entry -> results/{dataset}/images.zarr."""
from heatcheck.data import load_dataset
from heatcheck.runtime import setup
from heatcheck.store import write_dataset

setup(snakemake.threads, logfile=snakemake.log[0])
spec = snakemake.params.spec
write_dataset(snakemake.output[0], load_dataset(spec), spec["kind"])
