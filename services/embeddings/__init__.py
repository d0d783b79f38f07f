"""Sentence embeddings: the packaged MiniLM, its runtimes (torch, ONNX, reference), batching."""
