import os

from hypothesis import settings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# property-based tests: 40 examples each in the suite; `pytest --hypothesis-profile=deep` tries 500
settings.register_profile("suite", max_examples=40)
settings.register_profile("deep", max_examples=500)
settings.load_profile("suite")


def pytest_collection_modifyitems(config, items):
    """tf.test.TestCase carries a deprecated ``test_session`` context manager that pytest would
    collect and skip as "Not a test" in every class: leave it out."""
    items[:] = [item for item in items if item.name != "test_session"]
