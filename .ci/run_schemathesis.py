"""Runs the schemathesis CLI with one work-around for CPython 3.11.7.

Hypothesis describes `.filter(lambda ...)` strategies by re-parsing their source
with `ast.parse`, and on CPython < 3.11.8 that parse can fail at random with
`SystemError: AST constructor recursion depth mismatch` (CPython gh-106905). The
description is only a label, so a failed parse is given the label Hypothesis
itself uses when it cannot read a lambda, instead of aborting the whole run.
"""
import sys

from hypothesis.internal import lambda_sources
from schemathesis.cli import schemathesis

_describe = lambda_sources._lambda_description


def _describe_or_label(f, *args, **kwargs):
    try:
        return _describe(f, *args, **kwargs)
    except SystemError:
        return "lambda: <unknown>"


lambda_sources._lambda_description = _describe_or_label

if __name__ == "__main__":
    sys.argv[0] = "schemathesis"
    sys.exit(schemathesis())
