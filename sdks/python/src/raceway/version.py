"""The SDK's name and version as batches report them."""

SDK_NAME = "raceway-sdk"
__version__ = "0.1.0"
