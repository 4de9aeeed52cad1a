"""Why a sync stored nothing, apart from the API's own problems (connections.errors)."""


class LeaseLost(Exception):
    """Another worker holds the metric now (this one was presumed dead): store nothing."""


class DefinitionChanged(Exception):
    """The metric was edited during the sync: what was fetched belongs to the old definition."""
