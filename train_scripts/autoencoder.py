"""Study 1: the CIFAR-10 autoencoder retrieval study (same options as `tfml train autoencoder`).

    python train_scripts/autoencoder.py --data ../shared/data/cifar10-jpg.tar.gz --epochs 30
"""

import sys

from tfml.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "autoencoder", *sys.argv[1:]]))
