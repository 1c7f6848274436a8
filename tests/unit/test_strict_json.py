import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wspush.logic.strict_json import InvalidJson, loads


@pytest.mark.parametrize(
    "text",
    ["NaN", "[Infinity]", '{"a": -Infinity}', "1e400", "9" * 5000, "[" * 100_000, b"\xff", "{"],
)
def test_what_python_alone_would_accept_or_crash_on_is_invalid_json(text):
    # Given input json.loads accepts (NaN, 1e400) or fails on with a bare ValueError or
    # RecursionError / When read strictly / Then it is one InvalidJson
    with pytest.raises(InvalidJson):
        loads(text)


@pytest.mark.parametrize(
    "text", ['"\\ud800"', '{"\\udc00": 1}', '[["x", {"k": "a\\udfffb"}]]', '"\\ude00\\ud83d"']
)
def test_an_unpaired_surrogate_anywhere_is_invalid_json(text):
    with pytest.raises(InvalidJson, match="surrogate"):
        loads(text)


def test_a_surrogate_pair_is_one_character():
    assert loads('{"emoji": "\\ud83d\\ude00"}') == {"emoji": "\U0001f600"}


def test_ordinary_documents_read_as_usual():
    assert loads('{"a": [1, 2.5, "x", null, true], "big": 12345678901234567890}') == {
        "a": [1, 2.5, "x", None, True],
        "big": 12345678901234567890,
    }


def test_the_integer_bound_is_the_callers():
    assert loads("1" * 20, max_int_digits=20) == int("1" * 20)
    with pytest.raises(InvalidJson):
        loads("1" * 21, max_int_digits=20)


@given(st.text(max_size=200))
def test_any_text_reads_as_sendable_json_or_is_invalid_json(text):
    # Whatever it is given, it raises nothing but InvalidJson, and what it returns can be
    # sent on as strict JSON (no NaN or Infinity).
    try:
        value = loads(text)
    except InvalidJson:
        return
    assert json.loads(json.dumps(value, allow_nan=False)) == value
    json.dumps(value, ensure_ascii=False).encode("utf-8")  # and it is Unicode text
