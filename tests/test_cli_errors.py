"""Every mistake a user can make with the tfml command gives one line `tfml: error: ...` naming the
argument or file and what is expected, status 2, no traceback; and never costs them a file.

The cases run ``tfml.cli.main`` in this process (each one as the command would, with its own
standard streams); a few run the installed `tfml` command as a new process, to check that the
command starts quietly and that --debug shows the traceback.
"""

import contextlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from absl.testing import parameterized
from PIL import Image

from tests.helpers import PROJECT_ROOT, TestCase
from tfml import cli, zoo
from tfml.retrieval import Codes, save_codes

TFML = shutil.which("tfml") or str(Path(sys.executable).parent / "tfml")

CASES = [
    (
        "fresh-on-a-user-folder",
        ["train", "movies", "--quick", "--run-dir", "{documents}", "--fresh"],
        "is a folder that tfml did not make",
    ),
    ("run-dir-is-a-file", ["train", "movies", "--quick", "--run-dir", "{text}"], "is a file, not a directory"),
    (
        "share-above-one",
        ["train", "robust", "--quick", "--share", "1.5", "0.5"],
        "argument --share: 1.5 is not in [0, 1]",
    ),
    ("negative-noise", ["train", "robust", "--noise", "-1", "0.2"], "argument --noise: -1 is below the minimum 0"),
    (
        "negative-strength",
        ["distort", "{image}", "--kind", "noise", "--strength", "-0.5", "-o", "{out}/d.png"],
        "argument --strength: -0.5 is not in [0, 1]",
    ),
    ("zero-epochs", ["train", "autoencoder", "--epochs", "0"], "argument --epochs: 0 is below the minimum 1"),
    (
        "zero-batch-size",
        ["train", "autoencoder", "--batch-size", "0"],
        "argument --batch-size: 0 is below the minimum 1",
    ),
    (
        "not-a-number",
        ["train", "autoencoder", "--learning-rate", "fast"],
        "argument --learning-rate: 'fast' is not a number",
    ),
    (
        "zero-learning-rate",
        ["train", "autoencoder", "--learning-rate", "0"],
        "argument --learning-rate: 0 must be greater than 0",
    ),
    ("unknown-choice", ["train", "autoencoder", "--projection", "mds"], "argument --projection: invalid choice: 'mds'"),
    ("unknown-option", ["train", "autoencoder", "--epoch", "3"], "unrecognized arguments: --epoch 3"),
    (
        "validation-share",
        ["train", "autoencoder", "--validation-fraction", "0.7"],
        "argument --validation-fraction: 0.7 is above the maximum 0.5",
    ),
    ("threshold-out-of-range", ["train", "movies", "--threshold", "7"], "argument --threshold: 7 is not in [0.5, 5]"),
    ("sweep-not-numbers", ["train", "movies", "--sweep", "adam=fast"], "'adam=fast': the values must be numbers"),
    (
        "sweep-unknown-optimizer",
        ["train", "movies", "--quick", "--sweep", "rmsprop=0.1", "--run-dir", "{out}/sweep"],
        "sweep: unknown optimizer 'rmsprop'",
    ),
    (
        "truncated-archive",
        ["train", "autoencoder", "--quick", "--data", "{truncated_tar}", "--run-dir", "{out}/trunc"],
        "is not a readable archive",
    ),
    (
        "missing-data",
        ["train", "autoencoder", "--quick", "--data", "{out}/none.tar.gz", "--run-dir", "{out}/none"],
        "none.tar.gz does not exist",
    ),
    (
        "missing-traffic-signs",
        ["train", "traffic-signs", "--quick", "--data", "{out}/signs", "--run-dir", "{out}/signs-run"],
        "pass --data with the TT100K crops",
    ),
    (
        "malformed-ratings",
        ["train", "movies", "--quick", "--data", "{bad_movielens}", "--run-dir", "{out}/bad-movies"],
        "ratings.csv, line 3: rating 'five' is not a number",
    ),
    (
        "truncated-h5",
        ["encode", "--model", "{truncated_h5}", "--data", "sample", "-o", "{out}/c.npz"],
        "is not a readable Keras model file",
    ),
    (
        "missing-model",
        ["encode", "--model", "{out}/missing.h5", "--data", "sample", "-o", "{out}/c.npz"],
        "is neither a model file nor a zoo model",
    ),
    (
        "output-exists",
        ["encode", "--model", "cifar10-encoder", "--data", "sample", "-o", "{text_npz}"],
        "exists; pass --overwrite",
    ),
    (
        "codes-labels-short",
        ["retrieve", "{image}", "--model", "cifar10-encoder", "--base", "{short_labels}"],
        "codes but 2 labels",
    ),
    (
        "text-as-codes",
        ["retrieve", "{image}", "--model", "cifar10-encoder", "--base", "{text_npz}"],
        "notes.npz is not a readable .npz codes file (not an .npz archive",
    ),
    (
        "codes-of-another-encoder",
        ["retrieve", "{image}", "--model", "cifar10-robust-encoder", "--base", "{codes}"],
        "was encoded by cifar10-encoder",
    ),
    (
        "k-above-base",
        ["retrieve", "{image}", "--model", "cifar10-encoder", "--base", "{codes}", "-k", "50"],
        "k=50 is larger than the 40 base items",
    ),
    (
        "k-zero",
        ["retrieve", "{image}", "--model", "cifar10-encoder", "--base", "{codes}", "-k", "0"],
        "argument -k: 0 is below the minimum 1",
    ),
    (
        "corrupt-query",
        ["retrieve", "{text}", "--model", "cifar10-encoder", "--base", "{codes}"],
        "notes.txt: not a readable image (no known image format)",
    ),
    (
        "wrong-json-suffix",
        ["retrieve", "{image}", "--model", "cifar10-encoder", "--base", "{codes}", "--json", "{out}/n.txt"],
        "the output must end with .json",
    ),
    ("missing-codes", ["project", "{out}/none.npz", "-o", "{out}/p.png"], "none.npz does not exist"),
    (
        "recommend-with-an-image-encoder",
        ["recommend", "Toy Story", "--model", "cifar10-encoder"],
        "needs a movie embedding matrix",
    ),
    (
        "retrieve-with-a-movie-embedding",
        ["retrieve", "{image}", "--model", "movielens-embedding", "--base", "{codes}"],
        "needs an image encoder",
    ),
    ("unknown-title", ["recommend", "Toy Stroy"], "no movie titled 'Toy Stroy'; closest: Toy Story"),
    ("unknown-zoo-model", ["zoo", "show", "no-such-model"], "no model named 'no-such-model'"),
    ("empty-search-text", ["search-text", "   "], "the query text is empty"),
    (
        "search-text-with-an-image-encoder",
        ["search-text", "toys", "--model", "cifar10-encoder"],
        "needs a poster / synopsis aligner",
    ),
    ("search-poster-not-an-image", ["search-poster", "{text}"], "notes.txt: not a readable image"),
    (
        "search-poster-missing-movies",
        ["search-poster", "{image}", "--data", "{out}/no-movies"],
        "no-movies is not a folder",
    ),
    (
        "evaluate-with-a-movie-embedding",
        ["evaluate", "--model", "movielens-embedding"],
        "this command needs an image encoder",
    ),
    (
        "evaluate-missing-data",
        ["evaluate", "--model", "tt100k-embedding", "--data", "{out}/no-signs"],
        "no-signs does not exist; pass --data with the TT100K crops",
    ),
    (
        "images-of-different-sizes",
        ["distort", "{image}", "{big_image}", "--kind", "noise", "-o", "{out}/sizes.png"],
        "resize them to one size (image_size=(H, W); --size H W on the command line)",
    ),
]


