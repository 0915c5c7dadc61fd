"""Errors that mean "the user's input is bad": the CLI turns them into one line and exit code 2."""


class TraceError(ValueError):
    """A trace (or other input file) cannot be used; the message names the file and the problem."""
