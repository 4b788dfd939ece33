"""The wsol_*.py configs carry wsolevaluation's recipes, checked against the numbers of
its config.py, main.py, data_loaders.py and hyperparameter sheet rows (written out here,
not read from the configs' helper), and use only keys the defaults define."""
import itertools

import jax
import pytest
from flax import nnx

from camjax import config as config_lib
from camjax.configs import default
from camjax.training import optim, state as state_lib
from tests.conftest import CONFIGS

# dataset: (classes, epochs, decay every, train images)
DATASETS = {"CUB": (200, 50, 15, 5994), "ILSVRC": (1000, 10, 3, 1281167),
            "OpenImages": (100, 10, 3, 29819)}
# model: (weight decay, torchvision weights, model_kwargs besides mapping_resolution)
MODELS = {"vgg16_gap": (5e-4, "vgg16-397923af.pth",
                        {"dropout_rate": 0.0, "cam_groups": 1, "classifier_bias": True}),
          "resnet50_gap": (1e-4, "resnet50-0676ba61.pth", {"classifier_bias": True}),
          "inception_v3_gap": (5e-4, "inception_v3_google-0cc3c7bd.pth", {})}
# the vanilla-CAM rows: (base learning rate, large_feature_map)
CAM = {("CUB", "vgg16_gap"): (0.00001268269, False),
       ("CUB", "resnet50_gap"): (0.00023222617, True),
       ("CUB", "inception_v3_gap"): (0.00224844746, True),
       ("ILSVRC", "vgg16_gap"): (0.00001654502, False),
       ("ILSVRC", "resnet50_gap"): (0.00003108411, True),
       ("ILSVRC", "inception_v3_gap"): (0.0003606503, True),
       ("OpenImages", "vgg16_gap"): (0.00034052401, False),
       ("OpenImages", "resnet50_gap"): (0.00107117324, False),
       ("OpenImages", "inception_v3_gap"): (0.0003, True)}
# CUB rows of the other methods: (learning rate, large_feature_map, options)
CUB = {("resnet50_gap", "has"): (0.00361996526, True, dict(has_grid_size=120,
                                                          has_drop_rate=0.66)),
       ("vgg16_gap", "has"): (0.00342891848, False, dict(has_grid_size=65, has_drop_rate=0.47)),
       ("inception_v3_gap", "has"): (0.01400558066, False, dict(has_grid_size=170,
                                                               has_drop_rate=0.26)),
       ("resnet50_gap", "acol"): (0.00001700073, True, dict(acol_threshold=0.57)),
       ("vgg16_gap", "acol"): (0.00010569582, False, dict(acol_threshold=0.89)),
       ("inception_v3_gap", "acol"): (0.00658832165, False, dict(acol_threshold=0.79)),
       ("resnet50_gap", "spg"): (0.00004521947, True, dict(
           spg_thresholds=((0.41, 0.35), (0.24, 0.21), (0.12, 0.08)))),
       ("vgg16_gap", "spg"): (0.00012558923, False, dict(
           spg_thresholds=((0.29, 0.23), (0.03, 0.02), (0.82, 0.59)))),
       ("inception_v3_gap", "spg"): (0.0003360682, False, dict(
           spg_thresholds=((0.28, 0.02), (0.17, 0.03), (0.47, 0.31)))),
       ("resnet50_gap", "adl"): (0.01253438325, True, dict(adl_threshold=0.76,
                                                          adl_drop_rate=0.24)),
       ("vgg16_gap", "adl"): (0.00002430601, False, dict(adl_threshold=0.72, adl_drop_rate=0.33)),
       ("inception_v3_gap", "adl"): (0.00038655054, False, dict(adl_threshold=0.86,
                                                               adl_drop_rate=0.69)),
       ("resnet50_gap", "cutmix"): (0.0003333722, True, dict(cutmix_beta=1.35, cutmix_prob=0.24)),
       ("vgg16_gap", "cutmix"): (0.00003220934, False, dict(cutmix_beta=0.85, cutmix_prob=0.79)),
       ("inception_v3_gap", "cutmix"): (0.00225171726, False, dict(cutmix_beta=0.04,
                                                                  cutmix_prob=0.30))}
# wsolevaluation config.py's defaults of the methods' options
DEFAULTS = dict(has_grid_size=4, has_drop_rate=0.5, acol_threshold=0.7,
                spg_thresholds=((0.7, 0.01), (0.5, 0.05), (0.7, 0.1)), adl_drop_rate=0.75,
                adl_threshold=0.9, cutmix_beta=1.0, cutmix_prob=1.0)
METHODS = ("cam", "has", "acol", "spg", "adl", "cutmix")
NAMES = {f"wsol_{d.lower()}_{m}" + ("" if w == "cam" else f"_{w}"): (d, m, w)
         for d, m, w in itertools.product(DATASETS, MODELS, METHODS)}


def expected(dataset, model, method):
    if method != "cam" and dataset == "CUB":
        return CUB[(model, method)]
    return (*CAM[(dataset, model)], {})


def test_every_dataset_network_and_method_has_a_config():
    assert len(NAMES) == 54
    assert all((CONFIGS / f"{name}.py").is_file() for name in NAMES)


@pytest.mark.parametrize("name", sorted(NAMES))
def test_recipe_is_wsolevaluations(name):
    dataset, model, method = NAMES[name]
    _, epochs, decay, n = DATASETS[dataset]
    wd, weights, kwargs = MODELS[model]
    lr, large, options = expected(dataset, model, method)
    c = config_lib.load(CONFIGS / f"{name}.py")
    doc = (CONFIGS / f"{name}.py").read_text().split('"""')[1]
    assert f"camjax train --config experiments/configs/{name}.py" in doc
    assert f"camjax evaluate --config experiments/configs/{name}.py" in doc
    assert set(c.keys()) == set(default.get_config().keys())      # no invented keys
    assert (c.model, c.pooling, c.wsol_method) == (model, "gap", method)
    assert (c.learning_rate, c.weight_decay) == (lr, wd)
    for key, value in {**DEFAULTS, **options}.items():
        assert c[key] == value, key
    assert dict(c.model_kwargs) == {**kwargs, "mapping_resolution": 28 if large else 14}
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
    for devices in (1, 2, 4, 8, 16, 32):
        assert c.batch_size % devices == 0 and c.eval_batch_size % devices == 0


@pytest.mark.parametrize("name", ["wsol_cub_vgg16_gap", "wsol_ilsvrc_resnet50_gap",
                                  "wsol_openimages_inception_v3_gap"])
def test_network_builds_and_schedule_decays(name):
    """The model of the config with its kwargs (shapes only, nothing compiled), the
    dataset's classes at the classifier, and the rate x0.1 at lr_step_size."""
    dataset, model, method = NAMES[name]
    classes = DATASETS[dataset][0]
    lr, large, _ = expected(dataset, model, method)
    c = config_lib.load(CONFIGS / f"{name}.py", {"pretrained": ""})
    model = nnx.eval_shape(lambda: state_lib.build_model(c, classes))
    logits, features = nnx.eval_shape(lambda m: m(jax.numpy.zeros((1, 224, 224, 3))), model)
    side = 28 if large else 14
    assert logits.shape == (1, classes) and features.shape[1:3] == (side, side)
    schedule = optim.learning_rate_schedule(c)
    step = c.lr_step_size
    assert [float(schedule(s)) for s in (0, step - 1, step, 2 * step)] == \
        pytest.approx([lr, lr, lr / 10, lr / 100])
