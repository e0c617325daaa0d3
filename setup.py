"""Build the optional compiled helper (`unspin._native`); everything else is in pyproject.toml.

The helper speeds up the language model's lookups. It is optional: without a C compiler
the build skips it (a warning) and unspin uses the numpy code, which gives the same
results.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "unspin._native",
            sources=["src/unspin/_native.c"],
            extra_compile_args=["-O2", "-ffp-contract=off"],
            optional=True,
        )
    ]
)
