"""A WSGI entry point that cannot load (convoy's broken variant "integration-serve")."""
raise RuntimeError("payments wsgi broken on purpose: the service must not start")
