"""unfreeze: scheduled unfreezing of adapters for cross-lingual transfer."""

__version__ = "0.1.0"
