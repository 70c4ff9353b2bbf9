import Foundation

/// The package's root directory, found from this file's path: the one place the tests compute it.
public let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// The directory holding the built products: the one the test bundle runs from (found from /proc/self/exe, up to
/// the `.xctest` bundle when the runner is inside one).
public var productsDirectory: String {
    let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    var url = URL(fileURLWithPath: executable)
    while url.path != "/" && !url.lastPathComponent.hasSuffix(".xctest") { url.deleteLastPathComponent() }
    return url.path == "/" ? URL(fileURLWithPath: executable).deletingLastPathComponent().path
        : url.deletingLastPathComponent().path
}

/// The directory holding the built `reconcile` and `provision-agent` executables, if they are built.
public var builtBinaries: String? {
    let candidates = [productsDirectory, packageRoot + "/.build/debug"]
    return candidates.first {
        FileManager.default.isExecutableFile(atPath: "\($0)/provision-agent")
            && FileManager.default.isExecutableFile(atPath: "\($0)/reconcile")
    }
}

/// The inputs libFuzzer kept for one harness (`Fuzz/corpus/NAME`, grown by scripts/fuzz.sh), sorted by file name:
/// what the corpus replay tests feed their parsers on every test run.
public func fuzzCorpus(_ name: String) throws -> [(file: String, bytes: [UInt8])] {
    let directory = packageRoot + "/Fuzz/corpus/" + name
    return try FileManager.default.contentsOfDirectory(atPath: directory).sorted().map { file in
        (file, Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))))
    }
}
