"""Propagation explainers: layer-wise relevance propagation (zennit) and DeepSHAP (shap).

Both explain the target class's *logit* and return raw, signed maps summed over colour channels.

LRP
    zennit composites with the model canonized first: batch norms merged into the preceding
    convolution/linear layer (``SequentialMergeBatchNorm``, which is what zennit's
    ``VGGCanonizer`` is) and, for residual nets built from torchvision's ``BasicBlock`` /
    ``Bottleneck`` (torchvision ResNets and the package's ``CifarResNet``), zennit's
    ``ResNetCanonizer``, which routes the skip addition through a ``Sum`` module so that a rule
    can split relevance between the two branches. Before the first attribution the canonized
    model is checked (every batch norm merged, no tensor-tensor arithmetic left outside a
    module, same outputs as the original); a model that fails is refused with a
    :class:`HeatcheckError` naming model and explainer rather than given a silently wrong map.

DeepSHAP
    ``shap.DeepExplainer`` (DeepLIFT rescale multipliers averaged over a background set).
    shap's PyTorch backend keeps a module's forward input/output on the module itself, so a
    non-linear module called twice per forward (the shared ``relu`` of torchvision's residual
    blocks) gets the wrong multipliers; in-place additions on a hooked module's output
    (``out += identity``) break its backward hooks; functional ``F.relu`` is invisible to it.
    The model is therefore deep-copied and rewritten with ``torch.fx`` into an equivalent graph
    where every call of a non-linear module has its own module, functional ReLUs are ReLU
    modules and in-place additions are out-of-place.
"""

from __future__ import annotations

import copy
import operator
import warnings

import numpy as np

from ..lazy import F, cached, fx, nn, torch
from .. import HeatcheckError
from .base import EXPLAINERS, Explainer, Param, select


def _model_name(model: nn.Module) -> str:
    return type(model).__name__


def _chunks(x, targets, size):
    for i in range(0, len(x), size):
        yield x[i:i + size], targets[i:i + size]


# --- graph inspection shared by both methods ------------------------------------------------

#: tensor-tensor arithmetic that neither an LRP rule nor a DeepLIFT multiplier sees when it is
#: not inside a module (a residual ``+`` would receive plain gradient, a product is not linear)
@cached
def _binary_functions() -> set:
    return {operator.add, operator.iadd, operator.sub, operator.isub, operator.mul, operator.imul,
            operator.truediv, operator.itruediv, operator.matmul,
            torch.add, torch.sub, torch.mul, torch.div, torch.matmul, torch.bmm}


_BINARY_METHODS = {"add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_", "matmul", "bmm"}


@cached
def _tracer_class() -> type:
    class _Tracer(fx.Tracer):
        """fx tracer that keeps zennit's ``Sum`` (inserted by the ResNet canonizers) as one call."""

        def is_leaf_module(self, m, qualname):
            from zennit.layer import Sum
            return isinstance(m, Sum) or super().is_leaf_module(m, qualname)

    return _Tracer


def _trace(model: nn.Module, sample: torch.Tensor) -> fx.GraphModule | None:
    """``model`` as an fx graph with shapes propagated from ``sample``; None if not traceable
    (data-dependent control flow), in which case callers skip the structural checks."""
    from torch.fx.passes.shape_prop import ShapeProp
    try:
        graph = _tracer_class()().trace(model)
        gm = fx.GraphModule(model, graph, class_name=_model_name(model))
        with torch.no_grad():
            ShapeProp(gm).propagate(sample)
        return gm
    except Exception as exc:  # noqa: BLE001 - any tracing failure just means "cannot inspect"
        warnings.warn(f"could not trace {_model_name(model)} with torch.fx ({type(exc).__name__}: {exc}); "
                      f"its structure is not checked")
        return None


def _is_activation_tensor(arg) -> bool:
    # a tensor computed from the input, not a parameter/buffer or a Python number/shape
    return isinstance(arg, fx.Node) and arg.op != "get_attr" and "tensor_meta" in arg.meta


def _binary_tensor_ops(gm: fx.GraphModule) -> list[str]:
    """Descriptions of tensor-tensor arithmetic nodes of ``gm`` that sit outside any module."""
    found = []
    for node in gm.graph.nodes:
        hit = (node.op == "call_function" and node.target in _binary_functions()) or \
              (node.op == "call_method" and node.target in _BINARY_METHODS)
        if hit and sum(_is_activation_tensor(a) for a in node.args) >= 2:
            name = getattr(node.target, "__name__", str(node.target))
            found.append(f"{name} at {node.name}")
    return found


