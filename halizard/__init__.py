"""ha-lizard: high availability for XCP-ng / XenServer pools."""

__version__ = "3.0.0.dev0"
