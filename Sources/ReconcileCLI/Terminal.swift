import Foundation

/// Standard error as a writable stream that knows whether it is a terminal.
struct Terminal {
    let handle: FileHandle
    let descriptor: Int32

    static let standardError = Terminal(handle: .standardError, descriptor: 2)
    static let standardOutput = Terminal(handle: .standardOutput, descriptor: 1)

    var isTerminal: Bool { isatty(descriptor) == 1 }

    func write(_ text: String) {
        handle.write(Data(text.utf8))
    }
}

/// Standard output as a `TextOutputStream` through a 64 KiB buffer: a plan of any size is written as it is made,
/// without a copy of the whole text in memory. It writes to the descriptor, past C's `stdout`: use it alone for a
/// command's output (not mixed with `print`), and call `flush()` before exiting.
struct BufferedStandardOutput: TextOutputStream {
    private var buffer: [UInt8] = []
    private let capacity = 1 << 16

    init() {
        buffer.reserveCapacity(capacity)
    }

    mutating func write(_ string: String) {
        var string = string
        string.withUTF8 { buffer.append(contentsOf: $0) }
        if buffer.count >= capacity { flush() }
    }

    mutating func flush() {
        guard !buffer.isEmpty else { return }
        FileHandle.standardOutput.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}

extension Terminal {
    /// Ends the process with `code` once a command has written its answer (C's buffers are flushed by `exit`),
    /// skipping the release of what it built object by object: for a 100,000-node site that is millions of
    /// objects and a noticeable share of the command's time, for nothing.
    static func finish(_ code: Int32) -> Never {
        exit(code)
    }
}
