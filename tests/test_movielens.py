"""MovieLens loading, co-like counts, the co-occurrence cost (against numpy), recommendations."""

import logging

import keras
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import tensorflow as tf

from tfml import cli
from tfml.data.movielens import load_movielens, resolve_title, title_key
from tfml.losses.cooccurrence import CoOccurrenceLoss, cooccurrence_loss
from tfml.models.embedding_matrix import build_embedding_matrix, embedding_table
from tfml.pipelines.cooccurrence import colike_counts, hold_out_likes, like_matrix, ppmi
from tfml.retrieval import held_out_recall_at_k, recommend_for_users, recommend_popular, similarity_matrix, top_k
from tfml.training import StopOnDivergence
from tfml.workflows import movie_embeddings

from conftest import shared_file


# --- numpy references, written from the definitions ---------------------------------------------

def ref_cost(x, v):
    x, v = np.asarray(x, np.float64), np.asarray(v, np.float64)
    m = len(v)
    return sum((v[i] @ v[j] - x[i, j]) ** 2 for i in range(m) for j in range(m) if i != j)


def ref_gradient(x, v):
    """d/dv_i of sum_{i != j} (v_i.v_j - x_ij)^2 = 2 sum_{j != i} [(v_i.v_j - x_ij) + (v_j.v_i - x_ji)] v_j."""
    x, v = np.asarray(x, np.float64), np.asarray(v, np.float64)
    grad = np.zeros_like(v)
    for i in range(len(v)):
        for j in range(len(v)):
            if i != j:
                grad[i] += 2 * ((v[i] @ v[j] - x[i, j]) + (v[j] @ v[i] - x[j, i])) * v[j]
    return grad


def ref_colikes(liked):
    liked = np.asarray(liked)
    m = liked.shape[1]
    return np.array([[0 if i == j else int(np.sum(liked[:, i] * liked[:, j])) for j in range(m)] for i in range(m)])


# --- the cost -------------------------------------------------------------------------------------

def test_cost_hand_checked():
    v = [[1.0, 0.0], [1.0, 1.0]]
    x = [[9.0, 2.0], [2.0, 9.0]]  # diagonal ignored; off-diagonal residual 1 - 2 twice
    assert float(tf.reduce_sum(cooccurrence_loss(x, v))) == 2.0
    assert float(CoOccurrenceLoss()(x, v)) == 2.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(3))
def test_cost_and_gradient_match_numpy(dtype, seed):
    rng = np.random.default_rng(seed)
    m, d = 9, 3
    x = rng.integers(0, 6, (m, m)).astype(dtype)
    x = x + x.T
    v = rng.normal(size=(m, d)).astype(dtype)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    loss = CoOccurrenceLoss(dtype=np.dtype(dtype).name)
    np.testing.assert_allclose(float(loss(x, v)), ref_cost(x, v), rtol=rtol)
    variable = tf.Variable(v)
    with tf.GradientTape() as tape:
        value = loss(x, variable)
    np.testing.assert_allclose(tape.gradient(value, variable).numpy(), ref_gradient(x, v), rtol=rtol * 10, atol=rtol)
    # the diagonal of X is not used
    np.testing.assert_allclose(float(loss(x + np.diag(rng.normal(size=m)).astype(dtype), v)), ref_cost(x, v), rtol=rtol)


def test_cost_needs_the_full_matrix():
    with pytest.raises(tf.errors.InvalidArgumentError, match="full batch"):
        cooccurrence_loss(np.zeros((4, 4), np.float32), np.zeros((3, 2), np.float32))


def test_cost_is_rotation_invariant_and_so_are_cosine_lists():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, (12, 12)).astype(np.float64)
    x = x + x.T
    v = rng.normal(size=(12, 4))
    rotation, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    loss = CoOccurrenceLoss(dtype="float64")
    np.testing.assert_allclose(float(loss(x, v)), float(loss(x, v @ rotation)), rtol=1e-10)
    for row in range(12):
        rows, cosine = movie_embeddings.similar_movies(v, row, 5)
        rotated_rows, rotated_cosine = movie_embeddings.similar_movies(v @ rotation, row, 5)
        np.testing.assert_array_equal(rows, rotated_rows)
        np.testing.assert_allclose(cosine, rotated_cosine, rtol=1e-10)


# --- likes and counts -----------------------------------------------------------------------------

def ratings_frame(rows):
    return pd.DataFrame(rows, columns=["user", "movie", "rating"]).astype({"rating": np.float32})


