from bench import member_import


def test_measure_imports_every_row():
    result = member_import.measure(quick=True, rows=200)
    assert result["rows"] == result["imported"] == result["members"] == 200
    assert set(result["steps"]) == {"generate", "read", "validate", "commit"}
    assert all(seconds > 0 for seconds in result["steps"].values())
    assert result["total_s"] > 0
