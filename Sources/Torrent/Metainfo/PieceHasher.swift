import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Hashes the pieces of a file or block device on every core, reading with `pread` into per-worker buffers.
public enum PieceHasher {
    /// Returns the SHA-1 of each piece of the first `length` bytes of the file at `path`.
    ///
    /// - Parameter only: if given, only these pieces are hashed; others come back nil.
    public static func hashPieces(
        path: String,
        length: Int64,
        pieceLength: Int,
        workers: Int = System.coreCount,
        only: Set<Int>? = nil
    ) throws -> [SHA1Digest?] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw MetainfoError(.io, "open \(path): errno \(errno)") }
        defer { close(descriptor) }
        let count = Int((length + Int64(pieceLength) - 1) / Int64(pieceLength))
        let results = Mutex<[SHA1Digest?]>([SHA1Digest?](repeating: nil, count: count))
        let next = Atomic<Int>(0)
        let failure = Mutex<MetainfoError?>(nil)
        let workerCount = max(1, min(workers, count))
        DispatchQueue.concurrentPerform(iterations: workerCount) { _ in
            // Read in chunks that stay in the core's cache, so hashing reads what the copy just wrote.
            let chunk = min(pieceLength, 256 << 10)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
            defer { buffer.deallocate() }
            let context = SHA1Context()
            while true {
                let index = next.add(1, ordering: .relaxed).oldValue
                guard index < count else { return }
                if let only, !only.contains(index) { continue }
                let offset = Int64(index) * Int64(pieceLength)
                let size = Int(min(Int64(pieceLength), length - offset))
                context.reset()
                var done = 0
                while done < size {
                    let part = min(chunk, size - done)
                    guard readFully(descriptor, buffer, size: part, offset: offset + Int64(done)) else {
                        failure.withLock { $0 = MetainfoError(.io, "read \(path) at \(offset)") }
                        return
                    }
                    context.update(UnsafeRawBufferPointer(rebasing: buffer[0..<part]))
                    done += part
                }
                let digest = context.finish()
                results.withLock { $0[index] = digest }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return results.withLock { $0 }
    }

    /// Reads exactly `size` bytes at `offset`; false on error or a short file.
    static func readFully(_ descriptor: Int32, _ buffer: UnsafeMutableRawBufferPointer, size: Int, offset: Int64)
        -> Bool
    {
        var done = 0
        while done < size {
            let got = pread(descriptor, buffer.baseAddress.map { $0 + done }, size - done, off_t(offset) + off_t(done))
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { return false }
            done += got
        }
        return true
    }
}

/// Facts about the machine.
public enum System {
    /// The number of online cores.
    public static var coreCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
}
