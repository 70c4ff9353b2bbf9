import Foundation
import Installer
import LabSupport
import RackswarmCore
import Testing

/// The install environment's hardware inventory: from a made-up /proc and /sys with a virtio disk, a SATA disk
/// (serial in its VPD page), an NVMe disk, a loop device and two NICs; and from this machine's own.
struct HardwareProbeTests {
    @Test func readsCPUsMemoryDisksAndNICsAndSkipsVirtualDevices() throws {
        let root = try TemporaryDirectory("rackswarm-hardware")
        try root.write("proc/cpuinfo", Data("""
            processor\t: 0
            model name\t: QEMU Virtual CPU version 2.5+

            processor\t: 1
            model name\t: QEMU Virtual CPU version 2.5+

            """.utf8))
        try root.write("proc/meminfo", Data("MemTotal:        1004548 kB\nMemFree:          900000 kB\n".utf8))
        func disk(_ name: String, sectors: Int, files: [String: String]) throws {
            try root.write("sys/block/\(name)/size", Data("\(sectors)\n".utf8))
            for (file, text) in files { try root.write("sys/block/\(name)/\(file)", Data(text.utf8)) }
        }
        try disk("vda", sectors: 4_194_304, files: ["serial": "r1n1-disk\n", "device/vendor": "0x1af4\n",
                                                     "queue/rotational": "1\n"])
        try disk("sda", sectors: 1_000_215_216, files: ["device/model": "Samsung SSD 870 \n",
                                                         "queue/rotational": "0\n"])
        try root.write("sys/block/sda/device/vpd_pg80", Data([0, 0x80, 0, 15] + Array("S6PNNS0T123456A".utf8)))
        try disk("nvme0n1", sectors: 2_000_409_264, files: ["device/model": "INTEL SSDPE2KX010T8\n",
                                                             "device/serial": "PHLJ9123456\n"])
        try disk("loop0", sectors: 1000, files: ["device/x": ""])
        try disk("dm-0", sectors: 1000, files: [:])
        try root.write("sys/class/net/lo/address", Data("00:00:00:00:00:00\n".utf8))
        try root.write("sys/class/net/eth0/address", Data("52:54:00:77:01:01\n".utf8))
        try root.write("sys/class/net/eth0/carrier", Data("1\n".utf8))
        try root.write("sys/class/net/eth0/speed", Data("1000\n".utf8))
        try FileManager.default.createDirectory(atPath: root.path + "/drivers/virtio_net",
                                                withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root.path + "/sys/class/net/eth0/device",
                                                withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root.path + "/sys/class/net/eth0/device/driver",
                                                   withDestinationPath: root.path + "/drivers/virtio_net")
        try root.write("sys/class/net/eth1/address", Data("52:54:00:77:01:AA\n".utf8))
        try root.write("sys/class/net/eth1/speed", Data("-1\n".utf8))

        let inventory = HardwareProbe(root: root.path).inventory()
        #expect(inventory.cpus == 2)
        #expect(inventory.cpuModel == "QEMU Virtual CPU version 2.5+")
        #expect(inventory.memoryBytes == 1_004_548 * 1024)
        let disks: [HardwareInventory.Disk] = [
            .init(name: "nvme0n1", bytes: 1_024_209_543_168, model: "INTEL SSDPE2KX010T8", serial: "PHLJ9123456"),
            .init(name: "sda", bytes: 512_110_190_592, model: "Samsung SSD 870", serial: "S6PNNS0T123456A",
                  rotational: false),
            .init(name: "vda", bytes: 2_147_483_648, serial: "r1n1-disk", rotational: true),
        ]
        #expect(inventory.disks == disks)
        let nics: [HardwareInventory.NIC] = [
            .init(name: "eth0", mac: "52:54:00:77:01:01", link: "up", speedMbps: 1000, driver: "virtio_net"),
            .init(name: "eth1", mac: "52:54:00:77:01:aa", link: "unknown"),
        ]
        #expect(inventory.nics == nics)
        let lines = [
            "2 CPUs (QEMU Virtual CPU version 2.5+), 981.0 MiB memory",
            "disk nvme0n1 953.9 GiB INTEL SSDPE2KX010T8 serial PHLJ9123456",
            "disk sda 476.9 GiB Samsung SSD 870 serial S6PNNS0T123456A solid-state",
            "disk vda 2.0 GiB serial r1n1-disk rotational",
            "nic eth0 52:54:00:77:01:01 up 1000 Mb/s virtio_net",
            "nic eth1 52:54:00:77:01:aa unknown",
        ]
        #expect(inventory.lines == lines)
    }

    /// This machine's /proc and /sys: what `sysconf` and `ip` say too.
    @Test func readsThisMachine() {
        let inventory = HardwareProbe().inventory()
        #expect(inventory.cpus == Int(sysconf(Int32(_SC_NPROCESSORS_CONF))))
        let pages = Int64(sysconf(Int32(_SC_PHYS_PAGES))) * Int64(sysconf(Int32(_SC_PAGESIZE)))
        #expect(abs(inventory.memoryBytes - pages) < 64 << 20, "MemTotal vs sysconf: \(inventory.memoryBytes)")
        #expect(inventory.nics.allSatisfy { $0.name != "lo" && $0.mac.count == 17 })
        #expect(inventory.disks.allSatisfy { $0.bytes > 0 && !$0.name.hasPrefix("loop") })
    }
}
