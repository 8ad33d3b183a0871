"""CDK infrastructure of the SOCI index builder (construct, stack, app, layer bundling).

Import :class:`infra.construct.SociIndexBuilder` to add a builder to your own CDK app.
"""
