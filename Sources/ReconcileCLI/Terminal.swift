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
