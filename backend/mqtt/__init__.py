"""MQTT transport: the worker that answers terminals."""