def write_fixtures(root: Path) -> dict:
    files = {"out": str(root)}
    documents = root / "Documents"
    documents.mkdir()
    (documents / "thesis.tex").write_text("years of work")
    files["documents"] = str(documents)
    files["text"] = str(root / "notes.txt")
    Path(files["text"]).write_text("not an image, not a model")
    files["text_npz"] = str(root / "notes.npz")
    Path(files["text_npz"]).write_text("not an npz")
    rng = np.random.default_rng(0)
    files["image"] = str(root / "query.png")
    Image.fromarray(rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)).save(files["image"])
    files["big_image"] = str(root / "big.png")
    Image.fromarray(rng.integers(0, 256, (40, 48, 3)).astype(np.uint8)).save(files["big_image"])
    sample = PROJECT_ROOT / "data" / "cifar10-sample.tar.gz"
    files["truncated_tar"] = str(root / "truncated.tar.gz")
    Path(files["truncated_tar"]).write_bytes(sample.read_bytes()[:200_000])
    files["truncated_h5"] = str(root / "truncated.h5")
    Path(files["truncated_h5"]).write_bytes(zoo.verified_path("cifar10-encoder").read_bytes()[:50_000])
    _, record = zoo.load_model("cifar10-encoder")
    codes = Codes(
        rng.normal(size=(40, 10)),
        rng.integers(0, 10, 40),
        [f"train/x/{i}.jpg" for i in range(40)],
        [str(i) for i in range(10)],
        "sample",
        record,
    )
    files["codes"] = str(save_codes(root / "codes.npz", codes))
    files["short_labels"] = str(root / "short.npz")
    np.savez(
        files["short_labels"],
        codes=codes.codes[:3],
        labels=codes.labels[:2],
        ids=codes.ids[:3],
        class_names=np.array(codes.class_names),
        meta=np.array('{"format": "tfml-codes-1", "source": "x", "encoder": {}}'),
    )
    movies = root / "movielens"
    movies.mkdir()
    (movies / "movies.csv").write_text("movieId,title,genres\n1,Toy Story (1995),Animation\n")
    (movies / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,0\n2,1,five,0\n")
    files["bad_movielens"] = str(movies)
    return files


def run_in_process(argv, cwd) -> tuple[int, str, str]:
    """(status, stdout, stderr) of ``tfml argv`` run by cli.main in this process, in ``cwd``."""
    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(argv)
    finally:
        os.chdir(previous)
    return status, out.getvalue(), err.getvalue()


def check_one_error_line(test, status, stdout, stderr, expected):
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("INFO ")]
    test.assertNotIn("Traceback", stderr + stdout)
    test.assertEqual(status, 2, stderr)
    test.assertTrue(len(lines) == 1 and lines[0].startswith("tfml: error: "), stderr)
    test.assertIn(expected, lines[0])


