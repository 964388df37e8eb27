"""The Blueprint every service declares its routes on."""

from __future__ import annotations

import flask_smorest

from shared.web.inputs import GateParser


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint whose arguments come from the request gate's parsed body."""

    ARGUMENTS_PARSER = GateParser()
