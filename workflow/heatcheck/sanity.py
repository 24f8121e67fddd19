"""The model-side inputs of the metrics' trust report (torch): models whose parameters are
re-initialised layer by layer (Adebayo et al. 2018, "Sanity Checks for Saliency Maps"), and
small input noise that leaves the model's predictions unchanged (MetaQuantus' "minor
perturbation", Hedström et al. 2023).

What they feed: maps recomputed on a randomized model (``{explainer}+randomized{k}``) and on
noisy inputs (``{explainer}+noisy{k}``), scored like the originals; the statistics are in
:mod:`heatcheck.analysis.trust`, the map similarities in :mod:`heatcheck.analysis.similarity`.
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import HeatcheckError
from .batching import image_generator

#: draws per image before the noise is shrunk instead (minor_input_noise)
NOISE_TRIES = 10
#: factor by which a noise that still changes the prediction is shrunk, and how often at most
NOISE_SHRINK, NOISE_MAX_SHRINKS = 0.5, 20


def parametrized_layers(model: nn.Module) -> list[str]:
    """Names of the modules that own parameters themselves, in registration order (for the
    architectures here the order of the forward pass: stem first, logits last)."""
    return [name for name, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))]


def layer_seed(seed: int, name: str) -> int:
    """The seed of one layer's re-initialisation, from the run's seed and the layer's name: a
    layer gets the same random weights at every step of the cascade, and in every run."""
    return int(np.random.SeedSequence([int(seed), zlib.crc32(name.encode())]).generate_state(1)[0])


def reinitialise(module: nn.Module, seed: int, name: str = "") -> None:
    """Re-draw ``module``'s own parameters (and reset its buffers, e.g. BatchNorm's running
    statistics) with its default initialisation (``reset_parameters``), seeded.

    The draw is made on a CPU copy with a seeded CPU generator and copied back, so that the same
    seed gives the same weights on the CPU and on a GPU, and the global random state is left
    as it was.
    """
    if not hasattr(module, "reset_parameters"):
        raise HeatcheckError(f"layer {name or type(module).__name__!r} ({type(module).__name__}) has parameters but "
                             "no reset_parameters(); it cannot be re-initialised")
    cpu = copy.deepcopy(module).cpu()
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(int(seed))
        cpu.reset_parameters()
    with torch.no_grad():
        for (_, dst), (_, src) in zip(module.named_parameters(recurse=False), cpu.named_parameters(recurse=False)):
            dst.copy_(src)
        for (_, dst), (_, src) in zip(module.named_buffers(recurse=False), cpu.named_buffers(recurse=False)):
            dst.copy_(src)


@dataclass
class RandomizedModel:
    """One step of the randomization: ``model`` with the layers in ``layers`` re-initialised.

    Attributes
    ----------
    step : int
        1 for the top layer (logits) alone, up to the number of steps.
    layer : str
        The layer re-initialised at this step.
    layers : list of str
        All layers re-initialised in ``model`` (top first): ``layers[:step]`` of the cascade,
        or ``[layer]`` alone for independent randomization.
    model : nn.Module
        A copy of the trained model; the trained model itself is never changed.
    """

    step: int
    layer: str
    layers: list[str]
    model: nn.Module


def randomization_steps(model: nn.Module, layers: int | None = None) -> list[str]:
    """The layers re-initialised, top first: every module with parameters (``layers=None``), or
    the top ``layers`` of them."""
    names = parametrized_layers(model)[::-1]
    if layers is not None:
        if not 1 <= int(layers) <= len(names):
            raise HeatcheckError(f"randomization 'layers' must be between 1 and {len(names)} (the layers with "
                                 f"parameters of this model), got {layers}")
        names = names[: int(layers)]
    return names


def cascading_randomization(model: nn.Module, seed: int = 0, layers: int | None = None,
                            cascading: bool = True) -> Iterator[RandomizedModel]:
    """Copies of ``model`` whose layers are re-initialised from the top, one more per step.

    Adebayo et al.'s model-parameter randomization test: a map that hardly changes when the
    weights it supposedly explains are replaced by random ones does not explain the model. Step 1
    re-initialises the top layer (the logits); step k the top k layers (cumulative, ``cascading``)
    or the k-th layer alone (``cascading=False``, their independent randomization). Layers are
    the modules with parameters of their own (convolutions, linear layers, BatchNorm), in
    reverse registration order.

    Parameters
    ----------
    model : nn.Module
        The trained model (not modified).
    seed : int
        Each layer is re-drawn from :func:`layer_seed` ``(seed, layer name)``, so a layer's
        random weights are the same at every step and in every run.
    layers : int, optional
        Number of steps: the top ``layers`` layers (default: all layers with parameters).
    cascading : bool
        Cumulative (default) or one layer at a time.

    Yields
    ------
    RandomizedModel
        One per step, in order; each holds its own copy (in the trained model's mode and device).
    """
    names = randomization_steps(model, layers)
    work = copy.deepcopy(model)
    for k, name in enumerate(names, 1):
        if not cascading:
            work = copy.deepcopy(model)
        reinitialise(work.get_submodule(name), layer_seed(seed, name), name)
        yield RandomizedModel(k, name, names[:k] if cascading else [name],
                              copy.deepcopy(work) if cascading else work)


def randomized_model(model: nn.Module, step: int, seed: int = 0, cascading: bool = True) -> RandomizedModel:
    """Step ``step`` of :func:`cascading_randomization` alone (what a job that reruns an
    explainer on the step-k model needs), without the copies of the steps before it."""
    names = randomization_steps(model, step)
    work = copy.deepcopy(model)
    for name in names if cascading else names[-1:]:
        reinitialise(work.get_submodule(name), layer_seed(seed, name), name)
    return RandomizedModel(int(step), names[-1], names if cascading else names[-1:], work)


@dataclass
class NoisyInputs:
    """Noisy copies of a batch of images whose predicted classes equal the clean ones.

    Attributes
    ----------
    x : Tensor (B, C, H, W)
        The noisy images.
    scale : ndarray (B,)
        The standard deviation of the noise actually added (``std``, or less where it was shrunk;
        0 where even the smallest shrunk noise changed the prediction).
    draws : ndarray (B,)
        Draws made per image (1 when the first one kept the prediction).
    """

    x: torch.Tensor
    scale: np.ndarray
    draws: np.ndarray


@torch.no_grad()
def _predict(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.cat([model(x[i:i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)]) \
        if len(x) else torch.zeros(0, dtype=torch.long, device=x.device)


def minor_input_noise(model: nn.Module, x: torch.Tensor, std: float, *, seed: int = 0, copy_index: int = 0,
                      index: torch.Tensor | None = None, batch_size: int = 256, tries: int = NOISE_TRIES,
                      shrink: float = NOISE_SHRINK, max_shrinks: int = NOISE_MAX_SHRINKS) -> NoisyInputs:
    """Gaussian input noise that does not change the model's predicted class (a "minor
    perturbation": a metric should judge the explanations of the noisy image as it judged those
    of the clean one).

    Each image gets ``x + e`` with ``e ~ N(0, std^2)`` per pixel and channel (normalized units),
    drawn from its own generator ``(seed * 1000 + copy_index, image index)``. Where the predicted
    class changes, a new draw is made, up to ``tries`` draws; after that the last draw is halved
    (``shrink``) until the prediction holds, at most ``max_shrinks`` times, and then dropped
    (scale 0: the clean image). Draws depend only on the image, never on the batch.

    Forward passes: one for the clean predictions, one per image and draw, one per shrink step
    of the images that needed one (typically about 2 per image).

    Parameters
    ----------
    model : nn.Module
        The classifier, in eval mode.
    x : Tensor (B, C, H, W)
        Normalized images.
    std : float
        Noise standard deviation in normalized units.
    seed, copy_index : int
        The run's seed and which noisy copy (``{explainer}+noisy{copy_index}``) this is.
    index : Tensor (B,), optional
        The images' positions in the dataset; ``arange(B)`` when omitted.
    batch_size : int
        Images per forward pass.

    Returns
    -------
    NoisyInputs
    """
    b = len(x)
    index = torch.arange(b) if index is None else index
    gens = [image_generator(int(seed) * 1000 + int(copy_index), int(i)) for i in index]
    clean = _predict(model, x, batch_size)
    eps = torch.zeros_like(x)
    scale = np.zeros(b)
    draws = np.zeros(b, dtype=np.int64)
    todo = np.arange(b)
    for _ in range(max(1, int(tries))):
        if not len(todo):
            break
        e = torch.stack([torch.randn(x.shape[1:], generator=gens[i], dtype=x.dtype) for i in todo]).to(x.device)
        eps[todo] = e * std
        scale[todo] = std
        draws[todo] += 1
        same = (_predict(model, x[todo] + eps[todo], batch_size) == clean[todo]).cpu().numpy()
        todo = todo[~same]
    for _ in range(int(max_shrinks)):
        if not len(todo):
            break
        eps[todo] *= shrink
        scale[todo] *= shrink
        same = (_predict(model, x[todo] + eps[todo], batch_size) == clean[todo]).cpu().numpy()
        todo = todo[~same]
    eps[todo] = 0
    scale[todo] = 0.0
    return NoisyInputs(x + eps, scale, draws)


# --- the stage: noisy copies of a shard's images, read by the +noisy{k} saliency and score jobs ---


def noisy_shard(store_path, model_path, copy_index: int, sigma: float, shard: int, shard_size: int, out_path, *,
                max_eval: int | None = None, seed: int = 0, batch_size: int = 256, device: torch.device | None = None,
                passes: dict | None = None) -> dict:
    """Noisy copy ``copy_index`` of one shard of the studied eval images, in the model's input
    space (:func:`minor_input_noise` with ``std = sigma``), written to ``out_path`` (``.npz``:
    ``x``, ``scale``, ``draws``, ``start``, ``stop``). The explainers' reruns and the metrics read
    the same file, so every map of copy k explains, and is scored on, the same image."""
    import json
    import logging
    import time

    from .models import load_checkpoint, model_input
    from .precision import prepare_model
    from .runtime import out_of_memory
    from .shards import n_images, shard_range
    from .store import DatasetStore, written

    device = device or torch.device("cpu")
    store = DatasetStore.shared(store_path)
    start, stop = shard_range(shard, shard_size, n_images(store, max_eval))
    model, meta = load_checkpoint(model_path, num_classes=store.num_classes)
    model = prepare_model(model.to(device), **(passes or {}))
    x = model_input(torch.tensor(store.split("eval").rows(start, stop).images, device=device), meta)
    t0 = time.perf_counter()
    with out_of_memory(f"noisy_inputs copy {copy_index} shard {shard}", batch_size):
        noisy = minor_input_noise(model, x, float(sigma), seed=seed, copy_index=copy_index,
                                  index=torch.arange(start, stop), batch_size=batch_size)
    seconds = time.perf_counter() - t0
    with written(out_path) as fh:  # a file handle: np.savez would append .npz to the name
        np.savez(fh, x=noisy.x.cpu().numpy().astype(np.float32), scale=noisy.scale, draws=noisy.draws,
                 start=np.array(start), stop=np.array(stop), seconds=np.array(seconds),
                 meta=np.array(json.dumps({"copy": int(copy_index), "sigma": float(sigma), "seed": int(seed)})))
    logging.getLogger(__name__).info("noisy copy %d shard %d: %d images, %d kept clean, %.2f s", copy_index, shard,
                                     stop - start, int((noisy.scale == 0).sum()), seconds)
    return {"seconds": seconds, "n": stop - start}


def read_noisy_shard(path, start: int, stop: int) -> torch.Tensor:
    """The noisy images of :func:`noisy_shard` for images ``start:stop`` (checked: a shard of other
    images, or a damaged file, is named and removed so that the next run recomputes it)."""
    from .store import check_exists, damaged_file, reading

    path = check_exists(path, "noisy-input shard")
    with reading(path, "noisy-input shard", repair=True), np.load(path) as z:
        span, x = (int(z["start"]), int(z["stop"])), np.asarray(z["x"])
    if span != (start, stop) or len(x) != stop - start:
        raise damaged_file(path, "noisy-input shard", f"holds images {span[0]}-{span[1] - 1}, not {start}-{stop - 1}",
                           repair=True)
    return torch.from_numpy(x)
