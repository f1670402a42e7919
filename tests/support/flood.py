"""Floods of Socket.IO packets on raw websockets: what the attacker process runs.

A module of its own, importing nothing but websocket-client: the tests run a flood in a freshly
spawned process, which imports this module, and should not spend 0.6 s of a core importing Docker,
requests and pytest first.
"""

from __future__ import annotations

import websocket


def open_dashboard_socket(port: int, role: str = "dashboard"):
    """A raw websocket speaking Engine.IO 4 / Socket.IO 5 by hand, joined as a dashboard (or phone)."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", timeout=10)
    assert ws.recv().startswith("0{")
    ws.send('40{"role":"%s","since":0}' % role)
    return ws


def flood(port: int, packets: list[str], rounds: int = 1, settle: bool = False) -> int:
    """Send ``packets`` as fast as possible on one socket, ``rounds`` times (a new socket each round).

    Runs in a process of its own in the tests: in the test's process it would compete with the
    phones it measures for the interpreter, and the figures would be the client's, not the show's.
    With ``settle`` each socket waits until the show has handled all it sent. Returns packets sent.
    """
    sent = 0
    for _ in range(rounds):
        ws = open_dashboard_socket(port)
        try:
            for packet in packets:
                ws.send(packet)
                sent += 1
            if settle:  # packets are handled in order: once this is answered, all before it were seen
                # An acknowledged event is answered at once (refused: not the presenter); a catch-up's
                # replay would wait for the broadcaster's next tick.
                ws.send('421["scene",{"action":"next"}]')
                while not ws.recv().startswith("431"):
                    pass
        except (websocket.WebSocketException, OSError):
            pass  # disconnected for flooding; the next round connects again, as an attacker would
        finally:
            ws.close(timeout=0)
    return sent
