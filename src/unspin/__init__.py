"""unspin: detect, locate, restore and trace machine-spun English text."""

__version__ = "0.1.0"
