"""Train any study as a script, with the options of `tfml train STUDY` (studies are found by their
Config.NAME, as the tfml command finds them):

    python train_scripts/train.py autoencoder --data ../shared/data/cifar10-jpg.tar.gz --epochs 30
    python train_scripts/train.py --help            # the studies
    python train_scripts/train.py posters --help    # one study's options
"""

import sys

from tfml.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