@pytest.fixture(scope="class")
def fixture_files(request, tmp_path_factory):
    request.cls.root = tmp_path_factory.mktemp("mistakes")
    request.cls.files = write_fixtures(request.cls.root)


@pytest.mark.usefixtures("fixture_files")
class MistakesTest(parameterized.TestCase, TestCase):
    @parameterized.named_parameters(*CASES)
    def test_a_mistake_gives_one_error_line_and_status_2(self, argv, expected):
        argv = [part.format(**self.files) for part in argv]
        check_one_error_line(self, *run_in_process(argv, self.root), expected)

    def test_the_users_files_survive(self):
        for _, argv, _ in CASES:
            run_in_process([part.format(**self.files) for part in argv], self.root)
        documents = Path(self.files["documents"])
        assert sorted(p.name for p in documents.iterdir()) == ["thesis.tex"]
        assert (documents / "thesis.tex").read_text() == "years of work"
        assert Path(self.files["text_npz"]).read_text() == "not an npz"  # an existing output is never replaced


class CommandProcessTest(TestCase):
    """The installed command, as a new process: quiet start-up, one line, --debug."""

    def setUp(self):
        super().setUp()
        if not Path(TFML).exists():
            pytest.skip("the tfml command is not installed (pip install -e .)")

    def test_a_mistake_is_one_line_with_no_start_up_noise(self):
        env = {**os.environ, "TFML_DEBUG": "0"}
        env.pop("TF_CPP_MIN_LOG_LEVEL", None)
        for argv, expected in (
            (["train", "autoencoder", "--epochs", "0"], "argument --epochs: 0 is below the minimum 1"),
            (["encode", "--model", "nowhere.h5", "--data", "sample", "-o", "c.npz"], "is neither a model file"),
        ):
            result = subprocess.run(
                [TFML, *argv], cwd=self.tmp_path, env=env, capture_output=True, text=True, timeout=300
            )
            check_one_error_line(self, result.returncode, result.stdout, result.stderr, expected)

    def test_debug_shows_the_traceback(self):
        result = subprocess.run([TFML, "--debug", "zoo", "show", "nope"], capture_output=True, text=True, timeout=120)
        assert (
            result.returncode == 2
            and "Traceback" in result.stderr
            and "tfml: error: no model named 'nope'" in result.stderr
        )
