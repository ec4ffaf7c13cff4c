"""Malformed input to every command: exit 2, one line on stderr, no traceback, nothing written.

Every case runs the CLI in-process with the test's tmp folder as the working folder (so a default
output location such as results/<name> would land there too) and compares the tmp tree before
and after: the inputs live in it, so a changed input counts as well as a created file. Only input
that must be refused before any work is used, so the whole file runs in seconds.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

SIM = {
    "name": "bad-input", "pillar": "simulate", "seeds": 2,
    "config": {"family": "gaussian", "collective": {"alpha": 0.05, "target": 1},
               "learner": {"name": "erm", "params": {"steps": 10}}, "n_train": 100, "n_test": 100},
    "grid": {"collective.alpha": [0.05, 0.2]},
    "quick": {"n_train": 50},
}

EMP = textwrap.dedent("""
    name: bad-digits
    pillar: empirical
    seeds: 2
    config:
      data: {name: digits, val_size: 200}
      collective: {alpha: 0.2, target: 3}
      signal: {kind: patch, place: corner, size: 3}
      learner: {name: erm}
      train: {model: mlp, width: 32, epochs: 1, batch_size: 64}
      selection: {validation: clean, metric: average}
    grid:
      learner: [{name: erm}, {name: cvar, hparams: {beta: 0.5}}]
