"""Broken on purpose (testdata/broken/unit): this test fails, lint and populate still pass."""


def test_fails_on_purpose():
    assert 1 + 1 == 3, "testdata/broken/unit makes the opportunities unit stage fail"
