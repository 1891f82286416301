import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_collection_modifyitems(config, items):
    """tf.test.TestCase carries a deprecated ``test_session`` context manager that pytest would
    collect and skip as "Not a test" in every class: leave it out."""
    items[:] = [item for item in items if item.name != "test_session"]
