"""Test helpers in the spirit of nameko's: real brokers and databases, stories not mocks."""
