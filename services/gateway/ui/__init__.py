"""The staff UI: server-rendered pages in English and Greek over the public API."""
