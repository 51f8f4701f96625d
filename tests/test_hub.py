"""Sharing on the Hub: vanilla-library reloading, model cards, uploads up to the network boundary.

Nothing here reaches the network: ``HfApi.create_repo`` / ``upload_folder`` and
``snapshot_download`` are replaced by fakes that record what they were given.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
from pathlib import Path

import huggingface_hub
import numpy as np
import pytest
from cases import CASES, build_case
from huggingface_hub import HfApi, ModelCard

import llmdisc
from llmdisc import LlmdiscError, TextClassifier, evaluate_classifier, get_classifier, stratified_subset
from llmdisc.api.records import TrainInfo
from llmdisc.classifiers.base import TextClassifier as BaseClassifier
from llmdisc.cli import main as cli
from llmdisc.hub.repos import upload_files, write_model_card

REPO = "someone/llmdisc-test"


def test_every_approach_is_covered():
    assert {approach for approach, _ in CASES.values()} == set(llmdisc.available_classifiers())


@pytest.fixture(scope="module", params=sorted(CASES))
def saved(request, demo, tiny_bert, tiny_gpt2, tmp_path_factory):
    """(classifier, folder): trained, evaluated and saved for REPO."""
    clf = build_case(request.param, tiny_bert, tiny_gpt2).fit(stratified_subset(demo["train"], 32))
    clf.info.dataset = "llmdisc demo reviews"
    clf.info.metrics = {"test": evaluate_classifier(clf, stratified_subset(demo["test"], 16)).metrics}
    folder = clf.save_pretrained(tmp_path_factory.mktemp(request.param) / "model", repo_id=REPO)
    return clf, folder


def _vanilla_snippet(readme: str) -> str:
    match = re.search(r"### With (.+?) only\n\n```python\n(.*?)```", readme, re.S)
    assert match, "the card has no vanilla-library snippet"
    return match.group(2)


def test_card_snippet_loads_the_folder_with_the_vanilla_library(saved):
    """The card's own "with <library> only" code, run on the folder, gives llmdisc's probabilities."""
    clf, folder = saved
    code = _vanilla_snippet((folder / "README.md").read_text(encoding="utf-8"))
    assert not re.search(r"^\s*(import|from)\s+llmdisc", code, re.M), "the vanilla snippet imports llmdisc"
    assert repr(REPO) in code or clf.name == "zeroshot"  # zero-shot settings are inlined, the LM named
    namespace: dict = {}
    exec(compile(code.replace(repr(REPO), repr(str(folder))), "card-snippet", "exec"), namespace)  # noqa: S102
    probs = namespace["probs"]
    if isinstance(probs[0], dict):  # a pipeline's {label: score} per text
        probs = [[row[label] for label in clf.labels] for row in probs]
    np.testing.assert_allclose(np.asarray(probs, dtype=float), clf.predict_proba(namespace["texts"]), atol=1e-5)


def test_llmdisc_loads_it_back_by_repo_id(saved, monkeypatch):
    clf, folder = saved
    calls = []

    def fake_snapshot_download(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    loaded = TextClassifier.from_pretrained(REPO, revision="main")
    assert calls == [(REPO, {"revision": "main", "token": None, "local_files_only": True})]  # tests are offline
    texts = ["a delightful little film", "dull and far too long"]
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-12)


def test_model_card_parses_and_carries_the_metrics(saved):
    clf, folder = saved
    card = ModelCard.load(folder / "README.md")
    metrics = clf.info.metrics["test"]
    found = {r.metric_name: r.metric_value for r in card.data.eval_results}
    assert found == {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}
    assert {r.dataset_split for r in card.data.eval_results} == {"test"}
    assert card.data.model_name == REPO.split("/")[1]
    # A mean-pooled encoder claims neither: transformers' pipeline would load it with a random head.
    mean = clf.name == "encoder" and clf.config.pooling == "mean"
    expected = ("llmdisc", None) if mean else (clf.hub_library, "text-classification")
    assert (card.data.library_name, card.data.pipeline_tag) == expected
    assert clf.paradigm in card.data.tags and clf.name in card.data.tags
    text = card.text
    for needle in (
        "**Approach:**",
        "**Base model:**",
        "**Training data:** llmdisc demo reviews",
        f"**Training time:** {clf.info.train_seconds} s",
        "## How to use",
        "### With llmdisc",
        f'TextClassifier.from_pretrained("{REPO}")',
        "## Hyper-parameters",
        "## Metrics",
        "## Intended use and limits",
        *(f"`{label}`" for label in clf.labels),
    ):
        assert needle in text, needle
    for key in llmdisc.plumbing.config.config_to_dict(clf.config):
        assert (f"| `{key}` |" in text) == (key != "checkpoint_dir"), key  # where checkpoints went is not a setting


def test_card_of_a_packaged_alias_names_the_hub_base(tmp_path):
    """A LoRA adapter on the packaged SmolLM2: the card points at the Hub repo (no weights needed)."""
    clf = get_classifier("lora", model="smollm2-135m")
    clf.labels, clf.info = ["negative", "positive"], TrainInfo(train_seconds=1.0)
    write_model_card(clf.card_info(REPO), tmp_path, repo_id=REPO)
    card = ModelCard.load(tmp_path / "README.md")
    assert card.data.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    code = _vanilla_snippet(card.content)
    assert "AutoModelForCausalLM.from_pretrained('HuggingFaceTB/SmolLM2-135M-Instruct')" in code
    assert "PeftModel.from_pretrained(base, repo)" in code and "GGUF" in code


def test_an_adapter_saved_for_the_hub_names_no_local_path(tiny_gpt2, demo, tmp_path, monkeypatch):
    """On a packaged alias the adapter's base is a local folder; the folder for the Hub names the
    alias's Hub repo instead (here the tiny model plays the alias)."""
    import json

    from llmdisc.classifiers import lora

    clf = get_classifier("lora", model=str(tiny_gpt2), max_steps=1, batch_size=4).fit(
        stratified_subset(demo["train"], 8)
    )
    local = json.loads((clf.save_pretrained(tmp_path / "local") / "adapter_config.json").read_text())
    assert local["base_model_name_or_path"] == str(tiny_gpt2)
    monkeypatch.setattr(lora, "hub_base_model", lambda model: "owner/base")
    pushed = json.loads((clf.save_pretrained(tmp_path / "hub", repo_id=REPO) / "adapter_config.json").read_text())
    assert pushed["base_model_name_or_path"] == "owner/base"


