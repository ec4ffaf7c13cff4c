"""collective_action.simulate: batched synthetic experiments on CuPy or NumPy.

``run(spec, quick=False, backend="auto")`` runs a simulate experiment file and returns a pandas
DataFrame with one row per (configuration, seed). Families: discrete exact problems
(:mod:`.discrete`), Gaussian classes with a planted signal (:mod:`.gaussian`) and simplicity-bias
data (:mod:`.simplicity`); learners in :mod:`.learners`.
"""


def run(spec, quick: bool = False, backend: str = "auto", progress: bool = False):
    """Run a simulate experiment (path, mapping or Experiment) -> DataFrame; see runner.run."""
    from .runner import run as _run

    return _run(spec, quick=quick, backend=backend, progress=progress)


__all__ = ["run"]
