"""``python -m xnet_edge.ros2 --engine DIR --image-topic TOPIC ...``: the ROS 2 node (``xnet-edge ros2``)."""

import sys

from ..cli import main

if __name__ == "__main__":
    sys.exit(main(["ros2", *sys.argv[1:]]))
