"""The dispatcher publishes through Celery's own path: its publish signals fire for every batch it queues."""

import uuid

import pytest
from celery.signals import after_task_publish, before_task_publish

from config.celery import app
from syncs import dispatcher
from tests.factories import MetricFactory

pytestmark = pytest.mark.django_db


def drain(queue):
    """Take every message off ``queue``: (task id, metric ids) each, in the order they were queued."""
    messages = []
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            args, _kwargs, _embed = message.decode()
            messages.append((message.headers["id"], args[0]))
    return messages


@pytest.fixture
def own_queue():
    """The tasks the test publishes go to a queue of its own, emptied at the end."""
    name = f"test-dispatch-{uuid.uuid4().hex[:10]}"
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = name
    yield name
    app.conf.task_default_queue = previous
    drain(name)


def test_every_batch_goes_through_celerys_publish_signals(
    offline_vtiger, own_queue, settings, django_capture_on_commit_callbacks
):
    settings.SYNC_BATCH_SIZE = 2
    for _ in range(3):
        MetricFactory(connection=offline_vtiger, used_on="screen")
    before, after = [], []

    def on_before(sender, body, headers, routing_key, **kwargs):
        before.append((sender, routing_key, headers["id"], body[0][0]))

    def on_after(sender, headers, **kwargs):
        after.append(headers["id"])

    before_task_publish.connect(on_before)
    after_task_publish.connect(on_after)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            first, second, third = sorted(dispatcher.dispatch())
    finally:
        before_task_publish.disconnect(on_before)
        after_task_publish.disconnect(on_after)

    assert [(sender, key, ids) for sender, key, _, ids in before] == [
        ("syncs.sync_batch", own_queue, [first, third]),
        ("syncs.sync_batch", own_queue, [second]),
    ], "one sync_batch per batch of the connection's metrics, to the task's queue"
    assert after == [task_id for _, _, task_id, _ in before], "after_task_publish follows each one"
    assert drain(own_queue) == [(task_id, ids) for _, _, task_id, ids in before], "what the signals saw is queued"
