"""The ``gateway`` kind against a real Dask Gateway server: its clusters run sgdsm, equal to a local run.

The server (``dask-gateway-server``, local backend: the scheduler and the
workers are processes of this machine) listens on 127.0.0.1 with a
password, and offers the cluster options ``worker_cores`` and
``worker_memory`` as a Pangeo hub's gateway does
(:func:`tests.integration.services.local_gateway`).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from sgdsm_dask.testing import one_error_line
from tests.integration.runs import SGDSM
from tests.integration.services import (
    assert_same_daily,
    assert_same_result,
    assert_same_staged,
    local_gateway,
    local_reconstruct,
    local_stage,
    reconstruct_args,
    stage_args,
)

PASSWORD_ENV = "SGDSM_TEST_GATEWAY_PASSWORD"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    # the workers get the land-mask cache of the session, as a hub's image would ship its environment
    with local_gateway(tmp_path_factory.mktemp("gateway"), {"SGDSM_CACHE": os.environ["SGDSM_CACHE"]}) as g:
        yield g


def gateway_spec(gateway, folder: Path, **changes) -> Path:
    spec = {
        "kind": "gateway",
        "address": gateway.address,
        "proxy_address": gateway.proxy_address,
        "auth": "basic",
        "username": "sgdsm-tester",
        "password_env": PASSWORD_ENV,
        "workers": 2,
        "worker_cores": 1,
        "worker_memory": 1.5,
        "wait_for_workers_s": 120,
        **changes,
    }
    path = folder / "gateway.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def sgdsm(gateway, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, PASSWORD_ENV: gateway.password}
    proc = subprocess.run([*SGDSM, *args], env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, f"sgdsm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        assert "Traceback" not in proc.stderr, proc.stderr[-3000:]  # nothing logged at the user but the dashboard line
    return proc


def test_a_gateway_spec_gets_a_cluster_of_the_asked_workers_and_shuts_it_down(gateway, tmp_path, monkeypatch):
    from dask_gateway import BasicAuth, Gateway

    from sgdsm_dask.runtime import connect

    monkeypatch.setenv(PASSWORD_ENV, gateway.password)
    auth = BasicAuth("sgdsm-tester", gateway.password)
    # not `with Gateway(...)`: its __del__ would close it a second time and raise (dask-gateway 2026.3
    # with distributed 2026.8); dropped at the end, it is closed once
    gw = Gateway(gateway.address, gateway.proxy_address, auth=auth)
    with connect(cluster=gateway_spec(gateway, tmp_path)) as client:
        client.wait_for_workers(2, timeout=120)
        workers = client.scheduler_info()["workers"].values()
        assert sorted(w["nthreads"] for w in workers) == [1, 1]
        assert all(w["memory_limit"] == int(1.5 * 2**30) for w in workers)
        # started by the gateway (its environment), not by this process
        started_by = client.run(lambda: (os.getppid(), os.environ.get("SGDSM_LOCAL_GATEWAY")))
        assert {by for _, by in started_by.values()} == {str(gateway.folder.resolve())}
        assert os.getpid() not in {parent for parent, _ in started_by.values()}
        assert [c.status.name for c in gw.list_clusters()] == ["RUNNING"]
    assert gw.list_clusters() == []  # shut down when the command's client closed
    del gw


def test_what_the_gateway_refuses_is_one_error_line_naming_it(gateway, tmp_path):
    unknown = sgdsm(gateway, "cluster", "up", str(gateway_spec(gateway, tmp_path, options={"gpus": 1})), check=False)
    assert unknown.returncode == 2
    line = one_error_line(unknown.stderr)
    assert gateway.address in line and "gpus" in line

    too_big = sgdsm(gateway, "cluster", "up", str(gateway_spec(gateway, tmp_path, worker_cores=64)), check=False)
    assert too_big.returncode == 2 and "worker_cores" in one_error_line(too_big.stderr)

    env = {**os.environ, PASSWORD_ENV: "wrong"}
    spec = gateway_spec(gateway, tmp_path)
    denied = subprocess.run([*SGDSM, "cluster", "up", str(spec)], env=env, capture_output=True, text=True, timeout=120)
    assert denied.returncode == 2 and gateway.address in one_error_line(denied.stderr)


@pytest.mark.slow
def test_stage_reconstruct_and_export_on_the_gateway_equal_a_local_run(gateway, archive, tmp_path):
    local = local_stage(archive, tmp_path / "local")
    reference = local_reconstruct(local, tmp_path / "local")
    spec = gateway_spec(gateway, tmp_path)
    staged, result, daily = tmp_path / "staged.zarr", tmp_path / "result.zarr", tmp_path / "daily"
    sgdsm(gateway, *stage_args(archive, staged), "--cluster", str(spec))
    proc = sgdsm(gateway, *reconstruct_args(staged, result, daily), "--cluster", str(spec))
    assert json.loads(proc.stdout.strip().splitlines()[-1])["tasks_run"] == 6
    assert_same_staged(staged, local)
    assert_same_result(result, reference / "result.zarr")
    assert_same_daily(daily, reference / "daily")


def test_the_gateway_spec_of_cluster_asks_for_single_thread_workers_and_refuses_a_tls_block(tmp_path):
    from sgdsm_dask.errors import ConfigError
    from sgdsm_dask.runtime import GatewaySpec, load_spec
    from tests.integration.services import ROOT

    spec = load_spec(ROOT / "cluster" / "gateway.yaml")
    assert isinstance(spec, GatewaySpec)
    assert spec.cluster_options() == {"worker_cores": 1, "worker_memory": 4.0}
    for text, says in (
        ("kind: gateway\ntls:\n  temporary: true\n", "takes no tls block"),
        ("kind: gateway\nusername: me\n", "auth: basic"),
        ("kind: gateway\nworker_cores: 0\n", "worker_cores"),
    ):
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(ConfigError, match=says) as err:
            load_spec(bad)
        assert str(bad) in str(err.value)
