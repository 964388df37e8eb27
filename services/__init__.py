"""The Tameio services; ``services.cli`` is the one place that knows them all."""
