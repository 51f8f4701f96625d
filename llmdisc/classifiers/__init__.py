"""Every approach, behind one interface. Importing this package registers them all."""

from .base import TextClassifier, available_classifiers, get_classifier, get_classifier_class, register
from .classical import LinearSvmClassifier, LogisticRegressionClassifier, NaiveBayesClassifier, RandomForestTextClassifier
from .encoder import EncoderClassifier
from .lora import LoraClassifier
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
    "ZeroShotClassifier",
    "LoraClassifier",
]