""")

PROBLEM = {"p0": [[0.3, 0.2], [0.1, 0.4]], "g": [1, 1], "target": 0}

ALIAS_BOMB = ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
              "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
              "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
              "g: [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n").encode()


class World:
    """The inputs of one case, made in its tmp folder on demand."""

    def __init__(self, root: Path):
        self.root = root
        self._ro: Path | None = None

    def write(self, name: str, content) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content)
        else:
            path.write_text(yaml.safe_dump(content, sort_keys=False))
        return path

    def sim(self, patch=None, drop=(), config=None, name="sim.yaml", **top) -> Path:
        """The small simulate experiment, changed: ``config`` merges into config:, ``top`` and
        ``patch`` replace top-level keys, ``drop`` removes them."""
        spec = yaml.safe_load(yaml.safe_dump(SIM))
        spec.update(top)
        spec.update(patch or {})
        for key, value in (config or {}).items():
            spec["config"][key] = value
        for key in drop:
            spec.pop(key, None)
        return self.write(name, spec)

    def scenario(self, assess=..., name="scenario.yaml", **top) -> Path:
        spec = dict(yaml.safe_load(yaml.safe_dump(SIM)), name=top.pop("scenario_name", "my-scenario"))
        if assess is not ...:
            spec["assess"] = assess
        else:
            spec["assess"] = {"against": "auto", "z": 3.0}
        spec.update(top)
        return self.write(name, spec)

    def emp(self, old: str = "", new: str = "") -> Path:
        return self.write("emp.yaml", EMP.replace(old, new, 1) if old else EMP)

    def problem(self, **patch) -> Path:
        return self.write("problem.yaml", {**PROBLEM, **patch})

    @property
    def blocker(self) -> Path:
        """A regular file that an output path is asked to go under."""
        path = self.root / "a-file"
        if not path.exists():
            path.write_text("not a folder\n")
        return path

    @property
    def readonly(self) -> Path:
        """A folder nobody may write into (a read-only tmpfs: chmod does not stop root)."""
        if self._ro is None:
            path = self.root / "read-only"
            path.mkdir()
            if os.geteuid() != 0:
                path.chmod(0o555)
            elif subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(path)],
                                capture_output=True).returncode != 0:
                pytest.skip("running as root and cannot mount a read-only tmpfs: no unwritable folder to test")
            self._ro = path
        return self._ro

    def store(self, name="store", experiment="c1-bad-input") -> Path:
        """A real, valid results store with one done cell (written through the store's API)."""
        from collective_action.runs.store import CellOutcome, ResultStore

        folder = self.root / name
        record = {"alpha": 0.1, "learner": "erm", "success": 0.5, "clean_accuracy": 0.9}
        with ResultStore.open(folder, create=True) as store:
            store.register_experiment(experiment, "f" * 16, "memory", False, "2024-01-01T00:00:00")
            store.write(CellOutcome("cell0", experiment, "simulate", 0, {"i": 0}, [record], None, "serial", "host",
                                    "2024-01-01T00:00:00", "2024-01-01T00:00:01", 1.0), "test")
        return folder

    def close(self) -> None:
        if self._ro is not None and os.geteuid() == 0:
            subprocess.run(["umount", str(self._ro)], check=False)
        elif self._ro is not None:
            self._ro.chmod(0o755)


# ------------------------------------------------------------------------------------------
# The cases: id -> function(world) -> the command line (and, optionally, environment variables).

CONTENTS = {  # file contents that are no experiment or problem file at all
    "binary": b"\xff\xfe\x00\x01binary\x80\x81",
    "empty": b"",
    "only-comment": b"# nothing here\n",
    "list": b"- 1\n- 2\n",
    "scalar": b"just a sentence\n",
    "invalid-yaml": b"name: [unclosed\nconfig: {\n",
    "nul-byte": b"name: x\x00y\n",
    "deep": b"a: " + b"[" * 5000 + b"]" * 5000,
    "alias-bomb": ALIAS_BOMB,
    "python-tag": b"!!python/object/apply:os.system ['touch pwned']\n",
    "tab-indent": b"name: x\nconfig:\n\tfamily: gaussian\n",
}

FILE_COMMANDS = {  # command line around a file argument
    "sweep": lambda f, w: ["sweep", f, "--out", w.root / "out", "--executor", "serial"],
    "simulate": lambda f, w: ["simulate", f, "--out", w.root / "out"],
    "train": lambda f, w: ["train", f, "--out", w.root / "out"],
    "stress": lambda f, w: ["stress", "--file", f, "--out", w.root / "out", "--executor", "serial"],
    "exact": lambda f, w: ["theory", "exact", "--alpha", "0.1", "--problem", f],
}

CASES: dict[str, object] = {}

for _content_id, _content in CONTENTS.items():
    for _cmd_id, _cmd in FILE_COMMANDS.items():
        CASES[f"{_cmd_id}-file-{_content_id}"] = (
            lambda w, c=_content, cmd=_cmd: cmd(w.write("bad.yaml", c), w))
for _cmd_id, _cmd in FILE_COMMANDS.items():
    CASES[f"{_cmd_id}-file-missing"] = lambda w, cmd=_cmd: cmd(w.root / "missing.yaml", w)
    CASES[f"{_cmd_id}-file-is-a-folder"] = lambda w, cmd=_cmd: cmd(w.root, w)

# Experiment files that parse but are wrong, through sweep and simulate.
EXPERIMENTS = {
    "unknown-top-key": lambda w: w.sim(colour="red"),
    "unknown-config-key": lambda w: w.sim(config={"colour": "red"}),
    "missing-config": lambda w: w.sim(drop=("config",)),
    "missing-name": lambda w: w.sim(drop=("name",)),
    "config-not-mapping": lambda w: w.sim(config=None, patch={"config": 5}),
    "name-with-space": lambda w: w.sim(patch={"name": "has space"}),
    "name-empty": lambda w: w.sim(patch={"name": ""}),
    "unknown-pillar": lambda w: w.sim(patch={"pillar": "astrology"}),
    "seeds-text": lambda w: w.sim(seeds="many"),
    "seeds-zero": lambda w: w.sim(seeds=0),
    "seeds-negative": lambda w: w.sim(seeds=[-1, 2]),
    "seeds-repeated": lambda w: w.sim(seeds=[1, 1]),
    "seeds-runaway": lambda w: w.sim(seeds=100_000_000),
    "alpha-above-one": lambda w: w.sim(config={"collective": {"alpha": 1.5, "target": 1}}, grid={}),
    "alpha-zero": lambda w: w.sim(config={"collective": {"alpha": 0.0, "target": 1}}, grid={}),
    "alpha-text": lambda w: w.sim(config={"collective": {"alpha": "lots", "target": 1}}, grid={}),
    "target-negative": lambda w: w.sim(config={"collective": {"alpha": 0.1, "target": -1}}),
    "unknown-strategy": lambda w: w.sim(config={"collective": {"alpha": 0.1, "strategy": "bribe"}}),
    "n-train-negative": lambda w: w.sim(config={"n_train": -5}),
    "n-test-list": lambda w: w.sim(config={"n_test": [1, 2]}),
    "unknown-family": lambda w: w.sim(config={"family": "martian"}),
    "unknown-learner": lambda w: w.sim(config={"learner": {"name": "oracle-of-delphi"}}),
    "unknown-learner-param": lambda w: w.sim(config={"learner": {"name": "erm", "params": {"stepz": 10}}}),
    "learner-param-out-of-range": lambda w: w.sim(config={"learner": {"name": "erm", "params": {"steps": -1}}}),
    "learner-param-wrong-type": lambda w: w.sim(config={"learner": {"name": "erm", "params": {"steps": "ten"}}}),
    "grid-bad-path": lambda w: w.sim(grid={"nowhere.alpha": [0.1]}),
    "grid-unknown-field": lambda w: w.sim(grid={"collective.colour": [1]}),
    "grid-empty-axis": lambda w: w.sim(grid={"collective.alpha": []}),
    "grid-not-mapping": lambda w: w.sim(grid=[0.1, 0.2]),
    "grid-axis-not-list": lambda w: w.sim(grid={"collective.alpha": 0.1}),
    "grid-value-out-of-range": lambda w: w.sim(grid={"collective.alpha": [0.1, 2.0]}),
    "grid-repeated-value": lambda w: w.sim(grid={"collective.alpha": [0.1, 0.1]}),
    "grid-runaway": lambda w: w.sim(grid={"collective.alpha": [0.01 + i * 1e-7 for i in range(2000)],
                                          "n_test": list(range(100, 1100))}),
    "quick-bad-path": lambda w: w.sim(quick={"nowhere.n": 3}),
    "quick-bad-value": lambda w: w.sim(quick={"n_train": -1}),
    "quick-seeds-zero": lambda w: w.sim(quick={"seeds": 0}),
    "quick-not-mapping": lambda w: w.sim(quick=[1, 2]),
    "assess-not-mapping": lambda w: w.sim(assess=[1]),
    "assess-unknown-against": lambda w: w.sim(assess={"against": "vibes"}),
}
for _exp_id, _make in EXPERIMENTS.items():
    CASES[f"sweep-{_exp_id}"] = lambda w, m=_make: ["sweep", m(w), "--out", w.root / "out", "--executor", "serial"]
    CASES[f"simulate-{_exp_id}"] = lambda w, m=_make: ["simulate", m(w), "--out", w.root / "out"]

CASES.update({
    # the simulate/train commands check the pillar of their file
    "simulate-empirical-file": lambda w: ["simulate", w.emp(), "--out", w.root / "out"],
    "train-simulate-file": lambda w: ["train", w.sim(), "--out", w.root / "out"],
    # empirical experiment files
    "train-unknown-learner": lambda w: ["train", w.emp("[{name: erm},", "[{name: sgd},"), "--out", w.root / "o"],
    "train-unknown-signal-key": lambda w: ["train", w.emp("size: 3}", "size: 3, colour: red}"), "--out", w.root / "o"],
    "train-alpha-out-of-range": lambda w: ["train", w.emp("alpha: 0.2,", "alpha: 1.5,"), "--out", w.root / "o"],
    "train-place-the-data-lacks": lambda w: ["train", w.emp("place: corner", "place: margin"), "--out", w.root / "o"],
    "train-unknown-dataset": lambda w: ["train", w.emp("name: digits", "name: imagenet-22k"), "--out", w.root / "o"],
    "train-bad-hparam": lambda w: ["train", w.emp("beta: 0.5", "bta: 0.5"), "--out", w.root / "o"],
    "train-hparam-out-of-range": lambda w: ["train", w.emp("beta: 0.5", "beta: 2.0"), "--out", w.root / "o"],
    "train-epochs-negative": lambda w: ["train", w.emp("epochs: 1", "epochs: -1"), "--out", w.root / "o"],
    "train-unknown-model": lambda w: ["train", w.emp("model: mlp", "model: transformer-xxl"), "--out", w.root / "o"],
    "train-simulator-only-learner": lambda w: ["train", w.emp("[{name: erm},", "[{name: max-margin},"),
                                               "--out", w.root / "o"],
    # the label estimate of an adaptive collective (estimator:), and discrete data
    "train-n-est-not-unplanting": lambda w: ["train", w.emp("target: 3}", "target: 3, strategy: erasing}\n  "
                                                            "estimator: {n_est: 10}"), "--out", w.root / "o"],
    "train-n-est-zero": lambda w: ["train", w.emp("target: 3}", "target: 3, strategy: unplanting}\n  "
                                                  "estimator: {n_est: 0}"), "--out", w.root / "o"],
    "train-n-est-not-below-members": lambda w: ["train", w.emp("target: 3}", "target: 3, strategy: unplanting}\n  "
                                                               "estimator: {n_est: 5000}"), "--out", w.root / "o"],
    "train-unplanting-one-member": lambda w: ["train", w.emp("alpha: 0.2, target: 3}",
                                                             "alpha: 0.0005, target: 3, strategy: unplanting}"),
                                              "--out", w.root / "o"],
    "train-erasing-no-member": lambda w: ["train", w.emp("alpha: 0.2, target: 3}",
                                                         "alpha: 0.0002, target: 3, strategy: erasing}"),
                                          "--out", w.root / "o"],
    "train-estimator-for-planting": lambda w: ["train", w.emp("target: 3}", "target: 3}\n  estimator: {l2: 0.5}"),
                                               "--out", w.root / "o"],
    "train-estimator-unknown-key": lambda w: ["train", w.emp("target: 3}", "target: 3, strategy: erasing}\n  "
                                                           "estimator: {model: forest}"), "--out", w.root / "o"],
    "train-map-signal-on-images": lambda w: ["train", w.emp("kind: patch,", "kind: map,"), "--out", w.root / "o"],
    "train-discrete-data-with-a-patch": lambda w: ["train", w.emp("name: digits,", "name: discrete,"),
                                                   "--out", w.root / "o"],
    "train-discrete-section-on-images": lambda w: ["train", w.emp("val_size: 200}", "val_size: 200, discrete: {}}"),
                                                   "--out", w.root / "o"],
    # options of the commands that run cells
    "sweep-unknown-executor": lambda w: ["sweep", w.sim(), "--out", w.root / "o", "--executor", "cloud"],
    "sweep-workers-zero": lambda w: ["sweep", w.sim(), "--out", w.root / "o", "--workers", "0"],
    "sweep-workers-negative": lambda w: ["sweep", w.sim(), "--out", w.root / "o", "--workers", "-3"],
    "sweep-workers-text": lambda w: ["sweep", w.sim(), "--out", w.root / "o", "--workers", "two"],
    "sweep-batch-size-zero": lambda w: ["sweep", w.sim(), "--out", w.root / "o", "--batch-size", "0"],
    "sweep-threads-zero": lambda w: ["sweep", w.sim(), "--out", w.root / "o", "--threads", "0"],
    "sweep-threads-negative": lambda w: ["sweep", w.sim(), "--out", w.root / "o", "--threads", "-1"],
    "sweep-unknown-array-backend": lambda w: ["sweep", w.sim(), "--out", w.root / "o", "--array-backend", "jax"],
    "sweep-unknown-device": lambda w: ["sweep", w.sim(), "--out", w.root / "o", "--device", "tpu"],
    "sweep-address-without-ray": lambda w: ["sweep", w.sim(), "--out", w.root / "o", "--address", "127.0.0.1:1"],
    "sweep-address-no-port": lambda w: ["sweep", w.sim(), "--out", w.root / "o", "--executor", "ray",
                                        "--address", "nowhere"],
    "sweep-address-bad-port": lambda w: ["sweep", w.sim(), "--out", w.root / "o", "--executor", "ray",
                                         "--address", "127.0.0.1:http"],
    "sweep-address-refused": lambda w: ["sweep", w.sim(), "--out", w.root / "o", "--executor", "ray",
                                        "--address", "127.0.0.1:1"],
    "sweep-out-under-a-file": lambda w: ["sweep", w.sim(), "--out", w.blocker / "out"],
    "sweep-out-is-a-file": lambda w: ["sweep", w.sim(), "--out", w.blocker],
    "sweep-out-sqlite-under-a-file": lambda w: ["sweep", w.sim(), "--out", w.blocker / "x.sqlite"],
    "sweep-out-read-only": lambda w: ["sweep", w.sim(), "--out", w.readonly / "out"],
    "sweep-out-read-only-itself": lambda w: ["sweep", w.sim(), "--out", w.readonly],
    "sweep-out-sqlite-read-only": lambda w: ["sweep", w.sim(), "--out", w.readonly / "x.sqlite"],
    "sweep-out-holds-another-experiment": lambda w: ["sweep", w.sim(), "--out", w.store(), "--executor", "serial"],
    "sweep-unknown-option": lambda w: ["sweep", w.sim(), "--out", w.root / "o", "--colour", "red"],
    "sweep-no-file": lambda w: ["sweep"],
    "sweep-limit-env-not-a-number": lambda w: (["sweep", w.sim(), "--out", w.root / "o"],
                                               {"COLLECTIVE_ACTION_MAX_CELLS": "many"}),
    "sweep-limit-env-zero": lambda w: (["sweep", w.sim(), "--out", w.root / "o"],
                                       {"COLLECTIVE_ACTION_MAX_SEEDS": "0"}),
    "sweep-file-over-size-limit": lambda w: (["sweep", w.write("big.yaml", yaml.safe_dump(SIM) + "#" * 1_100_000),
                                              "--out", w.root / "o"], {"COLLECTIVE_ACTION_MAX_FILE_MB": "1"}),
    "simulate-unknown-executor": lambda w: ["simulate", w.sim(), "--out", w.root / "o", "--executor", "cloud"],
    "simulate-unknown-array-backend": lambda w: ["simulate", w.sim(), "--out", w.root / "o", "--array-backend", "jax"],
    "simulate-workers-zero": lambda w: ["simulate", w.sim(), "--out", w.root / "o", "--workers", "0",
                                        "--executor", "pool"],
    "simulate-batch-size-negative": lambda w: ["simulate", w.sim(), "--out", w.root / "o", "--batch-size", "-2"],
    "simulate-threads-zero": lambda w: ["simulate", w.sim(), "--out", w.root / "o", "--threads", "0"],
    "simulate-out-under-a-file": lambda w: ["simulate", w.sim(), "--out", w.blocker / "sub"],
    "simulate-out-is-a-file": lambda w: ["simulate", w.sim(), "--out", w.blocker],
    "simulate-out-read-only": lambda w: ["simulate", w.sim(), "--out", w.readonly / "out"],
    "simulate-unknown-option": lambda w: ["simulate", w.sim(), "--address", "127.0.0.1:1"],
    "train-unknown-device": lambda w: ["train", w.emp(), "--out", w.root / "o", "--device", "tpu"],
    "train-unknown-executor": lambda w: ["train", w.emp(), "--out", w.root / "o", "--executor", "cloud"],
    "train-workers-zero": lambda w: ["train", w.emp(), "--out", w.root / "o", "--workers", "0", "--executor", "pool"],
    "train-batch-size-zero": lambda w: ["train", w.emp(), "--out", w.root / "o", "--batch-size", "0"],
    "train-threads-negative": lambda w: ["train", w.emp(), "--out", w.root / "o", "--threads", "-4"],
    "train-out-is-a-file": lambda w: ["train", w.emp(), "--out", w.blocker],
    "train-out-under-a-file": lambda w: ["train", w.emp(), "--out", w.blocker / "deeper" / "still"],
    "train-out-read-only": lambda w: ["train", w.emp(), "--out", w.readonly / "out"],
    # reproduce: the claim's shipped files are valid, so only options can be wrong
    "reproduce-unknown-claim": lambda w: ["reproduce", "C9", "--quick", "--out", w.root / "o"],
    "reproduce-empty-claim": lambda w: ["reproduce", "", "--quick", "--out", w.root / "o"],
    "reproduce-unknown-executor": lambda w: ["reproduce", "C1", "--quick", "--out", w.root / "o", "--executor", "x"],
    "reproduce-workers-zero": lambda w: ["reproduce", "C1", "--quick", "--out", w.root / "o", "--workers", "0"],
    "reproduce-batch-size-zero": lambda w: ["reproduce", "C1", "--quick", "--out", w.root / "o", "--batch-size", "0"],
    "reproduce-threads-zero": lambda w: ["reproduce", "C1", "--quick", "--out", w.root / "o", "--threads", "0"],
    "reproduce-unknown-array-backend": lambda w: ["reproduce", "C1", "--quick", "--out", w.root / "o",
                                                  "--array-backend", "jax"],
    "reproduce-unknown-device": lambda w: ["reproduce", "C1", "--quick", "--out", w.root / "o", "--device", "tpu"],
    "reproduce-address-without-ray": lambda w: ["reproduce", "C1", "--quick", "--out", w.root / "o",
                                                "--address", "127.0.0.1:1"],
    "reproduce-address-refused": lambda w: ["reproduce", "C1", "--quick", "--out", w.root / "o", "--executor", "ray",
                                            "--address", "127.0.0.1:1"],
    "reproduce-out-is-a-file": lambda w: ["reproduce", "C1", "--quick", "--out", w.blocker],
    "reproduce-out-under-a-file": lambda w: ["reproduce", "C1", "--quick", "--out", w.blocker / "sub"],
    "reproduce-out-read-only": lambda w: ["reproduce", "C1", "--quick", "--out", w.readonly / "sub"],
    "reproduce-no-claim": lambda w: ["reproduce"],
    # results
    "results-missing-folder": lambda w: ["results", w.root / "nowhere"],
    "results-empty-folder": lambda w: ["results", w.write("empty/.keep", "").parent],
    "results-folder-is-a-file": lambda w: ["results", w.blocker],
    "results-garbage-store": lambda w: ["results", w.write("g/results.sqlite", b"garbage" * 500).parent],
    "results-truncated-store": lambda w: ["results", _truncated_store(w)],
    "results-foreign-sqlite": lambda w: ["results", _foreign_store(w)],
    "results-unknown-format": lambda w: ["results", w.store(), "--format", "xml"],
    "results-parquet-to-stdout": lambda w: ["results", w.store(), "--format", "parquet"],
    "results-failed-and-assess": lambda w: ["results", w.store(), "--failed", "--assess"],
    "results-output-is-a-folder": lambda w: ["results", w.store(), "--output", w.root],
    "results-output-under-a-file": lambda w: ["results", w.store(), "--output", w.blocker / "x.csv"],
    "results-output-read-only": lambda w: ["results", w.store(), "--output", w.readonly / "x.csv"],
    "results-parquet-output-read-only": lambda w: ["results", w.store(), "--format", "parquet",
                                                   "--output", w.readonly / "x.parquet"],
    "results-assess-without-scenarios": lambda w: ["results", w.store(), "--assess"],
    "results-unknown-option": lambda w: ["results", w.store(), "--colour"],
    # plot
    "plot-missing-folder": lambda w: ["plot", w.root / "nowhere"],
    "plot-empty-folder": lambda w: ["plot", w.write("empty/.keep", "").parent],
    "plot-garbage-store": lambda w: ["plot", w.write("g/results.sqlite", b"garbage" * 500).parent],
    "plot-unknown-claim": lambda w: ["plot", w.store(), "--claim", "C9"],
    "plot-claim-unknown": lambda w: ["plot", w.store(experiment="no-claim-here")],
    "plot-figures-is-a-file": lambda w: ["plot", w.store(), "--figures", w.blocker],
    "plot-figures-under-a-file": lambda w: ["plot", w.store(), "--figures", w.blocker / "figs"],
    "plot-figures-read-only": lambda w: ["plot", w.store(), "--figures", w.readonly / "figs"],
    "plot-default-figures-read-only": lambda w: ["plot", _store_in_read_only(w)],
    "plot-unknown-panel": lambda w: ["plot", w.store(), "--panel", "histogram"],
    "plot-unknown-panel-among-known": lambda w: ["plot", w.store(), "--panel", "success", "--panel", "sucess"],
    "plot-panel-missing-value": lambda w: ["plot", w.store(), "--panel"],
    "plot-panel-no-figure-has": lambda w: ["plot", w.store(), "--panel", "amplification"],
    "plot-unknown-size": lambda w: ["plot", w.store(), "--size", "a4"],
    "plot-size-empty": lambda w: ["plot", w.store(), "--size", ""],
    "plot-unknown-format": lambda w: ["plot", w.store(), "--format", "jpg"],
    "plot-format-among-known": lambda w: ["plot", w.store(), "--format", "pdf", "--format", "eps"],
    # stress
    "stress-unknown-scenario": lambda w: ["stress", "--scenario", "no-such-thing", "--out", w.root / "o"],
    "stress-unknown-executor": lambda w: ["stress", "--quick", "--executor", "cloud", "--out", w.root / "o"],
    "stress-unknown-array-backend": lambda w: ["stress", "--quick", "--array-backend", "jax", "--out", w.root / "o"],
    "stress-unknown-device": lambda w: ["stress", "--quick", "--device", "tpu", "--out", w.root / "o"],
    "stress-workers-zero": lambda w: ["stress", "--quick", "--workers", "0", "--out", w.root / "o"],
    "stress-threads-zero": lambda w: ["stress", "--quick", "--threads", "0", "--out", w.root / "o"],
    "stress-address-without-ray": lambda w: ["stress", "--quick", "--address", "127.0.0.1:1", "--out", w.root / "o"],
    "stress-out-is-a-file": lambda w: ["stress", "--quick", "--scenario", "tiny-collective", "--out", w.blocker],
    "stress-out-under-a-file": lambda w: ["stress", "--quick", "--scenario", "tiny-collective",
                                          "--out", w.blocker / "sub"],
    "stress-out-read-only": lambda w: ["stress", "--quick", "--scenario", "tiny-collective",
                                       "--out", w.readonly / "sub"],
    "stress-default-out-read-only": lambda w: (["stress", "--quick", "--scenario", "tiny-collective"],
                                               {"__cwd__": w.readonly}),
    "stress-file-without-assess": lambda w: ["stress", "--file", w.sim(), "--out", w.root / "o"],
    "stress-assess-not-mapping": lambda w: ["stress", "--file", w.scenario(assess="yes please"), "--out", w.root / "o"],
    "stress-assess-list": lambda w: ["stress", "--file", w.scenario(assess=["bound"]), "--out", w.root / "o"],
    "stress-assess-unknown-key": lambda w: ["stress", "--file", w.scenario(assess={"against": "auto", "zz": 3}),
                                            "--out", w.root / "o"],
    "stress-assess-unknown-against": lambda w: ["stress", "--file", w.scenario(assess={"against": "vibes"}),
                                                "--out", w.root / "o"],
    "stress-assess-z-negative": lambda w: ["stress", "--file", w.scenario(assess={"z": -1}), "--out", w.root / "o"],
    "stress-assess-z-text": lambda w: ["stress", "--file", w.scenario(assess={"z": "three"}), "--out", w.root / "o"],
    "stress-assess-tolerance-zero": lambda w: ["stress", "--file", w.scenario(assess={"alpha_eff_tolerance": 0}),
                                               "--out", w.root / "o"],
    "stress-assess-loose-above-one": lambda w: ["stress", "--file", w.scenario(assess={"loose_below": 2.0}),
                                                "--out", w.root / "o"],
    "stress-assess-unknown-flag": lambda w: ["stress", "--file", w.scenario(assess={"flags": ["PANIC"]}),
                                             "--out", w.root / "o"],
    "stress-assess-flags-not-list": lambda w: ["stress", "--file", w.scenario(assess={"flags": 3}),
                                               "--out", w.root / "o"],
    "stress-assess-over-not-text": lambda w: ["stress", "--file", w.scenario(assess={"over": [1, 2]}),
                                              "--out", w.root / "o"],
    "stress-duplicate-scenario-names": lambda w: ["stress", "--file", w.scenario(name="a.yaml"),
                                                  "--file", w.scenario(name="b.yaml"), "--out", w.root / "o"],
    "stress-scenario-not-in-files": lambda w: ["stress", "--file", w.scenario(), "--scenario", "tiny-collective",
                                               "--out", w.root / "o"],
    "stress-scenario-bad-quick": lambda w: ["stress", "--quick", "--file", w.scenario(quick={"nowhere.n": 1}),
                                            "--out", w.root / "o"],
    "stress-scenario-bad-grid-value": lambda w: ["stress", "--file",
                                                 w.scenario(grid={"collective.alpha": [0.1, 7]}), "--out", w.root / "o"],
    # theory
    "bound-alpha-above-one": lambda w: ["theory", "bound", "--alpha", "1.5", "--delta", "0.1", "--xi", "0.5"],
    "bound-alpha-negative": lambda w: ["theory", "bound", "--alpha", "-0.1", "--delta", "0.1", "--xi", "0.5"],
    "bound-alpha-zero": lambda w: ["theory", "bound", "--alpha", "0", "--delta", "0.1", "--xi", "0.5"],
    "bound-alpha-nan": lambda w: ["theory", "bound", "--alpha", "nan", "--delta", "0.1", "--xi", "0.5"],
    "bound-alpha-inf": lambda w: ["theory", "bound", "--alpha", "inf", "--delta", "0.1", "--xi", "0.5"],
    "bound-alpha-text": lambda w: ["theory", "bound", "--alpha", "half", "--delta", "0.1", "--xi", "0.5"],
    "bound-delta-above-one": lambda w: ["theory", "bound", "--alpha", "0.1", "--delta", "2", "--xi", "0.5"],
    "bound-xi-negative": lambda w: ["theory", "bound", "--alpha", "0.1", "--delta", "0.1", "--xi", "-0.5"],
    "bound-epsilon-one": lambda w: ["theory", "bound", "--alpha", "0.1", "--delta", "0.1", "--xi", "0.5",
                                    "--epsilon", "1"],
    "bound-epsilon-negative": lambda w: ["theory", "bound", "--alpha", "0.1", "--delta", "0.1", "--xi", "0.5",
                                         "--epsilon", "-0.2"],
    "bound-unknown-definition": lambda w: ["theory", "bound", "--alpha", "0.1", "--delta", "0.1", "--xi", "0.5",
                                           "--definition", "vibes"],
    "bound-missing-xi": lambda w: ["theory", "bound", "--alpha", "0.1", "--delta", "0.1"],
    "critical-mass-target-zero": lambda w: ["theory", "critical-mass", "--delta", "0.1", "--xi", "0.5",
                                            "--target", "0"],
    "critical-mass-target-above-one": lambda w: ["theory", "critical-mass", "--delta", "0.1", "--xi", "0.5",
                                                 "--target", "1.5"],
    "critical-mass-delta-negative": lambda w: ["theory", "critical-mass", "--delta", "-1", "--xi", "0.5",
                                               "--target", "0.5"],
    "critical-mass-epsilon-one": lambda w: ["theory", "critical-mass", "--delta", "0.1", "--xi", "0.5",
                                            "--target", "0.5", "--epsilon", "1"],
    "critical-mass-missing-target": lambda w: ["theory", "critical-mass", "--delta", "0.1", "--xi", "0.5"],
    "jtt-upweight-below-one": lambda w: ["theory", "alpha-eff", "jtt", "--alpha", "0.1", "--upweight", "0.5",
                                         "--collective-error", "0.2", "--base-error", "0.1"],
    "jtt-alpha-above-one": lambda w: ["theory", "alpha-eff", "jtt", "--alpha", "2", "--upweight", "5",
                                      "--collective-error", "0.2", "--base-error", "0.1"],
    "jtt-error-share-negative": lambda w: ["theory", "alpha-eff", "jtt", "--alpha", "0.1", "--upweight", "5",
                                           "--collective-error", "-0.2", "--base-error", "0.1"],
    "jtt-missing-base-error": lambda w: ["theory", "alpha-eff", "jtt", "--alpha", "0.1", "--upweight", "5",
                                         "--collective-error", "0.2"],
    "cvar-beta-zero": lambda w: ["theory", "alpha-eff", "cvar", "--alpha", "0.1", "--beta", "0", "--tail-share", "0.5"],
    "cvar-beta-above-one": lambda w: ["theory", "alpha-eff", "cvar", "--alpha", "0.1", "--beta", "2",
                                      "--tail-share", "0.5"],
    "cvar-tail-share-above-one": lambda w: ["theory", "alpha-eff", "cvar", "--alpha", "0.1", "--beta", "0.5",
                                            "--tail-share", "1.5"],
    "chi2-negative-excess": lambda w: ["theory", "alpha-eff", "chi2", "--alpha", "0.1", "--collective-excess", "-1",
                                       "--base-excess", "0.5"],
    "lff-negative-weight": lambda w: ["theory", "alpha-eff", "lff", "--alpha", "0.1", "--collective-weight", "-1",
                                      "--base-weight", "0.5"],
    "general-zero-weights": lambda w: ["theory", "alpha-eff", "general", "--alpha", "0.1", "--collective-weight", "0",
                                       "--base-weight", "0"],
    "general-alpha-text": lambda w: ["theory", "alpha-eff", "general", "--alpha", "x", "--collective-weight", "1",
                                     "--base-weight", "1"],
    "fixed-point-beta-zero": lambda w: ["theory", "cvar-fixed-point", "--alpha", "0.1", "--beta", "0",
                                        "--rest-error", "0.1", "--critical", "0.3"],
    "fixed-point-beta-one": lambda w: ["theory", "cvar-fixed-point", "--alpha", "0.1", "--beta", "1",
                                       "--rest-error", "0.1", "--critical", "0.3"],
    "fixed-point-alpha-one": lambda w: ["theory", "cvar-fixed-point", "--alpha", "1", "--beta", "0.5",
                                        "--rest-error", "0.1", "--critical", "0.3"],
    "fixed-point-rest-error-negative": lambda w: ["theory", "cvar-fixed-point", "--alpha", "0.1", "--beta", "0.5",
                                                  "--rest-error", "-0.1", "--critical", "0.3"],
    "fixed-point-critical-above-one": lambda w: ["theory", "cvar-fixed-point", "--alpha", "0.1", "--beta", "0.5",
                                                 "--rest-error", "0.1", "--critical", "2"],
    "exact-alpha-zero": lambda w: ["theory", "exact", "--alpha", "0", "--problem", w.problem()],
    "exact-alpha-above-one": lambda w: ["theory", "exact", "--alpha", "1.2", "--problem", w.problem()],
    "exact-unknown-strategy": lambda w: ["theory", "exact", "--alpha", "0.1", "--strategy", "bribe",
                                         "--problem", w.problem()],
    "exact-epsilon-one": lambda w: ["theory", "exact", "--alpha", "0.1", "--epsilon", "1", "--problem", w.problem()],
    "exact-unknown-definition": lambda w: ["theory", "exact", "--alpha", "0.1", "--definition", "x",
                                           "--problem", w.problem()],
    "exact-problem-unknown-key": lambda w: ["theory", "exact", "--alpha", "0.1", "--problem", w.problem(h=1)],
    "exact-problem-missing-g": lambda w: ["theory", "exact", "--alpha", "0.1",
                                          "--problem", w.write("p.yaml", {"p0": PROBLEM["p0"]})],
    "exact-problem-p0-text": lambda w: ["theory", "exact", "--alpha", "0.1", "--problem", w.problem(p0="table")],
    "exact-problem-p0-ragged": lambda w: ["theory", "exact", "--alpha", "0.1",
                                          "--problem", w.problem(p0=[[0.5, 0.1], [0.4]])],
    "exact-problem-p0-negative": lambda w: ["theory", "exact", "--alpha", "0.1",
                                            "--problem", w.problem(p0=[[-0.3, 0.2], [0.7, 0.4]])],
    "exact-problem-p0-not-normalised": lambda w: ["theory", "exact", "--alpha", "0.1",
                                                  "--problem", w.problem(p0=[[3, 2], [1, 4]])],
    "exact-problem-g-wrong-length": lambda w: ["theory", "exact", "--alpha", "0.1", "--problem", w.problem(g=[1])],
    "exact-problem-g-out-of-range": lambda w: ["theory", "exact", "--alpha", "0.1", "--problem", w.problem(g=[7, 1])],
    "exact-problem-target-out-of-range": lambda w: ["theory", "exact", "--alpha", "0.1",
                                                    "--problem", w.problem(target=5)],
    "exact-problem-target-text": lambda w: ["theory", "exact", "--alpha", "0.1", "--problem", w.problem(target="one")],
    "exact-missing-problem": lambda w: ["theory", "exact", "--alpha", "0.1"],
    "theory-unknown-subcommand": lambda w: ["theory", "guess"],
    "theory-unknown-option": lambda w: ["theory", "bound", "--alpha", "0.1", "--delta", "0.1", "--xi", "0.5",
                                        "--colour", "red"],
    # bench and the root command
    "bench-unknown-benchmark": lambda w: ["bench", "everything"],
    "bench-no-name": lambda w: ["bench"],
    "root-unknown-command": lambda w: ["fly"],
    "root-unknown-option": lambda w: ["--colour"],
})


def _truncated_store(w: World) -> Path:
    folder = w.store("trunc")
    path = folder / "results.sqlite"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return folder


def _foreign_store(w: World) -> Path:
    import sqlite3

    folder = w.root / "foreign"
    folder.mkdir()
    with sqlite3.connect(folder / "results.sqlite") as conn:
        conn.execute("CREATE TABLE something (x)")
    return folder


def _store_in_read_only(w: World) -> Path:
    """A valid store on a read-only file system (plot's default figures folder is beside it)."""
    folder = w.store("ro-store")
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return folder
    if subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(folder)], capture_output=True).returncode:
        pytest.skip("running as root and cannot bind-mount a folder read-only")
    w._ro_binds = getattr(w, "_ro_binds", []) + [folder]
    return folder


