"""GAP networks as Flax NNX modules; ``create`` builds one by name."""
from camjax.models.registry import (available, class_weights, classifiers, create,
                                    parameter_count, register)
from camjax.models import tiny  # noqa: F401  (registers tiny_gap)
# the paper's networks register themselves on import
from camjax.models import alexnet, googlenet, nin, resnet, vgg  # noqa: F401
# torchvision's classifiers as they are (resnet18 ... resnet152 come with resnet)
from camjax.models import densenet, mobilenet  # noqa: F401
from camjax.models.pretrained import LoadReport, load_pretrained

__all__ = ["LoadReport", "available", "class_weights", "classifiers", "create", "load_pretrained",
           "parameter_count", "register"]
