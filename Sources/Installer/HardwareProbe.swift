import Foundation
import RackswarmCore

/// Reads a node's hardware the way the install environment sees it: `/proc/cpuinfo`, `/proc/meminfo`,
/// `/sys/block/*` (disks with a device behind them: no loop, ram, dm or zram devices) and `/sys/class/net/*`
/// (every interface but `lo`). `root` prefixes both trees, so a test can point it at a made-up one.
public struct HardwareProbe: Sendable {
    public var root: String

    public init(root: String = "") {
        self.root = root.hasSuffix("/") ? String(root.dropLast()) : root
    }

    public func inventory() -> HardwareInventory {
        let cpuinfo = read("/proc/cpuinfo") ?? ""
        let processors = cpuinfo.split(separator: "\n").filter { $0.hasPrefix("processor") }.count
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        let memory = (read("/proc/meminfo") ?? "").split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { line in Int64(line.split(separator: " ").dropFirst().first ?? "") }
            .map { $0 * 1024 } ?? 0
        return HardwareInventory(cpus: max(processors, 1), cpuModel: model, memoryBytes: memory, disks: disks(),
                                 nics: nics())
    }

    func disks() -> [HardwareInventory.Disk] {
        entries("/sys/block").compactMap { name -> HardwareInventory.Disk? in
            let base = "/sys/block/\(name)"
            // A disk has a device behind it; loop, ram, zram and device-mapper nodes do not.
            guard exists(base + "/device"), !name.hasPrefix("loop"), !name.hasPrefix("ram"),
                  let sectors = read(base + "/size").flatMap({ Int64($0) })
            else { return nil }
            let serial = read(base + "/serial") ?? read(base + "/device/serial") ?? vpdSerial(base + "/device/vpd_pg80")
            return HardwareInventory.Disk(
                name: name, bytes: sectors * 512, model: read(base + "/device/model"), serial: serial,
                rotational: read(base + "/queue/rotational").map { $0 == "1" })
        }
    }

    func nics() -> [HardwareInventory.NIC] {
        entries("/sys/class/net").filter { $0 != "lo" }.compactMap { name -> HardwareInventory.NIC? in
            let base = "/sys/class/net/\(name)"
            guard let mac = read(base + "/address"), mac.count == 17 else { return nil }
            // `carrier` can only be read while the interface is up.
            let link: String
            switch read(base + "/carrier") {
            case "1": link = "up"
            case "0": link = "down"
            default: link = "unknown"
            }
            let speed = read(base + "/speed").flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
            let driver = (try? FileManager.default.destinationOfSymbolicLink(atPath: root + base + "/device/driver"))
                .map { ($0 as NSString).lastPathComponent }
            return HardwareInventory.NIC(name: name, mac: mac.lowercased(), link: link, speedMbps: speed,
                                         driver: driver)
        }
    }

    /// The unit serial number page of a SCSI/SATA disk: a 4-byte header, then the serial.
    private func vpdSerial(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: root + path), data.count > 4 else { return nil }
        let text = String(decoding: data.dropFirst(4), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines.union(.controlCharacters))
        return text.isEmpty ? nil : text
    }

    /// A sysfs or procfs file's text, trimmed; nil when missing, unreadable or empty.
    private func read(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: root + path) else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    private func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: root + path) }

    private func entries(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root + path)) ?? []).sorted()
    }
}
