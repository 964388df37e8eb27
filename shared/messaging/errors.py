"""What a handler raises to tell the consumer runner how to treat a failed event."""


class NotYetKnown(Exception):
    """The event refers to something this service has not seen yet; retry it later.

    Events may simply arrive early (a payment before its customer): the runner retries with
    growing delay for the retry window (about 15 minutes), then parks it as a dead letter.
    """


class BadEvent(Exception):
    """The event's data can never be handled (wrong shape, impossible values): park it now."""
