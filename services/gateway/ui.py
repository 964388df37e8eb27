"""The staff UI (server-rendered). This first page lists the services and their health."""

from __future__ import annotations

from flask import Response, render_template_string
from flask_smorest import Blueprint

from shared.config import BUSINESS_SERVICES

blp = Blueprint("ui", __name__, description="Staff UI")

INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tameio</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:50rem}
code{background:#eee;padding:0 .2rem}
</style>
</head><body>
<h1>Tameio</h1>
<p>Accounts receivable: customers, contracts, invoices, payments, reminders and reports.</p>
<p>The staff screens arrive with the next issues.
The API is under <code>/api/&lt;service&gt;/</code> with a bearer token;
each service documents itself at <code>/api/&lt;service&gt;/openapi.json</code>.</p>
<ul>{% for s in services %}<li><a href="/api/{{ s }}/openapi.json">{{ s }}</a>
 (<a href="/api/{{ s }}/readyz">ready?</a>)</li>{% endfor %}</ul>
</body></html>"""


@blp.route("/", methods=["GET"])
@blp.doc(security=[])
def index() -> Response:
    return Response(render_template_string(INDEX, services=BUSINESS_SERVICES), mimetype="text/html")
