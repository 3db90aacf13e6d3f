"""ROS 2 on the robot: rosbag2 recordings in and out, message conversion, and an rclpy node.

* :mod:`.messages` — Image / CompressedImage -> numpy; depth -> Image, CameraInfo, PointCloud2
  (shared by the bags and the node);
* :mod:`.bags` — :class:`~.bags.BagInput` and :class:`~.bags.BagOutput` for
  :func:`xnet_edge.runtime.infer`, through the pure-Python ``rosbags`` library;
* :mod:`.node` — the ``xnet-edge ros2`` node (``rclpy`` is imported only when it runs).

Nothing here imports ``rosbags`` or ``rclpy`` at module level.
"""
