"""留痕 liuhen — an open, verifiable evidence archive for law-enforcement body cameras."""

__version__ = "0.1.0"
