"""Where the recipes' torchvision weights come from: ``$CAMJAX_WEIGHTS_DIR`` (default
./weights), the ``.safetensors`` copy when there is one (read without torch), else the
``.pth`` torchvision publishes; a missing file is named with its download address."""
import pytest

from camjax import config as config_lib
from camjax.checks.model import check_pretrained
from camjax.errors import ConfigError
from tests.conftest import CONFIGS


@pytest.mark.parametrize("name, file", [("wsol_cub_resnet50_gap", "resnet50-0676ba61"),
                                        ("ilsvrc_vgg16_gap", "vgg16-397923af")])
def test_a_safetensors_copy_beside_the_pth_is_taken(name, file, tmp_path, monkeypatch):
    monkeypatch.setenv("CAMJAX_WEIGHTS_DIR", str(tmp_path))
    assert config_lib.load(CONFIGS / f"{name}.py").pretrained == str(tmp_path / f"{file}.pth")
    (tmp_path / f"{file}.safetensors").write_bytes(b"")
    assert config_lib.load(CONFIGS / f"{name}.py").pretrained == \
        str(tmp_path / f"{file}.safetensors")


def test_a_missing_torchvision_file_says_where_it_comes_from(tmp_path, monkeypatch):
    monkeypatch.setenv("CAMJAX_WEIGHTS_DIR", str(tmp_path))
    config = config_lib.load(CONFIGS / "wsol_cub_resnet50_gap.py")
    with pytest.raises(ConfigError, match=r"no such file; it is torchvision's ImageNet weights: "
                                          r"download https://download\.pytorch\.org/models/"
                                          rf"resnet50-0676ba61\.pth into {tmp_path}"):
        check_pretrained(config)
