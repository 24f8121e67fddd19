"""Rule feature_scale: alpha = 1 / E||f - E f|| of a model's last conv features (eq. 4)."""
from heatcheck.runtime import pick_device, setup
from heatcheck.scoring import feature_scale

config = snakemake.config
setup(snakemake.threads, logfile=snakemake.log[0])
# the images' digest is the param (alpha is over all studied images); batch_size does not change it
feature_scale(snakemake.input.store, snakemake.input.model, snakemake.output[0], max_eval=config["max_eval"],
              batch_size=config["batch_size"], device=pick_device())
