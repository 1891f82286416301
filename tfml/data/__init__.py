"""Loaders that return plain arrays and records."""

from tfml.data.cifar10 import Cifar10, load_cifar10
from tfml.data.images import ImageFolder, decode_image, load_image_files, load_image_folder
from tfml.data.movielens import MovieLens, load_movielens, resolve_title
from tfml.data.sources import LabelledImages, load_labelled_images
from tfml.data.splits import stratified_split
