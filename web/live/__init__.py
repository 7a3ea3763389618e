"""Live rooms in the web layer: the WebSocket bridge to ``media/``, the live page, attendance.

``wiring`` builds the room registry and the attendance writer; ``socket`` is the WebSocket
endpoint; ``pages`` the live page and the start action; ``ledger`` persists room events;
``rooms`` turns meetings and viewers into the media layer's settings.
"""
