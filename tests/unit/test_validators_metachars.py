"""Each shell or Dockerfile metacharacter on its own, against each validator.

The older injection table (test_validators.py) uses payloads that also contain a space or a quote, so a
validator that let a lone `$`, `;` or newline through would still pass it. Here every character is tried
alone, as a prefix, inside and as a suffix of a value the validator accepts: wherever it lands, it is refused,
or (for leading/trailing whitespace that a validator strips) it is not in the value it returns.
Characters a format needs (`<`, `>` and `!` in version specifiers, `[`/`]` for extras) are allowed only where
listed in ALLOWED, and the property tests (test_injection_properties.py) prove those stay inside their quotes.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from npmatrix.config import validators

DIGEST = "b" * 64

METACHARS = {
    "dollar": "$",
    "backtick": "`",
    "semicolon": ";",
    "pipe": "|",
    "ampersand": "&",
    "newline": "\n",
    "carriage-return": "\r",
    "double-quote": '"',
    "single-quote": "'",
    "backslash": "\\",
    "open-paren": "(",
    "close-paren": ")",
    "less-than": "<",
    "greater-than": ">",
    "nul": "\x00",
    "tab": "\t",
    "vertical-tab": "\x0b",
    "form-feed": "\x0c",
    "space": " ",
    "hash": "#",
    "open-brace": "{",
    "close-brace": "}",
    "star": "*",
    "question": "?",
    "open-bracket": "[",
    "close-bracket": "]",
    "bang": "!",
    "caret": "^",
    "escape": "\x1b",
    "next-line": "\x85",
    "line-separator": "\u2028",
}

# (validator, a value it accepts). plain_text is free text: only control characters are its business.
VALIDATORS: dict[str, tuple[Callable[[str], str], str]] = {
    "cell_name": (validators.cell_name, "pi32-pip"),
    "version_spec": (validators.version_spec, "==2.3.5"),
    "requirement": (validators.requirement, "pandas==1.5.3"),
    "apt_package": (validators.apt_package, "libopenblas0"),
    "index_url": (validators.index_url, "https://www.piwheels.org/simple"),
    "module_name": (validators.module_name, "scipy.linalg"),
    "image_by_digest": (validators.image_by_digest, f"debian:bookworm@sha256:{DIGEST}"),
}

# What each format legitimately contains; everything else in METACHARS must be refused.
ALLOWED = {
    "version_spec": set("<>!*, "),
    "requirement": set("<>!*,[] "),
}
PLAIN_TEXT_REFUSED = {"newline", "carriage-return", "nul", "tab", "vertical-tab", "form-feed", "escape", "next-line"}


def _placements(good: str, char: str) -> dict[str, str]:
    middle = len(good) // 2
    return {"alone": char, "prefix": char + good, "inside": good[:middle] + char + good[middle:], "suffix": good + char}


def _cases() -> list[pytest.ParameterSet]:
    cases = []
    for vname, (_, good) in VALIDATORS.items():
        for cname, char in METACHARS.items():
            if char in ALLOWED.get(vname, set()):
                continue
            for where, value in _placements(good, char).items():
                cases.append(pytest.param(vname, char, value, where, id=f"{vname}-{cname}-{where}"))
    return cases


@pytest.mark.parametrize(("validator", "char", "value", "where"), _cases())
def test_each_metacharacter_is_refused(validator: str, char: str, value: str, where: str) -> None:
    check, _ = VALIDATORS[validator]
    try:
        accepted = check(value)
    except ValueError:
        return
    # Only surrounding whitespace may be stripped away; a character inside a value is never dropped silently.
    assert where in ("prefix", "suffix", "alone") and char.isspace() and char not in accepted, (value, accepted)


@pytest.mark.parametrize("char", sorted(PLAIN_TEXT_REFUSED), ids=sorted(PLAIN_TEXT_REFUSED))
def test_plain_text_refuses_each_line_breaking_or_escape_character(char: str) -> None:
    for value in _placements("Colab 2026-08-19", METACHARS[char]).values():
        with pytest.raises(ValueError, match="control character"):
            validators.plain_text(value)


@pytest.mark.parametrize("validator", list(VALIDATORS))
def test_good_sample_is_accepted(validator: str) -> None:
    check, good = VALIDATORS[validator]
    assert check(good)
