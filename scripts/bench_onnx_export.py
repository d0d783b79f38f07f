"""Export the packaged MiniLM to ONNX, fuse it for BERT, quantize its MatMuls to int8.

    python -m scripts.bench_onnx_export            # writes var/bench/onnx/minilm-*.onnx
    python -m scripts.bench_fidelity --encoders onnx --onnx-model var/bench/onnx/minilm-int8-pc.onnx

For the int8 lever of `make bench`: the files are measured, not shipped (the worker's default
is torch bfloat16, which keeps the fidelity bound that these int8 files miss; docs/bench.md).
Needs the `onnx` package (requirements-dev.txt).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT = REPO_ROOT / "var" / "bench" / "onnx"


def export_fp32(path: Path) -> None:
    import torch

    from services.embeddings.minilm import packaged_minilm_path
    from services.embeddings.torch_bert import TorchSentenceEncoder

    net = TorchSentenceEncoder(packaged_minilm_path(), dtype="float32").model
    ids = torch.ones(2, 16, dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    torch.onnx.export(
        net,
        (ids, torch.ones_like(ids)),
        str(path),
        input_names=["input_ids", "attention_mask"],
        output_names=["last_hidden_state"],
        dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
        opset_version=17,
        dynamo=False,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.transformers import optimizer
    except ImportError as exc:
        print(f"skipped: {exc} (pip install onnx)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    fp32, fused = args.out / "minilm-fp32.onnx", args.out / "minilm-fp32-fused.onnx"
    export_fp32(fp32)
    model = optimizer.optimize_model(
        str(fp32), model_type="bert", num_heads=12, hidden_size=384, opt_level=1
    )
    model.save_model_to_file(str(fused))
    print("fused operators:", {k: v for k, v in model.get_fused_operator_statistics().items() if v})
    for name, per_channel in (("minilm-int8-pt.onnx", False), ("minilm-int8-pc.onnx", True)):
        quantize_dynamic(
            str(fused),
            str(args.out / name),
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            extra_options={"DefaultTensorType": 1},  # float, where shape inference is silent
        )
        print("wrote", args.out / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
