"""collective_action.empirical: real SGD and DRO training in PyTorch on real data.

Data (Fashion-MNIST, digits, MNIST-1D, idx folders, derived spurious and dominoes sets, points of a
discrete problem), image signals, collectives planted in the training split with every strategy
(the adaptive ones estimate their labels from their own rows), success by each strategy's goal,
models (linear, MLP, CNN, ResNet),
learners (ERM, JTT, CVaR-DRO, chi-square DRO, LfF, group DRO), model selection on clean or
collective-carrying validation sets, and batched training of many small MLPs at once.

Python entry point: :func:`run` (an experiment file -> DataFrame); one configuration:
:func:`collective_action.empirical.runner.train_once`.
"""

from .experiment import run

__all__ = ["run"]
