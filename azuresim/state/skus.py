"""The VM sizes the simulator knows (Resource SKUs, M-6): vCPUs, memory and whether encryption at host is supported.

The catalog covers the sizes the example fleets, the tests and the support matrix use, plus neighbours of each
family. ``EncryptionAtHostSupported`` follows what Azure reports for the families: the old Basic A, A0-A7, Av2, Dv2
and G sizes do not support it, nor do a few special sizes (M128ms, E104i_v5); the Bs, DSv2 and the v3-and-later D,
E, F, L, M and HB families do. A size not in the catalog does not exist: a VM PUT naming it is refused, as Azure
refuses a size that is not offered in the region. Storage follows the families too: ``DiskControllerTypes``
(``SCSI``; ``SCSI, NVMe`` for Ebsv5; ``NVMe`` only for v6), ``MaxResourceVolumeMB`` 0 for sizes without a SCSI temp
disk (Dsv4, Dsv5, Esv5, v6, ...), and ``NvmeDiskSizeInMiB``/``NvmeSizePerDiskInMiB`` for local NVMe disks (Lsv2,
Lsv3, HBv3, and the v6 ``d`` sizes whose temp disk is NVMe). Names compare case-insensitively, as in ARM.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

OS_VHD_SIZE_MB = 1047552
ZONES = ("1", "2", "3")
REGIONS = (
    "australiaeast",
    "brazilsouth",
    "canadacentral",
    "centralindia",
    "centralus",
    "eastasia",
    "eastus",
    "eastus2",
    "francecentral",
    "germanywestcentral",
    "japaneast",
    "koreacentral",
    "northcentralus",
    "northeurope",
    "norwayeast",
    "southafricanorth",
    "southcentralus",
    "southeastasia",
    "swedencentral",
    "switzerlandnorth",
    "uaenorth",
    "uksouth",
    "westcentralus",
    "westeurope",
    "westus",
    "westus2",
    "westus3",
)
"""Regions where every catalog size is offered (besides those the fleet uses)."""


@dataclass(frozen=True)
class VmSize:
    name: str
    family: str
    vcpus: int
    memory_gb: float
    encryption_at_host: bool
    premium_io: bool = True
    generations: str = "V1,V2"
    acus: int = 195
    controllers: str = "SCSI"
    """``DiskControllerTypes``: ``SCSI``, ``SCSI, NVMe`` (either, SCSI by default) or ``NVMe`` (v6: NVMe only)."""
    temp_disk: bool = True
    """A SCSI temporary (resource) disk; sizes without one report ``MaxResourceVolumeMB`` 0."""
    nvme_disks: int = 0
    """Local NVMe disks (storage-optimized L, HPC, and the v6 ``d`` sizes whose temp disk is NVMe)."""
    nvme_mib_per_disk: int = 0

    @property
    def default_controller(self) -> str:
        """The controller a VM of this size gets when its PUT names none (the first the size supports)."""
        return self.controllers.split(",")[0].strip()

    def supports_controller(self, controller: str) -> bool:
        return controller.lower() in {c.strip().lower() for c in self.controllers.split(",")}

    @property
    def tier(self) -> str:
        return self.name.split("_", 1)[0]

    @property
    def size(self) -> str:
        return self.name.split("_", 1)[1]

    @property
    def max_data_disks(self) -> int:
        return min(64, max(1, 2 * self.vcpus))

    @property
    def max_nics(self) -> int:
        return min(8, max(2, self.vcpus))

    def capabilities(self) -> list[tuple[str, str]]:
        """Name/value pairs in the order Azure lists them (values are strings, booleans ``True``/``False``)."""
        yes = {True: "True", False: "False"}
        return [
            ("MaxResourceVolumeMB", str(self.resource_volume_mb)),
            ("OSVhdSizeMB", str(OS_VHD_SIZE_MB)),
            ("vCPUs", str(self.vcpus)),
            ("HyperVGenerations", self.generations),
            ("MemoryGB", f"{self.memory_gb:g}"),
            ("MaxDataDiskCount", str(self.max_data_disks)),
            ("CpuArchitectureType", "x64"),
            ("LowPriorityCapable", yes[self.tier == "Standard"]),
            ("PremiumIO", yes[self.premium_io]),
            ("VMDeploymentTypes", "IaaS"),
            ("vCPUsAvailable", str(self.vcpus)),
            ("ACUs", str(self.acus)),
            ("vCPUsPerCore", "2" if self.vcpus > 1 and self.premium_io else "1"),
            ("EphemeralOSDiskSupported", yes[self.premium_io]),
            ("EncryptionAtHostSupported", yes[self.encryption_at_host]),
            ("CapacityReservationSupported", yes[self.tier == "Standard"]),
            ("AcceleratedNetworkingEnabled", yes[self.vcpus >= 2 and self.premium_io]),
            ("RdmaEnabled", "False"),
            ("MaxNetworkInterfaces", str(self.max_nics)),
            ("DiskControllerTypes", self.controllers),
            *self._nvme_capabilities(),
        ]

    @property
    def resource_volume_mb(self) -> int:
        if not self.temp_disk:
            return 0
        return self.vcpus * 16384 if self.tier == "Standard" else self.vcpus * 10240

    def _nvme_capabilities(self) -> list[tuple[str, str]]:
        if not self.nvme_disks:
            return []
        total = self.nvme_disks * self.nvme_mib_per_disk
        return [("NvmeDiskSizeInMiB", str(total)), ("NvmeSizePerDiskInMiB", str(self.nvme_mib_per_disk))]


def _family(
    family: str,
    eah: bool,
    sizes: list[tuple[str, int, float]],
    *,
    premium_io: bool = True,
    generations: str = "V1,V2",
    acus: int = 195,
    controllers: str = "SCSI",
    temp_disk: bool = True,
    nvme: Callable[[int], tuple[int, int]] | None = None,
) -> list[VmSize]:
    """Sizes of one family; ``nvme`` maps a size's vCPUs to its local NVMe disks (count, MiB each)."""
    return [
        VmSize(name, family, cpus, mem, eah, premium_io, generations, acus, controllers, temp_disk, *local)
        for name, cpus, mem in sizes
        for local in [nvme(cpus) if nvme else (0, 0)]
    ]


