import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wspush.logic.strict_json import MAX_DEPTH, InvalidJson, check, loads


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


def _nested(levels: int) -> str:
    return "[" * (levels - 1) + '{"a": 1}' + "]" * (levels - 1)


def test_nesting_is_bounded_at_max_depth_levels():
    # Given documents at and just over the bound / Then one reads, the next is refused
    assert loads(_nested(MAX_DEPTH))
    with pytest.raises(InvalidJson, match=f"more than {MAX_DEPTH} levels"):
        loads(_nested(MAX_DEPTH + 1))
    # And nesting that Python's parser accepts but its encoder cannot write back is refused
    with pytest.raises(InvalidJson, match="levels"):
        loads(_nested(980))


@pytest.mark.parametrize(
    "text",
    [
        '{"entityId": "victor", "entityId": "mallory"}',
        '{"a": {"b": 1, "b": 1}}',
        '[{"x": 1}, {"y": 1, "y": 2}]',
        '{"\u0061": 1, "a": 2}',  # the same key, spelt once escaped
    ],
)
def test_a_key_twice_in_one_object_is_invalid_json(text):
    with pytest.raises(InvalidJson, match="appears twice"):
        loads(text)


def test_the_same_key_in_different_objects_is_fine():
    assert loads('{"a": {"a": 1}, "b": [{"a": 2}]}') == {"a": {"a": 1}, "b": [{"a": 2}]}


@pytest.mark.parametrize(
    "document",
    [
        {"payload": json.loads(_nested(MAX_DEPTH))},  # one level too many once inside
        {"payload": float("nan")},  # Lambda's runtime parses NaN
        {"payload": ["\ud800"]},
        {"\udc00": 1},
    ],
)
def test_an_already_parsed_document_is_held_to_the_same_rules(document):
    with pytest.raises(InvalidJson):
        check(document)


def test_an_already_parsed_document_of_any_depth_is_refused_without_recursion():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(InvalidJson, match="levels"):
        check(deep)
    check({"payload": json.loads(_nested(MAX_DEPTH - 1))})
