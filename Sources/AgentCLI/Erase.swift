import ArgumentParser
import Foundation
import Installer

/// `provision-agent erase`: wipes a disk before the node leaves the site (docs/install-environment.md).
struct Erase: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Wipe a disk: quick (signatures zeroed, then discard) or full (every byte overwritten).",
        discussion: """
            quick zeroes the first and last MiB of the disk and the first MiB of every partition its MBR or GPT \
            lists, then discards the whole disk (BLKDISCARD, or a punched hole for a file); full writes zeros \
            over every byte. Both sync before exiting 0. One line says what was done.
            """)

    @Option(help: "The disk: a block device or a file.")
    var disk: String

    @Option(help: "quick or full.")
    var mode: String

    func validate() throws {
        guard DiskEraser.Mode(rawValue: mode) != nil else { throw ValidationError("--mode wants quick or full") }
    }

    func run() throws {
        let mode = DiskEraser.Mode(rawValue: mode) ?? .quick
        var last = Date()
        do {
            let outcome = try DiskEraser(disk: disk).erase(mode) { done, total in
                guard Date().timeIntervalSince(last) >= 5 else { return }
                last = Date()
                FileHandle.standardError.write(Data("erase: \(done * 100 / max(total, 1))% of \(disk)\n".utf8))
            }
            switch mode {
            case .quick:
                print("erased \(disk) (quick): \(outcome.bytes) bytes, signatures zeroed at "
                      + "\(outcome.zeroedAt.count) offsets, discard "
                      + (outcome.discarded == true ? "done" : "not supported (signatures only)"))
            case .full:
                print("erased \(disk) (full): \(outcome.overwritten) of \(outcome.bytes) bytes overwritten with zeros")
            }
        } catch {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode.failure
        }
    }
}
