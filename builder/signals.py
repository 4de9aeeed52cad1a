"""Signals the builder app sends; apps to its right (syncs) receive them. `builder` imports none of them.

``metric_saved``  sent by the wizard's Save (``builder.steps.save_metric``) inside its transaction,
                  after the metric row is saved:
                  ``metric``, ``created`` (a new metric, not an edit), ``user``, and
                  ``add_to_screen`` (the analyst kept "Add to the Metrics screen" ticked: syncs
                  puts the metric on the Metrics screen, which starts its syncs and backfill).
                  Also sent by the Save of a calculated metric (``builder.views.calculated``): syncs
                  puts its new inputs in use when the metric is in use.
"""

from django.dispatch import Signal

metric_saved = Signal()
