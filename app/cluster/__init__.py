"""Sessions on Ray workers (``--workers``, ``--ray-address``): the ``[cluster]`` extra.

Nothing here is imported by the default server: ``make run`` never imports Ray.

- ``owner.py``: which worker owns a request (a session by its id, everything else worker 0);
- ``asgi.py``: one HTTP request, or one websocket, run against an ASGI app in this process;
- ``worker.py``: the ``SessionWorker`` actor, the ordinary app in a worker process;
- ``proxy.py``: the web process's ASGI layer that forwards ``/api/**`` and ``/ws/**``;
- ``takes.py``: the TCP stream a web process takes its sockets' messages from a worker by;
- ``start.py``: joining or starting Ray and finding (or starting) the workers;
- ``web.py``: the web process's app (``create_web_app``, what uvicorn serves).
"""
