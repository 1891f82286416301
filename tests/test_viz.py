import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tfml.models import build_autoencoder
from tfml.viz import image_rows, model_diagram, neighbour_grid, pairplot, project_2d, scatter_2d, training_curves, write_report


def is_png(path, min_size=(50, 50)):
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size[0] >= min_size[0] and image.size[1] >= min_size[1]
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 0, "blank figure"
    return True


@pytest.fixture
def images():
    return np.random.default_rng(0).uniform(size=(12, 32, 32, 3)).astype(np.float32)


def test_image_and_neighbour_grids(tmp_path, images):
    assert is_png(image_rows([images[:5], images[5:10]], tmp_path / "rows.png", ["a", "b"], list("vwxyz")))
    neighbours = np.stack([images[1:4], images[4:7]])
    path = neighbour_grid(images[:2], neighbours, tmp_path / "nn.png", ["cat", "dog"], [["cat", "dog", "cat"], ["dog"] * 3],
                          np.arange(6).reshape(2, 3) / 10)
    assert is_png(path)


def test_pairplot_scatter_and_curves(tmp_path):
    rng = np.random.default_rng(0)
    codes, labels = rng.normal(size=(40, 3)), rng.choice(["a", "b"], 40)
    assert is_png(pairplot(codes, labels, tmp_path / "pair.png"))
    assert is_png(scatter_2d(codes[:, :2], labels, tmp_path / "scatter.png", "t"))
    history = pd.DataFrame({"epoch": [0, 1, 2], "loss": [3, 2, 1], "val_loss": [3.5, 2.5, 2], "psnr": [1, 2, 3], "val_psnr": [1, 1, 2]})
    assert is_png(training_curves(history, tmp_path / "curves.png"))


def test_model_diagram_is_a_picture_with_or_without_graphviz(tmp_path):
    _, _, autoencoder = build_autoencoder()
    assert is_png(model_diagram(autoencoder, tmp_path / "model.png"))


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_projection_separates_two_clusters(method):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (40, 5)), rng.normal(12, 1, (40, 5))])
    points = project_2d(x, method, seed=0)
    assert points.shape == (80, 2)
    centre_gap = np.linalg.norm(points[:40].mean(0) - points[40:].mean(0))
    assert centre_gap > 3 * max(points[:40].std(0).max(), points[40:].std(0).max())


def test_projection_bad_input():
    with pytest.raises(ValueError, match="unknown projection 'mds'"):
        project_2d(np.zeros((5, 2)), "mds")
    with pytest.raises(ValueError, match="NaN or inf"):
        project_2d(np.full((5, 2), np.nan), "pca")
    with pytest.raises(ValueError, match="at least 3"):
        project_2d(np.zeros((2, 2)), "pca")


def test_report_is_one_self_contained_file(tmp_path, images):
    image_rows([images[:3]], tmp_path / "figures" / "a.png")
    path = write_report(tmp_path, "Title <x>", {"precision@10/ae": 0.25}, tables={"table": pd.DataFrame({"v": [1.5]})},
                        figures={"Fig A": "figures/a.png"})
    html = path.read_text()
    assert "data:image/png;base64," in html and "Title &lt;x&gt;" in html and "precision@10/ae" in html and "0.25" in html
    assert "src='figures" not in html
    with pytest.raises(FileNotFoundError):
        write_report(tmp_path, "t", {}, figures={"missing": "figures/none.png"})
