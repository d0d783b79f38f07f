"""The models a worker runs, per stage, as the settings name them (`services.provenance`).

Computed once per process: by a pool process when it loads its models (each result carries
them), and by the main process for its heartbeat (what `/v1/models` lists). Both read the
same files, so both say the same; neither loads a model to say it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from services.embeddings.batching import native_bfloat16
from services.embeddings.minilm import packaged_minilm_path
from services.provenance import ModelInfo, fingerprint, model_version, torch_runtime
from worker.settings import WorkerSettings

ENCODER_NAME = "all-MiniLM-L6-v2"
# The files of a MiniLM folder that the ONNX encoder reads (its tokenizer).
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)


def encoder_dtype(settings: WorkerSettings) -> str:
    """The torch encoder's dtype: `auto` is bfloat16 where the CPU computes it natively."""
    if settings.encoder_dtype != "auto":
        return settings.encoder_dtype
    return "bfloat16" if native_bfloat16() else "float32"


def encoder_info(settings: WorkerSettings) -> ModelInfo:
    minilm = packaged_minilm_path()
    if settings.encoder == "onnx":
        from services.embeddings.onnx_runtime import packaged_onnx_path

        model_file = Path(settings.onnx_model) if settings.onnx_model else packaged_onnx_path()
        tokenizer = [minilm / f for f in TOKENIZER_FILES if (minilm / f).is_file()]
        # The packaged file stores int8 weights; another file's precision is not known here.
        runtime = "onnx" if settings.onnx_model else "onnx int8"
        name = f"{ENCODER_NAME} ({model_file.name})"
        return ModelInfo("encoder", name, fingerprint([model_file, *tokenizer]), runtime)
    runtime = torch_runtime(encoder_dtype(settings))
    return ModelInfo("encoder", ENCODER_NAME, fingerprint([minilm]), runtime)


def summarizer_info(settings: WorkerSettings) -> ModelInfo:
    if settings.summarizer == "seq2seq" and settings.summarizer_model:
        model = settings.summarizer_model
        return ModelInfo("summarizer", model, model_version(model), torch_runtime("float32"))
    from services.summarize import extractive

    # No artifact: the algorithm's code and its one setting are what make its summaries.
    extra = json.dumps({"position_weight": settings.summary_position_weight}).encode()
    version = fingerprint([Path(extractive.__file__)], extra=extra)
    return ModelInfo("summarizer", "extractive", version, "numpy")


def stance_infos(settings: WorkerSettings) -> list[ModelInfo]:
    if settings.stance_backend == "similarity":
        from services.stance import similarity

        version = fingerprint([Path(similarity.__file__)])
        return [ModelInfo("stance", "similarity", version, "numpy")]
    if settings.stance_backend == "nli" and settings.nli_model:
        model = settings.nli_model
        return [ModelInfo("stance", model, model_version(model), torch_runtime("float32"))]
    folder = Path(settings.stance_model)
    manifest = json.loads((folder / "stance_model.json").read_text(encoding="utf-8"))
    name = f"{folder.name} ({manifest.get('kind', 'lightgbm')})"
    infos = [ModelInfo("stance", name, fingerprint([folder]), "lightgbm")]
    if manifest.get("verifier"):
        from services.stance.trained import VERIFIER_FOLDER  # lightgbm: only where needed

        # Run under bfloat16 autocast where the CPU computes it natively (StanceCrossEncoder).
        runtime = torch_runtime("bfloat16" if native_bfloat16() else "float32")
        verifier = folder / VERIFIER_FOLDER
        infos.append(
            ModelInfo("stance_verifier", "minilm-cross-encoder", fingerprint([verifier]), runtime)
        )
    return infos


@cache
def describe_models(settings: WorkerSettings) -> tuple[ModelInfo, ...]:
    """Every stage's model under these settings; raises ModelLoadError for a missing one."""
    return (encoder_info(settings), summarizer_info(settings), *stance_infos(settings))


def models_json(models: tuple[ModelInfo, ...]) -> dict[str, dict[str, str]]:
    """By stage: each model's name, version and runtime (`result.models`, the heartbeat)."""
    return {m.stage: {"name": m.name, "version": m.version, "runtime": m.runtime} for m in models}