def snapshot(root: Path) -> dict:
    """Every path under ``root`` with (mtime, size) for files; folders by name only (their mtime
    moves when SQLite makes and removes its -shm file beside a store it only read)."""
    seen = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            seen[os.path.relpath(os.path.join(dirpath, name), root)] = "dir"
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            seen[os.path.relpath(os.path.join(dirpath, name), root)] = (st.st_mtime_ns, st.st_size)
    return seen


@pytest.fixture
def world(tmp_path, monkeypatch):
    w = World(tmp_path)
    monkeypatch.chdir(tmp_path)  # a default output folder (results/...) would be made here
    yield w
    os.chdir(tmp_path.parent)  # a mount is busy while it is the working folder
    for folder in getattr(w, "_ro_binds", []):
        subprocess.run(["umount", str(folder)], check=False)
    w.close()


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_malformed_input_is_one_line_exit_2_and_writes_nothing(cli, world, monkeypatch, case):
    made = CASES[case](world)
    args, env = made if isinstance(made, tuple) else (made, {})
    for key, value in env.items():
        if key == "__cwd__":
            monkeypatch.chdir(value)
        else:
            monkeypatch.setenv(key, value)
    before = snapshot(world.root)
    result = cli(*args)
    after = snapshot(world.root)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-2000:]
    assert result.exit_code == 2, (result.exit_code, result.stderr[-2000:])
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip() and result.stderr.endswith("\n"), result.stderr[-2000:]
    assert after == before, {k: (before.get(k), after.get(k)) for k in set(before) | set(after)
                             if before.get(k) != after.get(k)}


