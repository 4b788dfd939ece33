"""camjax: Class Activation Mapping and weakly supervised localization in JAX/Flax NNX."""
from camjax import boxes, cam, evaluation, methods, models

__version__ = "0.1.0"
__all__ = ["boxes", "cam", "evaluation", "methods", "models"]
