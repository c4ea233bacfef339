"""The one correction resolver: a record's status and current body after amendments and retractions."""

from service.records.corrections import resolve


def amendment(index: int, target: int, **body) -> tuple:
    return (index, "amendment", [target], {"reason": "typo", "body": body})


def test_records_no_correction_names_are_current_as_recorded():
    fixes = resolve([(0, "call", [], {"summary": "a"}), (1, "email", [0], {"summary": "b"})])
    assert fixes.status(0) == fixes.status(1) == "current"
    assert fixes.current(0, {"summary": "a"}) == {"summary": "a"}
    assert (fixes.amended_by, fixes.retracted_by) == ({}, {})


def test_the_latest_amendment_wins_whatever_order_the_records_come_in():
    records = [(0, "call", [], {"summary": "first"}), amendment(3, 0, summary="third"),
               amendment(2, 0, summary="second"), (1, "note", [], {"summary": "x"})]
    fixes = resolve(records)
    assert fixes.status(0) == "amended" and fixes.amended_by == {0: [2, 3]}
    assert fixes.current(0, {"summary": "first"}) == {"summary": "third"}
    assert fixes.status(1) == "current"


def test_a_retraction_outranks_amendments_and_names_its_record():
    fixes = resolve([amendment(1, 0, summary="b"), (2, "retraction", [0], {"reason": "wrong engagement"})])
    assert fixes.status(0) == "retracted"
    assert fixes.retracted_by == {0: 2} and fixes.amended_by == {0: [1]}


def test_redacted_bodies_a_record_has_no_current_version_and_an_amendment_leaves_the_one_before():
    fixes = resolve([amendment(1, 0, summary="b"), (2, "amendment", [0], None)])
    assert fixes.amended_by == {0: [1, 2]}
    assert fixes.current(0, {"summary": "a"}) == {"summary": "b"}
    assert fixes.current(0, None) is None


def test_a_correction_without_a_target_or_with_a_body_of_the_wrong_shape_changes_nothing():
    fixes = resolve([(1, "retraction", [], {}), (2, "amendment", [0], {"body": "not an object"})])
    assert fixes.retracted_by == {}
    assert fixes.status(0) == "amended" and fixes.current(0, {"summary": "a"}) == {"summary": "a"}
