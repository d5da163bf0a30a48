"""A shared lib: convoy copies it to /app/libs/greet and puts it on PYTHONPATH."""


def hello(name):
    return f"hello, {name}"
