"""Property-based tests of the command (hypothesis): generated bad values, files and paths, driven
through its parsers, loaders and writers, give one line ``tfml: error: ...`` and status 2 (or work),
never a traceback or an internal error, and never change a file the command was not asked to write.

Each example runs ``tfml.cli.main`` in this process in a new sandbox folder.
"""

import io
import os
import string
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.helpers import TestCase
from tests.test_cli_errors import run_in_process
from tfml import cli, commands
from tfml.retrieval import Codes, save_codes

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # examples: tests/conftest.py

# what a shell can pass: any text but NUL (argv strings cannot hold it) and lone surrogates
ARGUMENT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=24)
ODD_VALUES = st.sampled_from(
    ["", " ", "nan", "NaN", "inf", "-inf", "-1", "0", "-0", "1e309", "1e-400", "99999999999999999999999", "0x10"]
    + ["1_000", "½", "--", "-k", "١٢", "1,5", "True", "None", "[]", "../..", "/dev/null", "~", "\t", "é" * 200]
)


def assert_one_line_or_success(test, status, out, err):
    event(f"status {status}")  # shown by --hypothesis-show-statistics: how many examples got past the checks
    test.assertNotIn("Traceback", out + err)
    test.assertNotIn("internal error", err)
    test.assertIn(status, (0, 2), err)
    if status == 2:
        lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("INFO ", "WARNING "))]
        test.assertEqual(len(lines), 1, err)
        test.assertTrue(lines[0].startswith("tfml: error: "), err)


def snapshot(folder: Path) -> dict:
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def every_option() -> list[tuple[list[str], dict, list[dict]]]:
    """(command words, one option's spec, all the specs of that command) for every option of the command."""
    found = []
    for name, study in cli.study_specs().items():
        found += [(["train", name], spec, study["options"]) for spec in study["options"]]
    for command in commands.COMMANDS:
        for leaf in command.children or (command,):
            words = [command.name, leaf.name] if command.children else [command.name]
            specs = cli.option_specs(leaf.config)
            found += [(words, spec, specs) for spec in specs]
    return found


OPTIONS = every_option()


def plausible(spec: dict) -> list[str]:
    """A value of the right type for a required argument, so that the fuzzed one is what is parsed."""
    if spec["check"]["choices"]:
        value = str(spec["check"]["choices"][0])
    else:
        value = {"int": "1", "float": "0.5"}.get(spec.get("element"), "x.png")
    count = spec.get("nargs") if isinstance(spec.get("nargs"), int) else 1
    return [value] * count


class ParserFuzzTest(TestCase):
    """Any value of any option of any command: parsed and checked, or one error line."""

    @FUZZ
    @given(option=st.sampled_from(OPTIONS), values=st.lists(st.one_of(ODD_VALUES, ARGUMENT), min_size=1, max_size=3))
    def test_any_value_of_any_option_is_parsed_or_refused_in_one_line(self, option, values):
        words, spec, specs = option
        argv = list(words)
        for other in specs:
            if other is not spec and (other["required"] or other["positional"]) and other["kind"] != "switch":
                argv += plausible(other) if other["positional"] else [other["flags"][0], *plausible(other)]
        given_values = values if spec["kind"] != "switch" else []
        argv += given_values if spec["positional"] else [spec["flags"][0], *given_values]
        reached = []
        self.monkeypatch.setattr(cli, "_train", lambda study, args: reached.append(args))
        self.monkeypatch.setattr(cli, "_run_command", lambda command, args: reached.append(args))
        with tempfile.TemporaryDirectory() as sandbox:
            status, out, err = run_in_process(argv, sandbox)
            assert_one_line_or_success(self, status, out, err)
            self.assertEqual(status == 0, bool(reached), err)
            self.assertEqual(os.listdir(sandbox), [])  # parsing writes nothing


