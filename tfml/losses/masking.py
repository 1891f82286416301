"""The one place tfml reaches into Keras internals: telling a Keras loss which per-sample values
count. A loss whose output carries a Keras mask is reduced over the unmasked values only (Keras
has no public API to attach that mask; ``keras.src.backend.common.masking`` is where it lives in
Keras 3)."""

from __future__ import annotations

from keras.src.backend.common.masking import set_keras_mask


def with_valid_mask(values, valid):
    """``values`` marked so that Keras's reduction counts only where ``valid`` (bool, same shape)."""
    set_keras_mask(values, valid)
    return values
