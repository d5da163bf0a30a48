pytest_plugins = ["convoykit.pytest_plugin"]
