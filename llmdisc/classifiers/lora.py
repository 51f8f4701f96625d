"""The bridge: a generative LM adapted with LoRA into a classifier, three ways.

The same base model and the same low-rank adapters, with three objectives, so a comparison can
tell whether the objective matters or the model does:

* ``verbalizer``: train the LM to emit the label word after the prompt (loss on the label
  tokens only); predict exactly as the zero-shot classifier does, with the same template, so
  zero-shot -> LoRA is a clean before/after.
* ``sequence``: ``AutoModelForSequenceClassification`` on the decoder (the last real token's
  state feeds a linear ``score`` head, trained in full through ``modules_to_save``).
* ``channel``: train the LM on label-conditioned text, P(text | label), and classify by Bayes'
  rule with the training class prior: a true generative classifier.

``chat_template: true`` trains and predicts in the base model's chat template, as the zero-shot
classifier scores with it (:mod:`llmdisc.lm.label_likelihood`): the verbalizer head learns the label word
as the start of the assistant's answer, the channel head the text as the answer to the label's
prompt, and the sequence head reads the last token of the rendered prompt (the first template up
to ``{label}`` as the user's turn, the assistant's turn opened), where the model would begin its
answer.

The folder is PEFT's own (``adapter_config.json``, ``adapter_model.safetensors`` with the head
where there is one, the tokenizer), so ``AutoPeftModelForCausalLM`` /
``AutoPeftModelForSequenceClassification`` load it without llmdisc wherever its
``base_model_name_or_path`` resolves: a Hub id, or for a packaged alias the local converted
folder (the de-quantized GGUF weights are not the Hub's, so the adapter must sit on them).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from llmdisc.classifiers.base import TextClassifier, read_json_object, register
from llmdisc.classifiers.class_weights import class_weight_indices, class_weight_vector
from llmdisc.classifiers.logits import predict_logits, tokenize_texts
from llmdisc.errors import LlmdiscError, first_line
from llmdisc.lm.devices import model_placement, place_for_inference
from llmdisc.lm.label_likelihood import (
    LabelWeights,
    LikelihoodScorer,
    PromptScoring,
    chat_request,
    check_chat_template,
    cut_texts,
    likelihood_snippet,
    parse_templates,
    resolve_verbalizers,
)
from llmdisc.lm.loading import NO_REMOTE_CODE, check_model_available, hub_base_model, load_model, load_tokenizer
from llmdisc.lm.loglikelihood import encode_pair
from llmdisc.lm.prompts import task_templates
from llmdisc.metrics.classification import TRAINER_LOSS, softmax
from llmdisc.plumbing.atomic_files import atomic_dir, write_json
from llmdisc.plumbing.config import arg
from llmdisc.training.trainer import (
    MAX_BATCH_TOKENS_HELP,
    TrainerSettings,
    TrainingTask,
    check_run_options,
    compute_classification_metrics,
    train_model,
)

if TYPE_CHECKING:
    import datasets

__all__ = ["LoraClassifier", "HEADS", "DEFAULT_TARGET_MODULES"]

logger = logging.getLogger(__name__)

HEADS = ("verbalizer", "sequence", "channel")
_LLAMA_LIKE = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# The attention and MLP projections of each architecture.
DEFAULT_TARGET_MODULES = {
    "llama": _LLAMA_LIKE,
    "mistral": _LLAMA_LIKE,
    "qwen2": _LLAMA_LIKE,
    "gpt2": ["c_attn", "c_proj", "c_fc"],
}
HEAD_FILE = "lora_head.json"


def _transposed(model, targets: list[str]) -> bool:
    """Whether the targeted layers are transformers' ``Conv1D`` (GPT-2), whose weight is stored transposed."""
    return any(type(m).__name__ == "Conv1D" for name, m in model.named_modules() if name.split(".")[-1] in targets)


def _linear_names(model) -> list[str]:
    """Leaf names of the model's linear layers (what LoRA can target)."""
    kinds = ("Linear", "Conv1D")  # GPT-2 uses transformers' Conv1D for its projections
    return sorted({name.split(".")[-1] for name, m in model.named_modules() if type(m).__name__ in kinds})


