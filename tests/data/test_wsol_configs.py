"""The wsol_*.py configs carry wsolevaluation's CAM recipe, checked against the numbers
of its config.py, main.py, data_loaders.py and hyperparameter sheet (written out here,
not read from the configs' helper), and use only keys the defaults define."""
import jax
import pytest
from flax import nnx

from camjax import config as config_lib
from camjax.configs import default
from camjax.training import optim, state as state_lib
from tests.conftest import CONFIGS

# name: (dataset, classes, model, base lr, weight decay, epochs, decay every, train images,
#        torchvision weights)
RECIPES = {
    "wsol_cub_vgg16_gap": ("CUB", 200, "vgg16_gap", 0.00001268269, 5e-4, 50, 15, 5994,
                           "vgg16-397923af.pth"),
    "wsol_cub_resnet50_gap": ("CUB", 200, "resnet50_gap", 0.00023222617, 1e-4, 50, 15, 5994,
                              "resnet50-0676ba61.pth"),
    "wsol_ilsvrc_vgg16_gap": ("ILSVRC", 1000, "vgg16_gap", 0.00001654502, 5e-4, 10, 3,
                              1281167, "vgg16-397923af.pth"),
    "wsol_ilsvrc_resnet50_gap": ("ILSVRC", 1000, "resnet50_gap", 0.00003108411, 1e-4, 10, 3,
                                 1281167, "resnet50-0676ba61.pth"),
    "wsol_openimages_resnet50_gap": ("OpenImages", 100, "resnet50_gap", 0.00107117324, 1e-4,
                                     10, 3, 29819, "resnet50-0676ba61.pth"),
}


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_is_wsolevaluations(name):
    dataset, _, model, lr, wd, epochs, decay, n, weights = RECIPES[name]
    c = config_lib.load(CONFIGS / f"{name}.py")
    doc = (CONFIGS / f"{name}.py").read_text().split('"""')[1]
    assert f"camjax train --config experiments/configs/{name}.py" in doc
    assert f"camjax evaluate --config experiments/configs/{name}.py" in doc
    assert set(c.keys()) == set(default.get_config().keys())      # no invented keys
    assert (c.model, c.pooling, c.learning_rate, c.weight_decay) == (model, "gap", lr, wd)
    assert (c.batch_size, c.momentum, c.new_layer_lr_mult) == (32, 0.9, 10.0)
    # epochs -> steps of 32 images: 50 * 5994 / 32 = 9365.6 -> 9366, 15 epochs -> 2810, ...
    assert c.num_train_steps == round(epochs * n / 32)
    assert (c.lr_schedule, c.lr_step_size, c.lr_gamma) == ("step", round(decay * n / 32), 0.1)
    assert (c.image_size, c.augment, c.eval_map_size) == (224, "resize_crop", 224)
    assert c.dataset == f"wsol:metadata/{dataset}" and c.image_root == f"dataset/{dataset}"
    assert (c.train_split, c.eval_split, c.eval_every_steps) == ("train", "test", 0)
    # the protocol: the threshold chosen on train-fullsup, the sweep at wsolevaluation's 0.001
    assert (c.val_split, c.cam_curve_interval) == ("val", 0.001)
    assert c.pretrained.endswith(weights)
    # metadata/ILSVRC/val/localization.txt: val2/971/1.jpeg has 259 boxes
    assert c.max_boxes >= (259 if dataset == "ILSVRC" else 1)
    if model == "vgg16_gap":
        assert dict(c.model_kwargs) == {"dropout_rate": 0.0}
    else:
        assert dict(c.model_kwargs) == {"mapping_resolution": 14}
    for devices in (1, 2, 4, 8, 16, 32):
        assert c.batch_size % devices == 0 and c.eval_batch_size % devices == 0


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_network_builds_and_schedule_decays(name):
    """The model of the config with its kwargs (shapes only, nothing compiled), the
    dataset's classes at the classifier, and the rate x0.1 at lr_step_size."""
    _, classes, _, lr, *_ = RECIPES[name]
    c = config_lib.load(CONFIGS / f"{name}.py", {"pretrained": ""})
    model = nnx.eval_shape(lambda: state_lib.build_model(c, classes))
    logits, features = nnx.eval_shape(lambda m: m(jax.numpy.zeros((1, 224, 224, 3))), model)
    assert logits.shape == (1, classes) and features.shape[1:3] == (14, 14)
    schedule = optim.learning_rate_schedule(c)
    step = c.lr_step_size
    assert [float(schedule(s)) for s in (0, step - 1, step, 2 * step)] == \
        pytest.approx([lr, lr, lr / 10, lr / 100])
