"""The build of the recogniser's phone-line transform (`devtools/phone_band_adaptation.py`).

The whole build needs sphinxtrain, flite and festival (Debian packages, build time only); these
tests check the two parts that decide what it learns from: the mixture weights it hands to
sphinxtrain, and that no sentence of the evaluation sets is in its speech.
"""

from __future__ import annotations

import struct

import numpy as np
from pocketsphinx import get_model_path

from devtools.phone_band_adaptation import (
    OUTPUT,
    adaptation_phrases,
    evaluation_sentences,
    write_mixture_weights,
)


def test_the_quantised_mixture_weights_become_sphinxtrain_s_format(tmp_path):
    # given the acoustic model's quantised weights, as pocketsphinx ships them
    target = tmp_path / "mixture_weights"

    write_mixture_weights(get_model_path("en-us/en-us/sendump"), target)

    # then a Sphinx-III file: header, byte-order mark, dimensions, one distribution per senone
    data = target.read_bytes()
    assert data.startswith(b"s3\nversion 1.0\n")
    start = data.index(b"endhdr\n") + len(b"endhdr\n")
    assert start % 4 == 0 and struct.unpack_from("=i", data, start)[0] == 0x11223344
    senones, features, densities, count = struct.unpack_from("=IIII", data, start + 4)
    assert (senones, features, densities) == (5126, 3, 128) and count == 5126 * 3 * 128
    weights = np.frombuffer(data, "<f4", count, start + 20).reshape(senones, features, densities)
    # (quantised to 8 bits: each senone's weights sum to a little under one)
    assert np.all((weights.sum(axis=2) > 0.9) & (weights.sum(axis=2) < 1.01))


def test_the_adaptation_speaks_no_sentence_of_the_evaluation_sets():
    held_out = evaluation_sentences()
    phrases = adaptation_phrases()

    assert len(held_out) > 600 and len(phrases) > 200
    assert not held_out & set(phrases)


def test_the_shipped_transform_is_one_class_over_three_feature_streams():
    lines = OUTPUT.read_text().split()
    assert lines[:3] == ["1", "3", "13"]  # classes, streams, dimensions per stream
