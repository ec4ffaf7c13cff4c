"""Bad experiment files write nothing; a local Ray cluster gives the pool's table and retries."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from collective_action.runs.store import comparable
from collective_action.runs.sweep import run_sweep

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize(
    "old, new, fragment",
    [
        ("n_points: 300", "n_points: 300\n  bogus: 1", "bogus: unknown key"),
        ("seeds: 3", "seeds: 3\nextra_top: 1", "extra_top: unknown key"),
        ("n_points: 300", "n_points: many", "n_points"),
        ("learner: [majority, smoothed]", "learner: []", "empty"),
        ("[0.01, 0.03, 0.1, 0.3]", "[0.01, 0.03, 1.5]", "collective.alpha"),
        ("[0.01, 0.03, 0.1, 0.3]", "[0.0, 0.1]", "collective.alpha"),
        ("learner: [majority, smoothed]", "learner: [majority, oracle]", "unknown learner"),
        ("n_points: 300", "n_points: 300\n  dataset: cifar-100", "unknown data set"),
        ("pillar: toy", "pillar: astrology", "unknown pillar"),
        ("seeds: 3", "seeds: []", "seeds"),
    ],
)
def test_malformed_experiment_exits_2_with_one_line_and_writes_nothing(
    toy, write_experiment, tmp_path, cli, old, new, fragment
):
    path = write_experiment()
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    out = tmp_path / "results-folder"
    res = cli("sweep", path, "--out", out, "--executor", "serial")
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("error:"), res.stderr
    assert fragment in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""
    assert not out.exists()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("--executor", "slurm"), "unknown executor"), (("--backend", "slurm"), "unknown executor"),
        (("--workers", "0"), "workers"),
        (("--batch-size", "0"), "batch size"),
        (("--address", "10.0.0.1:6379"), "--executor ray"),
    ],
)
def test_bad_runner_options_exit_2_and_write_nothing(toy, write_experiment, tmp_path, cli, args, fragment):
    out = tmp_path / "results-folder"
    res = cli("sweep", write_experiment(), "--out", out, *args)
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and fragment in res.stderr, res.stderr
    assert not out.exists()


def test_local_ray_cluster_matches_pool_and_retries_a_dead_worker(toy, write_experiment, tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    marker = tmp_path / "ray-worker-died"
    exp = write_experiment(extra_config=f"crash_marker: {marker}\n")
    # The toolkit starts the local head itself (bound to 127.0.0.1); its workers inherit this
    # environment, which is how they find the test-only pillar module.
    pythonpath = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    monkeypatch.setenv("PYTHONPATH", pythonpath)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert not ray.is_initialized()
    on_ray = run_sweep(exp, tmp_path / "ray", executor="ray", workers=2, batch_size=4, progress=False)
    assert not ray.is_initialized(), "a head the toolkit started must be shut down again"
    assert marker.exists(), "no Ray worker died, so the retry was not exercised"
    assert on_ray.n_failed == 0 and on_ray.n_run == 24
    ray_frame = on_ray.frame()
    assert set(ray_frame["sweep_backend"]) == {"ray"}
    assert ray_frame["cell_id"].is_unique
    # the marker now exists, so the pool run does not crash; same cells, same numbers
    on_pool = run_sweep(exp, tmp_path / "pool", executor="pool", workers=2, batch_size=4, progress=False)
    pd.testing.assert_frame_equal(comparable(ray_frame), comparable(on_pool.frame()))


@pytest.mark.slow
def test_sweep_on_an_existing_ray_cluster_by_address(toy, write_experiment, tmp_path, monkeypatch):
    """`--backend ray --address`: a head started outside the toolkit (as on a cluster)."""
    pytest.importorskip("ray")
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # a throw-away test cluster: no token authentication on either side
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1")
    ray_cli = [sys.executable, "-c", "from ray.scripts.scripts import main; main()"]
    # Ray rewrites a loopback --address to the machine's own IP, so this head listens there
    # (as a cluster head would); the toolkit's own local heads are the ones bound to 127.0.0.1.
    start = subprocess.run([*ray_cli, "start", "--head", "--port", str(port),
                            "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats"],
                           env=env, capture_output=True, text=True, timeout=120)
    assert start.returncode == 0, start.stderr[-2000:]
    try:
        exp = write_experiment()
        report = run_sweep(exp, tmp_path / "cluster", executor="ray", address=f"127.0.0.1:{port}", batch_size=6,
                           progress=False)
        local = run_sweep(exp, tmp_path / "serial", executor="serial", progress=False)
        assert report.n_failed == 0
        pd.testing.assert_frame_equal(comparable(report.frame()), comparable(local.frame()))
    finally:
        subprocess.run([*ray_cli, "stop", "--force"], env=env, capture_output=True, timeout=120)
