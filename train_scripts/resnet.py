"""The `tfml train resnet` study as a script (same options).

    python train_scripts/resnet.py --help
"""

import sys

from tfml.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "resnet", *sys.argv[1:]]))
