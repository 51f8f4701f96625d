"""Every approach, behind one interface. Importing this package registers them all."""

from llmdisc.classifiers.base import (
    TextClassifier,
    available_classifiers,
    get_classifier,
    get_classifier_class,
    register,
)
from llmdisc.classifiers.classical import (
    LinearSvmClassifier,
    LogisticRegressionClassifier,
    NaiveBayesClassifier,
    RandomForestTextClassifier,
)
from llmdisc.classifiers.embedding import EmbeddingLogisticRegression
from llmdisc.classifiers.encoder import EncoderClassifier
from llmdisc.classifiers.lora import LoraClassifier
from llmdisc.classifiers.majority import MajorityClassifier
from llmdisc.classifiers.setfit import SetFitClassifier
from llmdisc.classifiers.zeroshot import ZeroShotClassifier

__all__ = [
    "TextClassifier",
    "available_classifiers",
    "get_classifier",
    "get_classifier_class",
    "register",
    "NaiveBayesClassifier",
    "LogisticRegressionClassifier",
    "LinearSvmClassifier",
    "RandomForestTextClassifier",
    "EncoderClassifier",
    "EmbeddingLogisticRegression",
    "ZeroShotClassifier",
    "LoraClassifier",
    "MajorityClassifier",
    "SetFitClassifier",
]