def test_like_matrix_and_colike_counts_match_a_loop():
    rng = np.random.default_rng(1)
    rows = [(u, m, float(rng.choice([1.0, 3.5, 4.0, 5.0]))) for u in range(30) for m in range(12) if rng.random() < 0.5]
    likes = like_matrix(ratings_frame(rows), threshold=4.0)
    dense = np.zeros((30, 12))
    for u, m, r in rows:
        dense[u, m] = r >= 4.0
    dense = dense[dense.sum(axis=1) > 0][:, dense.sum(axis=0) > 0]
    np.testing.assert_array_equal(likes.matrix.toarray(), dense)
    counts = colike_counts(likes.matrix)
    np.testing.assert_array_equal(counts.toarray(), ref_colikes(dense))
    assert counts.diagonal().sum() == 0 and (counts != counts.T).nnz == 0


def test_movies_nobody_liked_get_no_column_and_min_likes():
    ratings = ratings_frame([(1, 10, 5.0), (2, 10, 4.5), (1, 20, 2.0), (2, 30, 4.0)])
    likes = like_matrix(ratings)
    assert likes.movies.tolist() == [10, 30]  # movie 20 was never liked
    assert like_matrix(ratings, min_likes=2).movies.tolist() == [10]
    with pytest.raises(ValueError, match="no movie has 3 or more likes"):
        like_matrix(ratings, min_likes=3)


def test_ppmi_matches_numpy():
    counts = sp.csr_matrix(np.array([[0, 4, 1], [4, 0, 2], [1, 2, 0]], np.float64))
    x = counts.toarray()
    total, n = x.sum(), x.sum(axis=1)
    expected = np.zeros_like(x)
    for i in range(3):
        for j in range(3):
            if x[i, j]:
                expected[i, j] = max(0.0, np.log(x[i, j] * total / (n[i] * n[j])))
    np.testing.assert_allclose(ppmi(counts).toarray(), expected, rtol=1e-6)


def test_hold_out_hides_a_share_of_each_users_likes_reproducibly():
    rng = np.random.default_rng(2)
    liked = sp.csr_matrix((rng.random((40, 50)) < 0.3).astype(np.float32))
    liked[0] = 0
    liked[0, 3] = 1  # a single like stays kept
    kept, hidden = hold_out_likes(liked, 0.2, seed=5)
    assert (kept + hidden != liked).nnz == 0 and kept.multiply(hidden).nnz == 0
    per_user = np.diff(sp.csr_matrix(liked).indptr)
    np.testing.assert_array_equal(np.diff(hidden.indptr), np.where(per_user > 1, np.round(0.2 * per_user), 0))
    again, _ = hold_out_likes(liked, 0.2, seed=5)
    assert (again != kept).nnz == 0
    with pytest.raises(ValueError, match="fraction"):
        hold_out_likes(liked, 1.5, seed=0)


# --- recommendation and its metric ---------------------------------------------------------------

def test_similarity_sparse_equals_dense_and_has_no_self_similarity():
    x = np.array([[0, 2, 1], [2, 0, 0], [1, 0, 0], [0, 0, 0]], np.float64)
    dense, sparse = similarity_matrix(x), similarity_matrix(sp.csr_matrix(x))
    np.testing.assert_allclose(dense, sparse, rtol=1e-6)
    np.testing.assert_allclose(dense[1, 2], 1.0, rtol=1e-6)
    assert np.all(np.diag(dense) == 0) and np.all(dense[3] == 0)
    dot = similarity_matrix(sp.csr_matrix(x), "dot")
    np.testing.assert_allclose(dot, np.where(np.eye(4, dtype=bool), 0, x @ x.T))
    with pytest.raises(ValueError, match="'manhattan' is not available here"):
        similarity_matrix(x, "manhattan")


def test_user_recommendations_match_a_loop():
    rng = np.random.default_rng(3)
    liked = sp.csr_matrix((rng.random((15, 20)) < 0.25).astype(np.float32))
    similarity = rng.random((20, 20)).astype(np.float32)
    found = recommend_for_users(liked, similarity, 4)
    dense = liked.toarray()
    for user in range(15):
        scores = {j: sum(similarity[i, j] for i in np.flatnonzero(dense[user])) for j in range(20) if not dense[user, j]}
        expected = sorted(scores, key=lambda j: (-scores[j], j))[:4]
        assert found[user].tolist() == expected
    popular = recommend_popular(liked, 3)
    counts = dense.sum(axis=0)
    for user in range(15):
        candidates = [j for j in np.argsort(-counts, kind="stable") if not dense[user, j]]
        assert popular[user].tolist() == candidates[:3]


