"""What the builder app does when Celery says something happened."""

from celery.signals import worker_process_init

from builder import expression_box


@worker_process_init.connect(dispatch_uid="builder.start_expression_box")
def start_expression_box(**kwargs):
    """A Celery pool process starts its expression box's worker as it starts, not at its first sync.

    The box's worker imports jsonata before it can answer (0.25 s on a quiet machine, about 1 s on
    a loaded one), which each pool process's first sync would otherwise wait for. Celery sends this
    signal only where tasks run: in each prefork pool process, and in a solo pool's one process; the
    web server and beat never receive it, so they start a box only when they first evaluate.
    """
    expression_box.default_box().start_one_worker()
