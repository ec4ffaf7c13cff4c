"""The simulate pillar's experiment files: a strict config model and the batched cell runner.

A ``config`` section looks like::

    family: gaussian            # discrete | gaussian | simplicity | discrete-counts | gaussian-world | car | discrete-several
    collective: {alpha: 0.01, strategy: feature-label, target: 1}
    learner: {name: jtt, params: {upweight: 20, T: 50}}
    n_train: 2000
    n_test: 4000
    gaussian:                   # the family's own section (discrete: / simplicity:)
      n_classes: 2
      separation: 4.0
      signal: {placement: free, n_coords: 1, amplitude: 1.0}

Learner parameters are validated against the learner registry
(:mod:`collective_action.simulate.learners`), so an unknown learner, an unknown parameter or a bad
value is caught when the file is loaded. Family 3 (``simplicity``) is delegated to
:mod:`collective_action.simulate.simplicity` (its own ``SimplicityConfig``); the stress families
``discrete-counts`` (section ``counts:``) and ``gaussian-world`` (section ``world:``) to
:mod:`collective_action.simulate.stress`; family ``car`` (section ``car:``, Gauthier et al.'s car
data) to :mod:`collective_action.simulate.car`, where the collective holds ``alpha`` only.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, PrivateAttr, model_serializer, model_validator

from collective_action.experiment import CollectiveSpec, Pillar, StrictModel, register_pillar
from collective_action.simulate.learners import FAMILY_LEARNERS, learner_params_model
from collective_action.simulate.car import CarSection, check_car
from collective_action.simulate.stress import CountsSection, WorldSection, check_counts, check_world
from collective_action.simulate.several import SeveralSection, check_several

FAMILIES = ("discrete", "gaussian", "simplicity", "discrete-counts", "gaussian-world", "car", "discrete-several")
#: The configuration section each family reads.
FAMILY_SECTIONS = {"discrete": "discrete", "gaussian": "gaussian", "simplicity": "simplicity",
                   "discrete-counts": "counts", "gaussian-world": "world", "car": "car",
                   "discrete-several": "several"}


class SignalSpec(StrictModel):
    """Where and how the collective plants its pattern v (family 2)."""

    placement: Literal["free", "class"] = Field(
        "free", description="free coordinates (base data ~0) or class coordinates the classes use")
    n_coords: int = Field(1, ge=1, description="number of coordinates carrying the pattern")
    amplitude: float = Field(1.0, ge=0.0, description="norm |v| of the pattern")
    mode: Literal["additive", "overwrite"] = Field("additive", description="x_S + v, or x_S := v + jitter noise")
    jitter: float = Field(0.0, ge=0.0, description="std of the members' noise around v (overwrite only)")


class GaussianSpec(StrictModel):
    """Family 2: K Gaussian classes on class coordinates, plus free coordinates."""

    n_classes: int = Field(2, ge=2, le=1000)
    d_class: int = Field(2, ge=1, description="class coordinates (>= n_classes when K >= 3)")
    separation: float = Field(4.0, ge=0.0, description="distance between any two class means")
    sigma: float = Field(1.0, gt=0.0, description="std of the class coordinates")
    n_free: int = Field(2, ge=0, description="free coordinates, N(0, tau^2) under P0")
    tau: float = Field(0.1, gt=0.0, description="std of the free coordinates")
    signal: SignalSpec = Field(default_factory=SignalSpec)


class DiscreteSpec(StrictModel):
    """Family 1: a random problem (Dirichlet P0, random signal map) or an explicit table."""

    n_points: int = Field(8, ge=1, le=100_000)
    n_labels: int = Field(3, ge=2, le=1000)
    concentration: float = Field(1.0, gt=0.0, description="Dirichlet concentration of P0")
    signal_size: int = Field(2, ge=1, description="|X*|: number of signal points")
    problem_seed: int = Field(0, ge=0, description="seed of the random problem (not of the samples)")
    p0: Optional[list[list[float]]] = Field(None, description="explicit P0 table (|X| x |Y|)")
    g: Optional[list[int]] = Field(None, description="explicit signal map (with p0)")
    idempotent: bool = Field(False, description="random problem: send every signal point to itself "
                             "(erasing's finite-sample bound assumes g(g(x)) = g(x))")
    n_est: Optional[int] = Field(None, ge=1, description="unplanting: the members (of round(alpha n_train)) "
                                 "whose own rows estimate y^ (default: half of them); other strategies: rejected")
    delta: float = Field(0.05, gt=0.0, lt=1.0, description="confidence of the finite-sample bound "
                         "(success_bound_finite holds with probability >= 1 - delta)")

    @model_serializer(mode="wrap")
    def _without_defaults_of_later_fields(self, handler):
        # fields added with the goals keep, at their defaults, the identity (cell id) cells had before
        out = handler(self)
        for name, default in DISCRETE_LATER_DEFAULTS.items():
            if name in out and out[name] == default:
                del out[name]
        return out


#: Family 1 fields added after cells were first stored, with the defaults left out of a cell's identity.
DISCRETE_LATER_DEFAULTS = {"idempotent": False, "n_est": None, "delta": 0.05}


class LearnerSpec(StrictModel):
    """A learner name and its hyper-parameters (defaults from the registry fill the rest)."""

    name: str = "erm"
    params: dict[str, Any] = Field(default_factory=dict)
    _validated: Any = PrivateAttr(default=None)  # the learner's Params, built once here

    @model_validator(mode="after")
    def _known(self):
        from collective_action.experiment import format_validation_error
        from pydantic import ValidationError

        model = learner_params_model(self.name)
        try:
            validated = model.model_validate(self.params)
        except ValidationError as err:
            raise ValueError(format_validation_error(err, f"learner {self.name!r} params")) from None
        object.__setattr__(self, "params", validated.model_dump(mode="json"))
        self._validated = validated
        return self

    @property
    def validated_params(self):
        """The learner's validated Params (built when the file was loaded)."""
        return self._validated


