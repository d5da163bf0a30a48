"""What the library's services share: settings from the environment, ``/healthz`` and the
``populate`` command that loads YAML scenarios into a service's own database."""
