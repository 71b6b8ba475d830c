"""Validators: every value a template interpolates must be unable to carry shell or Dockerfile syntax."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from npmatrix.config import validators

DIGEST = "a" * 64

# Payloads that would break out of a double-quoted shell word or a Dockerfile instruction.
INJECTIONS = {
    "double-quote": '"; touch /pwned; "',
    "single-quote": "'x'",
    "command-substitution": "$(touch /pwned)",
    "variable": "${HOME}",
    "backticks": "`touch /pwned`",
    "semicolon": ";touch /pwned",
    "and-and": "&&touch /pwned",
    "pipe": "|sh",
    "newline": "\nRUN touch /pwned",
    "carriage-return": "\rRUN touch /pwned",
    "backslash": "\\",
    "redirect": ">/etc/passwd",
}

# A valid value per validator, so each payload is tried both alone and appended to something plausible.
VALIDATORS: dict[str, tuple[Callable[[str], str], str]] = {
    "cell_name": (validators.cell_name, "pi32-pip"),
    "version_spec": (validators.version_spec, "==2.3.5"),
    "requirement": (validators.requirement, "pandas==1.5.3"),
    "apt_package": (validators.apt_package, "libopenblas0"),
    "index_url": (validators.index_url, "https://www.piwheels.org/simple"),
    "module_name": (validators.module_name, "scipy.linalg"),
    "image_by_digest": (validators.image_by_digest, f"debian:bookworm@sha256:{DIGEST}"),
}


def _injection_cases() -> list[Any]:
    cases = []
    for vname, (_, good) in VALIDATORS.items():
        for iname, payload in INJECTIONS.items():
            cases.append(pytest.param(vname, payload, id=f"{vname}-{iname}-alone"))
            cases.append(pytest.param(vname, good + payload, id=f"{vname}-{iname}-appended"))
    return cases


@pytest.mark.parametrize(("validator", "value"), _injection_cases())
def test_injection_is_rejected(validator: str, value: str) -> None:
    check, _ = VALIDATORS[validator]
    with pytest.raises(ValueError, match="is not"):
        check(value)


@pytest.mark.parametrize("validator", list(VALIDATORS))
def test_good_sample_values_pass(validator: str) -> None:
    # Guards the table above: if a sample were invalid, "appended" cases would pass for the wrong reason.
    check, good = VALIDATORS[validator]
    assert check(good)


@pytest.mark.parametrize(
    ("check", "value"),
    [
        # spaces in names
        pytest.param(validators.cell_name, "pi 32", id="cell-name-space"),
        pytest.param(validators.cell_name, "Pi32", id="cell-name-uppercase"),
        pytest.param(validators.cell_name, "-pi32", id="cell-name-leading-dash"),
        pytest.param(validators.cell_name, "arm/v7", id="cell-name-slash"),
        pytest.param(validators.cell_name, "x" * 64, id="cell-name-too-long"),
        pytest.param(validators.cell_name, "", id="cell-name-empty"),
        pytest.param(validators.apt_package, "python3 numpy", id="apt-space"),
        pytest.param(validators.apt_package, "-oAPT::Get::Foo=1", id="apt-option"),
        pytest.param(validators.apt_package, "Python3-numpy", id="apt-uppercase"),
        pytest.param(validators.apt_package, "libfoo/bookworm-backports", id="apt-release-suffix"),
        pytest.param(validators.module_name, "scipy linalg", id="module-space"),
        pytest.param(validators.module_name, "1scipy", id="module-leading-digit"),
        pytest.param(validators.module_name, "scipy..linalg", id="module-empty-part"),
        pytest.param(validators.module_name, "os;import os", id="module-two-statements"),
        # URLs
        pytest.param(validators.index_url, "file:///opt/pypi/simple", id="url-file"),
        pytest.param(validators.index_url, "ftp://example.org/simple", id="url-ftp"),
        pytest.param(validators.index_url, "https://user:secret@pypi.example.org/simple", id="url-credentials"),
        pytest.param(validators.index_url, "https://token@pypi.example.org/simple", id="url-token"),
        pytest.param(validators.index_url, "https://pypi.example.org/simple?x=1", id="url-query"),
        pytest.param(
            validators.index_url, "https://pypi.example.org/simple --trusted-host evil", id="url-extra-option"
        ),
        pytest.param(validators.index_url, "--index-url=https://evil.example.org", id="url-option"),
        pytest.param(validators.index_url, "pypi.example.org/simple", id="url-no-scheme"),
        # requirements with markers, URLs, options
        pytest.param(validators.requirement, 'numpy; python_version<"3.12"', id="req-marker"),
        pytest.param(validators.requirement, "numpy @ https://example.org/numpy.whl", id="req-direct-url"),
        pytest.param(validators.requirement, "--index-url=https://evil.example.org", id="req-option"),
        pytest.param(validators.requirement, "-e .", id="req-editable"),
        pytest.param(validators.requirement, "pandas===", id="req-invalid"),
        # version specifiers
        pytest.param(validators.version_spec, "latest", id="spec-word"),
        pytest.param(validators.version_spec, "", id="spec-empty"),
        pytest.param(validators.version_spec, "==2.3.5 --pre", id="spec-option"),
        pytest.param(validators.version_spec, "==2.3.5 ==2.3.6", id="spec-missing-comma"),
        pytest.param(validators.version_spec, "@https://example.org/x.whl", id="spec-url"),
        # images
        pytest.param(validators.image_by_digest, "debian:bookworm", id="image-tag-only"),
        pytest.param(validators.image_by_digest, f"debian@sha256:{DIGEST[:-1]}", id="image-short-digest"),
        pytest.param(validators.image_by_digest, f"debian@sha256:{DIGEST.upper()}", id="image-uppercase-digest"),
        pytest.param(validators.image_by_digest, f"--platform=linux/arm64 debian@sha256:{DIGEST}", id="image-option"),
        pytest.param(validators.image_by_digest, f"debian@sha256:{DIGEST} AS x", id="image-stage-alias"),
    ],
)
def test_invalid_value_is_rejected(check: Callable[[str], str], value: str) -> None:
    with pytest.raises(ValueError, match=r"is not"):
        check(value)


@pytest.mark.parametrize(
    ("check", "value", "expected"),
    [
        (validators.version_spec, "2.3.5", "==2.3.5"),
        (validators.version_spec, "  2.3.5 ", "==2.3.5"),
        (validators.version_spec, "==2.3.5", "==2.3.5"),
        (validators.version_spec, ">=1.26, <2", ">=1.26,<2"),
        (validators.version_spec, "~=1.26.0", "~=1.26.0"),
        (validators.version_spec, "!=2.0.0,>=1.24", "!=2.0.0,>=1.24"),
        (validators.version_spec, "==2.*", "==2.*"),
        (validators.version_spec, "==20.2.4", "==20.2.4"),
        (validators.requirement, "pandas==1.5.3", "pandas==1.5.3"),
        (validators.requirement, "pandas >= 1.5", "pandas>=1.5"),
        (validators.requirement, "scipy[all]==1.11.4", "scipy[all]==1.11.4"),
        (validators.requirement, "scikit-learn", "scikit-learn"),
        (validators.apt_package, "libopenblas0", "libopenblas0"),
        (validators.apt_package, "python3-numpy=1:1.24.2-1", "python3-numpy=1:1.24.2-1"),
        (validators.apt_package, "libstdc++6", "libstdc++6"),
        (validators.index_url, "https://www.piwheels.org/simple", "https://www.piwheels.org/simple"),
        (validators.index_url, "http://10.0.0.5:3141/root/pypi/+simple/", "http://10.0.0.5:3141/root/pypi/+simple/"),
        (validators.module_name, "scipy", "scipy"),
        (validators.module_name, "sklearn.linear_model", "sklearn.linear_model"),
        (validators.cell_name, "np-2.3.5-arm-v7", "np-2.3.5-arm-v7"),
        (validators.cell_name, "x" * 63, "x" * 63),
        (validators.image_by_digest, f"debian@sha256:{DIGEST}", f"debian@sha256:{DIGEST}"),
        (validators.image_by_digest, f"ghcr.io/org/img:1.0@sha256:{DIGEST}", f"ghcr.io/org/img:1.0@sha256:{DIGEST}"),
    ],
)
def test_valid_value_is_accepted_and_normalised(check: Callable[[str], str], value: str, expected: str) -> None:
    assert check(value) == expected


# --- free text (note, source): each control character on its own is refused -----------------------------

CONTROL = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))]


@pytest.mark.parametrize("char", CONTROL, ids=[f"U+{ord(c):04X}" for c in CONTROL])
def test_plain_text_refuses_each_control_character(char: str) -> None:
    with pytest.raises(ValueError, match=f"U\\+{ord(char):04X}"):
        validators.plain_text(f"Colab snapshot{char}2026-08-19")


@given(st.text(alphabet=st.characters(min_codepoint=0x20, blacklist_categories=("Cc", "Cs")), max_size=500))
def test_plain_text_keeps_printable_text_as_it_is(text: str) -> None:
    assert validators.plain_text(text) == text


def test_plain_text_has_a_length_limit() -> None:
    with pytest.raises(ValueError, match="501 characters"):
        validators.plain_text("x" * 501)


@pytest.mark.parametrize("value", ["6m", "512m", "2g", "256g", "262144m"])
def test_memory_limit_accepts(value: str) -> None:
    assert validators.memory_limit(value) == value


@pytest.mark.parametrize("value", ["5m", "0g", "257g", "2G", "2", "2gb", "-1g", "1.5g", "02g", "2g;id", "", "1000000g"])
def test_memory_limit_refuses(value: str) -> None:
    with pytest.raises(ValueError, match="is not a memory limit"):
        validators.memory_limit(value)