@contextlib.contextmanager
def _quiet_peft_deprecation():
    """Silence the one FutureWarning peft (0.21) triggers inside transformers 5, not llmdisc.

    ``PeftModel`` reads the deprecated ``model.is_gradient_checkpointing``, and transformers then
    warns the user about an attribute they never touched. Only that message is filtered.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        yield


@register("lora")
class LoraClassifier(TextClassifier):
    """A causal LM with LoRA adapters trained as a classifier (verbalizer, sequence or channel head)."""

    description = (
        "A causal LM adapted with LoRA: verbalizer (P(label|text) as words), sequence (a score head) "
        "or channel (P(text|label))."
    )
    hub_library = "peft"
    takes_seed = True
    checkpoints = True
    can_merge = True
    scores_label_words = True  # the verbalizer and channel heads; the sequence head ignores the words
    uses_causal_lm = True

    @dataclass
    class Config(TrainerSettings):
        model: str = arg("smollm2-135m", "base causal LM: an alias, a folder, a .gguf file or a Hub id")
        head: str = arg("verbalizer", "verbalizer, sequence or channel")
        r: int = arg(8, "LoRA rank")
        lora_alpha: int = arg(16, "LoRA scaling numerator (the update is scaled by alpha / r)")
        lora_dropout: float = arg(0.05, "dropout on the LoRA branch")
        target_modules: list[str] | None = arg(None, "modules to adapt (default: attention and MLP projections)")
        templates: list[str] | None = arg(
            None,
            "verbalizer and channel heads: one or more templates with {text} then "
            "{label}; each training text is seen with each, predictions average them "
            "(default: the task's)",
        )
        task: str | None = arg(
            None,
            "sentiment, topic, spam or an instruction: picks the templates when none are given "
            "(default: a task-neutral template)",
        )
        verbalizers: dict[str, str] | None = arg(
            None, "label name -> word, e.g. neg=negative,pos=positive (default: the label names)"
        )
        chat_template: bool = arg(
            PromptScoring.chat_template,
            "train and predict in the model's chat template (instruct models): the prompt "
            "is the user's turn, the label word (channel: the text) the assistant's answer",
        )
        gradient_checkpointing: bool = arg(False, "recompute activations in the backward pass (less memory)")
        # 512: on SmolLM2-135M as fast as one pass at SST-2's lengths with 0.76x the peak memory, and
        # at 256-token texts (batch 16) 1.6x faster, peaking at 2.9 GiB instead of 13.7 (RESULTS.md).
        max_batch_tokens: int | None = arg(512, MAX_BATCH_TOKENS_HELP)
        sparse_logits: bool = arg(
            True,
            "verbalizer and channel heads: compute vocabulary logits only where the loss "
            "reads them (same loss; false: at every position, the slower old path)",
        )
        learning_rate: float = arg(2e-4, "peak learning rate (LoRA takes larger ones than full fine-tuning)")

        def prompt_scoring(self) -> PromptScoring:
            """How the verbalizer and channel heads score each (text, label), as zero-shot does."""
            return PromptScoring(
                mode="direct" if self.head == "verbalizer" else "channel",
                batch_size=self.eval_batch_size,
                chat_template=self.chat_template,
            )

    def __init__(self, **config):
        super().__init__(**config)
        if self.config.head not in HEADS:
            raise LlmdiscError(f"unknown lora head '{self.config.head}'; use one of {', '.join(HEADS)}")
        # Resolved once and kept in the config, so a saved adapter keeps the prompt it was trained with.
        self.config.templates = (
            list(self.config.templates) if self.config.templates else task_templates(self.config.task)
        )
        self.templates = parse_templates(self.config.templates)  # fail early on a bad template
        if not self.templates:
            raise LlmdiscError("lora needs at least one template")
        if self.config.head == "sequence" and self.config.chat_template and len(self.templates) > 1:
            raise LlmdiscError(
                "the sequence head formats its chat prompt with one template; give one template "
                "(or set chat_template: false)"
            )
        self.model = self.tokenizer = None
        self.prior: np.ndarray | None = None
        self.decision_weights: np.ndarray | None = None  # class_weight, for the language-model heads
        self._scorer: LikelihoodScorer | None = None

    def _check(self, labels: list[str]) -> None:
        class_weight_indices(self.config.class_weight, labels, self.name)
        check_run_options(self.config)
        check_model_available(self.config.model)
        if self.config.head != "sequence":
            resolve_verbalizers(labels, self.config.verbalizers)
        if self.config.chat_template:  # the tokenizer alone answers, before the model loads
            check_chat_template(load_tokenizer(self.config.model), self.config.model)

    def label_words(self, labels) -> list[str] | None:
        return None if self.config.head == "sequence" else resolve_verbalizers(list(labels), self.config.verbalizers)

    @property
    def paradigm(self) -> str:  # type: ignore[override]
        return "generative" if self.config.head == "channel" else "discriminative"

    # ---- building ------------------------------------------------------------------------------

    def _load_base(self, dtype: str = "float32"):
        """The frozen base model (with a fresh score head for ``sequence``) and its tokenizer.

        Args:
            dtype: the weights' precision: float32 to train (a half dtype runs as mixed
                precision), the configured dtype to predict.
        """
        where = {"device": self.config.device, "dtype": dtype}
        if self.config.head == "sequence":
            id2label = dict(enumerate(self.labels))
            model, tokenizer = load_model(
                self.config.model,
                task="sequence-classification",
                num_labels=len(self.labels),
                id2label=id2label,
                label2id={v: k for k, v in id2label.items()},
                **where,
            )
        else:
            model, tokenizer = load_model(self.config.model, task="causal-lm", **where)
        if tokenizer.pad_token_id is None:
            logger.warning("the tokenizer has no pad token; using its EOS token (%r) for padding", tokenizer.eos_token)
            tokenizer.pad_token = tokenizer.eos_token
        # Last-token pooling finds each row's last real token through pad_token_id.
        model.config.pad_token_id = tokenizer.pad_token_id
        return model, tokenizer

    def _target_modules(self, model) -> list[str]:
        found = _linear_names(model)
        targets = self.config.target_modules or DEFAULT_TARGET_MODULES.get(model.config.model_type)
        if not targets:
            raise LlmdiscError(
                f"no default LoRA target modules for model type '{model.config.model_type}'; "
                f"pass --target-modules from: {', '.join(found)}"
            )
        missing = [t for t in targets if t not in found]
        if len(missing) == len(targets):
            raise LlmdiscError(
                f"target modules {targets} match nothing in the model; its linear layers are: {', '.join(found)}"
            )
        return [t for t in targets if t in found]

    def _examples(self, texts: list[str], labels: np.ndarray) -> datasets.Dataset:
        """Tokenized training examples for the chosen head."""
        import datasets

        chat = self.config.chat_template
        if self.config.head == "sequence":
            enc, _ = tokenize_texts(
                self.tokenizer,
                self._sequence_inputs(texts),
                self.config.max_length,
                "train",
                add_special_tokens=not chat,
            )
            return datasets.Dataset.from_dict(
                {**enc, "labels": labels.tolist(), "length": [len(i) for i in enc["input_ids"]]}
            )
        words = resolve_verbalizers(self.labels, self.config.verbalizers)
        rows = {"input_ids": [], "attention_mask": [], "labels": [], "length": []}
        for template, text, y in ((t, text, y) for t in self.templates for text, y in zip(texts, labels)):
            pair = template.direct if self.config.head == "verbalizer" else template.channel
            request = pair(text, words[y])
            context, target = encode_pair(
                self.tokenizer, *(chat_request(self.tokenizer, *request) if chat else request), chat=chat
            )
            # Over max_length: keep the start of the target (a channel text) and the end of the
            # context (the tokens next to it).
            target = target[: self.config.max_length - 1]
            context = context[-(self.config.max_length - len(target)) :]
            ids = context + target
            rows["input_ids"].append(ids)
            rows["attention_mask"].append([1] * len(ids))
            # The loss covers the label word (verbalizer) or the text (channel) only.
            rows["labels"].append([-100] * len(context) + target)
            rows["length"].append(len(ids))
        return datasets.Dataset.from_dict(rows)

    def _sequence_inputs(self, texts: list[str]) -> list[str]:
        """The sequence head's inputs: the texts, or with the chat template their rendered prompts.

        A text too long for ``max_length`` with the prompt is cut to its first tokens first, so
        that the prompt's end, whose last token the head reads, is never cut away.
        """
        if not self.config.chat_template:
            return texts
        template = self.templates[0]

        def render(text: str) -> str:
            return chat_request(self.tokenizer, template.direct(text, "")[0], "")[0]

        prompt = len(self.tokenizer(render(""), add_special_tokens=False)["input_ids"])
        texts = cut_texts(
            self.tokenizer, texts, max(self.config.max_length - prompt - 4, 1), "lora sequence", self.config.max_length
        )
        return [render(t) for t in texts]

    def scorer(self) -> LikelihoodScorer:
        """The likelihood scorer over the adapted model: verbalizer and channel heads predict through it,
        exactly as the zero-shot classifier does with the same templates (built once)."""
        if self._scorer is None:
            self._scorer = LikelihoodScorer(
                self.model,
                self.tokenizer,
                self.labels,
                self.templates,
                self.config.verbalizers,
                self.config.prompt_scoring(),
            )
        return self._scorer

    # ---- the interface ---------------------------------------------------------------------

    def _fit(self, texts: list[str], labels: np.ndarray, eval_data: datasets.Dataset | None) -> None:
        from peft import LoraConfig, TaskType, get_peft_model
        from transformers import DataCollatorForSeq2Seq, DataCollatorWithPadding, set_seed

        c = self.config
        set_seed(c.seed)  # LoRA matrices and the sequence head are initialised from the global RNG
        base, self.tokenizer = self._load_base()
        sequence = c.head == "sequence"
        targets = self._target_modules(base)
        lora = LoraConfig(
            task_type=TaskType.SEQ_CLS if sequence else TaskType.CAUSAL_LM,
            r=c.r,
            lora_alpha=c.lora_alpha,
            lora_dropout=c.lora_dropout,
            target_modules=targets,
            # GPT-2's Conv1D stores its weight transposed: say so, as peft asks.
            fan_in_fan_out=_transposed(base, targets),
        )
        with _quiet_peft_deprecation():
            self.model = get_peft_model(base, lora)  # SEQ_CLS adds the score head to modules_to_save
        self._scorer = None
        if c.gradient_checkpointing:
            base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        counts = self.num_parameters()
        logger.info(
            "lora %s: %d trainable of %d parameters (%.3f%%)",
            c.head,
            counts["trainable"],
            counts["total"],
            100 * counts["trainable"] / counts["total"],
        )
        train_ds = self._examples(texts, labels)
        eval_ds = (
            self._examples(list(eval_data["text"]), np.asarray(eval_data["label"])) if eval_data is not None else None
        )
        if sequence:
            collator, metrics, settings = DataCollatorWithPadding(self.tokenizer), compute_classification_metrics, c
        else:
            # Language-model heads pick their best checkpoint by validation loss.
            collator = DataCollatorForSeq2Seq(self.tokenizer, label_pad_token_id=-100)
            metrics, settings = None, dataclasses.replace(c, metric_for_best_model=TRAINER_LOSS)
        weights = class_weight_vector(c.class_weight, self.labels, labels, self.name)
        run = train_model(
            self.model,
            self.tokenizer,
            train_ds,
            eval_ds,
            settings,
            TrainingTask(
                collator,
                metrics,
                class_weights=weights if sequence else None,
                sparse_logits=c.sparse_logits and not sequence,
            ),
        )
        self.info.trainer = run
        # The language-model heads learn P(label word | prompt) over the tokens, where no class
        # weight can enter the loss; a model trained with weights w_c approaches posteriors
        # proportional to w_c P(c | x), so they take the weights at prediction instead.
        self.decision_weights = None if sequence or weights is None else weights
        counts_per_class = np.bincount(labels, minlength=len(self.labels)).astype(float)
        self.prior = (counts_per_class + 1) / (counts_per_class.sum() + len(self.labels))  # add-one smoothed
        place_for_inference(self.model, c.device, c.dtype).eval()
        self.info.device, self.info.dtype = model_placement(self.model)

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        if self.config.head == "sequence":
            logits, _ = predict_logits(
                self.model,
                self.tokenizer,
                self._sequence_inputs(texts),
                self.config.max_length,
                self.config.eval_batch_size,
                add_special_tokens=not self.config.chat_template,
            )
            return softmax(logits)
        probs = self.scorer().probabilities(texts)
        if self.config.head == "channel":
            probs = probs * self.prior  # Bayes' rule: P(y | x) ∝ P(x | y) P(y)
        if self.decision_weights is not None:
            probs = probs * self.decision_weights
        return probs

    def num_parameters(self) -> dict[str, int]:
        trainable, total = self.model.get_nb_trainable_parameters()
        return {"total": int(total), "trainable": int(trainable)}

    def _card_approach(self) -> str:
        how = {
            "verbalizer": "trained to write the label word after the prompt (loss on the label tokens only), and "
            "predicting by comparing the label words' likelihoods, log P(label | text)",
            "sequence": "with a linear score head on the last token's state (trained in full), "
            "predicting P(label | text)",
            "channel": "trained on label-conditioned text, P(text | label), and classifying by Bayes' rule with the "
            "training class prior",
        }[self.config.head]
        c = self.config
        words = ""
        if c.head != "sequence":
            words = (
                " Label words scored: "
                + ", ".join(f"`{lab}` as `{w}`" for lab, w in zip(self.labels, self.label_words(self.labels)))
                + "; template"
                + ("s" if len(self.templates) > 1 else "")
                + ": "
                + "; ".join(f"`{t.source!r}`" for t in self.templates)
                + "."
            )
        return (
            f"A causal LM with LoRA adapters (rank {c.r}, alpha {c.lora_alpha}) on its attention and MLP "
            f"projections, head `{c.head}`: {how}. Only the adapters{' and the head' if c.head == 'sequence' else ''} "
            "are stored; the base model is loaded from its own repo."
            + words
            + (
                " Prompts are wrapped in the base model's chat template (the prompt as the user's turn, the scored "
                "part as the start of the assistant's answer)."
                if c.chat_template
                else ""
            )
        )

    def _card_usage(self, repo: str) -> tuple[str, str]:
        sequence = self.config.head == "sequence"
        auto = "AutoPeftModelForSequenceClassification" if sequence else "AutoPeftModelForCausalLM"
        plain = "AutoModelForSequenceClassification" if sequence else "AutoModelForCausalLM"
        extra = f", num_labels={len(self.labels)}" if sequence else ""
        hub_id = hub_base_model(self.config.model)
        if hub_id and hub_id != self.config.model:
            # A packaged alias: the adapter records a local folder; name the base's Hub repo instead.
            load = (
                f"from peft import PeftModel\nfrom transformers import AutoTokenizer, {plain}\n\n"
                f"repo = {repo!r}\n"
                f"# llmdisc trained on its packaged copy `{self.config.model}` (a Q4_1 GGUF, de-quantized):\n"
                "# on the original weights the scores differ slightly.\n"
                f"base = {plain}.from_pretrained({hub_id!r}{extra})\n"
                "model = PeftModel.from_pretrained(base, repo).eval()\n"
            )
        else:
            load = (
                f"from peft import {auto}\nfrom transformers import AutoTokenizer\n\n"
                f"repo = {repo!r}\n"
                f"model = {auto}.from_pretrained(repo{extra}).eval()  # loads the base model, then the adapter\n"
            )
        load = "import numpy as np\nimport torch\n" + load + "tokenizer = AutoTokenizer.from_pretrained(repo)\n"
        if sequence:
            chat = ""
            if self.config.chat_template:
                before = self.templates[0].source[: self.templates[0].source.find("{label}")]
                chat = (
                    f"prompt = {before!r}  # the user's turn; the head reads the assistant turn's opening\n"
                    'prompts = [tokenizer.apply_chat_template([{"role": "user", "content": prompt.replace("{text}", t)'
                    ".rstrip()}], add_generation_prompt=True, tokenize=False) for t in texts]\n"
                )
            return (
                "transformers and peft",
                load
                + f"""model.config.pad_token_id = tokenizer.pad_token_id  # the head reads each text's last real token
