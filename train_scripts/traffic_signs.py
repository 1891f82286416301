"""The `tfml train traffic-signs` study as a script (same options).

    python train_scripts/traffic_signs.py --help
"""

import sys

from tfml.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "traffic-signs", *sys.argv[1:]]))