def test_top_k_ties_and_too_large_k():
    assert top_k(np.array([1.0, 3.0, 3.0, 2.0]), 3).tolist() == [[1, 2, 3]]
    with pytest.raises(ValueError, match="k=4 is larger than the 3 items"):
        top_k(np.array([1.0, 3.0, 3.0, 2.0]), 4, exclude=np.array([True, False, False, False]))


def test_held_out_recall_hand_checked():
    hidden = sp.csr_matrix(np.array([[1, 1, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 1]]))
    recommended = np.array([[0, 3], [1, 2], [4, 0]])
    assert held_out_recall_at_k(recommended, hidden, 2) == pytest.approx((0.5 + 1.0) / 2)  # user 1 hides nothing
    assert held_out_recall_at_k(recommended, hidden, 1) == pytest.approx((0.5 + 1.0) / 2)
    with pytest.raises(ValueError, match="recommended must be"):
        held_out_recall_at_k(recommended, hidden, 3)


# --- loading and bad input ----------------------------------------------------------------------

def write_latest(folder, ratings: str, movies: str = None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + ratings)
    (folder / "movies.csv").write_text(movies or ('movieId,title,genres\n1,Toy Story (1995),Animation\n'
                                                  '2,"American President, The (1995)",Comedy\n3,Amélie (2001),Romance\n'))


def test_embedded_ml_latest_small():
    data = load_movielens("small")
    assert len(data.ratings) == 100_836 and data.ratings["user"].nunique() == 610 and len(data.movies) == 9_742
    assert data.dropped_out_of_range == 0 and data.dropped_duplicates == 0
    for query, title in [("Apollo 13", "Apollo 13 (1995)"), ("toy story", "Toy Story (1995)"), ("HOME ALONE (1990)", "Home Alone (1990)")]:
        assert data.movies["title"][resolve_title(data.movies, query)] == title


def test_titles_with_commas_and_accents(tmp_path):
    write_latest(tmp_path, "1,1,4.0,0\n1,2,4.0,0\n1,3,5.0,0\n")
    movies = load_movielens(tmp_path).movies
    assert movies["title"][2] == "American President, The (1995)"
    assert resolve_title(movies, "The American President") == 2
    assert resolve_title(movies, "american president, the (1995)") == 2
    assert resolve_title(movies, "Amelie") == 3 and resolve_title(movies, "AMÉLIE") == 3
    assert title_key("Léon: The Professional (a.k.a. The Professional) (Léon) (1994)") == "leon the professional"


def test_unknown_and_ambiguous_titles_list_candidates():
    movies = load_movielens("small").movies
    with pytest.raises(KeyError, match=r"no movie titled 'Toy Stroy'; closest: Toy Story \(1995\)"):
        resolve_title(movies, "Toy Stroy")
    with pytest.raises(KeyError, match=r"'Hamlet' is ambiguous; add the year: .*Hamlet \(1996\)"):
        resolve_title(movies, "Hamlet")
    assert movies["title"][resolve_title(movies, "Hamlet (1996)")] == "Hamlet (1996)"
    with pytest.raises(KeyError, match="empty movie title"):
        resolve_title(movies, "  ")


def test_out_of_range_ratings_are_dropped_and_counted(tmp_path, caplog):
    write_latest(tmp_path, "1,1,4.0,0\n1,2,7.0,0\n2,1,0.0,0\n2,2,0.5,0\n")
    with caplog.at_level(logging.WARNING):
        data = load_movielens(tmp_path)
    assert data.dropped_out_of_range == 2 and len(data.ratings) == 2
    assert "dropped 2 rating(s) outside [0.5, 5]" in caplog.text


def test_duplicate_user_movie_rows_keep_the_last(tmp_path, caplog):
    write_latest(tmp_path, "1,1,2.0,0\n1,2,4.0,0\n1,1,5.0,9\n")
    with caplog.at_level(logging.WARNING):
        data = load_movielens(tmp_path)
    assert data.dropped_duplicates == 1 and "1 repeated (user, movie) row(s)" in caplog.text
    assert data.ratings.set_index("movie")["rating"][1] == 5.0


@pytest.mark.parametrize("bad_row, message", [
    ("1,2,4.0,0,extra\n", "malformed row"),
    ("1,2\n", r"line 3: expected the fields"),
    ("1,2,four,0\n", r"line 3: rating 'four' is not a number"),
])
def test_malformed_rows_name_the_file_and_line(tmp_path, bad_row, message):
    write_latest(tmp_path, "1,1,4.0,0\n" + bad_row)
    with pytest.raises(ValueError, match=message) as error:
        load_movielens(tmp_path)
    assert "ratings.csv" in str(error.value)


