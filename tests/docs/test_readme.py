"""The README's config reference is generated from the specs; this keeps the two from drifting apart."""

from pathlib import Path

from tricloud.config import reference_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_readme_config_reference_matches_specs() -> None:
    text = (ROOT / "README.md").read_text()
    start = text.index("<!-- config-reference:start -->\n") + len("<!-- config-reference:start -->\n")
    end = text.index("<!-- config-reference:end -->")
    assert text[start:end] == reference_markdown(), (
        "README config reference is stale: regenerate it with "
        "`python -c 'from tricloud.config import reference_markdown; print(reference_markdown())'`"
    )


def test_readme_opens_with_the_two_commands() -> None:
    head = (ROOT / "README.md").read_text()[:1500]
    assert "make demo" in head and "make test" in head
