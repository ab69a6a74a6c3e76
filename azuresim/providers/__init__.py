"""One module per ARM resource provider (or family): its routes, thin handlers over :mod:`azuresim.state`, and the
rendering of its resources as ARM JSON. Shared HTTP shape is :mod:`azuresim.http`; the pipeline every request goes
through before a handler is :mod:`azuresim.app`.
"""
