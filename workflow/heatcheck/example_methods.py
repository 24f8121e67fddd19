"""An explainer and a metric of your own: the README's plugin example (``python -m heatcheck.docs``
copies this file into the README; the workflow tests run a study with it).

Use them from a study with ``class:``, an import path (or ``path/to/file.py:Class``, relative to
the working directory)::

    explainers:
      grad_power: {class: "heatcheck.example_methods:GradPower", power: 2}
    metrics:
      keep_top: {class: "heatcheck.example_methods:KeepTop", shares: [0.1, 0.5]}
"""

from heatcheck.explainers import Explainer, Param
from heatcheck.metrics import Metric, MetricResult


class GradPower(Explainer):
    """|d logit / d x| ** power, summed over channels: the vanilla gradient, sharpened."""

    params = (Param("power", "number", 2.0, "exponent of the gradient's magnitude", minimum=1),)
    needs = ("gradients",)  # backpropagates to the input
    signed = False  # a magnitude: never negative

    @classmethod
    def passes(cls, params, side):
        return 1.0, 1.0  # (forward, backward) per image: one of each

    def attribute(self, x, targets, index=None):
        # torch imported where the method computes: the config check and the cost report, which
        # import this class on a login node, stay without torch (a top-level import works too)
        from heatcheck.batching import input_gradient

        g = input_gradient(self.model, x, targets, self.batch_size)  # (B, C, H, W)
        return g.abs().pow(self.params["power"]).sum(1).float()  # (B, H, W)


class KeepTop(Metric):
    """Target probability with only the top share of the map's pixels kept (the rest set to 0,
    the dataset mean): higher is better."""

    params = (Param("shares", "array", [0.1, 0.5], "shares of the pixels kept, one configuration each",
                    items={"type": "number", "exclusiveMinimum": 0, "maximum": 1}, min_items=1, unique=True),)
    higher_is_better = True
    axes = ("share",)

    @classmethod
    def configs(cls, params):
        return [{"share": s} for s in params["shares"]]  # the table's ``config`` column: 0.1, 0.5

    @classmethod
    def passes(cls, params, side):
        return float(len(params["shares"])), 0.0  # one forward per share and map, no backward

    def __call__(self, model, x, saliency, targets, **kw):
        import torch

        from heatcheck.batching import target_scores

        b, n = len(x), len(self.configurations())
        flat = saliency.flatten(1)
        rank = flat.argsort(1, descending=True).argsort(1)  # 0 = the most relevant pixel
        keep = torch.stack([rank < max(1, round(c["share"] * flat.shape[1])) for c in self.configurations()], 1)
        kept = x.unsqueeze(1) * keep.view(b, n, 1, *x.shape[-2:]).to(x.dtype)  # (B, n, C, H, W)
        p = target_scores(model, kept.flatten(0, 1), targets.repeat_interleave(n), self.batch_size)
        return MetricResult(p.view(b, n).cpu().numpy())
