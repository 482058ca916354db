"""Supervised image classification with the shared backbones (MNIST, Fashion-MNIST, CIFAR-10).

classifier = backbone + ClassifierHead. Data sits in memory as uint8 and is scaled and
augmented per batch on the device. Outputs: learning curves, a confusion matrix and a grid of
misclassified test images; `rl eval DIR` reports accuracy in fp32, bf16 and fp16.

    config.py    options and the recipes measured per data set
    model.py     the network, input scaling, augmentation, batched prediction
    train.py     the loop: validation split, best epoch, the test set scored once, figures
    evaluate.py  rl eval (one run or an ensemble) and rl predict
"""
from agents.classifier.config import NAME, Config, EvalConfig, defaults_for
from agents.classifier.evaluate import (
    evaluate,
    evaluate_ensemble,
    load_network,
    predict_images,
)
from agents.classifier.model import build_model, predict
from agents.classifier.train import plot, train

EXPORT_KEYS = ("meta", "model", "epoch", "step")  # a shipped agent: the network alone
DATA_PARALLEL = True  # runs under torchrun: see rl/distributed.py

__all__ = ["DATA_PARALLEL", "EXPORT_KEYS", "NAME", "Config", "EvalConfig", "build_model",
           "defaults_for", "evaluate", "evaluate_ensemble", "load_network", "plot", "predict",
           "predict_images", "train"]
