import Drivers
import Foundation
import LabSupport
import Testing

/// `provision-agent erase` on a VM disk: a raw disk file with a DOS partition table and two ext4 file systems,
/// attached as a loop device (a real block device, discard included). util-linux's `wipefs` and `blkid` judge the
/// result.
struct DiskEraseTests {
    static let agent = InstallCommandTests.agent
    static let size = 64 << 20

    /// A 64 MiB disk: partitions at 1 MiB and 33 MiB, each an ext4 file system with a file in it.
    static func makeDisk(_ directory: TemporaryDirectory) async throws -> String {
        let disk = directory.path + "/vm.disk"
        #expect(FileManager.default.createFile(atPath: disk, contents: nil))
        try FileHandle(forWritingTo: URL(fileURLWithPath: disk)).truncate(atOffset: UInt64(size))
        let table = await runProgram("/bin/sh", ["-c", "printf 'start=2048, size=65536, type=83\\n"
                                                    + "start=67584, type=83\\n' | /usr/sbin/sfdisk -q \(disk)"])
        try #require(table.succeeded, "sfdisk: \(table.errorOutput)")
        try directory.write("content/hello", Data("left behind\n".utf8))
        for (offset, blocks) in [(1 << 20, "32768"), (33 << 20, "30720")] {
            let made = await runProgram("/usr/sbin/mkfs.ext4", ["-q", "-F", "-d", directory.path + "/content",
                                                                "-E", "offset=\(offset)", disk, blocks])
            try #require(made.succeeded, "mkfs.ext4: \(made.errorOutput)")
        }
        return disk
    }

    /// What blkid finds at a partition's offset: `TYPE="ext4"` before an erase, nothing after.
    static func probe(_ disk: String, at offset: Int) async -> String {
        let result = await runProgram("/usr/sbin/blkid", ["-p", "-O", "\(offset)", "-o", "export", disk])
        return result.output
    }

    static func attach(_ disk: String) async throws -> String {
        let attach = await runProgram("/usr/sbin/losetup", ["--find", "--show", disk])
        try #require(attach.succeeded, "losetup: \(attach.output) \(attach.errorOutput)")
        return attach.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func quickZeroesEverySignatureAndDiscardsTheDisk() async throws {
        try #require(getuid() == 0, "loop devices need root")
        try #require(FileManager.default.isExecutableFile(atPath: Self.agent), "build provision-agent first")
        let directory = try TemporaryDirectory("rackswarm-erase")
        let disk = try await Self.makeDisk(directory)
        #expect(await runProgram("/usr/sbin/wipefs", [disk]).output.contains("dos"), "a partition table to erase")
        #expect(await Self.probe(disk, at: 1 << 20).contains("TYPE=ext4"))
        #expect(await Self.probe(disk, at: 33 << 20).contains("TYPE=ext4"))
        let device = try await Self.attach(disk)
        defer { _ = try? runProcessBlocking("/usr/sbin/losetup", ["-d", device]) }

        let result = await runProgram(Self.agent, ["erase", "--disk", device, "--mode", "quick"])
        #expect(result.succeeded, "\(result.output) \(result.errorOutput)")
        #expect(result.output.contains("erased \(device) (quick): \(Self.size) bytes, signatures zeroed at 4 "
                                       + "offsets, discard done"), "\(result.output)")
        let left = await runProgram("/usr/sbin/wipefs", ["--no-act", "--all", device])
        #expect(left.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "wipefs finds: \(left.output)")
        #expect(!(await Self.probe(disk, at: 1 << 20)).contains("TYPE"))
        #expect(!(await Self.probe(disk, at: 33 << 20)).contains("TYPE"))
        // The loop driver turns the discard into a hole in the disk file: nothing of it is allocated any more.
        var info = stat()
        #expect(stat(disk, &info) == 0 && info.st_blocks == 0, "\(info.st_blocks) blocks still allocated")
    }

    @Test func fullOverwritesEveryByte() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.agent), "build provision-agent first")
        let directory = try TemporaryDirectory("rackswarm-erase")
        let disk = try await Self.makeDisk(directory)
        let result = await runProgram(Self.agent, ["erase", "--disk", disk, "--mode", "full"])
        #expect(result.succeeded, "\(result.output) \(result.errorOutput)")
        #expect(result.output.contains("erased \(disk) (full): \(Self.size) of \(Self.size) bytes overwritten"))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: disk))
        #expect(bytes.count == Self.size && bytes.allSatisfy { $0 == 0 })
        // Overwritten, not punched out: the zeros are on the disk.
        var info = stat()
        #expect(stat(disk, &info) == 0 && Int(info.st_blocks) * 512 >= Self.size)
        #expect(!(await Self.probe(disk, at: 1 << 20)).contains("TYPE"))

        let bad = await runProgram(Self.agent, ["erase", "--disk", disk, "--mode", "gentle"])
        #expect(bad.status == 64 && bad.errorOutput.contains("--mode wants quick or full"), "\(bad.errorOutput)")
    }
}
