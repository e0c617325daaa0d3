"""Build the optional compiled helpers (`unspin._native`, `unspin._ctext`); the rest is in
pyproject.toml.

The helpers speed up the language model's lookups, the scoring of single-word and
multiword candidates, their grouping by position, the decoder's joint step and its two-step
candidates (`_native`), and the per-character text passes: tokens with their offsets,
lower-cased forms, flags and language-model ids, the language gate's letter runs, the
control-character and mojibake tests, the boilerplate lines' first words (`_ctext`). They
are optional:
without a C compiler the build skips them (a warning) and unspin uses its Python code,
which gives the same results.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "unspin._native",
            sources=["src/unspin/_native.c"],
            extra_compile_args=["-O2", "-ffp-contract=off"],
            optional=True,
        ),
        Extension(
            "unspin._ctext",
            sources=["src/unspin/_ctext.c"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
    ]
)
