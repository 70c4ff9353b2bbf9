import Foundation
import MemberwiseInit

/// What the install environment found on a node: CPUs, memory, disks and NICs, as Linux's `/proc` and `/sys` show
/// them. Sent with the `booted` install report; the reconciler keeps the latest per node.
@PublicMemberwiseInit
public struct HardwareInventory: Sendable, Hashable, Codable {
    @PublicMemberwiseInit
    public struct Disk: Sendable, Hashable, Codable {
        /// The kernel's name: `vda`, `sda`, `nvme0n1`.
        public var name: String
        public var bytes: Int64
        public var model: String?
        public var serial: String?
        /// Spinning (`true`), solid state (`false`), or unknown.
        public var rotational: Bool?
    }

    @PublicMemberwiseInit
    public struct NIC: Sendable, Hashable, Codable {
        /// The kernel's name: `eth0`, `enp1s0`.
        public var name: String
        /// Lower-case `aa:bb:cc:dd:ee:ff`.
        public var mac: String
        /// `up` (carrier present), `down` (no carrier), or `unknown` (the interface is administratively down).
        public var link: String
        /// Link speed in Mb/s when the driver knows it.
        public var speedMbps: Int?
        /// The kernel driver bound to the device (`virtio_net`, `igb`), nil for a virtual interface.
        public var driver: String?
    }

    /// Logical CPUs (`processor` entries of /proc/cpuinfo).
    public var cpus: Int
    public var cpuModel: String?
    /// `MemTotal` of /proc/meminfo, in bytes.
    public var memoryBytes: Int64
    public var disks: [Disk]
    public var nics: [NIC]

    /// One line per part, for `reconcile status NODE` and the console: `2 CPUs (QEMU Virtual CPU), 1.0 GiB`,
    /// `disk vda 2.0 GiB QEMU HARDDISK serial r1n1-disk`, `nic eth0 52:54:00:77:01:01 up 1000 Mb/s virtio_net`.
    public var lines: [String] {
        var lines = ["\(cpus) CPU\(cpus == 1 ? "" : "s")" + (cpuModel.map { " (\($0))" } ?? "") + ", "
                     + Self.size(memoryBytes) + " memory"]
        for disk in disks {
            var line = "disk \(disk.name) \(Self.size(disk.bytes))"
            if let model = disk.model { line += " \(model)" }
            if let serial = disk.serial { line += " serial \(serial)" }
            if let rotational = disk.rotational { line += rotational ? " rotational" : " solid-state" }
            lines.append(line)
        }
        for nic in nics {
            var line = "nic \(nic.name) \(nic.mac) \(nic.link)"
            if let speed = nic.speedMbps { line += " \(speed) Mb/s" }
            if let driver = nic.driver { line += " \(driver)" }
            lines.append(line)
        }
        return lines
    }

    /// Binary units with one decimal: `512.0 MiB`, `2.0 GiB`.
    static func size(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
    }
}