CSV_FIELD = st.one_of(
    st.integers(-5, 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    ARGUMENT,
    st.sampled_from(['"', '""', "a,b", "\r", "\n", "Toy Story (1995)", "", " "]),
)
CSV_ROWS = st.lists(st.lists(CSV_FIELD, min_size=0, max_size=6), max_size=6)
ENCODINGS = st.sampled_from(["utf-8", "utf-16", "latin-1", "cp1252", "utf-8-sig"])


def encoded(rows, header: str, encoding: str) -> bytes:
    text = header + "\n" + "\n".join(",".join(row) for row in rows) + "\n"
    return text.encode(encoding, errors="replace")


class LoaderFuzzTest(TestCase):
    """Generated files given to the commands that read them."""

    @FUZZ
    @given(
        ratings=CSV_ROWS,
        movies=CSV_ROWS,
        encoding=ENCODINGS,
        ratings_bytes=st.one_of(st.none(), st.binary(max_size=200)),
    )
    def test_movielens_files_load_or_name_what_is_wrong(self, ratings, movies, encoding, ratings_bytes):
        with tempfile.TemporaryDirectory() as sandbox:
            folder = Path(sandbox) / "movielens"
            folder.mkdir()
            (folder / "ratings.csv").write_bytes(
                ratings_bytes
                if ratings_bytes is not None
                else encoded(ratings, "userId,movieId,rating,timestamp", encoding)
            )
            (folder / "movies.csv").write_bytes(encoded(movies, "movieId,title,genres", encoding))
            before = snapshot(Path(sandbox))
            assert_one_line_or_success(
                self, *run_in_process(["recommend", "Toy Story", "--data", str(folder)], sandbox)
            )
            self.assertEqual(snapshot(Path(sandbox)), before)

    @FUZZ
    @given(
        content=st.one_of(
            st.binary(max_size=400),
            st.sampled_from(["png", "jpeg", "gif", "bmp", "tiff"]).flatmap(
                lambda kind: st.tuples(st.just(kind), st.integers(1, 40), st.integers(1, 40), st.integers(0, 400))
            ),
        ),
        mode=st.sampled_from(["RGB", "L", "LA", "RGBA", "P", "I;16", "I", "F", "1", "CMYK"]),
    )
    def test_image_files_decode_or_name_what_is_wrong(self, content, mode):
        with tempfile.TemporaryDirectory() as sandbox:
            path = Path(sandbox) / "query.img"
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                kind, height, width, cut = content
                image = Image.fromarray(np.random.default_rng(cut).integers(0, 255, (height, width, 3), dtype=np.uint8))
                try:
                    image = image.convert(mode)
                    buffer = io.BytesIO()
                    image.save(buffer, format=kind)
                except (OSError, ValueError, KeyError):  # a mode the format cannot store
                    buffer = io.BytesIO()
                    Image.fromarray(np.zeros((height, width, 3), np.uint8)).save(buffer, format=kind)
                data = buffer.getvalue()
                path.write_bytes(data[: len(data) - cut] if cut < len(data) else data)
            before = snapshot(Path(sandbox))
            argv = ["distort", str(path), "--kind", "noise", "--size", "16", "16", "-o", str(Path(sandbox) / "out.png")]
            assert_one_line_or_success(self, *run_in_process(argv, sandbox))
            self.assertEqual({p: b for p, b in snapshot(Path(sandbox)).items() if p.name != "out.png"}, before)

    @FUZZ
    @given(content=st.one_of(st.binary(max_size=300), st.text(max_size=100).map(str.encode)))
    def test_codes_files_load_or_name_what_is_wrong(self, content):
        with tempfile.TemporaryDirectory() as sandbox:
            path = Path(sandbox) / "codes.npz"
            path.write_bytes(content)
            before = snapshot(Path(sandbox))
            assert_one_line_or_success(
                self, *run_in_process(["project", str(path), "-o", str(Path(sandbox) / "p.png")], sandbox)
            )
            self.assertEqual(snapshot(Path(sandbox)), before)


PATH_KINDS = st.sampled_from(
    ["new.png", "input.png", "existing.png", "folder", "existing.png/inside.png", "deep/new/x.png", "Ünïcødé ✓.png"]
    + ["a" * 300 + ".png", ".", "..", "out.jpg", "folder/", "new.PNG", " .png"]
)


class WriterFuzzTest(TestCase):
    """Generated output paths: a file is written only where asked, never over an input, never over
    an existing file without --overwrite."""

    @FUZZ
    @given(
        output=PATH_KINDS,
        save_dir=st.one_of(st.none(), PATH_KINDS, ARGUMENT.filter(lambda t: t.strip(string.whitespace))),
        overwrite=st.booleans(),
    )
    def test_outputs_never_replace_what_they_must_not(self, output, save_dir, overwrite):
        with tempfile.TemporaryDirectory() as sandbox:
            root = Path(sandbox)
            rng = np.random.default_rng(0)
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(root / "input.png")
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(root / "existing.png")
            (root / "folder").mkdir()
            (root / "folder" / "keep.txt").write_text("mine")
            before = snapshot(root)
            argv = ["distort", "input.png", "--kind", "noise", "-o", output]
            argv += ["--save-dir", save_dir] if save_dir is not None else []
            argv += ["--overwrite"] if overwrite else []
            status, out, err = run_in_process(argv, root)
            assert_one_line_or_success(self, status, out, err)
            after = snapshot(root)
            self.assertEqual(after[root / "input.png"], before[root / "input.png"])  # never its own input
            self.assertEqual(after.get(root / "folder" / "keep.txt"), b"mine")
            if not overwrite:
                self.assertEqual({path: after.get(path) for path in before}, before)
            if status == 2:  # a refused command writes nothing at all
                self.assertEqual(after, before)
            self.assertEqual([p for p in root.rglob("*partial*")], [])


class SampleCodesTest(TestCase):
    """A real codes file for the loaders above to be compared with: project works on it."""

    def test_project_on_a_real_codes_file(self):
        rng = np.random.default_rng(0)
        codes = Codes(
            rng.normal(size=(30, 4)), rng.integers(0, 3, 30), [str(i) for i in range(30)], ["a", "b", "c"], "x", {}
        )
        path = save_codes(self.tmp_path / "codes.npz", codes)
        status, out, err = run_in_process(
            ["project", str(path), "-o", str(self.tmp_path / "p.png"), "--method", "pca"], self.tmp_path
        )
        self.assertEqual(status, 0, err)
        self.assertTrue((self.tmp_path / "p.png").exists())
