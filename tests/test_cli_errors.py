"""Every mistake a user can make with the tfml command gives one line `tfml: error: ...` naming the
argument or file and what is expected, status 2, no traceback; and never costs them a file.

The cases run ``tfml.cli.main`` in this process (each one as the command would, with its own
standard streams); a few run the installed `tfml` command as a new process, to check that the
command starts quietly and that --debug shows the traceback.
"""

import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from absl.testing import parameterized
from PIL import Image

from tests.helpers import PROJECT_ROOT, TestCase, shared_file
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
    # issue 21: lost data, tracebacks and hangs, silent results
    (
        "distort-over-its-own-input",
        ["distort", "{image}", "--kind", "noise", "-o", "{image}", "--overwrite"],
        "query.png is also an input of this command: writing it would destroy the input",
    ),
    (
        "save-dir-is-a-file",
        ["distort", "{image}", "--kind", "noise", "-o", "{out}/f.png", "--save-dir", "{text}"],
        "notes.txt is a file; name a folder",
    ),
    (
        "class-with-one-image",
        ["train", "autoencoder", "--quick", "--data", "{one_image_class}", "--run-dir", "{out}/one-class"],
        "class b has only 1 item: a stratified split needs at least 2 per class",
    ),
    (
        "data-service-unreachable",
        ["train", "autoencoder", "--quick", "--data-service", "{closed_address}", "--run-dir", "{out}/served"],
        "no tf.data service dispatcher there (nothing listens there)",
    ),
    (
        "data-service-for-a-full-batch-study",
        ["train", "movies", "--quick", "--data-service", "grpc://localhost:5000"],
        "data_service: this study fits one full batch held in memory",
    ),
    (
        "encoder-input-size-differs-from-the-data",
        ["encode", "--model", "tt100k-embedding", "--data", "sample", "-o", "{out}/size.npz"],
        "tt100k-embedding takes 64 x 64 images; sample holds 32 x 32 images",
    ),
    (
        "recommend-on-ml100k",
        ["recommend", "Toy Story", "--data", "{ml100k}"],
        "movielens-embedding's rows carry movie ids that",
    ),
    (
        "two-output-model-to-encode",
        ["encode", "--model", "{two_outputs}", "--data", "sample", "-o", "{out}/two.npz"],
        "two_outputs.h5 is a model of another kind (2 output(s))",
    ),
    ("recommend-without-a-title", ["recommend"], "the following arguments are required: TITLE"),
    (
        "strength-without-values",
        ["distort", "{image}", "--kind", "noise", "--strength", "-o", "{out}/s.png"],
        "argument --strength: expected at least one argument",
    ),
    ("backup-every-step", ["train", "movies", "--backup-seconds", "0"], "--backup-seconds: 0 is below the minimum 1"),
    ("seed-out-of-range", ["train", "movies", "--seed", "-3"], "argument --seed: -3 is not in [0, 4294967295]"),
    (
        "unknown-title-before-training",
        ["train", "movies", "--quick", "--titles", "No Such Movie", "--run-dir", "{out}/titles"],
        "no movie titled 'No Such Movie'",
    ),
    (
        "folder-as-a-query",
        ["retrieve", "{documents}", "--model", "cifar10-encoder", "--base", "{codes}"],
        "Documents is a folder; give image files",
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
    sample = PROJECT_ROOT / "tfml" / "embedded" / "cifar10-sample.tar.gz"
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
    files.update(issue_21_fixtures(root, rng))
    return files


def issue_21_fixtures(root: Path, rng) -> dict:
    files = {}
    tree = root / "one-image-class"
    for split, counts in (("train", {"a": 6, "b": 1}), ("test", {"a": 2, "b": 2})):
        for name, count in counts.items():
            (tree / split / name).mkdir(parents=True)
            for i in range(count):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)).save(
                    tree / split / name / f"{i}.png"
                )
    files["one_image_class"] = str(tree)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        files["closed_address"] = f"grpc://127.0.0.1:{closed.getsockname()[1]}"
    ml100k = root / "ml-100k"
    ml100k.mkdir()
    (ml100k / "u.data").write_text("1\t1\t5\t881250949\n2\t2\t4\t881250950\n")
    flags = "|".join("0" * 19)
    (ml100k / "u.item").write_bytes(
        f"1|Toy Story (1995)|01-Jan-1995||http://x|{flags}\n2|GoldenEye (1995)|01-Jan-1995||http://y|{flags}\n".encode(
            "latin-1"
        )
    )
    files["ml100k"] = str(ml100k)
    inputs = keras.Input((32, 32, 3))
    two = keras.Model(inputs, [keras.layers.Flatten()(inputs), keras.layers.GlobalAveragePooling2D()(inputs)])
    files["two_outputs"] = str(root / "two_outputs.h5")
    two.save(files["two_outputs"])
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
        before = {path: path.read_bytes() for path in self.root.rglob("*") if path.is_file()}
        for _, argv, _ in CASES:
            run_in_process([part.format(**self.files) for part in argv], self.root)
        after = {path: path.read_bytes() for path in self.root.rglob("*") if path.is_file()}
        self.assertEqual({path: after.get(path) for path in before}, before)  # no input changed or deleted
        for run_dir in ("one-class", "served", "titles", "none", "trunc", "signs-run", "bad-movies"):
            self.assertFalse((self.root / run_dir).exists(), f"{run_dir}: a run that failed before training left it")
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


