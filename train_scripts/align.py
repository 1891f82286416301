"""Study 4: poster / synopsis alignment (same options as `tfml train align`).

    python train_scripts/align.py --data ../shared/data/ml100k-posters
"""

import sys

from tfml.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "align", *sys.argv[1:]]))