#: Family 3 learners: GD on the logistic loss (``erm``: its steps and lr) and the hard-margin SVM
#: that GD's direction tends to (``max-margin``, solved exactly).
SIMPLICITY_LEARNERS = ("erm", "max-margin")
#: Family 3 section keys that are now grid axes, the collective or the learner's parameters.
_SIMPLICITY_MOVED = {"alphas": "collective.alpha (a grid axis)", "learners": "learner (a grid axis)",
                     "strategy": "collective.strategy", "target": "collective.target",
                     "steps": "learner.params.steps", "lr": "learner.params.lr"}


def _simplicity_section(cfg) -> Any:
    """Family 3's SimplicityConfig for one cell: the section, plus the cell's collective and learner."""
    from collective_action.simulate import simplicity as fam3

    defaults = SimulateConfig.model_fields
    stray = [name for name, off in (("n_train", cfg.n_train != defaults["n_train"].default),
                                    ("n_test", cfg.n_test != defaults["n_test"].default)) if off]
    if stray:
        raise ValueError(f"family 'simplicity' sets its sizes in its own section; remove {', '.join(stray)}")
    if cfg.simplicity is None:
        raise ValueError("family 'simplicity' needs a 'simplicity' section")
    moved = [f"simplicity.{k} (now {v})" for k, v in _SIMPLICITY_MOVED.items() if k in cfg.simplicity]
    if moved:
        raise ValueError(f"family 'simplicity': {', '.join(moved)}")
    if cfg.collective is None:
        raise ValueError("family 'simplicity' needs a 'collective' section (alpha, strategy, target)")
    if cfg.learner.name not in SIMPLICITY_LEARNERS:
        raise ValueError(f"learner {cfg.learner.name!r} does not apply to family 'simplicity'; "
                         f"choose one of: {', '.join(SIMPLICITY_LEARNERS)}")
    extra = {}
    if cfg.learner.name == "erm":
        p = cfg.learner.validated_params
        if p.l2 != 0 or p.batch_size is not None or p.solver != "gd":
            raise ValueError("family 'simplicity' trains erm by full-batch GD without a penalty: "
                             "drop l2, batch_size and solver")
        extra = {"steps": p.steps, "lr": p.lr}
    section = {**cfg.simplicity, **extra, "alphas": [cfg.collective.alpha],
               "learners": ["gd" if cfg.learner.name == "erm" else "max-margin"],
               "strategy": cfg.collective.strategy, "target": cfg.collective.target}
    return fam3.SimplicityConfig.model_validate(section)


