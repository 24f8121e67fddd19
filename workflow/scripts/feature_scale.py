"""Rule feature_scale: alpha = 1 / E||f - E f|| of a model's last conv features (eq. 4)."""
from heatcheck.runtime import pick_device, setup
from heatcheck.scoring import feature_scale

setup(snakemake.threads, logfile=snakemake.log[0])
feature_scale(snakemake.input.store, snakemake.input.model, snakemake.output[0], max_eval=snakemake.params.max_eval,
              batch_size=snakemake.params.batch_size, device=pick_device())
