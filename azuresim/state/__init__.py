"""The simulated world, with no HTTP in it: resources, their rules and timelines, the writes ARM would accept.

``world`` (:class:`~azuresim.state.world.SimState`: lookups, async operations, faults) holds the ``tree`` of
subscriptions and resource groups that ``build`` makes from a fleet spec. Resource models: ``compute`` (VMs, disks,
snapshots, extensions), ``ade`` (the guest-side ADE handler) over ``encryption`` (the pure encryption timeline),
``keyvault``, ``backup``, ``policy``, ``operations`` (Compute LROs). Writes: ``vms``, ``extensions``, ``snapshots``,
:func:`~azuresim.state.backup.trigger_backup`.
"""
