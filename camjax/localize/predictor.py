"""The model a ``camjax localize`` runs: a torchvision classifier from a weights file, or a
camjax training workdir's latest checkpoint; and the one jitted call per batch.

:func:`predict_batch` is images -> model -> top-k (or chosen) classes and their
probabilities -> the chosen method's maps (at the chosen layer) at the input's
resolution, normalised to [0, 1]: the map engine's ``camjax.engine.predictions``, around
the ``predict`` the evaluation job calls too. The network is replicated on every device of
this process (``Predictor.mesh``, the ``data`` mesh of ``camjax.training.mesh`` over the
local devices) and each batch is sharded over them along ``data``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx

from camjax import engine, models
from camjax.engine.frames import Preprocessing
from camjax.errors import UserError
from camjax.training import mesh as mesh_lib

# torchvision's (and timm's) classifiers that camjax builds whole (docs/models.md)
CLASSIFIERS = tuple(models.classifiers())
IMAGENET_CLASSES = 1000


@dataclass
class Predictor:
    """A network ready for :func:`predict_batch`, with what the outputs need."""
    graphdef: Any
    state: Any
    class_names: list[str]
    preprocessing: Preprocessing
    upsample: str
    normalize: str
    max_pixels: int
    config: Any                                  # the run's config, or the defaults
    source: dict = field(default_factory=dict)   # what was loaded, for predictions.json
    mesh: Any = None                             # this process's devices along ``data``


def _read_weights(weights: Path) -> dict:
    from camjax.models.pretrained import read_state_dict
    if not weights.is_file():
        raise UserError(f"weights file not found: {weights}")
    try:
        return read_state_dict(weights)
    except (ValueError, ImportError) as err:    # their messages name the file
        raise UserError(str(err)) from None
    except Exception as err:   # safetensors, torch and zip errors have no common base
        first_line = (str(err).strip().splitlines() or [""])[0]
        raise UserError(f"{weights}: cannot read a state dict ({type(err).__name__}: "
                        f"{first_line}); expected a torchvision .safetensors or .pth file") \
            from None


def _refuse_new_classifier(model, name: str, weights: Path, state: dict, report) -> None:
    expected = tuple(reversed(models.class_weights(model).shape))        # torch (out, in)
    found = {k: tuple(state[k].shape) for k in report.skipped if np.ndim(state[k]) == 2}
    if not found:
        raise UserError(f"{weights}: no classifier for {name} in the file (expected a "
                        f"{expected} weight)")
    key, shape = next(iter(found.items()))
    raise UserError(f"{weights}: its classifier {key!r} has shape {shape} ({shape[0]} "
                    f"classes), but {name} on ImageNet expects {expected}: localize --model "
                    "runs ImageNet classifiers as they are; for a model fine-tuned on other "
                    "classes, train it with camjax and use --workdir")


def from_weights(name: str, weights) -> Predictor:
    """torchvision classifier ``name`` (ImageNet's 1000 classes) filled whole from
    ``weights``; the packaged default config gives the map options."""
    from camjax import config as config_lib
    from camjax.data import imagenet_classes
    if name not in CLASSIFIERS:
        raise UserError(f"--model {name!r}: localize --model takes a torchvision classifier "
                        f"({', '.join(CLASSIFIERS)}); for other camjax networks train them "
                        "and use --workdir")
    weights = Path(weights)
    state_dict = _read_weights(weights)
    # shapes only: the file fills every parameter (an eager initialisation would compile
    # one random op per parameter shape, tens of seconds for an EfficientNet on a CPU)
    model = models.create_abstract(name, num_classes=IMAGENET_CLASSES)
    try:
        report = models.load_pretrained(model, state_dict)
    except ValueError as err:
        raise UserError(f"{weights}: does not fit {name}: {err}") from None
    if not report.classifier_loaded:
        _refuse_new_classifier(model, name, weights, state_dict, report)
    _concrete_rest(model, name, weights)
    # its weights' torchvision transform and normalisation (model.imagenet_normalization)
    preprocessing = Preprocessing.imagenet(model)
    return _ready(model, imagenet_classes(), preprocessing, config_lib.defaults(),
                  {"model": name, "weights": str(weights)})


def _concrete_rest(model, name: str, weights: Path) -> None:
    """Concrete values for what a weights file does not hold in a model built shape-only:
    the random streams of its dropout layers (unused in evaluation mode)."""
    for path, var in nnx.to_flat_state(nnx.state(model)):
        value = var.get_value()
        if not isinstance(value, jax.ShapeDtypeStruct):
            continue
        if isinstance(var, (nnx.Param, nnx.BatchStat)):    # load_pretrained fills these
            raise UserError(f"{weights}: no weights for {'.'.join(map(str, path))} of "
                            f"{name}")
        if jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
            var.set_value(jax.random.split(jax.random.key(0), value.shape)
                          if value.shape else jax.random.key(0))
        else:
            var.set_value(jax.numpy.zeros(value.shape, value.dtype))


def from_workdir(workdir) -> Predictor:
    """The latest checkpoint of a camjax training workdir, with its saved config (model,
    image size, map options) and class names."""
    from camjax import config as config_lib
    from camjax.data import transforms
    from camjax.training import restore_for_inference
    workdir = Path(workdir)
    if not workdir.is_dir():
        raise UserError(f"--workdir {workdir}: no such folder (a camjax train workdir)")
    config = config_lib.from_json(workdir / "config.json")
    names_file = workdir / "class_names.json"
    try:
        names = json.loads(names_file.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as err:
        raise UserError(f"{names_file}: cannot read the run's class names ({err})") from None
    if not isinstance(names, list) or not names:
        raise UserError(f"{names_file}: expected a JSON list of class names")
    graphdef, state, _ = restore_for_inference(config, workdir, len(names))
    model = nnx.merge(graphdef, state.params, state.rest)
    # the run's evaluation transform (camjax trains with "resize"; a config may name
    # torchvision's "imagenet" through transforms.EVAL_TRANSFORMS)
    kind = config.eval_transform
    if kind not in transforms.EVAL_TRANSFORMS:
        raise UserError(f"{workdir}: unknown eval_transform {kind!r}")
    size = config.image_size
    resize = int(size / transforms.IMAGENET_CROP_FRACTION) if kind == "imagenet" else 0
    return _ready(model, [str(n) for n in names], Preprocessing(kind, size, resize), config,
                  {"workdir": str(workdir), "model": config.model})


def _ready(model, class_names, preprocessing, config, source) -> Predictor:
    model.eval()
    graphdef, state = nnx.split(model)
    # this process's devices only: each process localizes its own share of the files
    # (job.py), so no batch waits for another process. A restored checkpoint is
    # replicated over every process's devices: its local copy.
    mesh = mesh_lib.data_mesh(local=True)
    state = mesh_lib.local_copy(state, mesh)
    return Predictor(graphdef, state, list(class_names), preprocessing, config.upsample,
                     config.normalize, config.max_image_pixels, config, source, mesh)


def predict_batch(graphdef, state, images, *, method: str, k: int, upsample: str,
                  normalize: str, layer: str | None = None, options: tuple = (),
                  classes=None):
    """(B, S, S, 3) inputs -> (top-k probabilities (B, k), classes (B, k), maps (B, k, S, S)
    in [0, 1]) for ``method`` (a ``camjax.methods`` name) at ``layer`` with ``options``
    (static ``(name, value)`` pairs: ``aug_smooth``, ``eigen_smooth``): one jitted call of
    the map engine. ``classes`` (B, n) int: the maps and probabilities of these classes
    instead of the top ``k``."""
    top, probabilities, maps, _ = engine.predictions(
        graphdef, state, images, classes, method=method, k=k, layer=layer,
        upsample=upsample, normalize=normalize, options=options)
    return probabilities, top, maps


def check_layer(predictor: Predictor, method: str, layer: str | None) -> None:
    """``--layer`` names a module of the network and goes with a method that takes it."""
    if layer is None:
        return
    from camjax import methods
    from camjax.models import taps
    if not methods.takes_layer(method):
        raise UserError(f"--layer {layer}: the method {method!r} takes no layer (the "
                        "feature methods other than cam do: "
                        f"{', '.join(n for n in methods.METHODS if methods.takes_layer(n))})")
    taps.resolve(nnx.merge(predictor.graphdef, predictor.state), layer)   # ModelError
