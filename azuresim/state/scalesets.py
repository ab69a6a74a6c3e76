"""VM scale sets (Microsoft.Compute/virtualMachineScaleSets), read-only: what a fleet declares, served as ARM does.

Two orchestration modes (arm-reference §h): a **Uniform** scale set owns its instances, which ARM serves under the
scale set (``.../virtualMachineScaleSets/{name}/virtualMachines/{instanceId}``, VirtualMachineScaleSetVMs) and never
as ``Microsoft.Compute/virtualMachines`` resources of the group; a **Flexible** scale set's members are ordinary VMs
whose model names the set in ``virtualMachineScaleSet.id`` (:attr:`azuresim.state.compute.VirtualMachine.scale_set_id`).
The simulator does not create, scale or update scale sets, and a uniform instance's disks are not disk resources.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from azuresim.fleet import ScaleSetSpec
from azuresim.state import skus
from azuresim.state.compute import compute_id


@dataclass
class ScaleSetInstance:
    """One instance of a Uniform scale set."""

    instance_id: str
    vm_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    disk_suffix: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class ScaleSet:
    subscription_id: str
    resource_group: str
    spec: ScaleSetSpec
    location: str
    time_created: datetime
    instances: list[ScaleSetInstance] = field(default_factory=list)
    unique_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def id(self) -> str:
        return compute_id(self.subscription_id, self.resource_group, "virtualMachineScaleSets", self.name)

    @property
    def uniform(self) -> bool:
        return self.spec.orchestration_mode == "Uniform"

    @property
    def disk_controller_type(self) -> str:
        return skus.disk_controller(self.spec.size, self.spec.disk_controller_type)

    def instance(self, instance_id: str) -> ScaleSetInstance | None:
        return next((i for i in self.instances if i.instance_id == instance_id), None)


def build_scale_set(
    subscription_id: str, resource_group: str, location: str, spec: ScaleSetSpec, created: datetime
) -> ScaleSet:
    """A scale set as the fleet declares it; a Uniform one gets instances 0..capacity-1."""
    skus.check_controller(spec.name, spec.size, spec.disk_controller_type)
    scale_set = ScaleSet(subscription_id, resource_group, spec, location, created)
    if scale_set.uniform:
        scale_set.instances = [ScaleSetInstance(str(i)) for i in range(spec.capacity)]
    return scale_set
