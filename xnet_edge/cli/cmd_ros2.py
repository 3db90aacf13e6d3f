"""``xnet-edge ros2``: a ROS 2 node publishing depth for a camera topic (needs ROS 2's rclpy).

    source /opt/ros/humble/setup.bash
    xnet-edge ros2 --engine engines/orin --image-topic /camera/color/image_raw --points
    python3 -m xnet_edge.ros2 --engine engines/orin --image-topic /camera/color/image_raw/compressed

Publishes ``<ns>/depth/image_raw`` (32FC1 metres or 16UC1 mm), ``<ns>/depth/camera_info``
(rescaled to the depth's size) and optionally ``<ns>/depth/points`` with the camera's header;
latency figures go to ``/diagnostics`` once a second. Frames that arrive while the model is
busy replace the waiting one (dropped, counted) instead of queueing.
"""

from __future__ import annotations

import argparse

from ..preprocess import size_arg
from .common import add_runtime_arguments, runtime_options


def register(sub) -> None:
    p = sub.add_parser("ros2", help="run a ROS 2 node: camera topic in, depth / camera info / points out",
                       description="Subscribe to a camera topic and publish depth, its camera info and an "
                                   "optional point cloud with the camera's header. Needs ROS 2 (rclpy) sourced.")
    p.add_argument("--engine", required=True, metavar="ARTIFACT",
                   help="engine folder, .onnx, .plan/.engine, .safetensors checkpoint, or demo[:MODEL]")
    p.add_argument("--image-topic", required=True, metavar="TOPIC", help="Image or CompressedImage topic")
    p.add_argument("--compressed", action="store_true", default=None,
                   help="the topic carries CompressedImage (default: when its name ends in /compressed)")
    p.add_argument("--camera-info-topic", metavar="TOPIC", help="CameraInfo topic (default <ns>/camera_info)")
    p.add_argument("--intrinsics", metavar="FX,FY,CX,CY", help="use these intrinsics instead of CameraInfo")
    p.add_argument("--qos", choices=["sensor", "reliable"], default="sensor",
                   help="subscription QoS: sensor (best effort, sensor-data profile; default) or reliable")
    p.add_argument("--depth-encoding", choices=["32FC1", "16UC1"], default="32FC1",
                   help="32FC1 metres (default) or 16UC1 millimetres, 0 = no depth")
    p.add_argument("--depth-size", type=size_arg, metavar="HxW", help="publish depth at this size")
    p.add_argument("--points", action="store_true", help="also publish an organized PointCloud2 (xyz)")
    p.add_argument("--points-rgb", action="store_true", help="PointCloud2 with the image's colours")
    p.add_argument("--output-ns", metavar="NS", help="namespace of the output topics (default: the camera's)")
    p.add_argument("--depth-topic", metavar="TOPIC", help="override the depth image topic")
    p.add_argument("--depth-info-topic", metavar="TOPIC", help="override the depth camera info topic")
    p.add_argument("--points-topic", metavar="TOPIC", help="override the point cloud topic")
    p.add_argument("--diagnostics-topic", default="/diagnostics", metavar="TOPIC",
                   help="latency / FPS / dropped frames, once a second (default /diagnostics)")
    p.add_argument("--node-name", default="xnet_edge_depth", help="ROS node name (default xnet_edge_depth)")
    p.add_argument("--serve", metavar="[HOST:]PORT", help="also serve a live view (MJPEG web page)")
    add_runtime_arguments(p)
    p.add_argument("--ros-args", nargs=argparse.REMAINDER, default=[], help="arguments for ROS (remapping, ...)")
    p.set_defaults(func=run)


def run(args) -> int:
    from .._deps import require
    from ..ros2.bags import OutputTopics
    from ..ros2.messages import ResultOptions
    from ..ros2.node import NodeOptions, run_node
    from ..runtime import Runtime
    from ..runtime.outputs import parse_intrinsics

    require("rclpy")  # before the model loads: says how to get ROS 2 when it is missing
    options = NodeOptions(
        args.image_topic, compressed=args.compressed, camera_info_topic=args.camera_info_topic,
        intrinsics=parse_intrinsics(args.intrinsics) if args.intrinsics else None,
        topics=OutputTopics(args.output_ns, args.depth_topic, args.depth_info_topic, args.points_topic),
        result=ResultOptions(args.depth_encoding, args.points, args.points_rgb, args.depth_size),
        diagnostics_topic=args.diagnostics_topic, qos=args.qos)
    view = None
    with Runtime(args.engine, runtime_options(args)) as runtime:
        try:
            if args.serve:
                from ..runtime.live_view import LiveView

                view = LiveView(args.serve, title=f"{args.engine} on {args.image_topic}")
                print(f"live view: {view.url}", flush=True)
            figures = run_node(runtime, options, node_name=args.node_name, view=view, ros_args=args.ros_args)
        finally:
            if view is not None:
                view.close()
    print(", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items()))
    return 0
