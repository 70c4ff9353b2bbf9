#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

import RackswarmCore

/// A storage failure; its detail names the path and errno.
public typealias StorageError = CodedError<StorageErrorCode>

/// What failed in the storage.
public enum StorageErrorCode: String, ErrorCode {
    case open = "cannot open target"
    case tooSmall = "target smaller than the torrent"
    case tooLarge = "torrent length out of range"
    case read = "read failed"
    case write = "write failed"

    /// Opening or sizing the target needs a human; a failed read or write may pass.
    public var intent: ErrorIntent {
        switch self {
        case .open, .tooSmall, .tooLarge: .stalled
        case .read, .write: .transient
        }
    }

    public static func describe(_ code: Self, detail: String) -> String { "storage: \(code.rawValue): \(detail)" }
}

/// The torrent's single file, or a block device, read and written at piece offsets with `pread`/`pwrite`.
///
/// Thread-safe: positional I/O on one descriptor needs no lock.
public final class PieceStorage: Sendable {
    /// The path of the target.
    public let path: String
    /// The torrent's total length.
    public let length: Int64
    private let descriptor: Int32

    /// Opens `path` for reading only (a seed) or for reading and writing (created and sized if a regular file).
    public init(path: String, length: Int64, writable: Bool) throws {
        guard (0...Metainfo.Limits.maxLength).contains(length) else {
            let range = "0...\(Metainfo.Limits.maxLength) (Metainfo.Limits.maxLength)"
            throw StorageError(.tooLarge, "\(path): \(length) bytes is outside \(range)")
        }
        self.path = path
        self.length = length
        let flags = writable ? (O_RDWR | O_CREAT | O_CLOEXEC) : (O_RDONLY | O_CLOEXEC)
        let descriptor = open(path, flags, 0o644)
        guard descriptor >= 0 else { throw StorageError(.open, "\(path): errno \(errno)") }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            close(descriptor)
            throw StorageError(.open, "\(path): fstat errno \(errno)")
        }
        let isRegular = (info.st_mode & S_IFMT) == S_IFREG
        let size = isRegular ? Int64(info.st_size) : Int64(lseek(descriptor, 0, SEEK_END))
        if size < length {
            guard writable, isRegular, ftruncate(descriptor, off_t(length)) == 0 else {
                close(descriptor)
                throw StorageError(.tooSmall, "\(path): \(size) < \(length) bytes")
            }
        }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// The size of the target as it was before opening (for resume: bytes beyond it were never written).
    public static func existingSize(path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        if (info.st_mode & S_IFMT) == S_IFREG { return Int64(info.st_size) }
        // A block device: everything on it may be a previous run's data.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        let end = lseek(descriptor, 0, SEEK_END)
        return end >= 0 ? Int64(end) : nil
    }

    /// Writes `bytes` at `offset`.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        var done = 0
        while done < bytes.count {
            let wrote = pwrite(
                descriptor, bytes.baseAddress.map { $0 + done }, bytes.count - done, off_t(offset) + off_t(done))
            if wrote < 0, errno == EINTR { continue }
            guard wrote > 0 else { throw StorageError(.write, "\(path) at \(offset): errno \(errno)") }
            done += wrote
        }
    }

    /// Fills `buffer` from `offset`.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws {
        guard PieceHasher.readFully(descriptor, buffer, size: buffer.count, offset: offset) else {
            throw StorageError(.read, "\(path) at \(offset): errno \(errno)")
        }
    }

    /// Reads piece bytes back and checks them against `expected`.
    public func verify(offset: Int64, size: Int, expected: SHA1Digest) throws -> Bool {
        // Cache-sized chunks: bounded memory whatever the piece size.
        let chunk = min(size, 256 << 10)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, chunk), alignment: 4096)
        defer { buffer.deallocate() }
        let context = SHA1Context()
        var done = 0
        while done < size {
            let part = min(chunk, size - done)
            let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<part])
            try read(into: slice, at: offset + Int64(done))
            context.update(UnsafeRawBufferPointer(slice))
            done += part
        }
        return context.finish() == expected
    }

    /// Flushes written data to the device.
    public func sync() { fsync(descriptor) }
}