# ---- uploading -----------------------------------------------------------------------------


@pytest.fixture
def fake_hub(monkeypatch):
    """A logged-in user and a reachable Hub whose HfApi records calls (and snapshots the folder)."""
    calls: dict = {"create_repo": [], "upload_folder": []}

    def create_repo(self, repo_id, **kwargs):
        calls["create_repo"].append({"repo_id": repo_id, "token": self.token, **kwargs})
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        folder = Path(folder_path)
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        calls["upload_folder"].append({"repo_id": repo_id, "folder_path": folder, "files": files, **kwargs})
        if calls.get("fail"):
            raise ConnectionError("connection reset by peer")
        return f"https://huggingface.co/{repo_id}/commit/abc123"

    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    monkeypatch.setattr(llmdisc.hub.repos, "hub_reachable", lambda: True)
    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    return calls


def _folder_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_push_to_hub_uploads_what_save_pretrained_writes(fake_hub, demo, tmp_path):
    clf = get_classifier("naive_bayes").fit(demo["train"])
    url = clf.push_to_hub(REPO, private=True)
    assert url == f"https://huggingface.co/{REPO}/commit/abc123"
    (create,), (upload,) = fake_hub["create_repo"], fake_hub["upload_folder"]
    assert create == {
        "repo_id": REPO,
        "token": "hf_test_token",
        "private": True,
        "exist_ok": True,
        "repo_type": "model",
    }
    reference = _folder_files(clf.save_pretrained(tmp_path / "reference", repo_id=REPO))
    assert set(upload["files"]) == set(reference) == {"model.skops", "llmdisc_config.json", "README.md"}
    for name in ("llmdisc_config.json", "README.md"):
        assert upload["files"][name] == reference[name]
    assert not upload["folder_path"].exists(), "the temporary folder was not removed after the upload"


