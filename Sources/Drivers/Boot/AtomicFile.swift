import Foundation

/// Writes files so a reader sees the old contents or the new, never half of either: temp file, fsync, rename.
public enum AtomicFile {
    /// Replaces `path` with `data`, creating parent directories. Throws a POSIX-style message on failure.
    public static func write(_ data: [UInt8], to path: String, mode: mode_t = 0o644) throws(AtomicFileError) {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw AtomicFileError(path: directory, reason: "cannot create directory: \(Self.reason(error))")
        }
        let temporary = directory + "/." + url.lastPathComponent
            + ".rackswarm-tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw AtomicFileError(path: path, reason: "cannot create a file in \(directory): \(lastError())")
        }
        var failure: String?
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(descriptor, buffer.baseAddress.map { $0 + offset },
                                               buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = "write failed: \(lastError())"
                    return
                }
                offset += written
            }
        }
        if failure == nil && fsync(descriptor) != 0 { failure = "fsync failed: \(lastError())" }
        close(descriptor)
        if failure == nil && rename(temporary, path) != 0 { failure = "rename failed: \(lastError())" }
        if let failure {
            unlink(temporary)
            throw AtomicFileError(path: path, reason: failure)
        }
        // Make the rename itself durable; a failure here leaves the new file in place, so it is not an error.
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    private static func lastError() -> String {
        String(cString: strerror(errno))
    }

    /// Removes `path`; a file already gone is not an error.
    public static func remove(_ path: String) throws(AtomicFileError) {
        if unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR {
            throw AtomicFileError(path: path, reason: "cannot remove: \(lastError())")
        }
    }

    private static func reason(_ error: any Error) -> String {
        (error as NSError).localizedFailureReason ?? (error as NSError).localizedDescription
    }
}

/// A file could not be written or removed.
public struct AtomicFileError: Error, Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public var description: String { "\(path): \(reason)" }
}