@pytest.mark.usefixtures("fixture_files")
class BoundaryTest(TestCase):
    """The error boundary of the command: Ctrl-C, a full disk, internal errors, environment variables,
    the zoo's shipped models, a quiet console."""

    def run_cli(self, argv):
        return run_in_process([part.format(**self.files) for part in argv], self.root)

    def private_zoo(self) -> Path:
        zoo_dir = self.tmp_path / "zoo"
        zoo_dir.mkdir()
        shutil.copy(PROJECT_ROOT / "saved_models" / "zoo.json", zoo_dir)
        shutil.copy(zoo.verified_path("cifar10-encoder"), zoo_dir)
        self.monkeypatch.setenv("TFML_ZOO", str(zoo_dir))
        return zoo_dir

    def test_zoo_add_never_replaces_a_model_without_overwrite_and_says_what_it_replaces(self):
        zoo_dir = self.private_zoo()
        shipped = (zoo_dir / "cifar10-encoder.h5").read_bytes()
        run_dir = self.tmp_path / "run"
        run_dir.mkdir()
        (run_dir / "metrics.json").write_text('{"precision@10": 0.3}')
        (run_dir / "config.json").write_text('{"data_source": "sample", "command": "tfml train autoencoder --quick"}')
        add = ["zoo", "add", "cifar10-encoder", "--model", self.files["two_outputs"], "--run-dir", str(run_dir)]
        add += ["--study", "autoencoder", "--description", "mine"]
        status, out, err = run_in_process(add, self.root)
        check_one_error_line(self, status, out, err, "the zoo already has cifar10-encoder")
        self.assertIn("pass --overwrite to replace it", err)
        self.assertEqual((zoo_dir / "cifar10-encoder.h5").read_bytes(), shipped)
        status, out, err = run_in_process([*add, "--overwrite"], self.root)
        self.assertEqual(status, 0, err)
        self.assertIn("replaced cifar10-encoder: ", out)
        self.assertNotEqual((zoo_dir / "cifar10-encoder.h5").read_bytes(), shipped)
        self.assertEqual(zoo.entry("cifar10-encoder")["description"], "mine")

    def test_ctrl_c_in_training_is_one_line_saying_where_it_stopped_and_how_to_resume(self):
        import importlib

        fit_module = importlib.import_module("tfml.training.fit")

        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt

        self.monkeypatch.setattr(fit_module, "_fit_from", interrupted)
        status, out, err = self.run_cli(["train", "autoencoder", "--quick", "--fresh"])
        lines = [line for line in err.splitlines() if line.strip() and not line.startswith("INFO ")]
        self.assertEqual(status, 130)
        self.assertEqual(len(lines), 1, err)
        self.assertRegex(lines[0], r"^tfml: interrupted: training logs/autoencoder-quick stopped in epoch 1 of \d+; ")
        self.assertTrue(
            lines[0].endswith("resume with: tfml train autoencoder --quick --run-dir logs/autoencoder-quick")
        )
        self.assertTrue((self.root / "logs" / "autoencoder-quick" / "config.json").exists())  # kept to resume

    def test_ctrl_c_outside_training_says_nothing_was_written_over(self):
        self.monkeypatch.setattr(zoo, "entries", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
        status, _, err = self.run_cli(["zoo", "list"])
        self.assertEqual(
            (status, err.strip()),
            (130, "tfml: interrupted; nothing was written over (every output is written whole or not at all)"),
        )

    def test_a_full_disk_is_one_line_before_training_and_leaves_no_run_directory(self):
        usage = shutil.disk_usage(self.root)
        self.monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=1024))
        status, out, err = self.run_cli(["train", "autoencoder", "--quick", "--run-dir", "{out}/full"])
        check_one_error_line(
            self, status, out, err, "full: only 0 MB free; the model's checkpoint and backup need about"
        )
        self.assertIn("free some space and run the command again", err)
        self.assertFalse((self.root / "full").exists())

    def test_an_internal_error_is_one_line_with_its_type_and_the_debug_hint(self):
        self.monkeypatch.setattr(zoo, "entries", lambda *a, **k: 1 / 0)
        status, out, err = self.run_cli(["zoo", "list"])
        self.assertEqual(status, 1)
        self.assertEqual(
            err.strip(),
            "tfml: error: internal error (ZeroDivisionError: division by zero); run the command again with --debug "
            "for the traceback and report it",
        )

    def test_environment_variables_are_checked_before_any_work(self):
        for variable, value, argv, expected in (
            ("TFML_DEBUG", "yes", ["zoo", "list"], "TFML_DEBUG='yes' must be 0 or 1"),
            ("TFML_ZOO", "{out}/no-zoo", ["zoo", "list"], "TFML_ZOO="),
            ("TFML_ROOT", "{out}/no-root", ["zoo", "list"], "TFML_ROOT="),
            (
                "TF_CONFIG",
                "{{not json",
                ["train", "movies", "--quick", "--run-dir", "{out}/tf-config"],
                "TF_CONFIG is not JSON",
            ),
        ):
            with self.subTest(variable):
                self.monkeypatch.setenv(variable, value.format(**self.files))
                check_one_error_line(self, *self.run_cli(argv), expected)
                self.monkeypatch.delenv(variable)
        self.assertFalse((self.root / "tf-config").exists())

    def test_the_resnet_study_splits_with_its_own_defaults(self):
        from tfml.data import load_cifar10, stratified_split
        from tfml.workflows import resnet_transfer

        labels = load_cifar10("sample").y_train
        kept, held = stratified_split(labels, resnet_transfer.Config().validation_fraction, 0)
        self.assertEqual((len(kept), len(held)), (1800, 200))
        quick = resnet_transfer.Config.quick_mode()
        self.assertEqual(len(stratified_split(labels, quick.validation_fraction, 0)[1]), 500)

    def test_search_text_with_only_unknown_words_is_an_error_not_a_confident_list(self):
        posters = shared_file("ml100k-posters")
        status, out, err = self.run_cli(["search-text", "qwzx blorf", "--data", str(posters)])
        check_one_error_line(
            self, status, out, err, "none of the words of 'qwzx blorf' (qwzx, blorf) is in the vocabulary"
        )