def test_ratings_of_unlisted_movies_and_missing_sources(tmp_path):
    write_latest(tmp_path / "a", "1,99,4.0,0\n")
    with pytest.raises(ValueError, match="missing from the movie list, e.g. movie 99"):
        load_movielens(tmp_path / "a")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_movielens(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="neither ratings.csv"):
        load_movielens(tmp_path / "empty")


def test_ml100k_reader(tmp_path):
    (tmp_path / "u.data").write_text("1\t1\t5\t881250949\n2\t1\t4\t881250950\n2\t2\t3\t881250951\n")
    genres = "|".join("0" * 19)
    (tmp_path / "u.item").write_bytes(f"1|Toy Story (1995)|01-Jan-1995||http://x|{genres}\n"
                                      f"2|Misérables, Les (1995)|01-Jan-1995||http://y|{genres}\n".encode("latin-1"))
    data = load_movielens(tmp_path)
    assert data.ratings["rating"].tolist() == [5.0, 4.0, 3.0]
    assert resolve_title(data.movies, "les miserables") == 2


def test_real_ml100k():
    folder = shared_file("ml100k-posters/ml-100k")
    data = load_movielens(folder)
    assert len(data.ratings) == 100_000 and len(data.movies) == 1_682
    assert data.movies["title"][resolve_title(data.movies, "Apollo 13")] == "Apollo 13 (1995)"


# --- model, training, study ----------------------------------------------------------------------

def test_embedding_matrix_saves_its_item_ids(tmp_path):
    model = build_embedding_matrix([7, 11, 42], dim=4, seed=0)
    model.save(tmp_path / "m.h5")
    loaded = keras.models.load_model(tmp_path / "m.h5")
    vectors, ids = embedding_table(loaded)
    assert ids.tolist() == [7, 11, 42] and vectors.shape == (3, 4)
    np.testing.assert_array_equal(loaded.predict(np.array([2, 0]), verbose=0), vectors[[2, 0]])


def test_divergence_is_caught_not_raised():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 50, (30, 30)).astype(np.float32)
    x = x + x.T
    results = {}
    for lr in (1e-4, 1.0):
        model = movie_embeddings.make_model(np.arange(30), movie_embeddings.Config(), "sgd", lr)
        stop = StopOnDivergence()
        history = model.fit(movie_embeddings.full_batch(sp.csr_matrix(x), 40)(), steps_per_epoch=1, epochs=40, verbose=0,
                            callbacks=[stop], shuffle=False)
        results[lr] = (stop.diverged_at, history.history["loss"])
    assert results[1e-4][0] is None and results[1e-4][1][-1] < results[1e-4][1][0]
    assert results[1.0][0] is not None and len(results[1.0][1]) < 40


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    return movie_embeddings.run(movie_embeddings.Config.quick_mode(run_dir=str(tmp_path_factory.mktemp("movies") / "run")))


def test_quick_study(quick_run):
    import json

    metrics = json.loads((quick_run / "metrics.json").read_text())
    lists = json.loads((quick_run / "recommendations.json").read_text())
    assert set(lists) == {"Apollo 13", "Toy Story", "Home Alone"} and all(len(v) == 10 for v in lists.values())
    assert "Toy Story (1995)" not in lists["Toy Story"]
    for name in ("sgd", "momentum", "adam", "adagrad"):
        assert (quick_run / f"figures/sweep_{name}.png").stat().st_size > 10_000
    recall = {key.split("/")[1]: value for key, value in metrics.items() if key.startswith("heldout/")}
    assert len(recall) == 8 and all(0 < value < 1 for value in recall.values())
    assert recall["item-item cosine on X"] > 0.05
    history = pd.read_csv(quick_run / "runs/counts/training_log.csv")
    assert history["loss"].iloc[-1] < 0.5 * history["loss"].iloc[0]
    report = (quick_run / "report.html").read_text()
    assert "Held-out likes" in report and "Optimizers and learning rates" in report


def test_cli_recommend(quick_run, capsys):
    assert cli.main(["recommend", "toy story", "--model", str(quick_run / "movie_embedding.h5"), "-k", "5"]) == 0
    out = capsys.readouterr().out
    assert "5 movies closest to Toy Story (1995)" in out and out.count("\n") >= 7
    assert cli.main(["recommend", "Toy Stroy", "--model", str(quick_run / "movie_embedding.h5")]) == 2
    assert "closest: Toy Story (1995)" in capsys.readouterr().err


def test_recommend_from_the_zoo_right_after_install(capsys):
    assert cli.main(["recommend", "Toy Story", "Home Alone"]) == 0
    out = capsys.readouterr().out
    assert "Toy Story 2 (1999)" in out and "Home Alone 2: Lost in New York (1992)" in out  # sequels are liked together
