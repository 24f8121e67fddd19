"""Gradient and CAM explainers (captum where it implements the method), and the two controls.

Channel reduction: ``grad`` takes the maximum magnitude over colour channels (Simonyan et al.);
the other signed methods sum over channels, which keeps the sign and, for IG, completeness.
Gradient methods explain the target *logit*.
"""

from __future__ import annotations

from ..lazy import F, no_grad, torch
from .. import HeatcheckError
from .base import EXPLAINERS, Explainer, Param, indices_or_range, input_gradient


class _Backprop(Explainer):
    """One forward and one backward pass per image."""

    needs = ("gradients",)

    @classmethod
    def passes(cls, params, side):
        return 1.0, 1.0


def _chunks(x, targets, size):
    # inputs that require grad already: captum then does not warn about setting it
    for i in range(0, len(x), size):
        yield x[i:i + size].detach().requires_grad_(True), targets[i:i + size]


@EXPLAINERS.register("grad")
class Grad(_Backprop):
    """Vanilla gradient (Simonyan et al. 2014): max_c |d logit / d x_c|."""

    sparse = True

    signed = False  # a magnitude

    def attribute(self, x, targets, index=None):
        from captum.attr import Saliency  # lazily: only jobs that use captum pay its import

        sal = Saliency(self.model)
        out = [sal.attribute(xb, target=tb, abs=True).amax(1) for xb, tb in _chunks(x, targets, self.batch_size)]
        return torch.cat(out).float()


@EXPLAINERS.register("gradient_x_input")
class GradientXInput(_Backprop):
    """Gradient times input, summed over channels (exact for a linear model: w * x)."""

    sparse = True

    signed = True

    def attribute(self, x, targets, index=None):
        from captum.attr import InputXGradient

        ixg = InputXGradient(self.model)
        return torch.cat([ixg.attribute(xb, target=tb).sum(1) for xb, tb in _chunks(x, targets, self.batch_size)]).float()


@EXPLAINERS.register("guided_backprop")
class GuidedBackpropExplainer(_Backprop):
    """Guided backpropagation (Springenberg et al. 2015): only positive gradients pass ReLUs."""

    sparse = True

    signed = True
    needs = ("gradients", "module_hooks")

    def attribute(self, x, targets, index=None):
        from captum.attr import GuidedBackprop

        gb = GuidedBackprop(self.model)
        return torch.cat([gb.attribute(xb, target=tb).sum(1) for xb, tb in _chunks(x, targets, self.batch_size)]).float()


