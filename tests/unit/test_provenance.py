"""Model provenance: versions from the artifact files, and the runtime names."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from services.errors import ModelLoadError
from services.provenance import fingerprint, hub_revision, model_version, torch_runtime
from worker.provenance import describe_models, models_json
from worker.settings import DEFAULT_STANCE_MODEL, WorkerSettings

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def model_folder(root, files):
    root.mkdir(parents=True)
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


FILES = {"config.json": b'{"a": 1}', "weights.bin": b"\x00\x01\x02" * 100, "sub/vocab.txt": b"x\n"}


def test_the_same_files_give_the_same_version_wherever_and_in_whatever_order(tmp_path):
    first = model_folder(tmp_path / "a", FILES)
    second = model_folder(tmp_path / "b", dict(reversed(FILES.items())))
    version = fingerprint([first])
    assert re.fullmatch(r"[0-9a-f]{12}", version)
    assert fingerprint([first]) == version
    assert fingerprint([second]) == version


def test_a_changed_added_or_renamed_file_changes_the_version(tmp_path):
    folder = model_folder(tmp_path / "m", FILES)
    versions = {fingerprint([folder])}
    (folder / "weights.bin").write_bytes(b"\x00\x01\x03" * 100)  # same size, one byte off
    versions.add(fingerprint([folder]))
    (folder / "extra.json").write_bytes(b"{}")
    versions.add(fingerprint([folder]))
    (folder / "extra.json").rename(folder / "other.json")
    versions.add(fingerprint([folder]))
    assert len(versions) == 4


def test_settings_that_change_the_output_change_the_version(tmp_path):
    folder = model_folder(tmp_path / "m", FILES)
    assert fingerprint([folder], extra=b"1") != fingerprint([folder], extra=b"2")


def test_a_missing_model_is_a_model_load_error(tmp_path):
    with pytest.raises(ModelLoadError):
        fingerprint([tmp_path / "absent"])
    with pytest.raises(ModelLoadError):
        model_version(str(tmp_path / "absent"))


def test_a_hub_model_reads_as_its_revision_else_as_its_files(tmp_path):
    snapshot = model_folder(tmp_path / "models--org--name" / "snapshots" / COMMIT, FILES)
    assert hub_revision(snapshot) == COMMIT[:12]
    assert model_version(str(snapshot)) == COMMIT[:12]
    configured = model_folder(
        tmp_path / "saved", {"config.json": json.dumps({"_commit_hash": COMMIT}).encode()}
    )
    assert model_version(str(configured)) == COMMIT[:12]
    plain = model_folder(tmp_path / "plain", FILES)
    assert hub_revision(plain) is None
    assert model_version(str(plain)) == fingerprint([plain])


def test_runtime_names():
    assert torch_runtime("bfloat16") == "torch bf16"
    assert torch_runtime("float32") == "torch fp32"
    for dtype, runtime in (("float32", "torch fp32"), ("bfloat16", "torch bf16")):
        models = describe_models(WorkerSettings(redis_url="redis://x", encoder_dtype=dtype))
        assert [(m.stage, m.runtime) for m in models][:3] == [
            ("encoder", runtime), ("summarizer", "numpy"), ("stance", "lightgbm"),
        ]  # fmt: skip
        # The shipped stance model has a claim verifier, in bfloat16 where the CPU has it.
        assert models[3].stage == "stance_verifier"
        assert models[3].runtime in ("torch bf16", "torch fp32")
    onnx = describe_models(WorkerSettings(redis_url="redis://x", encoder="onnx"))
    assert onnx[0].runtime == "onnx int8"
    assert onnx[0].version != describe_models(WorkerSettings(redis_url="redis://x"))[0].version


def test_a_stance_folder_with_a_verifier_adds_its_stage(tmp_path):
    folder = tmp_path / "stance"
    shutil.copytree(DEFAULT_STANCE_MODEL, folder)
    manifest = json.loads((folder / "stance_model.json").read_text())
    # Without its verifier first: the stance stage alone.
    manifest.pop("verifier", None)
    shutil.rmtree(folder / "verifier", ignore_errors=True)
    (folder / "stance_model.json").write_text(json.dumps(manifest))
    plain = describe_models(WorkerSettings(redis_url="redis://x", stance_model=str(folder)))
    assert [m.stage for m in plain] == ["encoder", "summarizer", "stance"]

    manifest["verifier"] = {"aggregator": {}, "class_weights": [1, 1, 1]}
    (folder / "stance_model.json").write_text(json.dumps(manifest))
    model_folder(folder / "verifier", {"delta.safetensors": b"weights", "config.json": b"{}"})
    settings = WorkerSettings(
        redis_url="redis://x", stance_model=str(folder), encoder_dtype="float32"
    )
    models = models_json(describe_models(settings))
    assert set(models) == {"encoder", "summarizer", "stance", "stance_verifier"}
    assert models["stance_verifier"]["runtime"] in ("torch bf16", "torch fp32")
    assert models["stance"]["version"] != plain[2].version
    assert models["stance_verifier"]["version"] == fingerprint([folder / "verifier"])


def test_a_hub_model_not_in_the_cache_yet_leaves_the_heartbeat_without_models():
    from worker.app import Heartbeat

    settings = WorkerSettings(
        redis_url="redis://127.0.0.1:1/0", stance_backend="nli", nli_model="org/not-downloaded"
    )
    with pytest.raises(ModelLoadError):
        model_version("org/not-downloaded")
    assert Heartbeat(settings, "w")._models(first=True) is None
