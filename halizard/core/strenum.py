"""StrEnum: an outcome word that is an Enum in the code and its plain word everywhere else.

A member equals its value ("failed" == Health.FAILED), and str(), "%s" and
format() give the value on every Python from 3.6 (a plain `str, Enum` mixin
prints "Health.FAILED" there), so log texts, reports and state files read as
before. What is stored or sent to XAPI still takes `.value`: xmlrpc refuses a
str subclass. Python 3.11's enum.StrEnum does the same; this one runs on 3.6.
"""
import enum


class StrEnum(str, enum.Enum):
    """Base of the outcome enums: members are str, and print as their value."""

    def __str__(self):
        return str(self.value)

    def __format__(self, spec):
        return format(str(self.value), spec)

    @classmethod
    def parse(cls, value):
        """A stored or passed word as a member (None stays None); ValueError for a word not in cls."""
        return None if value is None else cls(value)