# --- LRP ------------------------------------------------------------------------------------


def _lrp_canonizers(model: nn.Module) -> list:
    from torchvision.models.resnet import BasicBlock, Bottleneck

    from ..models.cifar import BasicBlock as CifarBlock
    from zennit.torchvision import ResNetCanonizer, VGGCanonizer
    if any(isinstance(m, CifarBlock) for m in model.modules()):
        return [ResNetCanonizer(), _cifar_block_canonizer()]
    if any(isinstance(m, (BasicBlock, Bottleneck)) for m in model.modules()):
        return [ResNetCanonizer()]
    # plain feed-forward nets (VGG, AlexNet, LeNet): only batch norms to merge, if any
    return [VGGCanonizer()]


@EXPLAINERS.register("lrp")
class LRP(Explainer):
    """Layer-wise relevance propagation (Bach et al. 2015) with zennit.

    Rules (``rule``):

    ``epsilon`` (default; the second paper)
        LRP-epsilon with ``epsilon`` (default 1) on every convolution and linear layer,
        including the first.
    ``alpha_beta`` (the first paper's code)
        LRP-alpha2-beta1 on every convolution and linear layer except the first, which gets the
        z^B (box) rule with bounds = the lowest and highest value a normalized pixel can take.

    Both: ReLU, batch norm (merged into the previous layer first) and dropout pass relevance
    unchanged, the residual ``Sum`` and average pooling split it in proportion to the
    contributions (zennit's ``Norm``), max pooling sends it to the maximum (its gradient).

    The output relevance is the one-hot of the target times the target *logit*, so the input
    relevance sums to the logit up to what biases and the epsilon stabilizer absorb (exactly so
    for a bias-free ReLU network and epsilon -> 0; for a linear model the map is ``w * x``).

    Parameters
    ----------
    mean, std : sequence of float, optional
        The dataset's per-channel normalization constants. They fix the z^B bounds at
        ``(0 - mean) / std`` and ``(1 - mean) / std`` (images in [0, 1] before normalization).
        Without them the bounds are each image's per-channel minimum and maximum, which keeps
        the map independent of the batch but not exactly the first paper's setting.
    """

    full_precision = True
    traces_model = True
    signed = True
    needs = ("gradients", "module_hooks")
    params = (Param("rule", choices=("epsilon", "alpha_beta"), default="epsilon",
                    description="LRP-epsilon everywhere (second paper) or alpha2-beta1 with z^B first (first paper)"),
              Param("epsilon", "number", 1.0, "the epsilon rule's stabilizer", exclusive_minimum=0))

    @classmethod
    def passes(cls, params, side):
        # forward, then per layer a re-run of the layer per modified weight set and its gradient:
        # one set for epsilon, four for alpha-beta
        sets = 1 if params["rule"] == "epsilon" else 4
        return 1.0 + sets, float(sets)

    def __init__(self, model, *, mean=None, std=None, **kw):
        super().__init__(model, **kw)
        self.rule = self.params["rule"]
        if self.rule not in ("epsilon", "alpha_beta"):
            raise HeatcheckError(f"config key explainers.lrp.rule = {self.rule!r}; valid: epsilon, alpha_beta")
        self.epsilon = float(self.params["epsilon"])
        if (mean is None) != (std is None):
            raise HeatcheckError("explainer 'lrp' needs both mean and std for its z^B bounds, or neither")
        self.mean = None if mean is None else torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = None if std is None else torch.as_tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self._checked = False

    @classmethod
    def refusal(cls, model, sample):
        """Also whether the canonizers leave a model LRP's rules fully cover (:meth:`_check`)."""
        why = super().refusal(model, sample)
        if why:
            return why
        expl = cls(model)
        with torch.no_grad():
            reference = model(sample)
        instances = []
        try:
            for canonizer in _lrp_canonizers(model):
                instances += canonizer.apply(model)
            expl._check(instances, sample, reference)
        except HeatcheckError as exc:
            return str(exc).split(": ", 1)[-1]
        finally:
            for instance in reversed(instances):
                instance.remove()
        return None

    # composite -------------------------------------------------------------------------------

    def _bounds(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mean is not None:
            low = ((0.0 - self.mean) / self.std).to(x)
            high = ((1.0 - self.mean) / self.std).to(x)
            # never let the box exclude the input (z^B assumes low <= x <= high)
            low = torch.minimum(low.expand_as(x), x)
            high = torch.maximum(high.expand_as(x), x)
        else:
            low = x.amin((2, 3), keepdim=True).expand_as(x)
            high = x.amax((2, 3), keepdim=True).expand_as(x)
        return low.contiguous(), high.contiguous()

    def _first_layer(self) -> nn.Module | None:
        from zennit.types import Linear as AnyLinear
        return next((m for m in self.model.modules() if isinstance(m, AnyLinear)), None)

    def _composite(self, x: torch.Tensor):
        from zennit.composites import LayerMapComposite, SpecialFirstLayerMapComposite, layer_map_base
        from zennit.rules import AlphaBeta, Epsilon, ZBox
        from zennit.types import Convolution, Linear as AnyLinear
        if self.rule == "epsilon":
            rule = Epsilon(epsilon=self.epsilon)
            return LayerMapComposite(layer_map=layer_map_base() + [(Convolution, rule), (nn.Linear, rule)])
        low, high = self._bounds(x)
        if isinstance(self._first_layer(), nn.Linear):
            # a linear first layer sees the flattened image (LeNet-like nets without convolution)
            low, high = low.flatten(1), high.flatten(1)
        rule = AlphaBeta(alpha=2.0, beta=1.0)
        return SpecialFirstLayerMapComposite(
            layer_map=layer_map_base() + [(Convolution, rule), (nn.Linear, rule)],
            first_map=[(AnyLinear, ZBox(low=low, high=high))])

    # checks ----------------------------------------------------------------------------------

    def _refuse(self, why: str) -> HeatcheckError:
        return HeatcheckError(f"explainer 'lrp' cannot be applied to model {_model_name(self.model)}: {why}")

    def _check(self, instances, sample: torch.Tensor, reference: torch.Tensor) -> None:
        """Verify, once, that the canonized model is one LRP's rules fully cover."""
        from zennit.canonizers import MergeBatchNorm
        from zennit.types import BatchNorm
        merged = {id(i.batch_norm) for i in instances if isinstance(i, MergeBatchNorm)}
        unmerged = [name for name, m in self.model.named_modules() if isinstance(m, BatchNorm) and id(m) not in merged]
        if unmerged:
            raise self._refuse(f"batch norm(s) {', '.join(unmerged[:5])} do not directly follow a convolution or "
                               f"linear layer, so they cannot be merged into one (no canonizer known for this model)")
        gm = _trace(self.model, sample)
        if gm is not None:
            ops = _binary_tensor_ops(gm)
            if ops:
                raise self._refuse(f"its forward adds or multiplies feature maps outside modules ({', '.join(ops[:5])}), "
                                   f"e.g. residual connections no zennit canonizer rewrites; relevance would bypass "
                                   f"the rules there")
        with torch.no_grad():
            out = self.model(sample)
        scale = reference.abs().max().clamp_min(1.0)
        if not torch.allclose(out, reference, rtol=1e-3, atol=1e-3 * float(scale)):
            raise self._refuse("the canonized model (batch norms merged, residual sums as modules) does not compute "
                               "the same outputs as the original")

    # attribution -----------------------------------------------------------------------------

    def attribute(self, x, targets, index=None):
        targets = targets.to(x.device)
        sample = x[:2].detach()
        if not self._checked:
            with torch.no_grad():
                reference = self.model(sample)
        instances = []
        try:
            for canonizer in _lrp_canonizers(self.model):
                instances += canonizer.apply(self.model)
            if not self._checked:
                self._check(instances, sample, reference)
                self._checked = True
            maps = []
            for xb, tb in _chunks(x, targets, self.batch_size):
                composite = self._composite(xb)
                xb = xb.detach().clone().requires_grad_(True)
                with composite.context(self.model) as hooked, torch.enable_grad():
                    out = hooked(xb)
                    # output relevance: the target logit on the target unit, zero elsewhere
                    r_out = torch.zeros_like(out).scatter_(1, tb.view(-1, 1), select(out, tb).detach().view(-1, 1))
                    (rel,) = torch.autograd.grad(out, xb, grad_outputs=r_out)
                maps.append(rel.sum(1).detach())
        finally:
            for instance in reversed(instances):
                instance.remove()
        return torch.cat(maps).float()


# --- DeepSHAP -------------------------------------------------------------------------------


def _shap_handlers() -> dict:
    _register_shap_maxpool()
    from shap.explainers._deep.deep_pytorch import op_handler
    return {k: f.__name__ for k, f in op_handler.items()}


#: functional non-linearities shap's DeepExplainer would treat as linear (plain gradient)
@cached
def _nonlinear_functions() -> set:
    return {torch.sigmoid, torch.tanh, F.sigmoid, F.tanh, F.gelu, F.silu, F.elu, F.selu,
            F.leaky_relu, F.softplus, F.relu6, F.hardtanh, F.hardswish, F.hardsigmoid, F.mish,
            F.softmax, F.log_softmax, torch.softmax, F.max_pool1d, F.max_pool2d, F.max_pool3d,
            F.adaptive_max_pool1d, F.adaptive_max_pool2d, torch.max, torch.amax, torch.clamp,
            torch.maximum, torch.minimum}


_NONLINEAR_METHODS = {"sigmoid", "tanh", "softmax", "log_softmax", "clamp", "clamp_", "max", "amax", "sigmoid_"}


@cached
def shap_maxpool_class() -> type:
    """``ShapMaxPool2d``: ``nn.MaxPool2d`` under its own name, so that shap uses
    :func:`_maxpool_rescale` for it (made on first use: the module imports without torch).

    shap's own max-pool rule scatters the multipliers back with ``max_unpool2d``, which
    overwrites instead of adding where windows overlap (torchvision ResNets' 3x3/stride-2 stem
    pooling), so the values no longer add up to the output difference.
    """
    return type("ShapMaxPool2d", (nn.MaxPool2d,), {"__doc__": "nn.MaxPool2d scored by _maxpool_rescale",
                                                   "__module__": __name__})


def _maxpool_rescale(module, grad_input, grad_output):
    """shap's DeepLIFT max-pool multipliers, scattered with accumulation (overlapping windows).

    The first half of the batch holds the explained copies, the second the references (shap's
    layout); the difference of the pooled outputs is credited to the arg-max positions of input
    (up to the larger of the two maxima) and reference (the rest), then divided by the input
    difference.
    """
    x = module.x.detach()
    h = x.shape[0] // 2
    y, y_ref = torch.chunk(module.y.detach(), 2)
    cross = torch.max(y, y_ref)
    g = grad_output[0]
    credit = torch.cat([g[:h] * (cross - y_ref), g[h:] * (y - cross)])
    with torch.no_grad():
        _, idx = F.max_pool2d(x, module.kernel_size, module.stride, module.padding, module.dilation,
                              module.ceil_mode, return_indices=True)
        acc = torch.zeros_like(x).flatten(2).scatter_add_(2, idx.flatten(2), credit.flatten(2)).view_as(x)
    delta_in = x[:h] - x[h:]
    both = acc[:h] + acc[h:]
    mult = torch.where(delta_in.abs() < 1e-7, torch.zeros_like(delta_in), both / torch.where(
        delta_in.abs() < 1e-7, torch.ones_like(delta_in), delta_in))
    grads = [None] * len(grad_input)
    grads[0] = mult.repeat(2, *([1] * (mult.ndim - 1)))
    return tuple(grads)


# shap looks handlers up by class name and decides from the handler's __name__ whether to record
# the module's input/output; "maxpool" makes it record them as for its own max-pool rule
_maxpool_rescale.__name__ = "maxpool"


def _register_shap_maxpool() -> None:
    from shap.explainers._deep.deep_pytorch import op_handler
    op_handler.setdefault(shap_maxpool_class().__name__, _maxpool_rescale)


@cached
def _target_output_class() -> type:
    class _TargetOutput(nn.Module):
        """The model's logit for one class (``target``, set before each use) as a (N, 1) output,
        so that shap evaluates one output instead of every class."""

        def __init__(self, net: nn.Module):
            super().__init__()
            self.net = net
            self.target = 0

        def forward(self, x):
            out = self.net(x)
            return out[:, self.target:self.target + 1]

    return _TargetOutput


@EXPLAINERS.register("deepshap")
class DeepSHAP(Explainer):
    """DeepSHAP (Lundberg & Lee 2017): shap's ``DeepExplainer`` with the first ``background``
    training images as reference set; the target logit's values summed over channels.

    The values of an image add up to ``f_t(x) - mean_b f_t(b)`` over the background images b;
    this is checked on every batch and a violation (an operation shap does not support) is an
    error naming model and explainer.

    shap explains one image at a time against all background images (2 x background rows per
    pass). To respect ``batch_size`` the background is split into chunks of ``batch_size // 2``
    images, each with its own ``DeepExplainer``; the values are averaged over chunks weighted by
    their size, which is exact because DeepLIFT treats each (image, reference) pair separately.

    Parameters
    ----------
    background_size : int, optional
        Number of background images (config ``explainers.deepshap.background``, default 64; the
        config key cannot be passed as ``background``, which is the tensor of images).
    """

    full_precision = True
    traces_model = True
    signed = True

    needs = ("gradients", "background", "module_hooks")
    params = (Param("background_size", "integer", 64, "Training images in the background set.", minimum=1),)

    @classmethod
    def passes(cls, params, side):
        # forward + backward of (image copies + references) for every background image
        return (2.0 * params["background_size"],) * 2

    def __init__(self, model, **kw):
        super().__init__(model, **kw)
        self.background_size = int(self.params["background_size"])
        self._explainers = None
        self._wrapper = None
        self._bg_mean = None

    def _refuse(self, why: str) -> HeatcheckError:
        return HeatcheckError(f"explainer 'deepshap' cannot be applied to model {_model_name(self.model)}: {why}")

    def _shap_safe(self, sample: torch.Tensor) -> nn.Module:
        """An equivalent copy of the model whose graph shap's DeepExplainer handles correctly."""
        _register_shap_maxpool()
        model = copy.deepcopy(self.model).eval()
        for m in model.modules():
            if isinstance(m, nn.ReLU):
                m.inplace = False
        handlers = _shap_handlers()
        gm = _trace(model, sample)
        if gm is None:
            # cannot rewrite: accept the model only if no non-linear module runs twice per forward
            calls: dict[int, int] = {}
            hooks = [m.register_forward_hook(lambda m, i, o: calls.__setitem__(id(m), calls.get(id(m), 0) + 1))
                     for m in model.modules() if handlers.get(type(m).__name__) in ("nonlinear_1d", "maxpool")]
            try:
                with torch.no_grad():
                    model(sample)
            finally:
                for h in hooks:
                    h.remove()
            if any(n > 1 for n in calls.values()):
                raise self._refuse("a non-linear module is called more than once per forward and the model cannot "
                                   "be traced with torch.fx to give each call its own module")
            return model
        graph, used, unsupported, k = gm.graph, set(), [], 0
        modules = dict(gm.named_modules())
        for node in list(graph.nodes):
            if node.op == "call_module":
                mod = modules[node.target]
                if type(mod) is nn.MaxPool2d:
                    # shap's rule is wrong for overlapping windows: use ours (same parameters)
                    mod = copy.deepcopy(mod)
                    mod.__class__ = shap_maxpool_class()
                    k += 1
                    name = f"shap_maxpool_{k}"
                    gm.add_submodule(name, mod)
                    node.target = name
                kind = handlers.get(type(mod).__name__)
                if kind is None:
                    unsupported.append(f"module {node.target} ({type(mod).__name__})")
                if kind in ("nonlinear_1d", "maxpool"):
                    if node.target in used:
                        # a second call of the same module: give it its own copy
                        k += 1
                        name = f"shap_copy_{k}"
                        gm.add_submodule(name, copy.deepcopy(mod))
                        node.target = name
                    used.add(node.target)
            elif (node.op == "call_function" and node.target in (F.relu, torch.relu, torch.relu_)) or \
                    (node.op == "call_method" and node.target in ("relu", "relu_")):
                k += 1
                name = f"shap_relu_{k}"
                gm.add_submodule(name, nn.ReLU())
                with graph.inserting_after(node):
                    new = graph.call_module(name, (node.args[0],))
                node.replace_all_uses_with(new)
                graph.erase_node(node)
            elif node.op == "call_function" and node.target in (operator.iadd, operator.isub):
                # in place on a hooked module's output breaks full backward hooks
                node.target = operator.add if node.target is operator.iadd else operator.sub
            elif node.op == "call_method" and node.target in ("add_", "sub_"):
                node.target = node.target[:-1]
            elif (node.op == "call_function" and node.target in _nonlinear_functions()) or \
                    (node.op == "call_method" and node.target in _NONLINEAR_METHODS):
                unsupported.append(f"function {getattr(node.target, '__name__', node.target)} at {node.name}")
        products = [op for op in _binary_tensor_ops(gm) if not op.startswith(("add", "iadd", "sub", "isub"))]
        unsupported += [f"product of feature maps {op}" for op in products]
        if unsupported:
            raise self._refuse(f"shap's DeepExplainer has no DeepLIFT rule for {', '.join(unsupported[:5])}")
        graph.lint()
        gm.recompile()
        return gm

    def _background(self) -> torch.Tensor:
        if not isinstance(self.background, torch.Tensor) or len(self.background) == 0:
            raise HeatcheckError("explainer 'deepshap' needs a background tensor of normalized training images "
                                 "(Explainer(..., background=...)); none was given")
        return self.background[:self.background_size].to(self.device).float()

    def _prepare(self) -> None:
        import shap
        bg = self._background()
        net = self._shap_safe(bg[:1])
        with torch.no_grad():
            # shap's rewrite must not change the function
            ref, got = self.model(bg[:2]), net(bg[:2])
            if not torch.allclose(ref, got, rtol=1e-4, atol=1e-4 * float(ref.abs().max().clamp_min(1.0))):
                raise self._refuse("the rewritten model (one module per non-linear call) differs from the original")
            self._bg_mean = torch.cat([net(bg[i:i + self.batch_size]) for i in range(0, len(bg), self.batch_size)]).mean(0)
        self._wrapper = _target_output_class()(net).eval()
        chunk = max(1, self.batch_size // 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # shap's torch-version chatter
            self._explainers = [(shap.DeepExplainer(self._wrapper, bg[i:i + chunk]), len(bg[i:i + chunk]))
                                for i in range(0, len(bg), chunk)]

    def attribute(self, x, targets, index=None):
        if self._explainers is None:
            self._prepare()
        x = x.to(self.device).float()
        targets = targets.to(self.device)
        total = sum(n for _, n in self._explainers)
        phis = torch.zeros(x.shape, dtype=torch.float64)
        try:
            for t in torch.unique(targets).tolist():
                rows = (targets == t).nonzero().flatten()
                self._wrapper.target = int(t)
                acc = np.zeros(x[rows].shape, dtype=np.float64)
                for explainer, n in self._explainers:
                    values = explainer.shap_values(x[rows], check_additivity=False)
                    acc += np.asarray(values, dtype=np.float64).reshape(acc.shape) * (n / total)
                phis[rows.cpu()] = torch.from_numpy(acc)
        finally:
            # shap leaves each non-linear module's last input/output on it (only containers are
            # cleaned); drop them so a joint batch of activations is not kept alive
            # (shap stores them as registered nn.Parameters named x and y)
            for m in self._wrapper.modules():
                m._parameters.pop("x", None)
                m._parameters.pop("y", None)
        self._check_additivity(x, targets, phis)
        return phis.sum(1).float().to(x.device)

    def _check_additivity(self, x, targets, phis) -> None:
        with torch.no_grad():
            fx_ = torch.cat([select(self._wrapper.net(xb), tb) for xb, tb in _chunks(x, targets, self.batch_size)])
        delta = (fx_ - self._bg_mean[targets]).double().cpu()
        err = (phis.flatten(1).sum(1) - delta).abs()
        tol = 1e-2 * torch.clamp(delta.abs(), min=1.0)
        if (err > tol).any():
            i = int((err - tol).argmax())
            raise self._refuse(f"its DeepSHAP values do not add up to f(x) - E[f(background)] for the target logit "
                               f"(batch row {i}: sum {float(phis[i].sum()):.4g} vs {float(delta[i]):.4g}); the model "
                               f"has an operation shap's DeepExplainer does not handle")


__all__ = ["LRP", "DeepSHAP"]


def _cifar_block_canonizer():
    """zennit's BasicBlock canonizer, matching the package's own CIFAR ``BasicBlock`` (same
    attributes and forward as torchvision's): the skip addition goes through a ``Sum`` module."""
    from zennit.torchvision import ResNetBasicBlockCanonizer

    class CifarBlockCanonizer(ResNetBasicBlockCanonizer):
        @classmethod
        def _attribute_map(cls, name, module):
            from ..models.cifar import BasicBlock as CifarBlock

            if isinstance(module, CifarBlock):
                from zennit.layer import Sum

                return {"forward": cls.forward.__get__(module), "canonizer_sum": Sum()}
            return None

    return CifarBlockCanonizer()
