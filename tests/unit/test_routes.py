"""CloudFront's path-pattern matching as AWS documents it: ``*`` zero or more characters,
``?`` exactly one, case-sensitive, the leading ``/`` optional, the first behaviour in the
distribution's order that matches, the default when none does."""

from __future__ import annotations

import pytest

from text2image.routes import path_matches, select


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/text2image*", "/text2image", True),  # zero characters
        ("/text2image*", "/text2image.js", True),  # what made the page dead on AWS
        ("/images/*", "/images/a/b/0.jpeg", True),  # "*" crosses "/"
        ("/images/*", "/images", False),
        ("/images/*.jpg", "/images/x.jpg", True),
        ("/images/*.jpg", "/images/x.jpeg", False),
        ("/a?c", "/abc", True),
        ("/a?c", "/ac", False),  # "?" is exactly one
        ("/a?c", "/abbc", False),
        ("/Images/*", "/images/x", False),  # case-sensitive
        ("images/*", "/images/x", True),  # the leading "/" is optional
        ("/a.c", "/abc", False),  # every other character is literal
        ("/a+(b)[c]", "/a+(b)[c]", True),
        ("/text2image", "/text2image/", False),  # the whole path, not a prefix
        ("*", "/anything/at/all", True),
    ],
)
def test_path_patterns(pattern: str, path: str, matches: bool) -> None:
    assert path_matches(pattern, path) is matches


def test_the_first_matching_behaviour_wins_and_the_default_comes_last() -> None:
    ordered = [("/a/*", "first"), ("/a/b*", "second"), ("*.css", "styles")]
    assert select("/a/b.css", ordered, "default") == "first"
    assert select("/x.css", ordered, "default") == "styles"
    assert select("/x.js", ordered, "default") == "default"