@EXPLAINERS.register("integrated_gradients")
class IntegratedGradientsExplainer(Explainer):
    """Integrated Gradients (Sundararajan et al. 2017) from a zero baseline (the dataset mean
    in normalized space) with ``steps`` Gauss-Legendre steps, batched over steps and images.

    ``baseline: mean`` is the same point; ``zero`` is kept as the papers' name.
    """

    sparse = True

    signed = True
    needs = ("gradients",)
    params = (Param("steps", "integer", 50, "Gauss-Legendre steps from the baseline to the image", minimum=1),
              Param("baseline", choices=("zero", "mean"), default="zero",
                    description="zero in normalized space, the dataset mean (the same point)"))

    @classmethod
    def passes(cls, params, side):
        return (float(params["steps"]),) * 2

    def attribute(self, x, targets, index=None):
        from captum.attr import IntegratedGradients

        ig = IntegratedGradients(self.model)
        steps = int(self.params["steps"])
        per = max(1, self.batch_size // steps)
        out = [ig.attribute(xb, baselines=torch.zeros_like(xb), target=tb, n_steps=steps,
                            internal_batch_size=self.batch_size).sum(1)
               for xb, tb in _chunks(x, targets, per)]
        return torch.cat(out).float()


@EXPLAINERS.register("smoothgrad")
class SmoothGrad(Explainer):
    """SmoothGrad (Smilkov et al. 2017): plain gradients averaged over ``samples`` noisy copies,
    Gaussian noise of standard deviation ``noise`` in normalized units, summed over channels.

    Noise is drawn per image from ``(seed, image index)``; all copies run in batches.
    """

    sparse = True

    signed = True
    needs = ("gradients",)
    params = (Param("samples", "integer", 10, "noisy copies per image", minimum=1),
              Param("noise", "number", 0.1, "standard deviation of the noise in normalized units", minimum=0))

    @classmethod
    def passes(cls, params, side):
        return (float(params["samples"]),) * 2

    def attribute(self, x, targets, index=None):
        k, sigma = int(self.params["samples"]), float(self.params["noise"])
        idx = indices_or_range(index, len(x))
        noise = torch.stack([torch.randn((k, *x.shape[1:]), generator=self.generator(i)) for i in idx])
        noisy = (x.unsqueeze(1) + sigma * noise.to(x.device)).flatten(0, 1)
        g = input_gradient(self.model, noisy, targets.repeat_interleave(k), self.batch_size)
        return g.view(len(x), k, *x.shape[1:]).mean(1).sum(1).float()


def _upsample(cam: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(cam.unsqueeze(1), size=size, mode="bilinear", align_corners=False).squeeze(1)


@EXPLAINERS.register("gradcam")
class GradCAM(_Backprop):
    """Grad-CAM (Selvaraju et al. 2017) on the last convolutional feature map (``layer`` names
    another module), upsampled bilinearly to the image. Raw: no ReLU (metrics apply it)."""

    signed = True
    needs = ("gradients", "layer", "module_hooks")
    params = (Param("layer", "string", None, "module (dotted name) of the feature map; null = the model's "
                    "feature layer", nullable=True),)

    def _layer(self):
        name = self.params["layer"]
        if name:
            modules = dict(self.model.named_modules())
            if name not in modules:
                raise HeatcheckError(f"config key explainers.gradcam.layer = {name!r} is not a module of the "
                                     f"model; some valid names: {', '.join(list(modules)[1:12])}")
            return modules[name]
        from ..models import last_conv

        return last_conv(self.model)

    def attribute(self, x, targets, index=None):
        from captum.attr import LayerAttribution, LayerGradCam

        gc = LayerGradCam(self.model, self._layer())
        out = [LayerAttribution.interpolate(gc.attribute(xb, target=tb, relu_attributions=False),
                                            x.shape[-2:], "bilinear").squeeze(1)
               for xb, tb in _chunks(x, targets, self.batch_size)]
        return torch.cat(out).float()


@EXPLAINERS.register("cam")
class CAM(Explainer):
    """Class activation mapping (Zhou et al. 2016): sum_k w^c_k f_k(x, y) for models ending in
    global average pooling and one linear layer, upsampled bilinearly to the image."""

    signed = True
    needs = ("layer", "gap_fc", "module_hooks")

    @classmethod
    def passes(cls, params, side):
        return 1.0, 0.0

    @no_grad
    def attribute(self, x, targets, index=None):
        from ..models import gap_fc, last_conv

        fc = gap_fc(self.model)
        if fc is None:
            raise HeatcheckError(f"explainer 'cam' is not applicable to {type(self.model).__name__}: it needs "
                                 f"global average pooling followed by one linear layer")
        feats = []
        hook = last_conv(self.model).register_forward_hook(lambda m, i, o: feats.append(o))
        try:
            for xb, _ in _chunks(x, targets, self.batch_size):
                self.model(xb)
        finally:
            hook.remove()
        f = torch.cat(feats).float()  # autocast (precision bf16/fp16) gives low-precision features
        w = fc.weight[targets]  # (B, K)
        return _upsample(torch.einsum("bk,bkhw->bhw", w, f), x.shape[-2:]).float().detach()


@EXPLAINERS.register("random")
class RandomControl(Explainer):
    """Control: seeded standard normal noise per image, independent of model and image."""

    signed = True
    model_free = True
    input_free = True

    @classmethod
    def passes(cls, params, side):
        return 0.0, 0.0

    def attribute(self, x, targets, index=None):
        idx = indices_or_range(index, len(x))
        return torch.stack([torch.randn(x.shape[-2:], generator=self.generator(i)) for i in idx]).to(x.device)


@EXPLAINERS.register("edge")
class EdgeControl(Explainer):
    """Control: Sobel gradient magnitude of the channel-mean image, independent of the model."""

    signed = False  # a magnitude
    model_free = True

    @classmethod
    def passes(cls, params, side):
        return 0.0, 0.0

    @no_grad
    def attribute(self, x, targets, index=None):
        g = x.mean(1, keepdim=True)
        kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=x.device)
        k = torch.stack([kx, kx.t()]).unsqueeze(1)
        e = F.conv2d(F.pad(g, (1, 1, 1, 1), mode="replicate"), k)
        return e.pow(2).sum(1).sqrt().float()
