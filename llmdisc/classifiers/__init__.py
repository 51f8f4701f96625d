"""Every approach, behind one interface. Importing this package registers them all."""

from .base import TextClassifier, available_classifiers, get_classifier, get_classifier_class, register
from .classical import LinearSvmClassifier, LogisticRegressionClassifier, NaiveBayesClassifier, RandomForestTextClassifier
from .embedding import EmbeddingLogisticRegression
from .encoder import EncoderClassifier
from .lora import LoraClassifier
from .setfit import SetFitClassifier
from .zeroshot import ZeroShotClassifier

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
    "SetFitClassifier",
]
