"""The box expressions run in: real worker processes, killed and replaced; no mocks, no timings asserted."""

import json
import signal
import subprocess
import sys
import threading

import pytest
from celery.signals import worker_process_init
from django.apps import apps
from django.urls import reverse

from builder import expression_box
from builder.expression_box import ExpressionBox
from builder.models import Draft
from builder.transform import ExpressionError, evaluate
from conftest import wait_for
from tests.connections.factories import vtiger_connection
from tests.recordings import recorded

CATASTROPHIC_REGEX = '$match("aaaaaaaaaaaaaaaaaaaaaaaaaa!", /(a+)+$/)'
ENDLESS_REGEX = '$match("' + "a" * 60 + '!", /(a+)+$/)'  # would run for centuries
HUGE_SPLIT = '$count($split($pad("", 20000000), ""))'
HUGE_RANGE = "[1..10000000]"
TOO_LONG = "The expression took too long (over 500 ms) and was stopped."


@pytest.fixture
def box():
    # Memory to spare, so that the time limit is what stops the expressions of the first test.
    with ExpressionBox(workers=2, memory_mb=4096) as box:
        yield box


@pytest.mark.parametrize(
    ("text", "killed"),
    [
        (CATASTROPHIC_REGEX, {1}),  # one step in C: 20 s
        (HUGE_SPLIT, {1}),  # one step: 20 s
        # Building the range is one step of about a second: jsonata's own check after it may
        # answer first, then the worker lives on. Either way the caller hears the same words.
        (HUGE_RANGE, {0, 1}),
    ],
)
def test_a_long_single_step_is_killed_and_the_worker_replaced(box, text, killed):
    with pytest.raises(ExpressionError) as caught:
        evaluate(text, {}, timeout_ms=500, box=box)
    assert (caught.value.code, caught.value.message, caught.value.position) == ("D1012", TOO_LONG, None)
    assert box.replaced in killed
    replaced = box.replaced
    for _ in range(3):  # whichever worker answers, it answers right
        assert evaluate("$count(result)", {"result": [1, 2, 3]}, box=box) == 3
    assert box.replaced == replaced


def test_the_default_box_stops_the_catastrophic_regex_and_answers_the_next():
    before = expression_box.default_box().replaced
    with pytest.raises(ExpressionError) as caught:
        evaluate(CATASTROPHIC_REGEX, {})
    assert (caught.value.code, caught.value.message) == ("D1012", TOO_LONG)
    assert expression_box.default_box().replaced == before + 1
    assert evaluate('$match("aab", /a+/).match', {}) == "aa"


@pytest.mark.parametrize("text", ['$pad("", 1000000000)', HUGE_SPLIT])
def test_a_memory_bomb_hits_the_memory_limit(text):
    with ExpressionBox(workers=1, memory_mb=128) as box:
        with pytest.raises(ExpressionError) as caught:
            evaluate(text, {}, timeout_ms=60_000, box=box)
        assert caught.value.code == "MEMORY_LIMIT"
        assert caught.value.message == "The expression used more than 128 MB and was stopped."
        assert box.replaced == 1
        assert evaluate("$sum(result)", {"result": [1, 2, 3]}, box=box) == 6


def _stuck_in_a_thread(box):
    """A thread evaluating an endless regex in ``box``, and the dict its ExpressionError lands in."""
    outcome = {}

    def stuck():
        try:
            outcome["result"] = evaluate(ENDLESS_REGEX, {}, timeout_ms=600_000, box=box)
        except ExpressionError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=stuck)
    thread.start()
    wait_for(lambda: box.busy == 1)
    return thread, outcome


def test_a_stuck_expression_does_not_block_another():
    with ExpressionBox(workers=2) as box:
        thread, outcome = _stuck_in_a_thread(box)
        # One worker is stuck in C for ten minutes; the other one answers meanwhile.
        assert evaluate("$count(result)", {"result": [1, 2, 3]}, box=box) == 3
        assert evaluate("$count(result)", {"result": [1, 2]}, box=box) == 2
        assert thread.is_alive() and outcome == {}
        box.close()  # kills the stuck worker
        thread.join(timeout=30)
        assert not thread.is_alive()
        assert outcome["error"].code == "EVALUATOR_STOPPED"


