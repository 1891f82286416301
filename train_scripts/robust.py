"""The `tfml train robust` study as a script (same options).

    python train_scripts/robust.py --help
"""

import sys

from tfml.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "robust", *sys.argv[1:]]))
