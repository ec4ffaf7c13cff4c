"""Experiment files: YAML validated by pydantic, expanded into cells with a stable identity.

An experiment file is an envelope shared by every pillar::

    name: c1-bayes-discrete          # identifier, used in results
    pillar: simulate                 # theory | simulate | empirical
    description: free text
    seeds: [0, 1, 2]                 # or an integer n meaning [0, ..., n-1]
    config: {...}                    # validated by the pillar's own strict pydantic model
    grid:                            # optional: dotted paths into config -> lists of values
      collective.alpha: [0.001, 0.01, 0.1]
    quick: {...}                     # optional: dotted-path overrides applied with --quick (and seeds)
    assess: {...}                    # optional: what the rows are held against (collective_action.assess)

Unknown keys are rejected everywhere (envelope and pillar models forbid extras), and every
expanded cell is re-validated, so that an out-of-range value in a grid is caught before anything
runs. A cell's identity is a hash of its pillar, full configuration and seed: the same cell
always has the same id, which is what lets a sweep resume without duplicates.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import limits
from .errors import InputError


class StrictModel(BaseModel):
    """Base for every experiment-file model: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def check_alpha_list(values: list[float]) -> list[float]:
    """Validator body for a field holding a list of collective sizes: non-empty, each in (0, 1)."""
    if not values or any(not (0.0 < a < 1.0) for a in values):
        raise ValueError(f"alphas must be a non-empty list of values in (0, 1), got {values}")
    return values


class CollectiveSpec(StrictModel):
    """The collective in an experiment file (the signal itself is pillar-specific)."""

    alpha: float = Field(gt=0.0, lt=1.0, description="fraction of the training data it controls")
    strategy: str = Field("feature-label", description="feature-label | feature-only (planting) | "
                          "unplanting | erasing (adaptive; see collective_action.collective)")
    target: int = Field(0, ge=0, description="target label y*")

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, v: str) -> str:
        from .collective import STRATEGIES

        if v not in STRATEGIES:
            raise ValueError(f"unknown strategy {v!r}; choose one of {sorted(STRATEGIES)}")
        return v


