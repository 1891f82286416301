"""The commands other than train, run in this process: encode, retrieve, project, distort, recommend, evaluate."""

import json

import numpy as np
from PIL import Image

from tests.helpers import TestCase, extract_crops
from tfml import cli, zoo
from tfml.data import load_cifar10
from tfml.io import sha256
from tfml.retrieval import load_codes


class CommandsTest(TestCase):
    def test_cli_encode_retrieve_and_project(self):
        encoder = zoo.verified_path("cifar10-encoder")
        tmp_path = self.tmp_path
        codes = tmp_path / "codes.npz"
        assert cli.main(["encode", "--model", str(encoder), "--data", "sample", "-o", str(codes)]) == 0
        encoded = load_codes(codes)
        data = load_cifar10("sample")
        assert (
            encoded.codes.shape == (2500, 10)
            and encoded.ids[2000] == data.ids_test[0]
            and encoded.ids[2000].startswith("test/")
        )
        assert encoded.encoder["sha256"] == sha256(encoder) and encoded.encoder["input_dtype"] == "uint8"
        np.testing.assert_array_equal(encoded.labels[2000:], data.y_test[:, 0])

        query = tmp_path / "query.png"
        Image.fromarray(data.x_test[0]).resize((64, 64)).save(query)
        out = tmp_path / "neighbours.json"
        figure = tmp_path / "grid.png"
        argv = [
            "retrieve",
            str(query),
            "--model",
            str(encoder),
            "--base",
            str(codes),
            "-k",
            "5",
            "--distance",
            "cosine",
            "--json",
            str(out),
            "--figure",
            str(figure),
        ]
        assert cli.main(argv) == 0
        result = json.loads(out.read_text())["results"][0]
        assert [n["rank"] for n in result["neighbours"]] == [1, 2, 3, 4, 5]
        distances = [n["distance"] for n in result["neighbours"]]
        assert distances == sorted(distances)
        assert result["neighbours"][0]["label"] in data.class_names
        assert figure.stat().st_size > 1000

        projection = tmp_path / "projection.png"
        assert cli.main(["project", str(codes), "--method", "pca", "-o", str(projection)]) == 0
        assert projection.stat().st_size > 1000

    def test_a_shard_directory_is_a_base_for_retrieve_and_project_and_is_replaced_whole(self):
        import pytest

        from tfml.retrieval.shards import write_shards

        codes = load_codes(self.codes_file())
        shards = self.tmp_path / "shards"
        write_shards(
            shards,
            codes.codes,
            4,
            ids=codes.ids,
            labels=codes.labels,
            class_names=codes.class_names,
            source=codes.source,
            encoder=codes.encoder,
        )
        query = self.tmp_path / "query.png"
        Image.fromarray(load_cifar10("sample").x_test[0]).save(query)
        out = self.tmp_path / "n.json"
        argv = [
            "retrieve",
            str(query),
            "--model",
            "cifar10-encoder",
            "--base",
            str(shards),
            "-k",
            "3",
            "--json",
            str(out),
        ]
        self.assertEqual(cli.main(argv), 0)
        from_npz = self.tmp_path / "m.json"
        argv = ["retrieve", str(query), "--model", "cifar10-encoder", "--base", str(self.codes_file()), "-k", "3"]
        self.assertEqual(cli.main([*argv, "--json", str(from_npz)]), 0)
        self.assertEqual(
            json.loads(out.read_text())["results"][0]["neighbours"],
            json.loads(from_npz.read_text())["results"][0]["neighbours"],
        )
        self.assertEqual(cli.main(["project", str(shards), "--method", "pca", "-o", str(self.tmp_path / "p.png")]), 0)
        pytest.importorskip("apache_beam", reason="the beam extra is not installed (pip install 'tfml[beam]')")
        encode = ["encode", "--model", "cifar10-encoder", "--data", "sample", "--runner", "beam", "-o", str(shards)]
        self.assertEqual(cli.main([*encode, "--shards", "2"]), 2)  # exists: --overwrite needed
        self.assertEqual(cli.main([*encode, "--shards", "2", "--overwrite"]), 0)
        self.assertEqual(
            sorted(p.name for p in shards.iterdir()),
            ["manifest.json", "meta-00000.npz", "meta-00001.npz", "vectors-00000.npy", "vectors-00001.npy"],
        )

    def codes_file(self):
        path = self.tmp_path / "codes.npz"
        if not path.exists():
            cli.main(["encode", "--model", "cifar10-encoder", "--data", "sample", "-o", str(path)])
        return path

    def test_same_named_images_from_two_folders_are_all_saved(self):
        for folder in ("a", "b"):
            (self.tmp_path / folder).mkdir()
            Image.fromarray(np.full((16, 16, 3), 100, np.uint8)).save(self.tmp_path / folder / "0000.png")
        argv = [
            "distort",
            str(self.tmp_path / "a" / "0000.png"),
            str(self.tmp_path / "b" / "0000.png"),
            "--kind",
            "noise",
            "--strength",
            "0.1",
            "0.2",
            "-o",
            str(self.tmp_path / "grid.png"),
            "--save-dir",
            str(self.tmp_path / "saved"),
        ]
        self.assertEqual(cli.main(argv), 0)
        saved = sorted(p.name for p in (self.tmp_path / "saved").iterdir())
        self.assertEqual(
            saved,
            [
                "a_0000_noise_0.1.png",
                "a_0000_noise_0.2.png",
                "b_0000_noise_0.1.png",
                "b_0000_noise_0.2.png",
                "distort.json",
            ],
        )
        self.assertEqual(cli.main([*argv, "--strength", "0.3"]), 2)  # outputs exist: nothing written
        self.assertEqual(sorted(p.name for p in (self.tmp_path / "saved").iterdir()), saved)
        self.assertEqual(cli.main([*argv, "--strength", "0.3", "--overwrite"]), 0)
        self.assertEqual(
            sorted(p.name for p in (self.tmp_path / "saved").iterdir()),
            ["a_0000_noise_0.3.png", "b_0000_noise_0.3.png", "distort.json"],
        )  # replaced whole

    def test_cli_errors_are_clear(self):
        tmp_path = self.tmp_path
        capsys = self.capsys
        assert (
            cli.main(
                ["train", "autoencoder", "--data", str(tmp_path / "none.tar.gz"), "--run-dir", str(tmp_path / "r")]
            )
            == 2
        )
        assert "none.tar.gz does not exist" in capsys.readouterr().err
        assert (
            cli.main(
                ["encode", "--model", str(tmp_path / "missing.h5"), "--data", "sample", "-o", str(tmp_path / "x.npz")]
            )
            == 2
        )
        assert "missing.h5' is neither a model file nor a zoo model" in capsys.readouterr().err
        assert (
            cli.main(
                [
                    "retrieve",
                    str(tmp_path / "q.png"),
                    "--model",
                    "cifar10-encoder",
                    "--base",
                    str(tmp_path / "none.npz"),
                ]
            )
            == 2
        )
        assert cli.main(["zoo", "show", "no-such-model"]) == 2
        assert "no model named 'no-such-model'" in capsys.readouterr().err

    def test_cli_distort(self):
        tmp_path = self.tmp_path
        image = tmp_path / "a.png"
        Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(image)
        assert (
            cli.main(
                [
                    "distort",
                    str(image),
                    "--kind",
                    "projective",
                    "--strength",
                    "0.1",
                    "0.3",
                    "-o",
                    str(tmp_path / "d.png"),
                    "--save-dir",
                    str(tmp_path / "out"),
                ]
            )
            == 0
        )
        assert (tmp_path / "d.png").is_file()
        warped = np.asarray(Image.open(tmp_path / "out" / "a_projective_0.3.png"))
        assert warped.shape == (32, 32, 3) and (warped == 0).any()

    def test_recommend_from_the_zoo_right_after_install(self):
        capsys = self.capsys
        assert cli.main(["recommend", "Toy Story", "Home Alone"]) == 0
        out = capsys.readouterr().out
        assert (
            "Toy Story 2 (1999)" in out and "Home Alone 2: Lost in New York (1992)" in out
        )  # sequels are liked together

    def test_evaluate_command_scores_the_zoo_embedding_on_real_crops(self):
        capsys = self.capsys
        root = extract_crops(self.tmp_path / "crops", ("pl50", "pn", "w57", "i5", "p11"), 15)
        assert cli.main(["evaluate", "--model", "tt100k-embedding", "--data", str(root)]) == 0
        out = capsys.readouterr().out
        assert "5 classes, 30 test images queried against 120 training images (64 x 64, Euclidean)" in out
        figures = {line.split(":")[0].strip(): float(line.split(":")[1]) for line in out.splitlines()[1:]}
        assert set(figures) == {"kNN@1", "kNN@5", "balanced kNN@1", "R-precision", "MAP@R"}
        assert figures["kNN@1"] >= 0.8 and figures["MAP@R"] >= 0.5  # chance: 0.2
