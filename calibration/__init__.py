"""INT8 range calibration, Q/DQ ONNX writing and TensorRT caches (installed as ``xnet_edge.calibration``)."""
