"""The `tfml train movies` study as a script (same options).

    python train_scripts/movies.py --help
"""

import sys

from tfml.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "movies", *sys.argv[1:]]))
