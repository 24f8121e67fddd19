"""heatcheck: evaluate visual explanations of image classifiers, and the metrics that grade them.

Importing the package is light (no torch): the Snakefile imports it on cluster login nodes to
validate the configuration.
"""

__version__ = "0.1.0"


class HeatcheckError(Exception):
    """An error a user can fix: bad config, bad input data, unusable checkpoint.

    The message always names the culprit (config key, file or image id).
    """
