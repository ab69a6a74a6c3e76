"""Campaign planning as pure functions: from each VM's facts, what a campaign does to it and why.

A campaign runs on a Temporal Schedule (docs/original-design.md §1.4): it reads the fleet, decides per VM, hands the VMs
that need work to a fleet rollout and reports. Every decision is here, free of I/O, so it is unit-tested without
Temporal or Azure, and the workflow only carries it out. The decisions reuse :mod:`adeflow.domain.rules` (volume
types per R-NEW-2, eligibility per R-LIM-*/R-PRE-1) so that a campaign never sends a VM that the VM run would refuse.

- ``rotate-kek``: re-enable with the target KEK and a new sequence version (R-NEW-4) on ADE VMs whose KEK is
  another key, no KEK at all, or an older version of the target key than ``max_age_days`` allows.
- ``drift``: encrypt VMs that are not encrypted, re-enable partly encrypted ones (a data disk attached after
  encryption, R-NEW-1/2), and reinstall the extension on VMs whose extension was removed while the disks stayed
  encrypted (R-DIS-2).
- ``audit``: change nothing; say per VM what the other kinds would do and which path it has before ADE retires
  (2028-09-15; after it, ADE disks do not unlock on reboot).

Modules: :mod:`.payloads` (the workflow's and activities' dataclasses), :mod:`.state` (a VM's ADE state and its path
before the retirement), :mod:`.keks` (KEK URLs and ages), :mod:`.decisions` (per kind, per VM), :mod:`.run` (the run's
name, the VMs it sends to a rollout, its summary). Import the names from those modules.
"""
