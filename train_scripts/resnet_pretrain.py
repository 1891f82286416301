"""The `tfml train resnet-pretrain` study as a script (same options).

    python train_scripts/resnet_pretrain.py --help
"""

import sys

from tfml.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "resnet-pretrain", *sys.argv[1:]]))
