"""The scorers of an evaluation, from the config: which map methods
(``config.cam_method``, a comma-separated list) and which metrics (``config.metrics``).

The WSOL tally (classification, the paper rule at each operating point, MaxBoxAcc, PxAP,
the baselines) always runs: ``wsol`` names it. The others (``evaluator.scorers``) run at
the final evaluation only, never at the periodic ones during training:

| name | scorer | cost per image |
|---|---|---|
| ``faithfulness`` | average drop / increase, deletion / insertion | 2 steps + 3 forwards |
| ``road`` | ROAD MoRF / LeRF / combined | 2 P sparse solves and forwards |
| ``pointing`` | pointing game, energy pointing game | none |
| ``complexity`` | complexity (entropy), sparseness (Gini) | none |
| ``sanity`` | model-parameter randomisation | 1 + 2 L maps (first images only) |

``config.faithfulness = True`` is the same as naming ``faithfulness``.
"""
from __future__ import annotations

import jax
from flax import nnx

from camjax import distributed
from camjax.checks.values import METRICS   # the names built here
from camjax.errors import ConfigError
from camjax.evaluator.faithful import Faithfulness
from camjax.evaluator.sanity import Sanity
from camjax.evaluator.scorers import ROAD, Complexity, Pointing
from camjax.models import randomise
from camjax.training import mesh as mesh_lib
from camjax.training.inference import map_size, score_function


def names(value: str) -> list[str]:
    """``"a, b,a"`` -> ``["a", "b"]``: a comma-separated config value, in order, unique."""
    out = []
    for name in str(value).split(","):
        name = name.strip()
        if name and name not in out:
            out.append(name)
    return out


def method_names(config) -> list[str]:
    methods = names(config.cam_method)
    if not methods:
        raise ConfigError("config.cam_method is empty: name a map method (e.g. cam)")
    return methods


def metric_names(config) -> list[str]:
    chosen = names(config.metrics)
    unknown = [n for n in chosen if n not in METRICS]
    if unknown:
        raise ConfigError(f"config.metrics={config.metrics!r}: {unknown[0]!r} is not one of: "
                          f"{', '.join(METRICS)}")
    if config.get("faithfulness") and "faithfulness" not in chosen:
        chosen.append("faithfulness")
    return chosen


def sanity_scorer(predict, graphdef, states, config) -> Sanity:
    """The randomisation test of one method: ``predict`` (a predict function of
    ``training.inference``) run on the network with its layers randomised."""
    layers = randomise.parameter_layers(graphdef, states, (1, config.image_size,
                                                           config.image_size, 3))
    top_first = layers[::-1]                       # step j: from the logits down
    steps = {"cascading": randomise.cascading(len(layers)),
             "independent": randomise.independent(len(layers))}
    key = jax.random.key(config.seed)

    def maps_fn(images, labels, variant):
        chosen = states if variant is None else randomise.randomise(
            states, layers, steps[variant[0]][variant[1]], key)
        return distributed.local_numpy(predict(images, labels, states=chosen)[2])[:, 0]
    aliases = getattr(nnx.merge(graphdef, *states), "layer_aliases", None)
    return Sanity(maps_fn, [randomise.layer_name(x, aliases) for x in top_first],
                  num_images=config.sanity_images, threshold=config.sanity_threshold)


def local_scoring(graphdef, states):
    """``(score_fn, place)`` of the faithfulness scorer, data-parallel over this process's
    devices: the network replicated on them (``data_mesh(local=True)``) and ``place``,
    which pads a batch's rows to a multiple of their count and shards them along
    ``data`` (``mesh.local_batch``). Each process scores its own rows, with no collective
    per batch (their counts may differ on the last batch); the scorer sums over processes
    at the end."""
    mesh = mesh_lib.data_mesh(local=True)
    states = mesh_lib.local_copy(states, mesh)
    return (score_function(graphdef, states),
            lambda arrays: mesh_lib.local_batch(mesh, arrays))


def scorers(config, predict, graphdef, states, *, num_classes: int) -> list:
    """The scorers ``config.metrics`` names besides ``wsol``, for the method whose predict
    function is ``predict``."""
    chosen = metric_names(config)
    score_fn = score_function(graphdef, states)
    out = []
    if "faithfulness" in chosen:
        local_fn, place = local_scoring(graphdef, states)
        out.append(Faithfulness(local_fn, steps=config.faithfulness_steps,
                                batch_size=config.faithfulness_batch_size, place=place))
    if "road" in chosen:
        out.append(ROAD(score_fn, percentiles=tuple(config.road_percentiles),
                        noise=config.road_noise, key=jax.random.key(config.seed),
                        batch_size=config.road_batch_size))
    if "pointing" in chosen:
        tolerance = config.pointing_tolerance * map_size(config) / config.image_size
        out.append(Pointing(num_classes, tolerance))
    if "complexity" in chosen:
        out.append(Complexity())
    if "sanity" in chosen:
        out.append(sanity_scorer(predict, graphdef, states, config))
    return out