def test_a_caller_waits_for_a_free_worker_a_bounded_time():
    with ExpressionBox(workers=1, queue_wait_ms=100) as box:
        thread, outcome = _stuck_in_a_thread(box)
        with pytest.raises(ExpressionError) as caught:
            evaluate("1", {}, box=box)
        assert caught.value.code == "BUSY"
        assert "try again in a moment" in caught.value.message
        assert thread.is_alive() and outcome == {}
        box.close()
        thread.join(timeout=30)
        assert not thread.is_alive()


def test_expression_errors_keep_code_position_and_message_and_the_worker():
    with ExpressionBox(workers=1) as box:
        with pytest.raises(ExpressionError) as caught:
            evaluate('$sum(["a"])', {}, box=box)
        assert (caught.value.code, caught.value.position) == ("T0412", 5)
        assert caught.value.raw_message.startswith("Argument 1 of")  # jsonata's words, told in plain ones
        assert caught.value.message == "$sum needs a list of numbers, but argument 1 is not."
        with pytest.raises(ExpressionError) as caught:
            evaluate('$number("abc")', {}, box=box)
        assert (caught.value.code, caught.value.raw_message) == (
            "ValueError",
            "could not convert string to float: 'abc'",
        )
        assert box.replaced == 0  # an error in the expression is not the worker's fault


def test_the_same_input_is_sent_once():
    data = recorded("query_Potentials.json")
    with ExpressionBox(workers=1) as box:
        assert evaluate("$count(result)", data, box=box) == 15
        assert evaluate("$sum(result.$number(amount)) > 0", data, box=box) is True
        assert box.inputs_sent == 1
        assert evaluate("$count(result)", {"result": [1]}, box=box) == 1
        assert evaluate("$count(result)", data, box=box) == 15  # still kept: two inputs are
        assert box.inputs_sent == 2


def test_the_caller_knows_which_inputs_a_worker_keeps():
    # The caller sends an input only when its copy of the worker's list says it is missing: the
    # two lists must agree, or the worker would be asked about an input it dropped.
    inputs = {name: {"result": list(range(size))} for name, size in (("a", 1), ("b", 2), ("c", 3))}
    with ExpressionBox(workers=1) as box:
        for name, sent in (("a", 1), ("b", 2), ("a", 2), ("c", 3), ("b", 4), ("a", 5), ("a", 5)):
            assert evaluate("$count(result)", inputs[name], box=box) == len(inputs[name]["result"])
            assert box.inputs_sent == sent, name
        assert box.replaced == 0


def test_results_come_back_as_json():
    with ExpressionBox(workers=1) as box:
        assert evaluate('{"a": [1, 2.5, "x", null, true]}', {}, box=box) == {"a": [1, 2.5, "x", None, True]}
        assert evaluate("nothing", {}, box=box) is None
        assert evaluate("function($x){ $x }", {}, box=box) == "<function>"
        assert evaluate('"é" & $string(é)', {"é": "ü"}, box=box) == "éü"


def test_asked_for_a_summary_the_worker_answers_it_instead_of_the_result():
    data = {"result": [{"amount": str(n)} for n in range(1, 1001)]}
    payload, payload_format = expression_box.pack(data)
    with ExpressionBox(workers=1) as box:
        answer = box.evaluate(
            'result.{"value": $number(amount)}',
            payload,
            payload_format=payload_format,
            timeout_ms=5000,
            max_depth=500,
            now_ms=0,
            summary=("dynamic", 2),
        )
        assert answer == {
            "head": [{"value": 1}, {"value": 2}],
            "length": 1000,
            "points": [[1.0, None, None], [2.0, None, None]],
            "count": 1000,
            "total": 500500.0,
        }
        refused = box.evaluate(
            "result",
            payload,
            payload_format=payload_format,
            timeout_ms=5000,
            max_depth=500,
            now_ms=0,
            summary=("none", 1),
        )
        assert refused["head"] == [{"amount": "1"}] and refused["length"] == 1000
        assert refused["shape_error"].startswith('Item 0 has no "value": {"amount": "1"}.')
        assert box.replaced == 0 and box.inputs_sent == 1  # a shape error is not the worker's fault