def test_train_push_to_hub_uploads_the_output_folder(fake_hub, tmp_path, capsys):
    out = tmp_path / "nb"
    assert (
        cli(
            [
                "train",
                "naive_bayes",
                "--data",
                "demo",
                "--output-dir",
                str(out),
                "--push-to-hub",
                "--hub-model-id",
                REPO,
                "--hub-private",
            ]
        )
        == 0
    )
    (upload,) = fake_hub["upload_folder"]
    assert upload["folder_path"].resolve() == out.resolve() and upload["repo_id"] == REPO
    assert upload["files"] == _folder_files(out)  # exactly the saved folder
    assert fake_hub["create_repo"][0]["private"] is True
    assert f"pushed: https://huggingface.co/{REPO}/commit/abc123" in capsys.readouterr().out
    assert TextClassifier.from_pretrained(out).predict(["lovely"])


def test_a_failed_upload_keeps_the_saved_model_and_says_where(fake_hub, demo, tmp_path, capsys):
    fake_hub["fail"] = True
    out = tmp_path / "nb"
    assert (
        cli(
            [
                "train",
                "naive_bayes",
                "--data",
                "demo",
                "--output-dir",
                str(out),
                "--push-to-hub",
                "--hub-model-id",
                REPO,
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "ConnectionError" in err and f"the model is saved at {out}" in err and f"hf upload {REPO}" in err
    assert TextClassifier.from_pretrained(out).labels == ["negative", "positive"]

    clf = get_classifier("naive_bayes").fit(demo["train"])
    with pytest.raises(LlmdiscError, match="the model is saved at") as info:
        clf.push_to_hub(REPO)
    kept = Path(re.search(r"saved at (\S+):", str(info.value)).group(1))
    assert TextClassifier.from_pretrained(kept).labels == clf.labels  # the temporary save is kept
    shutil.rmtree(kept.parent)


@pytest.mark.parametrize("problem", ["no token", "offline"])
def test_no_token_or_offline_fails_before_training(problem, monkeypatch, tmp_path, capsys, demo):
    trained = []
    monkeypatch.setattr(BaseClassifier, "fit", lambda self, *a, **k: trained.append(self))
    if problem == "no token":
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
        monkeypatch.setattr(llmdisc.hub.repos, "hub_reachable", lambda: True)
        expected = "needs a Hugging Face token"
    else:
        monkeypatch.setenv("HF_TOKEN", "hf_test_token")  # conftest sets HF_HUB_OFFLINE: unreachable
        expected = "is unreachable (HF_HUB_OFFLINE is set)"
    out = tmp_path / "enc"
    assert (
        cli(["train", "encoder", "--data", "demo", "--output-dir", str(out), "--push-to-hub", "--hub-model-id", REPO])
        == 2
    )
    assert expected in capsys.readouterr().err
    assert trained == [] and not out.exists()

    saves = []
    monkeypatch.setattr(BaseClassifier, "save_pretrained", lambda self, *a, **k: saves.append(a))
    clf = get_classifier("naive_bayes")
    clf.labels = ["negative", "positive"]
    with pytest.raises(LlmdiscError, match=re.escape(expected)):
        clf.push_to_hub(REPO)
    assert saves == []


@pytest.fixture
def offline_hub(monkeypatch):
    """Every way to the network fails the test: a dry run must not touch it."""

    def no_network(*args, **kwargs):
        raise AssertionError("the dry run touched the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(llmdisc.hub.repos, "hub_reachable", no_network)
    monkeypatch.setattr(huggingface_hub, "get_token", no_network)
    for method in ("create_repo", "upload_folder", "whoami", "create_commit"):
        monkeypatch.setattr(HfApi, method, no_network)


def test_dry_run_writes_the_folder_and_lists_it_without_network(offline_hub, tmp_path, capsys):
    out = tmp_path / "lr"
    assert (
        cli(
            [
                "train",
                "logistic_regression",
                "--data",
                "demo",
                "--output-dir",
                str(out),
                "--push-to-hub",
                "--hub-dry-run",
                "--hub-model-id",
                REPO,
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert f"huggingface.co/{REPO}" in printed and "nothing was uploaded" in printed
    listed = re.findall(r"^  (\S+)\s+[\d,]+ bytes$", printed, re.M)
    assert sorted(listed) == sorted(_folder_files(out)) == sorted(upload_files(out))
    assert f'from_pretrained("{REPO}")' in (out / "README.md").read_text()


def test_merged_lora_model_stays_local(tmp_path):
    (tmp_path / "merged").mkdir()
    for name in ("adapter_config.json", "README.md", "merged/model.safetensors", "merged/config.json"):
        (tmp_path / name).write_text("{}")
    assert upload_files(tmp_path) == ["README.md", "adapter_config.json"]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--push-to-hub"], "--push-to-hub needs --hub-model-id owner/name"),
        (["--hub-dry-run"], "--hub-dry-run needs --hub-model-id owner/name"),
        (["--push-to-hub", "--hub-model-id", "no-owner"], "must be 'owner/name'"),
        (["--hub-dry-run", "--hub-model-id", "me/bad name"], "is invalid"),
    ],
)
def test_bad_hub_settings_are_one_line_errors(flags, message, tmp_path, capsys):
    assert cli(["train", "naive_bayes", "--data", "demo", "--output-dir", str(tmp_path / "x"), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "x").exists()


def test_card_shows_no_local_paths(demo, tmp_path):
    clf = get_classifier("naive_bayes").fit(demo["train"])
    clf.info.dataset = "train=/home/me/secret/train.csv,test=/home/me/secret/test.csv"
    clf.info.metrics = {"test": evaluate_classifier(clf, demo["test"]).metrics}
    write_model_card(clf.card_info(REPO), tmp_path, repo_id=REPO)
    text = (tmp_path / "README.md").read_text()
    assert "/home/me" not in text and "train=train.csv,test=test.csv (local)" in text
    assert ModelCard.load(tmp_path / "README.md").data.datasets is None  # not a Hub data set id


# ---- sharing a comparison --------------------------------------------------------------------


def _compare(out: Path, *flags: str) -> int:
    return cli(
        [
            "compare",
            "--approaches",
            "naive_bayes,logistic_regression",
            "--sizes",
            "8,all",
            "--drop-rates",
            "",
            "--output-dir",
            str(out),
            *flags,
        ]
    )


def test_compare_push_to_hub_uploads_a_dataset_that_load_dataset_reads(fake_hub, tmp_path, capsys):
    import datasets
    import pyarrow.parquet as pq
    from huggingface_hub import DatasetCard

    from llmdisc.reporting.hub_dataset import SHARED_FILES

    out = tmp_path / "cmp"
    assert _compare(out, "--push-to-hub", REPO, "--hub-private", "--hub-license", "mit") == 0
    (create,), (upload,) = fake_hub["create_repo"], fake_hub["upload_folder"]
    assert create["repo_type"] == "dataset" and create["private"] is True and create["repo_id"] == REPO
    assert upload["repo_type"] == "dataset" and upload["allow_patterns"] == SHARED_FILES
    sent = upload_files(out, upload["allow_patterns"])
    assert {"README.md", "report.md", "report.html", "results.json", "results.parquet", "predictions.parquet"} <= set(
        sent
    )
    assert not any(f.startswith(("runs/", "tmp/", "claims/")) for f in sent)  # the cache stays local
    assert f"pushed: https://huggingface.co/{REPO}/commit/abc123" in capsys.readouterr().out

    card = DatasetCard.load(out / "README.md")
    assert card.data.license == "mit" and "llmdisc" in card.data.tags
    assert [c["config_name"] for c in card.data.configs] == ["predictions", "results"]
    assert f'load_dataset("{REPO}", split="train")' in card.text and "## Verdict" in card.text
    # What a Hub user gets from load_dataset(REPO): the card's configs, read here from the folder.
    # A cache of its own: datasets' cache key for a local folder does not change with the files in it.
    cache = tmp_path / "datasets-cache"
    predictions = datasets.load_dataset(str(out), split="train", cache_dir=str(cache))
    assert predictions.num_rows == pq.read_metadata(out / "predictions.parquet").num_rows
    assert {"variant", "size", "seed", "split", "index", "label", "prob_positive"} <= set(predictions.column_names)
    results = datasets.load_dataset(str(out), "results", split="train", cache_dir=str(cache))
    assert results.num_rows == len(json.loads((out / "results.json").read_text()))


def test_compare_push_without_a_token_fails_before_the_grid(monkeypatch, tmp_path, capsys):
    from llmdisc.comparison import grid as comparison

    ran = []
    monkeypatch.setattr(comparison, "_run_cell", lambda *a, **k: ran.append(a))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    monkeypatch.setattr(llmdisc.hub.repos, "hub_reachable", lambda: True)
    assert _compare(tmp_path / "cmp", "--push-to-hub", REPO) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and "needs a Hugging Face token" in err[0] and "hf auth login" in err[0] and "HF_TOKEN" in err[0]
    )
    assert ran == [] and not (tmp_path / "cmp").exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--push-to-hub", "no-owner"], "Hub dataset id 'no-owner' must be 'owner/name'"),
        (["--hub-dry-run"], "--hub-dry-run needs --push-to-hub owner/name"),
        (["--push-to-hub", REPO, "--shard", "1/2"], "a shard writes no report"),
    ],
)
def test_bad_compare_hub_settings_are_one_line_errors(flags, message, tmp_path, capsys):
    assert _compare(tmp_path / "cmp", *flags) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "cmp").exists()


def test_compare_dry_run_writes_the_card_and_lists_without_network(offline_hub, tmp_path, capsys):
    from llmdisc.reporting.hub_dataset import SHARED_FILES

    out = tmp_path / "cmp"
    assert _compare(out, "--push-to-hub", REPO, "--hub-dry-run") == 0
    printed = capsys.readouterr().out
    assert f"huggingface.co/datasets/{REPO}" in printed and "nothing was uploaded" in printed
    listed = re.findall(r"^  (\S+)\s+[\d,]+ bytes$", printed, re.M)
    assert sorted(listed) == upload_files(out, SHARED_FILES) and "README.md" in listed


# ---- the reachability check goes through huggingface_hub's session, proxies included (issue 29) ---


def _reachable_in_a_fresh_process(env: dict[str, str]) -> tuple[bool, float]:
    """(hub_reachable(), seconds it took) in a new process with ``env`` (the session reads proxies once)."""
    import os
    import subprocess
    import sys

    code = (
        "import time\nfrom llmdisc.plumbing.offline import hub_reachable\n"
        "start = time.monotonic()\nprint(hub_reachable(), time.monotonic() - start)"
    )
    clean = {k: v for k, v in os.environ.items() if k.upper() not in {"HF_HUB_OFFLINE", "NO_PROXY", "ALL_PROXY"}}
    clean = {k: v for k, v in clean.items() if not k.upper().endswith("_PROXY")}
    out = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    answer, seconds = out.stdout.split()
    return answer == "True", float(seconds)


@pytest.fixture
def proxy():
    """A local HTTP proxy that answers every request itself (200) and records the request lines."""
    import http.server
    import threading

    seen: list[str] = []

    class Proxy(http.server.BaseHTTPRequestHandler):
        def _answer(self):
            seen.append(self.requestline)
            self.send_response(403 if self.command == "CONNECT" else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = do_GET = do_CONNECT = _answer

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


def test_the_hub_check_asks_through_the_users_proxy(proxy):
    url, seen = proxy
    # hub.invalid resolves nowhere: only through the proxy can it answer.
    reachable, _ = _reachable_in_a_fresh_process({"HF_ENDPOINT": "http://hub.invalid", "HTTP_PROXY": url})
    assert reachable and seen == ["HEAD http://hub.invalid/ HTTP/1.1"]
    seen.clear()
    # HTTPS goes through the proxy too (a CONNECT tunnel); this proxy refuses it, so no answer.
    reachable, _ = _reachable_in_a_fresh_process({"HF_ENDPOINT": "https://hub.invalid", "HTTPS_PROXY": url})
    assert not reachable and seen == ["CONNECT hub.invalid:443 HTTP/1.1"]


def test_the_hub_check_answers_within_seconds_without_a_network():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    reachable, seconds = _reachable_in_a_fresh_process({"HF_ENDPOINT": f"http://127.0.0.1:{port}"})
    assert not reachable and seconds < 5
    _, seconds = _reachable_in_a_fresh_process({})  # the real endpoint: offline here, online elsewhere
    assert seconds < 10
