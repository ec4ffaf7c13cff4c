"""The strict experiment-file model of the empirical pillar (every field documented).

Example ``config`` section::

    data: {name: fashion-mnist, train_size: 20000, val_size: 1000}
    collective: {alpha: 0.005, strategy: feature-label, target: 0}
    signal: {kind: patch, place: corner, size: 3}
    learner: {name: jtt, hparams: {T: 1, upweight: 20}}
    train: {model: mlp, epochs: 3, batch_size: 128, lr: 0.05, momentum: 0.9}
    selection: {validation: clean, metric: last}

An adaptive strategy (``strategy: unplanting`` or ``erasing``) may set how the collective estimates
the labels it plays from its own rows, ``estimator: {n_est: 100, l2: 0.0001}`` (empirical/estimate.py).
Points of a random discrete problem are ``data: {name: discrete, discrete: {...}}`` with
``signal: {kind: map}``, the problem's own signal map.

Several collectives (docs/several.md) are a list ``collectives:`` in the shared vocabulary of
:mod:`collective_action.several`: ``collective:`` gives collective 0's alpha, target and strategy,
entry 0 its ``signal`` and ``noise``, entries 1.. all of theirs; ``shares`` and ``noise`` are the
grid-able overrides::

    collective: {alpha: 0.05, target: 0}
    collectives:
      - {signal: {kind: patch, place: corner, size: 3}, noise: {share: 0.2, kind: corrupted-signal}}
      - {alpha: 0.05, target: 1, signal: {kind: patch, place: top-left, size: 3}}
    shares: {}
    noise: {}
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PrivateAttr, field_validator, model_serializer, model_validator

from collective_action.errors import InputError
from collective_action.experiment import CollectiveSpec, StrictModel
from collective_action.several import CollectiveItem, without_unused

DATASETS = ("fashion-mnist", "digits", "mnist1d", "idx", "spurious", "dominoes", "discrete")


class DiscreteDataSpec(StrictModel):
    """data: discrete -- a random discrete problem (:meth:`collective_action.discrete.DiscreteProblem.random`)
    sampled as one-hot points; its signal map g is the signal (``signal: {kind: map}``)."""

    n_points: int = Field(6, ge=1, le=1000, description="|X|: the one-hot features")
    n_labels: int = Field(3, ge=2, le=100, description="|Y|")
    concentration: float = Field(1.0, gt=0.0, description="Dirichlet concentration of P0 over the |X| |Y| cells")
    problem_seed: int = Field(0, ge=0, description="seed of P0 and g (the points are drawn with data_seed)")
    n_train: int = Field(100_000, ge=10, le=10_000_000, description="points drawn from P0 for training and validation")
    n_test: int = Field(20_000, ge=10, le=10_000_000, description="points drawn from P0 for testing")


class DataSpec(StrictModel):
    """Which data, how much of it, and how the derived sets are built."""

    name: Literal["fashion-mnist", "digits", "mnist1d", "idx", "spurious", "dominoes", "discrete"] = Field(
        "fashion-mnist", description="base set, a derived set built from Fashion-MNIST, or a sampled discrete problem")
    data_dir: str | None = Field(None, description="folder of idx files (name: idx), or the Fashion-MNIST folder for the other sets")
    train_size: int | None = Field(None, ge=10, description="random training subset (per seed); null: all")
    val_size: int = Field(1000, ge=0, description="validation points carved out of the training split")
    test_size: int | None = Field(None, ge=10, description="random subset of the test split, the same for "
                                  "every run seed (fixed by data_seed); null: all")
    data_seed: int = Field(0, ge=0, description="seed of the derived set's construction (fixed across run seeds)")
    agreement: float = Field(0.95, ge=0.0, le=1.0, description="spurious: attribute/label agreement in training")
    classes_a: list[int] = Field([0, 6], description="spurious: Fashion-MNIST classes of label 0")
    classes_b: list[int] = Field([2, 4], description="spurious: Fashion-MNIST classes of label 1")
    simple: Literal["bar", "digits"] = Field("bar", description="dominoes: the simple half")
    simple_agreement: float = Field(1.0, ge=0.0, le=1.0, description="dominoes: simple half/label agreement")
    margin: int = Field(5, ge=3, le=12, description="dominoes: width of the free margin in columns")
    discrete: DiscreteDataSpec | None = Field(None, description="discrete: the problem and how many points to draw")

    @model_serializer(mode="wrap")
    def _without_unused_problem(self, handler):
        # a configuration of another data set keeps the identity (cell id) it had before discrete data existed
        data = handler(self)
        if isinstance(data, dict) and data.get("discrete", ...) is None:
            data.pop("discrete")
        return data

    @model_validator(mode="after")
    def _problem_for_discrete(self):
        if self.name == "discrete" and self.discrete is None:
            object.__setattr__(self, "discrete", DiscreteDataSpec())
        if self.name != "discrete" and self.discrete is not None:
            raise ValueError(f"data.discrete describes data: discrete, not data: {self.name}")
        return self


class SignalSpec(StrictModel):
    """The collective's signal g: a checkerboard patch, a faint global pattern, or the data set's own
    signal map (``map``: data: discrete, one-hot x -> one-hot g(x))."""

    kind: Literal["patch", "global", "map"] = "patch"
    place: str | list[int] = Field("corner", description="corner | top-left | center | simple | complex | margin | [row, col]")
    size: int = Field(3, ge=1, le=16, description="patch side in pixels")
    high: float = Field(1.0, description="patch value on its 'white' squares")
    low: float = Field(0.0, description="patch value on its 'black' squares")
    amplitude: float = Field(8.0 / 255.0, gt=0.0, le=1.0, description="global pattern amplitude")
    seed: int = Field(0, ge=0, description="seed of the global pattern")


class LearnerSpec(StrictModel):
    """The learning algorithm (a registry name) and its hyper-parameters, checked when the file is
    loaded against the algorithm's parameter model (docs/algorithms.md lists them and their defaults)."""

    name: str = "erm"
    hparams: dict[str, float] = Field(default_factory=dict)
    candidates: list[dict[str, float]] = Field(
        default_factory=list,
        description="hyper-parameter overrides to choose among by the selection metric (empty: hparams only)")

    _validated: list = PrivateAttr(default_factory=list)  # one Params per candidate, built once here

    @model_validator(mode="after")
    def _known(self):
        from collective_action.algorithms import check_name, validate_params

        check_name(self.name, "empirical")
        base = validate_params(self.name, self.hparams, f"learner {self.name!r} hparams")
        self._validated = [validate_params(self.name, {**self.hparams, **override},
                                           f"learner {self.name!r} candidates[{i}]")
                           for i, override in enumerate(self.candidates)] or [base]
        return self

    @property
    def validated_candidates(self) -> list:
        """The algorithm's validated Params, one per candidate (the hparams alone without candidates)."""
        return self._validated