def test_a_worker_whose_caller_is_gone_stops_by_itself():
    worker = subprocess.Popen(
        [sys.executable, "-m", "builder.expression_box", "256"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=expression_box.ROOT,
    )
    try:
        request = {"expression": ENDLESS_REGEX, "digest": "d", "timeout_ms": 100, "max_depth": 100, "now_ms": 0}
        request.update(format="json", input=True)  # the input, "{}", follows the request
        for frame in (json.dumps(request).encode(), b"{}"):
            worker.stdin.write(expression_box.FRAME.pack(len(frame)) + frame)
        worker.stdin.flush()
        assert worker.stdout.read(expression_box.FRAME.size + 11)[expression_box.FRAME.size :] == b'{"ready":1}'
        # Nobody reads its answer or kills it: its own alarm (twice the limit, plus 2 s) ends it.
        wait_for(lambda: worker.poll() is not None)
        assert worker.returncode == -signal.SIGALRM
    finally:
        worker.kill()
        worker.wait()
        worker.stdin.close()
        worker.stdout.close()


@pytest.mark.django_db
def test_the_live_editor_answers_the_catastrophic_regex_in_plain_words(analyst_client):
    connection = vtiger_connection(name="Offline")
    assert analyst_client.post(reverse("builder:start"), {"connection": str(connection.uuid)}).status_code == 302
    draft = Draft.objects.latest("created_at")
    draft.response = recorded("query_Potentials.json")
    draft.save()
    url = reverse("builder:evaluate", args=[draft.uuid])
    page = analyst_client.post(url, {"expression": CATASTROPHIC_REGEX}, HTTP_HX_REQUEST="true")
    text = page.content.decode()
    assert page.status_code == 200
    assert 'data-error-code="D1012"' in text and TOO_LONG in text
    page = analyst_client.post(url, {"expression": "$count(result)"}, HTTP_HX_REQUEST="true")
    assert page.status_code == 200 and 'data-error-code="' not in page.content.decode()


def test_the_default_box_follows_the_settings(settings):
    builder = apps.get_app_config("builder")
    before = settings.EXPRESSION_WORKERS, settings.EXPRESSION_MEMORY_MB, settings.EXPRESSION_QUEUE_WAIT_MS
    settings.EXPRESSION_WORKERS, settings.EXPRESSION_MEMORY_MB, settings.EXPRESSION_QUEUE_WAIT_MS = 3, 256, 50
    try:
        builder.ready()  # what Django does at start-up
        box = expression_box.default_box()
        assert (len(box._all), box.memory_mb, box.queue_wait_ms) == (3, 256, 50)
        assert evaluate("1 + 1", {}) == 2
    finally:
        settings.EXPRESSION_WORKERS, settings.EXPRESSION_MEMORY_MB, settings.EXPRESSION_QUEUE_WAIT_MS = before
        builder.ready()


def test_a_celery_pool_process_starts_one_box_worker_as_it_starts(settings):
    """Celery sends worker_process_init in each pool process as it starts: the box's next worker
    starts then, and the first evaluation uses it; Django's start-up alone starts none."""
    builder = apps.get_app_config("builder")
    before = settings.EXPRESSION_WORKERS
    settings.EXPRESSION_WORKERS = 2
    try:
        builder.ready()  # what Django does at start-up, in the web server and beat too
        box = expression_box.default_box()
        assert [worker.proc for worker in box._all] == [None, None]
        worker_process_init.send(sender="celery@test")
        started = [worker.proc for worker in box._all if worker.proc is not None]
        assert len(started) == 1 and started[0].poll() is None
        assert evaluate("1 + 1", {}) == 2
        assert [worker.proc for worker in box._all if worker.proc is not None] == started
    finally:
        settings.EXPRESSION_WORKERS = before
        builder.ready()


def test_an_input_nested_too_deeply_is_refused_in_words():
    deep = leaf = {}
    for _ in range(100_000):
        leaf["a"] = leaf = {}
    for limit in (None, 5_000_000):
        with pytest.raises(ExpressionError) as caught:
            evaluate("$count(a)", deep, max_input_bytes=limit)
        assert caught.value.code == "INPUT_TOO_DEEP"
        assert caught.value.message.startswith("The response is nested too deeply to evaluate")


def test_an_input_kept_packed_is_packed_once_and_others_as_always():
    kept = {"result": [{"amount": str(n)} for n in range(100)]}
    expression_box.keep_packed(kept)
    payload, payload_format = expression_box.pack(kept)
    assert expression_box.pack(kept)[0] is payload, "the same bytes, not packed again"
    assert expression_box.digest(payload) == expression_box.digest(bytes(payload))
    equal = {"result": [{"amount": str(n)} for n in range(100)]}
    assert expression_box.pack(equal)[0] is not payload and expression_box.pack(equal) == (payload, payload_format)
    assert evaluate("$sum(result.$number(amount))", kept) == 4950
