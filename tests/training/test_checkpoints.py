"""Checkpoints: the data position restores exactly, retention, atomic temporaries,
clear errors for corrupt and foreign checkpoints, non-finite losses."""
import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from camjax import cli, config as config_lib, training
from camjax.data import pipeline, train_stream
from camjax.training import checkpoint, loop, mesh as mesh_lib
from tests.conftest import DEMO
from tests.training.conftest import TINY, tiny_args


def tiny(data_dir, **overrides):
    """The tiny run at a constant rate: resuming with more steps keeps the schedule (with
    the demo's cosine, num_train_steps sets the decay: resuming longer is refused)."""
    return config_lib.load(DEMO, {**TINY, "data_dir": data_dir, "lr_schedule": "constant",
                                  **overrides})


def test_data_iterator_state_restores_the_exact_batches(tiny_data_dir):
    cfg = tiny(tiny_data_dir, data_threads=2, batch_size=8)
    src = pipeline.source(cfg.dataset, cfg.train_split, tiny_data_dir)
    it = train_stream.train_iterator(src, cfg, seed=3)
    for _ in range(9):            # past the end of the 64-image epoch: 72 images
        next(it)
    state = json.loads(json.dumps(it.get_state()))
    assert state == {"next_index": 9}
    expected = [next(it) for _ in range(3)]
    for saved in (state, None):   # the saved state; recomputed from the step
        again = train_stream.train_iterator(src, cfg, seed=3)
        train_stream.restore_iterator(again, saved, step=9)
        for want in expected:
            got = next(again)
            np.testing.assert_array_equal(got["image"], want["image"])
            np.testing.assert_array_equal(got["label"], want["label"])


def test_each_process_reads_its_block_of_the_same_global_batches(tiny_data_dir, monkeypatch):
    """With P processes, process p's local batch s is rows [p*B/P, (p+1)*B/P) of the
    1-process global batch s: a run's batches do not depend on the process count."""
    cfg = tiny(tiny_data_dir, batch_size=8)
    src = pipeline.source(cfg.dataset, cfg.train_split, tiny_data_dir)
    one = train_stream._train_dataset(src, cfg, seed=1)
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    parts = []
    for p in (0, 1):
        monkeypatch.setattr(jax, "process_index", lambda p=p: p)
        parts.append(train_stream._train_dataset(src, cfg, seed=1))
    for s in (0, 1, 8, 9):
        np.testing.assert_array_equal(
            np.concatenate([parts[0][s]["image"], parts[1][s]["image"]]), one[s]["image"])


def test_rng_state_round_trips(tmp_path):
    """nnx RNG streams (dropout) live in TrainState.rest as typed keys and counts."""
    from flax import nnx
    from camjax.training.step import TrainState

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.dense = nnx.Linear(3, 2, rngs=rngs)
            self.dropout = nnx.Dropout(0.5, rngs=rngs)
    net = Net(nnx.Rngs(params=0, dropout=7))
    net.dropout(jnp.ones((2, 2)))                   # advance the dropout stream
    _, params, rest = nnx.split(net, nnx.Param, ...)
    state = TrainState(step=jnp.array(5), params=params, rest=rest, opt_state={})
    mngr = checkpoint.manager(tmp_path)
    checkpoint.save(mngr, 5, state, {"next_index": 5}, {"model": "net"})
    mngr.wait_until_finished()
    repl = mesh_lib.replicated(mesh_lib.data_mesh())
    back, data, meta = checkpoint.restore(mngr, checkpoint.abstract(state, repl),
                                          expect={"model": "net"})
    mngr.close()
    assert data == {"next_index": 5} and meta == {"model": "net"}
    got, want = jax.tree.leaves(back.rest), jax.tree.leaves(state.rest)
    assert any(jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) for x in got)
    for x, y in zip(got, want):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(x, y)


def test_keeps_the_last_k_and_clears_a_torn_temporary(tiny_data_dir, tmp_path):
    training.train_and_evaluate(tiny(tiny_data_dir, num_train_steps=4, keep_checkpoints=2,
                                 eval_at_end=False, eval_every_steps=2,
                                 eval_during_training_images=16), tmp_path)
    history = [json.loads(x) for x in (tmp_path / "eval_history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history] == [2] and history[0]["num_images"] == 16
    ckpts = tmp_path / "checkpoints"
    assert sorted(int(p.name) for p in ckpts.iterdir() if p.name.isdigit()) == [3, 4]
    saved = json.loads(next((ckpts / "4" / "data").glob("process_0-of-1.json")).read_text())
    assert saved == {"next_index": 4}
    torn = ckpts / "5.orbax-checkpoint-tmp-1234"      # what a kill during a save leaves
    (torn / "state").mkdir(parents=True)
    (torn / "state" / "junk").write_text("partial")
    out = training.train_and_evaluate(tiny(tiny_data_dir, num_train_steps=5, keep_checkpoints=2,
                                       eval_at_end=False), tmp_path)
    assert out == {"step": 5} and not torn.exists()
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2, 3, 4, 5]


def _poison_step(monkeypatch, at: int):
    real = loop.compile_train_step

    def compile_poisoned(*args, **kwargs):
        step = real(*args, **kwargs)

        def poisoned(state, batch):
            state, metrics = step(state, batch)
            if int(state.step) == at:
                metrics = {**metrics, "loss": metrics["loss"] * jnp.nan}
            return state, metrics
        return poisoned
    monkeypatch.setattr(loop, "compile_train_step", compile_poisoned)


def test_a_non_finite_loss_stops_naming_the_step_and_keeps_good_checkpoints(
        tiny_data_dir, tmp_path, monkeypatch, capsys):
    _poison_step(monkeypatch, at=5)
    args = ["train", "--config", str(DEMO), "--workdir", str(tmp_path),
            *tiny_args(tiny_data_dir, num_train_steps=8, log_every_steps=4,
                       checkpoint_every_steps=2)]
    assert cli.main(args) == 1
    assert "loss nan at step 5" in _one_line_error(capsys)
    steps = sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
    assert steps == [2, 4]        # step 6 would have been after the NaN: not written
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [4]
    cfg = tiny(tiny_data_dir)
    _, state, _ = training.restore_for_inference(cfg, tmp_path, 12)  # camjax_shapes: 12 classes
    assert int(state.step) == 4
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(jax.device_get(state.params)))