class AugmentSpec(StrictModel):
    """Augmentation of training batches (empirical/augment.py); it can move or cut a patch signal."""

    shift: int = Field(0, ge=0, le=8, description="random translation of up to this many pixels per axis (zeros in)")
    flip: bool = Field(False, description="horizontal flip of half the training points")


class TrainSpec(StrictModel):
    """Model and SGD settings."""

    model: Literal["linear", "mlp", "cnn", "resnet"] = "mlp"
    width: int | None = Field(None, ge=1, description="hidden units (mlp) or base channels (cnn/resnet)")
    depth: int = Field(1, ge=1, le=8, description="hidden layers of the mlp")
    epochs: int = Field(3, ge=1, le=500)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(0.05, gt=0.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    weight_decay: float = Field(0.0, ge=0.0)
    augment: AugmentSpec = Field(default_factory=AugmentSpec)

    @model_serializer(mode="wrap")
    def _without_default_augment(self, handler):
        # a configuration without augmentation keeps the identity (cell id) it had before the option existed
        data = handler(self)
        if isinstance(data, dict) and self.augment == AugmentSpec():
            data.pop("augment", None)
        return data


class EstimatorSpec(StrictModel):
    """How an adaptive collective (unplanting, erasing) estimates the labels it plays, from its own
    rows only: multinomial logistic regression on the members' original (x, y) (empirical/estimate.py)."""

    n_est: int | None = Field(None, ge=1, description="unplanting: the members whose own rows fit the estimate "
                              "(default: half of them, drawn with the run's seed); other strategies: rejected")
    # small, so that on one-hot inputs (data: discrete) the estimate follows the members' counts
    l2: float = Field(1e-4, gt=0.0, le=100.0, description="ridge penalty of the logistic regression")


class SelectionSpec(StrictModel):
    """Model selection: which validation set, which score (``last``: no selection)."""

    validation: Literal["clean", "with-collective", "both"] = Field(
        "clean", description="validation split: clean, drawn from P_alpha (with-collective), or both "
                             "(the same trained models selected twice: one row per policy)")
    metric: Literal["average", "worst-class", "worst-group", "last"] = "last"


class EmpiricalCollective(CollectiveItem[SignalSpec]):
    """An item of ``collectives:`` with the empirical pillar's signal. A named module-level class:
    a parametrised generic is created on the fly and cannot be pickled to worker processes."""


class EmpiricalConfig(StrictModel):
    """One empirical training configuration (the seed is the cell's)."""

    data: DataSpec = Field(default_factory=DataSpec)
    collective: CollectiveSpec
    signal: SignalSpec = Field(default_factory=SignalSpec)
    learner: LearnerSpec = Field(default_factory=LearnerSpec)
    train: TrainSpec = Field(default_factory=TrainSpec)
    selection: SelectionSpec = Field(default_factory=SelectionSpec)
    estimator: EstimatorSpec = Field(default_factory=EstimatorSpec, description="adaptive strategies: "
                                     "the collective's label estimate")
    series: str | None = Field(None, description="label of the curve this row belongs to (default: from learner)")
    collectives: list[EmpiricalCollective] | None = Field(
        None, description="several collectives (collective_action.several): entry 0 completes collective: with "
                          "its signal and noise, entries 1.. give alpha, target, strategy, signal and noise")
    shares: dict[int, float] = Field(default_factory=dict, description="with collectives: index -> alpha (grid-able)")
    noise: dict[int, float] = Field(default_factory=dict, description="with collectives: index -> noise share (grid-able)")

    @model_serializer(mode="wrap")
    def _without_unused(self, handler):
        # a configuration without collectives (or with the default estimator) keeps the identity (cell id)
        # it had before the fields existed
        data = without_unused(handler(self))
        if isinstance(data, dict) and self.estimator == EstimatorSpec():
            data.pop("estimator", None)
        return data

    @field_validator("series")
    @classmethod
    def _non_empty(cls, v):
        if v is not None and not v.strip():
            raise ValueError("series must not be blank")
        return v

    @model_validator(mode="after")
    def _private_model(self):
        # per-sample gradients (DP-SGD) are undefined through batch norm, which mixes the points of a batch
        if self.learner.name == "dp-sgd" and self.train.model == "resnet":
            raise ValueError("learner 'dp-sgd' cannot train model 'resnet' (batch norm mixes the points of a "
                             "batch); use linear, mlp or cnn")
        return self

    @model_validator(mode="after")
    def _estimator_for_adaptive(self):
        from collective_action.collective import get_strategy

        strategy = self.collective.strategy
        if self.estimator != EstimatorSpec() and not get_strategy(strategy).adaptive:
            raise ValueError(f"estimator applies to the adaptive strategies (unplanting, erasing), not {strategy!r}")
        if self.estimator.n_est is not None and strategy != "unplanting":
            raise ValueError(f"estimator.n_est (the members who estimate y^) applies to strategy 'unplanting' "
                             f"only, not {strategy!r}")
        if self.data.train_size is not None:  # the data-dependent cases are checked with the data (check_cells)
            from .estimate import check_estimation

            try:
                check_estimation(strategy, self.collective.alpha, self.data.train_size, self.estimator.n_est)
            except InputError as err:
                raise ValueError(str(err)) from None
        return self

    @model_validator(mode="after")
    def _signal_of_discrete_data(self):
        signals = [self.signal] if self.collectives is None else [c.signal for c in self.collectives if c.signal]
        discrete = self.data.name == "discrete"
        for s in signals:
            if discrete != (s.kind == "map"):
                raise ValueError("data: discrete takes the problem's own signal map (signal: {kind: map}), and "
                                 "signal kind 'map' needs data: discrete")
        return self

    @model_validator(mode="after")
    def _several(self):
        if self.collectives is None:
            if self.shares or self.noise:
                raise ValueError("shares and noise override entries of collectives; there is none")
            return self
        from .several import check_config

        check_config(self)
        return self
