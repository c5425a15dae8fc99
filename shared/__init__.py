"""Code every stage shares: settings, schemas, image decoding, the ONNX session wrapper, metrics."""
