"""Where models run and in what precision: every placement case, with torch's device queries patched.

This machine has no GPU; what a GPU machine would decide is tested by making torch answer as
one would (``torch.cuda.is_available`` and friends patched), and the bf16 arithmetic itself is
tested for real on the CPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import llmdisc
from llmdisc import LlmdiscError
from llmdisc.lm.devices import Placement, check_placement, resolve_device, resolve_dtype, resolve_placement


def _args_of(settings):
    """The TrainingArguments llmdisc builds for ``settings`` (a run on 16 examples)."""
    from llmdisc.training.trainer import _training_arguments, plan_schedule

    return _training_arguments(settings, plan_schedule(settings, 16), "unused", has_eval=False)


@pytest.fixture
def machine(monkeypatch):
    """Make torch report a machine: ``machine(cuda=2, bf16=True, mps=False, processes=1, rank=0)``."""
    for name in ("WORLD_SIZE", "LOCAL_RANK", "RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)

    def make(cuda: int = 0, bf16: bool = True, mps: bool = False, processes: int = 1, rank: int = 0):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: cuda > 0 and bf16)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
        if processes > 1:
            monkeypatch.setenv("WORLD_SIZE", str(processes))
            monkeypatch.setenv("LOCAL_RANK", str(rank))
            monkeypatch.setenv("RANK", str(rank))

    return make


@pytest.mark.parametrize(
    "machine_kwargs, device, expected",
    [
        (dict(cuda=1), "auto", "cuda:0"),
        (dict(cuda=1, mps=True), "auto", "cuda:0"),  # CUDA before MPS
        (dict(mps=True), "auto", "mps"),
        (dict(), "auto", "cpu"),
        (dict(cuda=2), "cpu", "cpu"),  # asked for the CPU on a GPU machine
        (dict(cuda=2), "cuda:1", "cuda:1"),
        (dict(cuda=2), "cuda", "cuda:0"),
        (dict(cuda=4, processes=4, rank=2), "auto", "cuda:2"),  # accelerate launch: the process's own GPU
        (dict(cuda=4, processes=4, rank=3), "cuda", "cuda:3"),
        (dict(processes=2, rank=1), "auto", "cpu"),  # several CPU processes
        (dict(mps=True, processes=2, rank=1), "auto", "cpu"),  # one MPS device cannot be shared
    ],
)
def test_the_device_each_machine_gets(machine, machine_kwargs, device, expected):
    machine(**machine_kwargs)
    assert str(resolve_device(device)) == expected


@pytest.mark.parametrize(
    "machine_kwargs, device, message",
    [
        (dict(), "cuda", "no CUDA GPU"),
        (dict(), "cuda:0", "no CUDA GPU"),
        (dict(cuda=1), "cuda:3", "has 1 CUDA GPU"),
        (dict(), "mps", "MPS backend is not available"),
        (dict(), "tpu", "unknown device 'tpu'"),
    ],
)
def test_a_device_that_is_not_there_is_one_line(machine, machine_kwargs, device, message):
    machine(**machine_kwargs)
    with pytest.raises(LlmdiscError, match=message) as e:
        check_placement(device, "auto")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "machine_kwargs, device, dtype, expected",
    [
        (dict(cuda=1, bf16=True), "auto", "auto", torch.bfloat16),
        (dict(cuda=1, bf16=False), "auto", "auto", torch.float32),  # an older GPU: never float16 unasked
        (dict(cuda=1, bf16=False), "auto", "float16", torch.float16),
        (dict(), "auto", "auto", torch.float32),
        (dict(mps=True), "auto", "auto", torch.float32),
        (dict(), "cpu", "bfloat16", torch.bfloat16),
        (dict(cuda=1), "cpu", "auto", torch.float32),
    ],
)
def test_the_dtype_each_device_gets(machine, machine_kwargs, device, dtype, expected):
    machine(**machine_kwargs)
    assert resolve_dtype(dtype, resolve_device(device)) is expected


@pytest.mark.parametrize(
    "machine_kwargs, dtype, message",
    [
        (dict(cuda=1, bf16=False), "bfloat16", "does not support it"),
        (dict(), "float16", "cannot run on the CPU"),
        (dict(), "float64", "unknown dtype 'float64'"),
    ],
)
def test_a_dtype_the_device_cannot_run_is_one_line(machine, machine_kwargs, dtype, message):
    machine(**machine_kwargs)
    with pytest.raises(LlmdiscError, match=message) as e:
        check_placement("auto", dtype)
    assert "\n" not in str(e.value)


def test_one_process_puts_the_model_on_the_resolved_device(machine, monkeypatch, tiny_gpt2):
    # Before, load_model moved models only under several processes: a single-process zero-shot run
    # stayed on the CPU beside a GPU. The meta device stands in for the GPU this machine lacks.
    import llmdisc.lm.loading

    machine(cuda=1)
    asked = []

    def fake(device, dtype):
        asked.append((device, dtype))
        return Placement(torch.device("meta"), torch.float32)

    monkeypatch.setattr(llmdisc.lm.loading, "resolve_placement", fake)
    model, _ = llmdisc.load_model(str(tiny_gpt2), device="auto", dtype="auto")
    assert asked == [("auto", "auto")] and model.device.type == "meta"


def test_load_model_loads_in_the_dtype_asked_for(tiny_gpt2):
    model, _ = llmdisc.load_model(str(tiny_gpt2), device="cpu", dtype="bfloat16")
    assert model.dtype is torch.bfloat16 and model.device.type == "cpu"
    model, _ = llmdisc.load_model(str(tiny_gpt2))  # auto on a CPU machine: float32
    assert model.dtype is torch.float32


def test_a_bad_device_fails_before_the_model_loads(machine, monkeypatch):
    machine()
    import llmdisc.lm.loading

    monkeypatch.setattr(llmdisc.lm.loading, "resolve_model", lambda *a: pytest.fail("the model was resolved"))
    with pytest.raises(LlmdiscError, match="no CUDA GPU"):
        llmdisc.load_model("smollm2-135m", device="cuda")


def test_trainer_gets_mixed_precision_and_the_cpu_when_asked(machine):
    from llmdisc.training.trainer import TrainerSettings

    machine()
    args = _args_of(TrainerSettings(dtype="bfloat16"))
    assert args.bf16 and not args.fp16 and args.use_cpu
    args = _args_of(TrainerSettings())
    assert not args.bf16 and not args.fp16


def test_placement_names_for_records():
    p = resolve_placement("cpu", "bfloat16")
    assert (p.device_name, p.dtype_name, p.half) == ("cpu", "bfloat16", True)


# bf16 keeps 8 bits of mantissa: the tiny models' probabilities move by up to about 1e-2.
BF16_TOLERANCE = 0.03


def test_bf16_on_the_cpu_predicts_as_float32_within_tolerance(demo, tiny_gpt2):
    texts = list(demo["test"]["text"][:24])
    probs = {}
    for dtype in ("float32", "bfloat16"):
        clf = llmdisc.get_classifier("zeroshot", model=str(tiny_gpt2), device="cpu", dtype=dtype)
        clf.fit(demo["train"].select(range(8)))
        assert clf.info.dtype == dtype and clf.info.device == "cpu"
        probs[dtype] = clf.predict_proba(texts)
    assert np.abs(probs["float32"] - probs["bfloat16"]).max() < BF16_TOLERANCE
    # Where float32 is not near a tie, bf16 predicts the same label.
    margin = np.abs(probs["float32"][:, 0] - probs["float32"][:, 1])
    clear = margin > 2 * BF16_TOLERANCE
    assert (probs["float32"].argmax(1)[clear] == probs["bfloat16"].argmax(1)[clear]).all()


def test_bf16_encoder_training_and_prediction_on_the_cpu(demo, tiny_bert):
    train = llmdisc.stratified_subset(demo["train"], 16)
    results = {}
    for dtype in ("float32", "bfloat16"):
        clf = llmdisc.get_classifier(
            "encoder", model=str(tiny_bert), max_steps=2, batch_size=8, dtype=dtype, device="cpu", logging_steps=1
        )
        clf.fit(train)
        assert clf.info.dtype == dtype
        results[dtype] = clf.predict_proba(list(demo["test"]["text"][:16]))
    assert np.abs(results["float32"] - results["bfloat16"]).max() < BF16_TOLERANCE


def test_a_reloaded_classifier_runs_where_asked_or_falls_back_to_auto(demo, tiny_gpt2, tmp_path, caplog):
    import json

    clf = llmdisc.get_classifier("zeroshot", model=str(tiny_gpt2), device="cpu").fit(demo["train"].select(range(8)))
    folder = clf.save_pretrained(tmp_path / "zs")
    loaded = llmdisc.TextClassifier.from_pretrained(folder, dtype="bfloat16")
    loaded.predict_proba(["a text"])
    assert loaded.model.dtype is torch.bfloat16
    # Saved on a GPU machine, loaded on this one: auto, with a warning, not a failure.
    meta = json.loads((folder / "llmdisc_config.json").read_text())
    meta["config"]["device"] = "cuda"
    (folder / "llmdisc_config.json").write_text(json.dumps(meta))
    loaded = llmdisc.TextClassifier.from_pretrained(folder)
    assert loaded.config.device == "auto" and "loading with device auto" in caplog.text
    # Classical approaches have no device: the keywords are ignored.
    nb = llmdisc.get_classifier("naive_bayes").fit(demo["train"])
    llmdisc.TextClassifier.from_pretrained(nb.save_pretrained(tmp_path / "nb"), device="cpu")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["score", "--device", "cuda", "a text"], "device 'cuda' asked for, but torch sees no CUDA GPU"),
        (["generate", "--dtype", "float16", "--device", "cpu", "a prompt"], "float16 cannot run on the CPU"),
        (["score", "--device", "gpu", "a text"], "unknown device 'gpu'"),
    ],
)
def test_the_commands_refuse_a_bad_device_in_one_line_before_loading(argv, message, machine, capsys, monkeypatch):
    import llmdisc.lm.loading
    from llmdisc.cli import main

    machine()
    monkeypatch.setattr(llmdisc.lm.loading, "resolve_model", lambda *a: pytest.fail("a model was resolved"))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_trainer_approaches_refuse_a_gpu_that_trainer_would_not_use(machine):
    # TrainingArguments puts a single process on cuda:0 whatever is asked: say so before training.
    from llmdisc.training.trainer import TrainerSettings, check_run_options

    machine(cuda=2)
    with pytest.raises(LlmdiscError, match="CUDA_VISIBLE_DEVICES=1 and device cuda"):
        check_run_options(TrainerSettings(device="cuda:1"))
    check_run_options(TrainerSettings(device="cuda:0", dtype="float32"))


@pytest.mark.parametrize(
    "command, approach, message",
    [
        (
            "compare",
            {"approach": "zeroshot", "device": "cuda"},
            "approach 'zs': device 'cuda' asked for, but torch sees no CUDA",
        ),
        ("compare", {"approach": "lora", "dtype": "float16"}, "approach 'zs': dtype float16 cannot run on the CPU"),
        ("train", {"device": "cuda:1"}, "device 'cuda:1' asked for, but torch sees no CUDA GPU"),
        (
            "compare",
            {"approach": "naive_bayes", "data_config": "sst2"},
            "name a Hub data set's config and version; 'demo' is local",
        ),
    ],
)
def test_compare_and_train_refuse_a_bad_device_dtype_or_data_config_before_any_work(
    command, approach, message, machine, capsys, monkeypatch, tmp_path
):
    """One line, before any model is resolved (compare checks every approach before its grid runs)."""
    import llmdisc.lm.loading
    from llmdisc.cli import main

    machine()
    monkeypatch.setattr(llmdisc.lm.loading, "resolve_model", lambda *a: pytest.fail("a model was resolved"))
    out = tmp_path / "out"
    if command == "compare":
        settings = dict(approach)
        data_config = settings.pop("data_config", None)
        recipe = tmp_path / "recipe.yaml"
        recipe.write_text(
            "data: demo\n"
            + (f"data_config: {data_config}\n" if data_config else "")
            + "approaches:\n  zs: {"
            + ", ".join(f"{k}: {v}" for k, v in settings.items())
            + "}\n"
        )
        argv = ["compare", "--config", str(recipe), "--output-dir", str(out)]
    else:
        argv = ["train", "zeroshot", "--device", approach["device"], "--output-dir", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (out / "comparison.json").exists()  # the corrected command needs no --resume
