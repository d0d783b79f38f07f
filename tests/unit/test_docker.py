"""No Docker engine runs here: check what can be checked of docker/ without one."""

from __future__ import annotations

import re
import subprocess

import yaml

from tests.conftest import REPO_ROOT

DOCKER = REPO_ROOT / "docker"


def test_dockerfile_copies_only_paths_that_exist():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    sources = re.findall(r"^COPY\s+(\S+)\s+\S+$", dockerfile, flags=re.MULTILINE)
    assert sources, "the Dockerfile copies nothing"
    for source in sources:
        assert (REPO_ROOT / source).exists(), source
    assert "torch==2.13.0" in dockerfile
    assert re.search(r"^USER\s+\w+", dockerfile, flags=re.MULTILINE), "runs as root"


def test_entrypoint_execs_each_role():
    script = DOCKER / "entrypoint.sh"
    assert subprocess.run(["sh", "-n", str(script)], check=False).returncode == 0
    text = script.read_text()
    for role in ("api)", "worker)"):
        assert role in text
    assert text.count("exec ") >= 3


def test_compose_services_are_wired_to_one_redis():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"redis", "api", "worker"}
    assert "--appendonly" in services["redis"]["command"]
    for name in ("api", "worker"):
        assert services[name]["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert (REPO_ROOT / services["api"]["build"]["context"].replace("..", ".")).is_dir()