def test_there_are_enough_cases_on_every_command():
    commands = {"sweep", "simulate", "train", "stress", "reproduce", "results", "plot", "bench", "bound",
                "critical-mass", "jtt", "cvar", "chi2", "lff", "general", "fixed-point", "exact"}
    assert len(CASES) >= 150
    for command in commands:
        assert any(case.startswith(command + "-") for case in CASES), command


# Cases whose bad input reaches a child process (bench runs its script in a fresh interpreter, so
# only the real command's stderr shows what the user sees) or that check the installed entry point.
SCRIPT_CASES = {
    "bench-script-unknown-option": lambda w: ["bench", "simulate", "--bogus"],
    "bench-script-missing-value": lambda w: ["bench", "simulate", "--configs"],
    "bench-script-bad-number": lambda w: ["bench", "theory", "--points", "many"],
    "bench-script-bad-choice": lambda w: ["bench", "simulate", "--solver", "magic"],
    "entry-point-binary-experiment": lambda w: ["sweep", w.write("bad.yaml", CONTENTS["binary"]), "--out", "o"],
    "entry-point-theory-out-of-range": lambda w: ["theory", "bound", "--alpha", "2", "--delta", "0.1", "--xi", "1"],
}


@pytest.mark.parametrize("case", list(SCRIPT_CASES), ids=list(SCRIPT_CASES))
def test_malformed_input_through_the_installed_command(world, case):
    import sys

    command = Path(sys.executable).with_name("collective-action")
    args = [str(a) for a in SCRIPT_CASES[case](world)]
    before = snapshot(world.root)
    # the tmp folder as the working folder: a checkout's root would shadow the installed package
    done = subprocess.run([str(command), *args], cwd=world.root, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-2000:]
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr[-2000:]
    assert snapshot(world.root) == before