def test_a_huge_learning_rate_ends_with_one_line_and_exit_1(tiny_data_dir, tmp_path, capsys):
    args = ["train", "--config", str(DEMO), "--workdir", str(tmp_path),
            *tiny_args(tiny_data_dir, num_train_steps=6, learning_rate=1e38,
                       checkpoint_every_steps=6)]
    assert cli.main(args) == 1
    err = _one_line_error(capsys)
    assert "training stopped" in err and " at step " in err, err
    assert not (tmp_path / "checkpoints" / "6").exists()


@pytest.fixture(scope="module")
def trained(tiny_data_dir, tmp_path_factory):
    """A 2-step workdir (checkpoints 1 and 2) to copy and damage."""
    work = tmp_path_factory.mktemp("trained")
    training.train_and_evaluate(tiny(tiny_data_dir, eval_at_end=False), work)
    return work


def _train_cli(work, data_dir, **overrides):
    return cli.main(["train", "--config", str(DEMO), "--workdir", str(work),
                     *tiny_args(data_dir, num_train_steps=3, eval_at_end=False,
                                lr_schedule="constant", **overrides)])


def _one_line_error(capsys) -> str:
    """The last line of stderr (above it, at most the progress bar), no traceback."""
    err = capsys.readouterr().err.strip()
    last = err.splitlines()[-1] if err else ""
    assert "Traceback" not in err and last.startswith("camjax: error:"), err
    return last


@pytest.mark.parametrize("damage", ["truncate_arrays", "garble_metadata"])
def test_a_corrupt_checkpoint_is_a_one_line_error(trained, tiny_data_dir, tmp_path, capsys,
                                                  damage):
    work = tmp_path / "w"
    shutil.copytree(trained, work)
    state_dir = work / "checkpoints" / "2" / "state"
    if damage == "truncate_arrays":
        files = [p for p in state_dir.rglob("*") if p.is_file() and p.parent.name == "d"]
        assert files
        for p in files:
            p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    else:
        (state_dir / "_METADATA").write_text("{not json")
    assert _train_cli(work, tiny_data_dir) == 2
    err = _one_line_error(capsys)
    assert "checkpoints/2" in err and "delete" in err and "resume from step 1" in err, err


def test_a_checkpoint_of_another_config_is_a_one_line_error(trained, tiny_data_dir, tmp_path,
                                                           capsys):
    work = tmp_path / "w"
    shutil.copytree(trained, work)
    assert _train_cli(work, tiny_data_dir, pooling="gmp") == 2
    assert "written with pooling='gap', this config has pooling='gmp'" in _one_line_error(capsys)
    assert _train_cli(work, tiny_data_dir, model_kwargs={"cam_channels": 64}) == 2
    assert "model_kwargs" in _one_line_error(capsys)


def test_array_shapes_are_checked_before_reading(trained, tiny_data_dir):
    """Even without metadata to compare, a state of other shapes names the array."""
    cfg = tiny(tiny_data_dir, model_kwargs={"cam_channels": 64})
    mesh = mesh_lib.data_mesh()
    setup = loop.initial_state(loop.build_model(cfg, 12), cfg, mesh)
    mngr = checkpoint.manager(trained, read_only=True)
    with pytest.raises(checkpoint.CheckpointError, match=r"it has 'params/cam_conv/conv/\w+' "
                       r"of shape \((3, 3, 96, )?128,?\), this config needs \((3, 3, 96, )?64,?\)"):
        checkpoint.restore(mngr, checkpoint.abstract(setup.state, mesh_lib.replicated(mesh)))


def test_a_folder_that_is_not_a_checkpoint_is_a_one_line_error(tiny_data_dir, tmp_path, capsys):
    junk = tmp_path / "checkpoints" / "7"
    junk.mkdir(parents=True)
    (junk / "notes.txt").write_text("not a checkpoint")
    assert _train_cli(tmp_path, tiny_data_dir) == 2
    assert "checkpoints/7" in _one_line_error(capsys)