labels = {self.labels!r}
texts = ["a text to classify", "another one"]
{chat}with torch.no_grad():
    batch = tokenizer({"prompts" if chat else "texts"}, padding=True, truncation=True, \
max_length={self.config.max_length}, return_tensors="pt"{", add_special_tokens=False" if chat else ""})
    probs = model(**batch).logits.float().softmax(-1).numpy()  # columns: labels
""",
            )
        scorer = self.scorer()
        if len(scorer.templates) > 1:
            return "transformers and peft", load + (
                "# This model averages several templates: load it with llmdisc for its exact probabilities.\n"
            )
        return "transformers and peft", likelihood_snippet(
            load,
            self.labels,
            scorer.words,
            scorer.templates[0],
            scorer.scoring,
            prior=LabelWeights(self.prior) if self.config.head == "channel" else None,
        )

    def _card_limits(self) -> list[str]:
        limits = [
            f"Trained on texts cut to {self.config.max_length} tokens.",
            "An adapter: it needs its exact base model, and inherits that model's language coverage and biases.",
        ]
        if not hub_base_model(self.config.model):
            limits.append(
                "The base model was a local folder: the adapter's `base_model_name_or_path` names that "
                "folder, so elsewhere load the same base yourself and use `PeftModel.from_pretrained(base, repo)`."
            )
        return limits

    def _for_hub(self, folder: Path) -> None:
        # For a packaged alias, the adapter names the local de-quantized folder as its base: on the
        # Hub, name the alias's source repo instead (a local path would leak and resolve nowhere).
        hub_id = hub_base_model(self.config.model)
        config_file = folder / "adapter_config.json"
        if hub_id and hub_id != self.config.model and config_file.is_file():
            adapter = json.loads(config_file.read_text(encoding="utf-8"))
            adapter["base_model_name_or_path"] = hub_id
            write_json(config_file, adapter)

    def _save(self, folder: Path) -> None:
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        write_json(
            folder / HEAD_FILE,
            {
                "head": self.config.head,
                "prior": self.prior.tolist(),
                "decision_weights": None if self.decision_weights is None else self.decision_weights.tolist(),
            },
        )

    def _load(self, folder: Path) -> None:
        from peft import PeftModel
        from transformers import AutoTokenizer

        for name in ("adapter_config.json", "adapter_model.safetensors", HEAD_FILE):
            # safetensors only: peft would fall back to unpickling an adapter_model.bin.
            if not (folder / name).is_file():
                raise LlmdiscError(f"{folder} has no {name}; save the model again")
        adapter = read_json_object(folder / "adapter_config.json")
        head = read_json_object(folder / HEAD_FILE)
        # The prior has one entry per class: checked against the labels before any weight loads.
        self._check_saved_labels(len(head.get("prior") or []), folder / HEAD_FILE)
        base, _ = self._load_base()
        try:
            with _quiet_peft_deprecation():
                adapted = PeftModel.from_pretrained(base, folder)
            self.model = place_for_inference(adapted, self.config.device, self.config.dtype).eval()
            self._scorer = None
        except (RuntimeError, ValueError, KeyError) as e:
            raise LlmdiscError(
                f"the adapter in {folder} was trained on {adapter.get('base_model_name_or_path')!r} and does not fit "
                f"the base model {self.config.model!r} ({first_line(e, 120)}); "
                "load it with the model it was trained on"
            ) from None
        self.tokenizer = AutoTokenizer.from_pretrained(folder, **NO_REMOTE_CODE)
        self.prior = np.array(head["prior"])
        self.decision_weights = None if head.get("decision_weights") is None else np.array(head["decision_weights"])

    def save_merged(self, save_directory: str | Path) -> Path:
        """Merge the adapters into the base weights and save a standalone transformers folder.

        For the ``sequence`` head the trained score head is kept, so
        ``pipeline("text-classification", model=dir)`` works on the result.
        """
        # merge_and_unload folds the adapters into the base in place: merge a copy, keep ours.
        if self.model is None:
            raise LlmdiscError("nothing to merge: the classifier is not trained")
        merged = copy.deepcopy(self.model).merge_and_unload()
        with atomic_dir(save_directory) as tmp:
            merged.save_pretrained(tmp)
            self.tokenizer.save_pretrained(tmp)
        return Path(save_directory)
