"""What the paper's training configs share: the released Caffe solver and the data recipes.

Not run on its own; ``ilsvrc_*.py`` and ``cub_*.py`` call these on top of the packaged
defaults (``camjax/configs/default.py``).

The released CAM solver (``solver.prototxt`` of the CAM repository): SGD with momentum
0.9, weight decay 5e-4, base learning rate 0.001 multiplied by 0.1 every 40k iterations,
160k iterations of batch 64, fine-tuning from ImageNet weights with a 10x learning rate on
the layers CAM adds (the CAM conv and the classifier). optax's SGD applies the rate to
the momentum's output where Caffe folds it into the momentum; with a constant rate the
two are the same, at the x0.1 steps they differ for a few iterations.
"""
import os

# torchvision's ImageNet weights (https://download.pytorch.org/models/<file>), read by
# camjax.models.load_pretrained (.pth needs torch; a .safetensors copy does not).
WEIGHTS = {
    "alexnet_gap": "alexnet-owt-7be5be79.pth",
    "vgg16_gap": "vgg16-397923af.pth",
    "googlenet_gap": "googlenet-1378be20.pth",
    "googlenet_gmp": "googlenet-1378be20.pth",
    "resnet50_gap": "resnet50-0676ba61.pth",
    "inception_v3_gap": "inception_v3_google-0cc3c7bd.pth",   # wsolevaluation's InceptionV3
}


def weights(model: str) -> str:
    """$CAMJAX_WEIGHTS_DIR/<torchvision file> (default ./weights): its ``.safetensors`` copy
    when there is one (read without torch), else the ``.pth`` torchvision publishes (a
    missing file is named with its download address when the run starts)."""
    path = os.path.join(os.environ.get("CAMJAX_WEIGHTS_DIR", "weights"), WEIGHTS[model])
    copy = os.path.splitext(path)[0] + ".safetensors"
    return copy if os.path.isfile(copy) else path


def released_solver(c, model: str):
    c.model = model
    c.pretrained = weights(model)
    c.new_layer_lr_mult = 10.0
    c.batch_size = 64
    c.num_train_steps = 160_000
    c.learning_rate = 0.001
    c.lr_schedule = "step"
    c.lr_step_size = 40_000
    c.lr_gamma = 0.1
    c.warmup_steps = 0
    c.momentum = 0.9
    c.weight_decay = 5e-4
    c.compute_dtype = "float32"       # --config.compute_dtype=bfloat16 on GPUs / TPUs
    return c


def _loop(c):
    c.image_size = 224
    c.eval_batch_size = 128           # divisible by 1, 2, 4, ..., 128 devices
    c.data_threads = 16
    c.log_every_steps = 100
    c.keep_checkpoints = 3
    c.eval_during_training_images = 10_000
    return c


def imagenet(c, augment: str = "resize_crop"):
    """TFDS imagenet2012 (manual download, see docs/training.md): train / validation.

    ``resize_crop``: resize to 256, random 224 crop, flip (the Caffe recipe);
    evaluation: resize to 224. TFDS imagenet2012 has no boxes: the final evaluation is
    classification only (localization needs the ILSVRC validation XML).
    """
    c.dataset = "imagenet2012"
    c.train_split = "train"
    c.eval_split = "validation"
    c.augment = augment
    c.checkpoint_every_steps = 2_000
    c.eval_every_steps = 20_000
    return _loop(c)


def cub(c, augment: str = "resize_crop"):
    """TFDS caltech_birds2011 (downloads itself): train (5,994) / test (5,794), with boxes.

    160k iterations would be ~1,700 epochs of CUB: the schedule is scaled to the dataset
    as wsolevaluation does, 50 epochs (4,700 steps of 64) with the rate x0.1 every 15
    epochs (1,400 steps); optimiser, batch and learning rates are the released solver's.
    """
    c.dataset = "caltech_birds2011"
    c.train_split = "train"
    c.eval_split = "test"
    c.augment = augment
    c.num_train_steps = 4_700
    c.lr_step_size = 1_400
    c.checkpoint_every_steps = 500
    c.eval_every_steps = 1_000
    c.eval_during_training_images = 2_000
    return _loop(c)
