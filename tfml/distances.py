"""The distance vocabulary of tfml: one canonical name per distance, used by losses, indexes and
recommendations alike (a smaller distance is always more similar), with its aliases.

- ``"euclidean"`` (alias ``"l2"``): |u - v|
- ``"sqeuclidean"`` (``"squared_l2"``, ``"squared_euclidean"``): |u - v|^2
- ``"cosine"``: 1 - u.v / (|u| |v|); a zero vector has similarity 0 with everything
- ``"manhattan"`` (``"l1"``, ``"cityblock"``): sum |u_i - v_i|
- ``"chebyshev"`` (``"linf"``): max |u_i - v_i|
- ``"dot"`` (``"inner_product"``): ranks by the inner product u.v, largest first

>>> canonical_distance("l2")
'euclidean'
>>> canonical_distance("manhattan", supported=LOSS_DISTANCES)
Traceback (most recent call last):
...
ValueError: distance 'manhattan' is not available here; choose one of euclidean, sqeuclidean, cosine, dot
"""

from __future__ import annotations

DISTANCES = ("euclidean", "sqeuclidean", "cosine", "manhattan", "chebyshev", "dot")
ALIASES = {
    "l2": "euclidean",
    "squared_l2": "sqeuclidean",
    "squared_euclidean": "sqeuclidean",
    "l1": "manhattan",
    "cityblock": "manhattan",
    "linf": "chebyshev",
    "inner_product": "dot",
}
LOSS_DISTANCES = ("euclidean", "sqeuclidean", "cosine", "dot")  # the names losses accept (objects give more)


def canonical_distance(name: str, supported: tuple[str, ...] = DISTANCES) -> str:
    """The canonical name of ``name`` (an alias is accepted); a ValueError when it is unknown or not
    among ``supported``."""
    canonical = ALIASES.get(name, name)
    if canonical not in DISTANCES:
        known = ", ".join(DISTANCES)
        aliases = ", ".join(f"{alias} = {target}" for alias, target in ALIASES.items())
        raise ValueError(f"unknown distance {name!r}; choose one of {known} (aliases: {aliases})")
    if canonical not in supported:
        raise ValueError(f"distance {name!r} is not available here; choose one of {', '.join(supported)}")
    return canonical
