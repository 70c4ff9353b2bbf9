import Foundation
import MemberwiseInit

/// Wipes a disk before a node leaves the site (`provision-agent erase`), as `wipefs` + `blkdiscard` or an
/// overwrite would, with nothing but the kernel's own interfaces (the install environment has busybox only):
/// - `quick`: zeroes what names the disk's contents — the first and last MiB of the disk (MBR, GPT and its backup)
///   and the first MiB of every partition the MBR or GPT lists (file-system superblocks, LVM and RAID labels) —
///   then discards the whole disk (`BLKDISCARD` on a block device, a punched hole in a file). A disk that cannot
///   discard still ends with its signatures gone; the outcome says so.
/// - `full`: writes zeros over every byte, then syncs.
@PublicMemberwiseInit
public struct DiskEraser: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        case quick
        case full
    }

    public struct Outcome: Sendable, Equatable {
        public var bytes: Int64
        /// Offsets of the 1 MiB ranges zeroed (quick).
        public var zeroedAt: [Int64]
        /// Whether the discard went through (quick); nil for full.
        public var discarded: Bool?
        /// Bytes overwritten (full).
        public var overwritten: Int64
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public var disk: String

    /// Erases; `progress` gets the bytes done so far and the total while a full erase runs.
    public func erase(_ mode: Mode, progress: (Int64, Int64) -> Void = { _, _ in }) throws(Failure) -> Outcome {
        let fd = open(disk, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open \(disk): \(Self.errorText())") }
        defer { close(fd) }
        let size = lseek(fd, 0, SEEK_END)
        guard size > 0 else { throw Failure(description: "\(disk) is empty or cannot seek") }
        var outcome = Outcome(bytes: Int64(size), zeroedAt: [], discarded: nil, overwritten: 0)
        switch mode {
        case .quick:
            let mib: Int64 = 1 << 20
            var starts = [0, max(0, Int64(size) - mib)]
            starts += Self.partitionStarts(fd: fd).filter { $0 < Int64(size) }
            for start in Set(starts).sorted() {
                try zero(fd, from: start, count: min(mib, Int64(size) - start))
                outcome.zeroedAt.append(start)
            }
            guard fsync(fd) == 0 else { throw Failure(description: "fsync \(disk): \(Self.errorText())") }
            outcome.discarded = Self.discard(fd, size: Int64(size))
        case .full:
            var done: Int64 = 0
            let chunk: Int64 = 4 << 20
            while done < Int64(size) {
                let count = min(chunk, Int64(size) - done)
                try zero(fd, from: done, count: count)
                done += count
                progress(done, Int64(size))
            }
            guard fsync(fd) == 0 else { throw Failure(description: "fsync \(disk): \(Self.errorText())") }
            outcome.overwritten = done
        }
        return outcome
    }

    private func zero(_ fd: Int32, from start: Int64, count: Int64) throws(Failure) {
        let zeros = [UInt8](repeating: 0, count: Int(min(count, 4 << 20)))
        var written: Int64 = 0
        while written < count {
            let length = Int(min(Int64(zeros.count), count - written))
            let result = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, length, off_t(start + written)) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else {
                throw Failure(description: "cannot write \(disk) at \(start + written): \(Self.errorText())")
            }
            written += Int64(result)
        }
    }

    /// Where the partitions of an MBR or GPT disk start, in bytes (512-byte sectors).
    static func partitionStarts(fd: Int32) -> [Int64] {
        let sector = read(fd, at: 0, count: 512)
        guard sector.count == 512, sector[510] == 0x55, sector[511] == 0xAA else { return [] }
        var starts: [Int64] = []
        var protective = false
        for index in 0..<4 {
            let entry = 446 + index * 16
            let type = sector[entry + 4]
            let first = Int64(littleEndian(sector, at: entry + 8, count: 4))
            if type == 0xEE { protective = true }
            if type != 0, first > 0 { starts.append(first * 512) }
        }
        guard protective else { return starts }
        let header = read(fd, at: 512, count: 92)
        guard header.count == 92, header.prefix(8).elementsEqual("EFI PART".utf8) else { return starts }
        let entriesAt = Int64(littleEndian(header, at: 72, count: 8)) * 512
        let count = min(Int(littleEndian(header, at: 80, count: 4)), 256)
        let size = Int(littleEndian(header, at: 84, count: 4))
        guard size >= 128, size <= 4096 else { return starts }
        let table = read(fd, at: entriesAt, count: count * size)
        for index in 0..<(table.count / size) {
            let first = Int64(littleEndian(table, at: index * size + 32, count: 8))
            if first > 0 { starts.append(first * 512) }
        }
        return starts
    }

    /// Discards the whole device or punches the whole file out; false when neither is supported.
    static func discard(_ fd: Int32, size: Int64) -> Bool {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return false }
        if info.st_mode & S_IFMT == S_IFBLK {
            // ioctl is variadic, which Swift cannot call: the C function through its address.
            typealias Ioctl = @convention(c) (Int32, UInt, UnsafeMutableRawPointer?) -> Int32
            guard let ioctl = libc("ioctl", as: Ioctl.self) else { return false }
            var range: [UInt64] = [0, UInt64(size)]
            // BLKDISCARD = _IO(0x12, 119)
            return range.withUnsafeMutableBytes { ioctl(fd, 0x1277, $0.baseAddress) } == 0
        }
        // fallocate is behind _GNU_SOURCE in glibc's headers; FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE.
        typealias Fallocate = @convention(c) (Int32, Int32, Int64, Int64) -> Int32
        guard let fallocate = libc("fallocate64", as: Fallocate.self) else { return false }
        return fallocate(fd, 0x02 | 0x01, 0, size) == 0
    }

    /// A C library function by name.
    private static func libc<T>(_ name: String, as type: T.Type) -> T? {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), name) else { return nil }
        return unsafeBitCast(symbol, to: type)
    }

    private static func read(_ fd: Int32, at offset: Int64, count: Int) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
        return got > 0 ? Array(buffer.prefix(got)) : []
    }

    private static func littleEndian(_ bytes: [UInt8], at offset: Int, count: Int) -> UInt64 {
        guard offset + count <= bytes.count else { return 0 }
        return (0..<count).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }
}
