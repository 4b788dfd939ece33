"""The network of a config, checked with shapes only: ``model_kwargs`` against the
constructor, ``image_size`` against the stride (``nnx.eval_shape`` / ``jax.eval_shape``:
nothing compiled, no weights allocated), the ``pretrained`` file fitted to those shapes.
"""
from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np

from camjax.errors import ConfigError, UserError, did_you_mean

RESERVED = ("num_classes", "pooling", "rngs")    # set by camjax, not by model_kwargs
_SET_BY = {"num_classes": "the dataset's number of classes", "pooling": "use --config.pooling",
           "rngs": "use --config.seed"}
_PROBED: dict = {}                               # (model, pooling, kwargs, size) -> (h, w)
_FITTED: set = set()                             # weights files that fit, with their model


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0][:200]}" if lines else type(err).__name__


def model_kwargs(config) -> dict:
    kwargs = config.model_kwargs
    return dict(kwargs.to_dict() if hasattr(kwargs, "to_dict") else kwargs)


def build_kwargs(config) -> dict:
    """``model_kwargs`` and the network arguments of ``config.wsol_method``."""
    from camjax.checks import wsol
    extra = wsol.model_kwargs(config) if "wsol_method" in config else {}
    return {**model_kwargs(config), **extra}


def check_kwargs(name: str, kwargs: dict) -> None:
    """``model_kwargs`` keys are arguments of the registered factory of ``name``."""
    from camjax.models.registry import factory
    for key in kwargs:
        if key in RESERVED:
            raise ConfigError(f"config.model_kwargs.{key} is set by camjax ({_SET_BY[key]})")
    build = factory(name)
    # a class's own signature is its metaclass's (*args, **kwargs) under nnx: read __init__
    params = inspect.signature(build.__init__ if inspect.isclass(build) else build).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    takes = [k for k, p in params.items() if k not in (*RESERVED, "self")
             and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for key in kwargs:
        if key not in takes:
            raise ConfigError(f"config.model_kwargs.{key} is not an argument of {name}; it "
                              f"takes: {', '.join(takes) or 'none'}{did_you_mean(key, takes)}")


def abstract_model(name: str, pooling: str, kwargs: dict, num_classes: int = 2):
    """The network with shapes only (``nnx.eval_shape``): nothing allocated."""
    from flax import nnx

    from camjax import models
    try:
        return nnx.eval_shape(lambda: models.create(name, num_classes=num_classes,
                                                    pooling=pooling, rngs=nnx.Rngs(0),
                                                    **kwargs))
    except UserError:
        raise
    except Exception as err:   # the constructor's own complaint about an argument
        raise ConfigError(f"config.model_kwargs={kwargs} do not build {name} "
                          f"({_first_line(err)})") from err


def feature_shape(name: str, pooling: str, kwargs: dict, image_size: int) -> tuple[int, int]:
    """(h, w) of the network's feature maps at ``image_size`` (shapes only); a size the
    network cannot take raises the tracer's error."""
    key = (name, pooling, repr(sorted(kwargs.items())), image_size)
    if key not in _PROBED:
        import jax
        import jax.numpy as jnp
        from flax import nnx
        graphdef, state = nnx.split(abstract_model(name, pooling, kwargs))
        images = jax.ShapeDtypeStruct((1, image_size, image_size, 3), jnp.float32)
        _, features = jax.eval_shape(lambda s, x: nnx.merge(graphdef, s)(x), state, images)
        _PROBED[key] = tuple(int(d) for d in features.shape[1:3])
    return _PROBED[key]


def check_model(config) -> None:
    """``model_kwargs`` against the signature, then ``image_size`` against the stride: a
    feature map of at least 1 x 1."""
    name, size = config.model, config.image_size
    check_kwargs(name, model_kwargs(config))
    kwargs = build_kwargs(config)
    try:
        h, w = feature_shape(name, config.pooling, kwargs, size)
        problem = None if min(h, w) >= 1 else f"its feature map would be {h}x{w}"
    except UserError:
        raise
    except Exception as err:   # a negative or empty shape inside the network
        problem = f"it fails there ({_first_line(err)})"
    if problem is not None:
        try:
            fh, _ = feature_shape(name, config.pooling, kwargs, 224)
            hint = f"; at 224 px its feature map is {fh}x{fh} (stride {224 // max(fh, 1)})"
        except Exception:   # noqa: BLE001  (the hint is optional)
            hint = ""
        raise ConfigError(f"config.image_size={size} is too small for {name}: {problem}"
                          f"{hint}")
    check_layer(config)


def check_layer(config) -> None:
    """``config.cam_layer`` goes with a method that takes a layer (one of them, when
    ``cam_method`` lists several: the others ignore it) and names a module of the network
    (as ``camjax.models.taps`` resolves it; shapes only)."""
    layer = config.get("cam_layer") or ""
    if not layer:
        return
    from camjax import methods
    from camjax.errors import ModelError
    from camjax.models import taps
    names = [n.strip() for n in str(config.cam_method).split(",") if n.strip()]
    if not any(n in methods.METHODS and methods.takes_layer(n) for n in names):
        takers = ", ".join(n for n in methods.METHODS if methods.takes_layer(n))
        raise ConfigError(f"config.cam_layer={layer!r}: config.cam_method="
                          f"{config.cam_method!r} takes no layer (these do: {takers})")
    try:
        taps.resolve(abstract_model(config.model, config.pooling, model_kwargs(config)),
                     layer)
    except ModelError as err:
        raise ConfigError(f"config.cam_layer: {err}") from None


def _shapes_only(path: Path) -> dict:
    """torch name -> a zero-stride array of the tensor's shape: a .safetensors header
    is read, not its data; a .pth is read whole (torch has no header)."""
    from camjax.models import weights_file
    from camjax.models.pretrained import read_state_dict
    if path.suffix != ".safetensors":
        return read_state_dict(path)
    from safetensors import safe_open
    try:
        with safe_open(str(path), framework="np") as f:
            shapes = {k: f.get_slice(k).get_shape() for k in f.keys()}
    except Exception as err:
        raise weights_file.unreadable(path, err) from err
    zero = np.zeros((), np.float32)
    return {k: np.broadcast_to(zero, tuple(shape)) for k, shape in shapes.items()}


def check_pretrained(config, num_classes: int = 2) -> None:
    """``config.pretrained`` exists, reads, and fits the network's shapes."""
    import warnings

    from camjax import models
    path = Path(config.pretrained).expanduser()
    if not path.is_file():
        raise ConfigError(f"config.pretrained={config.pretrained!r}: no such file"
                          f"{weights_origin(path)}")
    key = (str(path.absolute()), path.stat().st_mtime_ns, config.model, config.pooling,
           repr(sorted(build_kwargs(config).items())), num_classes)
    if key in _FITTED:
        return
    model = abstract_model(config.model, config.pooling, build_kwargs(config), num_classes)
    try:
        with warnings.catch_warnings():   # the real load warns about NaN, not this probe
            warnings.simplefilter("ignore")
            models.load_pretrained(model, _shapes_only(path))
    except (ValueError, OSError) as err:
        raise ConfigError(f"config.pretrained={config.pretrained!r}: {err}") from err
    _FITTED.add(key)


# torchvision's weight files are named <architecture>-<first 8 hex digits of the sha256>
_TORCHVISION_FILE = re.compile(r"^[a-z0-9_]+-[0-9a-f]{8}$")
TORCHVISION_URL = "https://download.pytorch.org/models/"


def weights_origin(path: Path) -> str:
    """Where a missing weights file comes from, as advice to append to the error: the
    torchvision download for torchvision's file names, and how to train without it."""
    if _TORCHVISION_FILE.match(path.stem):
        return (f"; it is torchvision's ImageNet weights: download {TORCHVISION_URL}"
                f"{path.stem}.pth into {path.parent or '.'} (configs look in "
                "$CAMJAX_WEIGHTS_DIR, default ./weights; a .safetensors copy of the same name "
                "is read without torch: docs/training.md, \"Pretrained weights\"), or train "
                "from scratch with --config.pretrained=")
    return "; give the path of a torchvision .safetensors or .pth file, or train from " \
           "scratch with --config.pretrained="