_L_NVME_MIB = 1831424
"""One 1.92 TB local NVMe disk of the Lsv3 family (one per 8 vCPUs)."""
_HB_NVME_MIB = 915712
"""One 960 GB local NVMe disk of HBv3 (two per VM)."""


CATALOG: tuple[VmSize, ...] = (
    *_family(
        "basicAFamily",
        False,
        [("Basic_A0", 1, 0.75), ("Basic_A1", 1, 1.75), ("Basic_A2", 2, 3.5), ("Basic_A3", 4, 7), ("Basic_A4", 8, 14)],
        premium_io=False,
        generations="V1",
        acus=50,
    ),
    *_family(
        "standardA0_A7Family",
        False,
        [("Standard_A0", 1, 0.75), ("Standard_A1", 1, 1.75), ("Standard_A2", 2, 3.5)],
        premium_io=False,
        generations="V1",
        acus=100,
    ),
    *_family(
        "standardAv2Family",
        False,
        [("Standard_A1_v2", 1, 2), ("Standard_A2_v2", 2, 4), ("Standard_A4_v2", 4, 8), ("Standard_A8_v2", 8, 16)],
        premium_io=False,
        acus=100,
    ),
    *_family(
        "standardBSFamily",
        True,
        [
            ("Standard_B1s", 1, 1),
            ("Standard_B1ms", 1, 2),
            ("Standard_B2s", 2, 4),
            ("Standard_B2ms", 2, 8),
            ("Standard_B4ms", 4, 16),
            ("Standard_B8ms", 8, 32),
        ],
    ),
    *_family(
        "standardDv2Family",
        False,
        [("Standard_D1_v2", 1, 3.5), ("Standard_D2_v2", 2, 7), ("Standard_D3_v2", 4, 14), ("Standard_D4_v2", 8, 28)],
        premium_io=False,
        acus=210,
    ),
    *_family(
        "standardDSv2Family",
        True,
        [
            ("Standard_DS1_v2", 1, 3.5),
            ("Standard_DS2_v2", 2, 7),
            ("Standard_DS3_v2", 4, 14),
            ("Standard_DS4_v2", 8, 28),
            ("Standard_DS5_v2", 16, 56),
        ],
        acus=210,
    ),
    *_family("standardDv3Family", True, [("Standard_D2_v3", 2, 8), ("Standard_D4_v3", 4, 16)], acus=160),
    *_family("standardDSv3Family", True, [("Standard_D2s_v3", 2, 8), ("Standard_D4s_v3", 4, 16)], acus=160),
    *_family("standardESv3Family", True, [("Standard_E2s_v3", 2, 16), ("Standard_E4s_v3", 4, 32)], acus=160),
    *_family("standardDSv4Family", True, [("Standard_D2s_v4", 2, 8), ("Standard_D4s_v4", 4, 16)], temp_disk=False),
    *_family("standardDASv4Family", True, [("Standard_D2as_v4", 2, 8), ("Standard_D4as_v4", 4, 16)]),
    *_family(
        "standardDSv5Family",
        True,
        [
            ("Standard_D2s_v5", 2, 8),
            ("Standard_D4s_v5", 4, 16),
            ("Standard_D8s_v5", 8, 32),
            ("Standard_D16s_v5", 16, 64),
        ],
        temp_disk=False,
    ),
    *_family("standardDDSv5Family", True, [("Standard_D2ds_v5", 2, 8), ("Standard_D4ds_v5", 4, 16)]),
    *_family("standardDASv5Family", True, [("Standard_D2as_v5", 2, 8), ("Standard_D4as_v5", 4, 16)], temp_disk=False),
    *_family("standardDLSv5Family", True, [("Standard_D2ls_v5", 2, 4), ("Standard_D4ls_v5", 4, 8)], temp_disk=False),
    *_family(
        "standardESv5Family",
        True,
        [
            ("Standard_E2s_v5", 2, 16),
            ("Standard_E4s_v5", 4, 32),
            ("Standard_E8s_v5", 8, 64),
            ("Standard_E16s_v5", 16, 128),
        ],
        temp_disk=False,
    ),
    *_family(
        "standardEBSv5Family",
        True,
        [("Standard_E2bs_v5", 2, 16), ("Standard_E4bs_v5", 4, 32)],
        controllers="SCSI, NVMe",
        temp_disk=False,
    ),
    *_family("standardEIv5Family", False, [("Standard_E104i_v5", 104, 672)], temp_disk=False),
    *_family(
        "standardDSv6Family",
        True,
        [("Standard_D2s_v6", 2, 8), ("Standard_D4s_v6", 4, 16)],
        controllers="NVMe",
        temp_disk=False,
    ),
    *_family(
        "standardDDSv6Family",
        True,
        [("Standard_D2ds_v6", 2, 8), ("Standard_D4ds_v6", 4, 16)],
        controllers="NVMe",
        temp_disk=False,
        nvme=lambda cpus: (1, 56320 * cpus),  # the temp disk is one local NVMe disk of 55 GiB per vCPU
    ),
    *_family(
        "standardESv6Family",
        True,
        [("Standard_E2s_v6", 2, 16), ("Standard_E4s_v6", 4, 32)],
        controllers="NVMe",
        temp_disk=False,
    ),
    *_family("standardBsv2Family", True, [("Standard_B2s_v2", 2, 8), ("Standard_B4s_v2", 4, 16)], temp_disk=False),
    *_family(
        "standardFSv2Family",
        True,
        [("Standard_F2s_v2", 2, 4), ("Standard_F4s_v2", 4, 8), ("Standard_F8s_v2", 8, 16)],
    ),
    *_family(
        "standardLsv2Family",
        True,
        [("Standard_L8s_v2", 8, 64), ("Standard_L16s_v2", 16, 128)],
        nvme=lambda cpus: (cpus // 8, _L_NVME_MIB),
    ),
    *_family(
        "standardLSv3Family",
        True,
        [("Standard_L8s_v3", 8, 64), ("Standard_L16s_v3", 16, 128)],
        nvme=lambda cpus: (cpus // 8, _L_NVME_MIB),
    ),
    *_family("standardMSFamily", True, [("Standard_M8ms", 8, 218.75)]),
    *_family("standardMSFamily", False, [("Standard_M128ms", 128, 3892)]),
    *_family("standardHBrsv3Family", True, [("Standard_HB120rs_v3", 120, 448)], nvme=lambda _: (2, _HB_NVME_MIB)),
    *_family("standardGFamily", False, [("Standard_G5", 32, 448)], premium_io=False, generations="V1"),
)
_BY_NAME = {size.name.lower(): size for size in CATALOG}


def vm_size(name: str) -> VmSize | None:
    """The catalog entry of a size (names are case-insensitive, as in ARM)."""
    return _BY_NAME.get(name.lower())


def disk_controller(size_name: str, requested: str | None) -> str:
    """``storageProfile.diskControllerType`` of a VM: as requested, else the size's default (SCSI if unknown)."""
    if requested:
        return requested
    size = vm_size(size_name)
    return size.default_controller if size is not None else "SCSI"


def check_controller(name: str, size_name: str, controller: str | None) -> None:
    """A fleet VM or scale set may ask only for a disk controller its size supports (Resource SKUs'
    ``DiskControllerTypes``); a size outside the catalog is taken at its word."""
    size = vm_size(size_name)
    if controller and size is not None and not size.supports_controller(controller):
        raise ValueError(f"{name!r}: size {size.name} supports disk controllers {size.controllers}, not {controller}")
