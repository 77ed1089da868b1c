"""Tools the model may call: the registry, the built-in tools and the tool-call parser.

Adding a tool means writing a typed function with a docstring (see ``tools/builtin/``) and listing
its ``module:function`` import path in ``tools.functions`` of the config; the registry derives the
JSON schema from the signature, so nothing else is edited.
"""
