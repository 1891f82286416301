"""Study 3: graded metric learning on movie posters (same options as `tfml train posters`).

    python train_scripts/posters.py --data ../shared/data/ml100k-posters
"""

import sys

from tfml.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "posters", *sys.argv[1:]]))
