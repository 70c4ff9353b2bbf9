import Drivers
import Foundation
import LabSupport
import Testing

/// A reader racing the writer sees the old file or the new one, never a mix or a short file.
struct AtomicFileTests {
    @Test func concurrentReadersNeverSeeAPartialFile() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/entry"
        let first = [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
        let second = [UInt8](repeating: UInt8(ascii: "b"), count: (1 << 20) + 4096)
        try AtomicFile.write(first, to: path)
        let reads = try await withThrowingTaskGroup(of: Int.self) { group in
            // The writer and the reader compute for seconds on a loaded machine: each on a thread of its own, not
            // one of the pool's (see onOwnThread).
            group.addTask {
                try await onOwnThread {
                    for round in 0..<60 { try AtomicFile.write(round % 2 == 0 ? second : first, to: path) }
                    return 0
                }
            }
            group.addTask {
                try await onOwnThread {
                    var count = 0
                    for _ in 0..<300 {
                        let data = try #require(FileManager.default.contents(atPath: path))
                        let bytes = [UInt8](data)
                        #expect(bytes == first || bytes == second, "read \(bytes.count) bytes mixing both versions")
                        count += 1
                    }
                    return count
                }
            }
            var total = 0
            for try await value in group { total += value }
            return total
        }
        #expect(reads == 300)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(names == ["entry"])
    }
}
