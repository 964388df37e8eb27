"""The UI's pages, one blueprint per area (registered by ``services.gateway.ui.app``)."""
