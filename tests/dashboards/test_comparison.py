"""Comparison with the previous period: change, %, direction and colour for both trends."""

import pytest

from dashboards.comparison import compare


@pytest.mark.parametrize(
    ("current", "previous", "trend", "direction", "colour"),
    [
        (120, 100, "up", "up", "green"),
        (80, 100, "up", "down", "red"),
        (120, 100, "down", "up", "red"),
        (80, 100, "down", "down", "green"),
        (100, 100, "up", "flat", "grey"),
        (100, 100, "down", "flat", "grey"),
    ],
)
def test_colours_follow_the_favourable_trend(current, previous, trend, direction, colour):
    result = compare(current, previous, trend)
    assert (result.direction, result.colour) == (direction, colour)
    assert result.change == current - previous


def test_change_and_percent():
    result = compare(150.0, 120.0, "up")
    assert result.change == 30.0
    assert result.percent == pytest.approx(25.0)
    assert result.percent_text() == "+25.0%"
    assert compare(90, 120, "up").percent_text() == "-25.0%"
    assert result.favourable is True
    assert result.as_dict()["colour"] == "green"


def test_percent_of_a_negative_previous_uses_its_size():
    result = compare(-5, -10, "up")  # rose by 5, half of 10
    assert result.percent == pytest.approx(50.0)
    assert (result.direction, result.colour) == ("up", "green")


@pytest.mark.parametrize("trend", ["up", "down"])
def test_previous_zero_has_no_percent(trend):
    result = compare(7, 0, trend)
    assert result.change == 7
    assert result.percent is None
    assert "undefined" in result.percent_note
    assert result.percent_text() == "\u2014"
    assert result.colour == ("green" if trend == "up" else "red")


def test_both_zero_is_flat_and_grey():
    result = compare(0, 0, "up")
    assert (result.direction, result.colour, result.change, result.percent) == ("flat", "grey", 0.0, None)


def test_floating_point_noise_is_flat():
    assert compare(0.1 + 0.2, 0.3, "up").colour == "grey"


@pytest.mark.parametrize(("current", "previous"), [(None, 5), (5, None), (None, None)])
@pytest.mark.parametrize("trend", ["up", "down"])
def test_an_empty_side_is_grey(current, previous, trend):
    result = compare(current, previous, trend)
    assert (result.colour, result.direction, result.change, result.percent) == ("grey", None, None, None)
    assert result.favourable is None
    assert "no data" in result.percent_note


def test_unknown_trend():
    with pytest.raises(ValueError, match="trend"):
        compare(1, 2, "sideways")
