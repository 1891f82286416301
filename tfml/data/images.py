"""Image folders: a directory (or a .tar.gz of one) with one subfolder per class.

Layout: ``ROOT/[SUBDIR/]<class>/<image>``. Class names are the subfolder names, sorted; label i is
the i-th name. Every readable image is converted to RGB (grayscale is replicated, the alpha channel
of RGBA/LA/P images is dropped) and, when ``image_size`` is given, resized with bilinear
interpolation (optionally after padding to a square). Unreadable files (zero bytes, corrupt data,
not an image) and images whose shorter side is below ``min_side`` pixels are skipped: each skip is
counted, named in one warning and kept in ``ImageFolder.skipped``.

Order: folders have no natural order, so files are sorted by their relative path and then permuted
with ``numpy.random.default_rng(seed).permutation``; the same folder and seed always give the same
order, whatever the file system or the archive's member order.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import tarfile
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm import tqdm

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".ppm", ".tif", ".tiff", ".webp")


@dataclasses.dataclass
class ImageFolder:
    images: np.ndarray  # uint8, (N, H, W, 3)
    labels: np.ndarray  # int64, (N,)
    class_names: list[str]
    paths: list[str]  # relative to the root, in the same order as images
    skipped: list[tuple[str, str]]  # (relative path, reason)


def is_archive(path: str | os.PathLike) -> bool:
    return str(path).endswith((".tar.gz", ".tgz", ".tar"))


def archive_members(path: Path, read=lambda name, member: False) -> Iterator[tuple[str, tarfile.TarInfo, bytes | None]]:
    """(name without a leading "./", member, its bytes when ``read(name, member)`` else None) of each
    member of a .tar[.gz]; a truncated or foreign file is a ValueError naming it."""
    try:
        with tarfile.open(path) as archive:
            for member in archive:
                name = member.name.lstrip("./")
                yield name, member, archive.extractfile(member).read() if read(name, member) else None
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise ValueError(
            f"{path} is not a readable archive ({type(error).__name__}: {error}); it may be truncated or not a .tar.gz"
        ) from None


def _iter_files(root: Path, subdir: str | None) -> Iterator[tuple[str, bytes]]:
    """Yields (path relative to root/subdir, file bytes) of every image file."""
    prefix = f"{subdir.strip('/')}/" if subdir else ""
    if is_archive(root):
        wanted = lambda name, member: (
            member.isfile() and name.startswith(prefix) and name.lower().endswith(IMAGE_EXTENSIONS)
        )  # noqa: E731
        for name, _, data in archive_members(root, wanted):
            if data is not None:
                yield name[len(prefix) :], data
    else:
        base = root / subdir if subdir else root
        if not base.is_dir():
            raise FileNotFoundError(f"image folder {base} does not exist or is not a directory")
        for path in sorted(base.rglob("*")):
            if path.is_file() and path.name.lower().endswith(IMAGE_EXTENSIONS):
                yield path.relative_to(base).as_posix(), path.read_bytes()


_WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def to_rgb8(image: Image.Image) -> Image.Image:
    """Any image Pillow opens as 8-bit RGB: 16- and 32-bit grey scaled to 0-255 (not clipped), float
    grey in [0, 1] (or 0-255) scaled, palettes, CMYK and the other colour modes converted, an alpha
    channel (of RGBA, LA or a palette's transparency) dropped."""
    if image.mode in _WIDE_MODES or image.mode == "F":
        values = np.asarray(image, np.float64)
        if image.mode == "F":
            top = 1.0 if np.nanmax(values, initial=0.0) <= 1.0 else 255.0
        else:
            top = 65535.0 if np.nanmax(values, initial=0.0) > 255 or image.mode != "I" else 255.0
        grey = np.clip(np.nan_to_num(values) / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return image if image.mode == "RGB" else image.convert("RGB")


def decode_image(data: bytes, image_size: tuple[int, int] | None = None, pad_to_square: bool = False) -> np.ndarray:
    """Bytes of an image file -> uint8 RGB array (H, W, 3), resized to image_size=(H, W) if given.

    pad_to_square: first pad the shorter side with black, centred, so resizing keeps the aspect ratio.
    Raises ValueError when the bytes are not a readable image.
    """
    if not data:
        raise ValueError("empty file (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            rgb = to_rgb8(ImageOps.exif_transpose(image))
    except UnidentifiedImageError:
        raise ValueError("not a readable image (no known image format)") from None
    except (OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise ValueError(f"not a readable image ({error})") from None
    if pad_to_square and rgb.size[0] != rgb.size[1]:
        side = max(rgb.size)
        square = Image.new("RGB", (side, side))
        square.paste(rgb, ((side - rgb.size[0]) // 2, (side - rgb.size[1]) // 2))
        rgb = square
    if image_size is not None and rgb.size != (image_size[1], image_size[0]):
        rgb = rgb.resize((image_size[1], image_size[0]), Image.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)


def load_image_folder(
    path: str | os.PathLike,
    image_size: tuple[int, int] | None = None,
    subdir: str | None = None,
    seed: int = 0,
    progress: bool = False,
    pad_to_square: bool = False,
    min_side: int = 1,
) -> ImageFolder:
    """Loads ``path[/subdir]/<class>/<image>`` (a folder or a .tar.gz) into memory.

    image_size: (height, width) to resize to; None requires all images to share one size.
    pad_to_square: keep the aspect ratio when resizing (see decode_image).
    min_side: images whose shorter side is below this many pixels are skipped (and counted).
    seed: the seeded permutation applied after sorting by relative path (see module docstring).
    Raises FileNotFoundError for a missing path and ValueError for a folder without images or
    images of different sizes when image_size is None.
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"image folder or archive {root} does not exist")
    where = f"{root}{'/' + subdir if subdir else ''}"
    records: list[tuple[str, np.ndarray]] = []
    skipped: list[tuple[str, str]] = []
    files = _iter_files(root, subdir)
    for relative, data in tqdm(
        files, desc=f"reading {where}", unit="img", disable=None if progress else True
    ):  # None: only on a terminal
        if "/" not in relative:
            skipped.append((relative, "not inside a class subfolder"))
            continue
        try:
            if min_side > 1:
                with Image.open(io.BytesIO(data)) as probe:
                    if min(probe.size) < min_side:
                        raise ValueError(f"too small ({probe.size[0]}x{probe.size[1]} px, minimum side {min_side})")
            records.append((relative, decode_image(data, image_size, pad_to_square)))
        except (ValueError, UnidentifiedImageError, OSError) as error:
            skipped.append(
                (relative, str(error) if isinstance(error, ValueError) else f"not a readable image ({error})")
            )
    if skipped:
        names = ", ".join(f"{p} ({why})" for p, why in skipped[:10])
        more = f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
        message = f"{where}: skipped {len(skipped)} file(s): {names}{more}"
        log.warning(message)
        warnings.warn(message, stacklevel=2)
    if not records:
        raise ValueError(f"{where} holds no readable images in class subfolders")
    records.sort(key=lambda record: record[0])
    shapes = {image.shape for _, image in records}
    if len(shapes) > 1:
        first = records[0]
        other = next(r for r in records if r[1].shape != first[1].shape)
        raise ValueError(
            f"{where}: images differ in size ({first[0]} is {first[1].shape[:2]}, {other[0]} is "
            f"{other[1].shape[:2]}); pass image_size to resize them"
        )
    order = np.random.default_rng(seed).permutation(len(records))
    paths = [records[i][0] for i in order]
    class_names = sorted({p.split("/", 1)[0] for p in paths})
    class_index = {name: i for i, name in enumerate(class_names)}
    labels = np.array([class_index[p.split("/", 1)[0]] for p in paths], dtype=np.int64)
    images = np.stack([records[i][1] for i in order])
    return ImageFolder(images, labels, class_names, paths, skipped)


def load_image_files(paths: list[str | os.PathLike], image_size: tuple[int, int] | None = None) -> np.ndarray:
    """Loads single image files (RGB, resized) into a uint8 array; a bad file is a ValueError naming it."""
    images = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a folder; give image files (e.g. {path / '*.jpg'})")
        if not path.is_file():
            raise FileNotFoundError(f"image file {path} does not exist")
        try:
            images.append(decode_image(path.read_bytes(), image_size))
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error
    if not images:
        raise ValueError("no image files given")
    sizes = [image.shape[:2] for image in images]
    if len(set(sizes)) > 1:
        other = next(i for i, size in enumerate(sizes) if size != sizes[0])
        raise ValueError(
            f"query images differ in size ({paths[0]} is {sizes[0][0]} x {sizes[0][1]}, {paths[other]} is "
            f"{sizes[other][0]} x {sizes[other][1]}); resize them to one size (image_size=(H, W); --size "
            "H W on the command line)"
        )
    return np.stack(images)