class ConsoleProcessTest(TestCase):
    """The command as a new process: Ctrl-C, a closed pipe, help without TensorFlow."""

    def setUp(self):
        super().setUp()
        if not Path(TFML).exists():
            pytest.skip("the tfml command is not installed (pip install -e .)")
        self.env = {**os.environ, "XDG_CACHE_HOME": str(self.tmp_path / "cache")}

    def test_help_and_zoo_list_do_not_import_tensorflow(self):
        probe = textwrap.dedent(
            """
            import sys
            sys.argv = ["tfml", *sys.argv[1:]]
            from tfml.cli import main
            status = main(sys.argv[1:])
            print("TENSORFLOW", "tensorflow" in sys.modules, status, file=sys.stderr)
            """
        )
        for argv in (
            ["--help"],
            ["train", "--help"],
            ["train", "movies", "--help"],
            ["zoo", "list"],
            ["encode", "--help"],
        ):
            for attempt in ("first", "cached"):
                result = subprocess.run(
                    [sys.executable, "-c", probe, *argv], env=self.env, capture_output=True, text=True, timeout=300
                )
                line = result.stderr.strip().splitlines()[-1]
                if attempt == "cached":  # the first call of a new version may read the studies' options
                    self.assertEqual(line, "TENSORFLOW False 0", (argv, result.stderr[-2000:]))

    def as_from_a_terminal(self) -> dict:
        """Popen options for a command started as a terminal starts it: Ctrl-C neither ignored nor blocked,
        whatever the test process inherited or a library in it did to its own signal state."""

        def deliverable_sigint():
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
            signal.signal(signal.SIGINT, signal.SIG_DFL)

        return {
            "env": self.env,
            "stdout": subprocess.PIPE,
            "stderr": subprocess.PIPE,
            "text": True,
            "preexec_fn": deliverable_sigint,
        }

    def test_ctrl_c_during_a_real_training_is_one_line_and_the_run_resumes_saying_so(self):
        run_dir = self.tmp_path / "run"
        command = [TFML, "train", "autoencoder", "--quick", "--run-dir", str(run_dir), "--backup-seconds", "1"]
        process = subprocess.Popen(command, **self.as_from_a_terminal())
        deadline = time.time() + 240
        while time.time() < deadline and not (run_dir / "backup" / "state.json").exists():
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
        lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("INFO ", "WARNING "))]
        self.assertEqual(process.returncode, 130, err[-3000:])
        self.assertNotIn("Traceback", err)
        self.assertEqual(len(lines), 1, err[-3000:])
        self.assertIn(f"tfml: interrupted: training {run_dir} stopped in epoch", lines[0])
        self.assertTrue(lines[0].endswith(f"resume with: {' '.join(['tfml', *command[1:]])}"), lines[0])
        state = json.loads((run_dir / "backup" / "state.json").read_text())
        resumed = subprocess.Popen(command, **self.as_from_a_terminal())
        said = ""
        while "resuming training" not in said:
            said = resumed.stderr.readline()
            self.assertTrue(said, "the resumed run ended without saying that it resumed")
        resumed.send_signal(signal.SIGINT)
        resumed.communicate(timeout=120)
        self.assertIn(f"resuming training {run_dir} from its backup: epoch {state['epoch'] + 1} of 10", said)
        self.assertIn(f"step {state['step']} of", said)

    def test_output_into_a_closed_pipe_ends_quietly(self):
        process = subprocess.Popen(
            [TFML, "recommend", "Toy Story", "-k", "3000"], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        process.stdout.read(10)
        process.stdout.close()
        err = process.stderr.read().decode()
        process.wait(timeout=300)
        self.assertEqual(process.returncode, 141, err)
        self.assertEqual([line for line in err.splitlines() if not line.startswith("INFO ")], [])
