"""The digests that decide which shard jobs rerun: a shard's changes exactly when its images do."""

from heatcheck.data import load_dataset, summarize
from heatcheck.shards import shard_digest, studied_digest
from test_data import shapes_spec


def _summary(**kw) -> dict:
    return summarize(load_dataset(shapes_spec(n_train=12, **kw)), "shapes")


def test_more_images_keep_the_digests_of_the_full_shards_and_the_model():
    small, big = _summary(n_eval=10), _summary(n_eval=16)
    assert big["digests"]["model"] == small["digests"]["model"]  # the train split is the same
    assert big["digests"]["eval"][:10] == small["digests"]["eval"]
    # shards of 4: 0 and 1 are the same images, shard 2 grew from 2 images to 4
    assert [shard_digest(big, k, 4, None) == shard_digest(small, k, 4, None) for k in range(3)] == [True, True, False]
    # the global max_eval: the first 10 of 16 are the 10-image study's shards
    assert [shard_digest(big, k, 4, 10) for k in range(3)] == [shard_digest(small, k, 4, None) for k in range(3)]
    assert studied_digest(big, 10) == studied_digest(small, None) != studied_digest(big, None)


def test_changed_images_change_every_digest():
    base, other = _summary(n_eval=8), _summary(n_eval=8, distractors=[0, 1])
    assert base["digests"]["model"] != other["digests"]["model"]  # the train images changed too
    assert all(a != b for a, b in zip(base["digests"]["eval"], other["digests"]["eval"]))
    assert all(shard_digest(base, k, 4, None) != shard_digest(other, k, 4, None) for k in range(2))
    # and a shard's digest depends on its position, from which per-image seeds derive
    assert shard_digest(base, 0, 4, None) != shard_digest(base, 1, 4, None)