class ExperimentFile(StrictModel):
    """The envelope of an experiment file."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    pillar: str
    description: str = ""
    seeds: list[int] | int = Field(default=1, validate_default=True)
    config: dict[str, Any]
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    quick: dict[str, Any] = Field(default_factory=dict)
    assess: Any = Field(None, description="what the rows are held against (collective_action.assess.AssessSpec)")

    @field_validator("assess")
    @classmethod
    def _assess_section(cls, v):
        if v is None:
            return None
        from .assess import AssessSpec

        if not isinstance(v, (dict, AssessSpec)):
            raise ValueError("assess must be a mapping (against, z, alpha_eff_tolerance, loose_below, over, flags)")
        return v if isinstance(v, AssessSpec) else AssessSpec.model_validate(v)

    @model_validator(mode="after")
    def _assess_axis(self):
        if self.assess is not None and self.assess.over not in self.grid:
            axes = ", ".join(self.grid) or "none"
            raise ValueError(f"assess.over {self.assess.over!r} is not a grid axis (axes: {axes})")
        return self

    @field_validator("pillar")
    @classmethod
    def _known_pillar(cls, v: str) -> str:
        if v not in PILLAR_MODULES:
            raise ValueError(f"unknown pillar {v!r}; choose one of {sorted(PILLAR_MODULES)}")
        return v

    @field_validator("seeds")
    @classmethod
    def _seed_list(cls, v):
        limits.check("seeds", v if isinstance(v, int) else len(v), "seeds")
        seeds = list(range(v)) if isinstance(v, int) else list(v)
        if not seeds:
            raise ValueError("seeds must name at least one seed")
        if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
            raise ValueError("seeds must be distinct non-negative integers")
        return seeds

    @field_validator("grid")
    @classmethod
    def _non_empty_grid(cls, v):
        for key, values in v.items():
            if not values:
                raise ValueError(f"grid axis {key!r} is empty")
        return v


# --------------------------------------------------------------------------------------------
# Pillar registry: each pillar registers the strict model of its `config` and a batch runner.

#: Where each pillar registers itself (imported lazily so theory never imports torch).
PILLAR_MODULES = {
    "theory": "collective_action.theory.experiment",
    "simulate": "collective_action.simulate.experiment",
    "empirical": "collective_action.empirical.experiment",
}


@dataclass(frozen=True)
class Pillar:
    """A pillar's entry points for experiment files.

    ``run_cells(cells, compute=...)`` runs a batch of cells (possibly as one vectorised
    computation) and returns one list of ResultRow per cell, in order. ``check_cells(cells)``,
    where a pillar has one, raises InputError for configurations that are valid on their own but
    cannot run (a signal place the data set lacks); the runner calls it before anything is written.
    ``predict_critical_mass(validated_config, target)``, where a pillar has one, gives theory's
    critical mass for a configuration ({theory_alpha_star, theory_kind, hardt_alpha_star}).
    ``estimate_cost(cell)``, where a pillar has one, is the cell's relative cost: pools and clusters
    start the costliest batches first (runs/schedule.py). ``trains_alone(cell, compute)``, where a
    pillar has one, is True for a cell that gains nothing from sharing a batch (its pillar would
    run it on its own anyway): a sweep without a chosen batch size gives it a batch of its own, so
    it is stored as soon as it finishes and the workers balance cell by cell.
    ``shared_training(cell, compute)``, where a pillar has one, names the training a cell trained
    alone shares with others (cells that differ only in how the trained model is selected), or
    None: such cells go to one batch, and their pillar trains once for all of them.
    """

    name: str
    config_model: type[BaseModel]
    run_cells: Callable[..., list[list[Any]]]
    check_cells: Callable[[list["Cell"]], None] | None = None
    predict_critical_mass: Callable[[Any, float], dict] | None = None
    estimate_cost: Callable[["Cell"], float] | None = None
    trains_alone: Callable[["Cell", Any], bool] | None = None
    shared_training: Callable[["Cell", Any], str | None] | None = None


_PILLARS: dict[str, Pillar] = {}


def register_pillar(pillar: Pillar) -> None:
    _PILLARS[pillar.name] = pillar


def get_pillar(name: str) -> Pillar:
    if name not in PILLAR_MODULES:
        raise InputError(f"unknown pillar {name!r}; choose one of: {', '.join(sorted(PILLAR_MODULES))}")
    if name not in _PILLARS:
        importlib.import_module(PILLAR_MODULES[name])
    if name not in _PILLARS:
        raise RuntimeError(f"module {PILLAR_MODULES[name]} did not register pillar {name!r}")
    return _PILLARS[name]


# --------------------------------------------------------------------------------------------
# Cells


@dataclass(frozen=True)
class Cell:
    """One (configuration, seed) of an experiment, with a stable identity.

    ``validated`` is the pillar's configuration model, built once when the file is expanded
    (:meth:`Experiment.cells`) and carried to the workers with the cell, so no pillar validates
    the same configuration again; it takes no part in the identity or equality of a cell.
    """

    experiment: str
    pillar: str
    config: dict
    seed: int
    validated: Any = field(default=None, compare=False, repr=False, hash=False)

    @property
    def cell_id(self) -> str:
        return cell_identity(self.pillar, self.config, self.seed)

    def validated_config(self) -> BaseModel:
        if self.validated is not None:
            return self.validated
        return get_pillar(self.pillar).config_model.model_validate(self.config)


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def cell_identity(pillar: str, config: dict, seed: int) -> str:
    """sha256 (first 16 hex digits) of the pillar, canonical configuration and seed."""
    payload = canonical_json({"pillar": pillar, "config": config, "seed": int(seed)})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def set_dotted(tree: dict, path: str, value: Any) -> None:
    """Set ``tree[a][b][c] = value`` for ``path = 'a.b.c'``; the parents must exist as dicts."""
    keys = path.split(".")
    node = tree
    for i, key in enumerate(keys[:-1]):
        if not isinstance(node, dict) or key not in node or not isinstance(node[key], dict):
            raise InputError(f"grid/quick path {path!r}: {'.'.join(keys[: i + 1])!r} is not a section of config")
        node = node[key]
    if not isinstance(node, dict):
        raise InputError(f"grid/quick path {path!r} does not name a field of config")
    node[keys[-1]] = value


def format_validation_error(err: ValidationError, where: str = "") -> str:
    """One line naming the first offending field and what is wrong with it."""
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    msg = first.get("msg", "invalid value")
    if first.get("type") == "extra_forbidden":
        msg = "unknown key"
    prefix = f"{where}: " if where else ""
    extra = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{prefix}{loc}: {msg}{extra}" if loc else f"{prefix}{msg}{extra}"


@dataclass(frozen=True)
class Experiment:
    """A validated experiment file."""

    spec: ExperimentFile
    source: str = "<memory>"
    # cells per quick flag, expanded (and validated) once: loading, running and assessing share them
    _expanded: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pillar(self) -> Pillar:
        return get_pillar(self.spec.pillar)

    def grid(self, quick: bool = False) -> tuple[dict, list[tuple[str, list]], list[int]]:
        """(base configuration, grid axes in file order, seeds), ``quick:`` overrides applied.

        ``quick: {seeds: ...}`` replaces the seeds; a quick value for a grid axis replaces the
        axis; any other quick path overrides the base configuration.
        """
        base = copy.deepcopy(self.spec.config)
        grid = dict(self.spec.grid)
        seeds = list(self.spec.seeds)
        if quick:
            for path, value in self.spec.quick.items():
                if path == "seeds":
                    try:
                        seeds = ExperimentFile._seed_list(value)
                    except ValueError as err:
                        raise InputError(f"{self.source}: quick.seeds: {err}") from None
                elif path in grid:
                    grid[path] = value if isinstance(value, list) else [value]
                else:
                    set_dotted(base, path, value)
        return base, list(grid.items()), seeds

    def cells(self, quick: bool = False) -> list[Cell]:
        """Expand the grid (cartesian product, in file order) times the seeds into cells.

        Every cell's configuration is validated by the pillar's model; a bad value anywhere in
        the grid raises InputError naming the field, before anything runs. The expansion is done
        once per quick flag; later calls get the same cells.
        """
        if quick not in self._expanded:
            self._expanded[quick] = self._expand(quick)
        return list(self._expanded[quick])

    def _expand(self, quick: bool) -> list[Cell]:
        base, axes, seeds = self.grid(quick)
        model = self.pillar.config_model
        n_points = 1
        for _, values in axes:
            n_points *= max(1, len(values))
        limits.check("cells", n_points * len(seeds), f"{self.source}: cells")
        cells = []
        for combo in itertools.product(*[vals for _, vals in axes]):
            cfg = copy.deepcopy(base)
            for (path, _), value in zip(axes, combo):
                set_dotted(cfg, path, value)
            try:
                validated = model.model_validate(cfg)
            except ValidationError as err:
                raise InputError(format_validation_error(err, f"{self.source}: config")) from None
            normalised = validated.model_dump(mode="json")
            for seed in seeds:
                cells.append(Cell(self.spec.name, self.spec.pillar, normalised, int(seed), validated))
        if not cells:
            raise InputError(f"{self.source}: the experiment expands to no cells")
        return cells


def read_yaml_mapping(path: Path, kind: str, shape: str) -> dict:
    """The mapping a YAML (or JSON) file holds, or an InputError in one line: ``{kind} not found``,
    not valid YAML (with the line), or ``{path}: {shape}`` when the document is not a mapping."""
    if not path.is_file():
        raise InputError(f"{kind} not found: {path}")
    limits.check("file_mb", -(-path.stat().st_size // 2**20), str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file (not UTF-8)") from None
    except OSError as err:
        raise InputError(f"{path}: cannot be read ({err.strerror or err})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        where = f" (line {line + 1})" if line is not None else ""
        raise InputError(f"{path}: not valid YAML{where}") from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply to read (limit {limits.limit('yaml_depth')} levels)") from None
    limits.check_tree(raw, str(path))
    if not isinstance(raw, dict):
        raise InputError(f"{path}: {shape}")
    return raw


def load_experiment(path_or_mapping: str | Path | dict) -> Experiment:
    """Read and validate an experiment file (YAML path) or an already-parsed mapping."""
    if isinstance(path_or_mapping, dict):
        raw, source = path_or_mapping, "<memory>"
    else:
        path = Path(path_or_mapping)
        source = str(path)
        raw = read_yaml_mapping(path, "experiment file", "an experiment file must be a mapping of fields")
    try:
        spec = ExperimentFile.model_validate(raw)
    except ValidationError as err:
        raise InputError(format_validation_error(err, source)) from None
    exp = Experiment(spec=spec, source=source)
    exp.cells(quick=False)  # validates every cell of the full grid
    if spec.quick:
        exp.cells(quick=True)
    return exp