class SimulateConfig(StrictModel):
    """The ``config`` of a simulate experiment file."""

    family: Literal["discrete", "gaussian", "simplicity", "discrete-counts", "gaussian-world", "car",
                    "discrete-several"]
    collective: Optional[CollectiveSpec] = None
    learner: LearnerSpec = Field(default_factory=LearnerSpec)
    n_train: int = Field(1000, ge=2, le=10**9, description="training points (members included)")
    n_test: int = Field(2000, ge=1, le=10**8, description="fresh test points (signal and clean)")
    discrete: Optional[DiscreteSpec] = None
    gaussian: Optional[GaussianSpec] = None
    simplicity: Optional[dict[str, Any]] = None
    counts: Optional[CountsSection] = None
    world: Optional[WorldSection] = None
    car: Optional[CarSection] = None
    several: Optional[SeveralSection] = None
    theory_mc_samples: int = Field(200_000, ge=1000, description="Monte Carlo size of theory's success where no closed form exists")
    memory_budget_mb: float = Field(512.0, gt=0, description="working-set budget of one chunk of configurations")
    _simplicity: Any = PrivateAttr(default=None)  # family 3's validated section

    @property
    def simplicity_config(self):
        """Family 3's validated SimplicityConfig (built when the file was loaded)."""
        return self._simplicity

    @model_validator(mode="after")
    def _consistent(self):
        fam = self.family
        for family, section in FAMILY_SECTIONS.items():
            if family != fam and section != FAMILY_SECTIONS[fam] and getattr(self, section) is not None:
                raise ValueError(f"section {section!r} does not apply to family {fam!r}")
        if fam == "simplicity":
            self._simplicity = _simplicity_section(self)
            return self
        if self.collective is None:
            raise ValueError(f"family {fam!r} needs a 'collective' section")
        allowed = FAMILY_LEARNERS[fam]
        if "learner" not in self.model_fields_set and self.learner.name not in allowed:
            object.__setattr__(self, "learner", LearnerSpec(name=allowed[0]))  # the family's own default learner
        if self.learner.name not in allowed:
            raise ValueError(f"learner {self.learner.name!r} does not apply to family {fam!r}; "
                             f"choose one of: {', '.join(allowed)}")
        if fam == "discrete":
            if self.discrete is None:
                object.__setattr__(self, "discrete", DiscreteSpec())
            from collective_action.simulate.runner import discrete_problem

            discrete_problem(self)  # raises on an invalid table
            unplanting, n_est = self.collective.strategy == "unplanting", self.discrete.n_est
            members = round(self.collective.alpha * self.n_train)
            if not unplanting and n_est is not None:
                raise ValueError(f"discrete.n_est (the members who estimate y^) applies to strategy 'unplanting' "
                                 f"only, not {self.collective.strategy!r}")
            if unplanting and not (1 <= (members // 2 if n_est is None else n_est) < members):
                raise ValueError(f"unplanting needs 1 <= discrete.n_est < round(alpha n_train) = {members}, got "
                                 f"{'half of them' if n_est is None else n_est}")
        if fam == "gaussian":
            if self.gaussian is None:
                object.__setattr__(self, "gaussian", GaussianSpec())
            from collective_action.simulate.runner import gaussian_problem

            gaussian_problem(self)
        if fam == "discrete-counts":
            if self.counts is None:
                object.__setattr__(self, "counts", CountsSection())
            check_counts(self)
        if fam == "gaussian-world":
            if self.world is None:
                object.__setattr__(self, "world", WorldSection())
            check_world(self)
        if fam == "car":
            if self.car is None:
                object.__setattr__(self, "car", CarSection())
            check_car(self)
        if fam == "discrete-several":
            if self.several is None:
                object.__setattr__(self, "several", SeveralSection())
            check_several(self)
        return self


def _run_cells(cells):
    from collective_action.simulate.runner import run_cells

    return run_cells(cells)


def _predict_critical_mass(cfg, target):
    from collective_action.simulate.critical_mass import predict

    return predict(cfg, target)


def _check_cells(cells):
    from collective_action.simulate.car import check_car_cells
    from collective_action.simulate.footprint import check_cells

    fams = [c.validated_config().family for c in cells]
    check_car_cells([c for c, f in zip(cells, fams) if f == "car"])  # car holds rows, not tables
    # discrete-several holds a few count tables whatever n is: nothing for the footprint limits
    check_cells([c for c, f in zip(cells, fams) if f not in ("car", "discrete-several")])


register_pillar(Pillar(name="simulate", config_model=SimulateConfig, run_cells=_run_cells,
                       check_cells=_check_cells, predict_critical_mass=_predict_critical_mass))
