"""The map engine, the one door to maps: every method, every network, every layer.

* :func:`explain` - ``camjax.explain(model, images, method="cam", classes=None, top_k=1,
  layer=None, size=None)``: maps, classes and probabilities (:class:`Explanation`).
* :func:`predict` - the one jitted pure path behind it, over ``nnx.split`` state; the
  evaluation job, ``camjax localize``, the experiments and the benches call it.
* :func:`explain_photos` - photos of any size through the model's evaluation transform,
  maps and boxes back on each photo's pixels (:class:`Preprocessing`, :class:`Frame`).
"""
from camjax.engine.core import Explanation, explain, predict, predictions
from camjax.engine.frames import Frame, Preprocessing
from camjax.engine.photos import PhotoExplanation, boxes_on_photos, explain_photos

__all__ = ["Explanation", "Frame", "PhotoExplanation", "Preprocessing", "boxes_on_photos",
           "explain", "explain_photos", "predict", "predictions"]
