"""azuresim: an ARM simulator (HTTPS on loopback) for the Azure SDK clients adeflow uses.

Entry points: :class:`azuresim.server.SimServer`, :class:`azuresim.clock.SimClock`, :class:`azuresim.fleet.FleetSpec`,
``azuresim.cli`` (``adeflow sim serve``) and :mod:`azuresim.ideal` (benchmarks). Inside: ``state/`` is the world with
no HTTP, ``providers/`` the routes and handlers per ARM provider, ``http``/``app``/``control`` the HTTP shape,
request pipeline and ``/_sim/`` hooks; ``faults``, ``throttling``, ``requestlog`` and ``kql`` serve all providers.
Disks granted SAS access are also served as page blobs on the same HTTPS host under ``/_blob/``
(:mod:`azuresim.providers.blob`, :mod:`azuresim.state.pageblob`), their data kept as checksummed extents
(:mod:`azuresim.state.extents`), so ``azure-storage-blob`` can copy disks as ``azcopy`` does.
"""
