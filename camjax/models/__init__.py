"""GAP networks as Flax NNX modules; ``create`` builds one by name."""
from camjax.models.registry import (available, class_weights, classifiers, create,
                                    create_abstract, parameter_count, register)
from camjax.models import tiny  # noqa: F401  (registers tiny_gap)
# the paper's networks register themselves on import
from camjax.models import alexnet, googlenet, nin, resnet, vgg  # noqa: F401
# torchvision's classifiers as they are (resnet18 ... resnet152, the ResNeXts and wide
# ResNets come with resnet, googlenet with googlenet)
from camjax.models import densenet, mobilenet  # noqa: F401
from camjax.models import convnext, inception, shufflenet, squeezenet  # noqa: F401
from camjax.models import efficientnet, mnasnet, mobilenet_v3, regnet  # noqa: F401
# vision transformers as they are: torchvision's ViT and Swin, timm's DeiT
from camjax.models import deit, swin, vit  # noqa: F401
from camjax.models.pretrained import LoadReport, load_pretrained
# wsolevaluation's InceptionV3 (it loads torchvision's weights through pretrained.TorchLayout)
from camjax.models import inception_gap  # noqa: F401,E402

__all__ = ["LoadReport", "available", "class_weights", "classifiers", "create", "create_abstract",
           "load_pretrained",
           "parameter_count", "register"]
