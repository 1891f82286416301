"""Batch embedding with Apache Beam's RunInference equals the in-process encoder, offline."""

import numpy as np
import pytest

from tests.helpers import TestCase


class BeamTest(TestCase):
    """encode_with_beam."""

    def test_beam_batch_embedding_matches_the_in_process_encoder_and_downloads_nothing(self):
        tmp_path = self.tmp_path
        pytest.importorskip("apache_beam", reason="the beam extra is not installed (pip install 'tfml[beam]')")
        import urllib.request

        downloads = []
        self.monkeypatch.setattr(urllib.request, "urlopen", lambda *args, **kwargs: downloads.append(args) or 1 / 0)
        from tfml import zoo
        from tfml.data import load_labelled_images
        from tfml.retrieval.batch_embedding import encode_with_beam
        from tfml.retrieval.shards import EmbeddingShards

        model, record = zoo.load_model("cifar10-encoder")
        data = load_labelled_images("sample")
        images = data.images[:300]
        encode_with_beam(
            record["file"],
            images,
            tmp_path / "codes",
            3,
            ids=data.ids[:300],
            labels=data.labels[:300],
            class_names=data.class_names,
            source="sample",
            encoder=record,
            batch_size=64,
        )
        shards = EmbeddingShards(tmp_path / "codes")
        assert (
            len(shards) == 300
            and len(shards.manifest["shards"]) == 3
            and shards.manifest["encoder"]["sha256"] == record["sha256"]
        )
        np.testing.assert_allclose(
            shards.vectors(np.arange(300)), model.predict(images, verbose=0), rtol=1e-5, atol=1e-5
        )
        assert shards.ids.tolist() == data.ids[:300] and shards.labels.tolist() == data.labels[:300].tolist()
        assert downloads == []  # Beam's DirectRunner would fetch its Prism runner from GitHub first
