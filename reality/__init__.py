"""Reality Engine: a Testcontainers workshop kit that shows real infrastructure beats mocks."""

__version__ = "1.0.0"
