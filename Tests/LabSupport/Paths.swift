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

/// What replaying one fuzz corpus through its harness's drive found.
public struct CorpusReplay: Sendable {
    /// How many inputs the corpus holds.
    public var inputs = 0
    /// How many of them the parser accepted.
    public var accepted = 0
    /// `FILE: problem` for every input whose drive found a property broken.
    public var problems: [String] = []
}

/// Feeds every input of `Fuzz/corpus/NAME` to `drive` (the harness's own, from Fuzz/*Drive.swift), which says
/// whether the parser accepted it and what property broke, if any.
public func replayCorpus(_ name: String, _ drive: ([UInt8]) -> (accepted: Bool, problem: String?)) throws
    -> CorpusReplay
{
    var replay = CorpusReplay()
    for (file, bytes) in try fuzzCorpus(name) {
        let verdict = drive(bytes)
        replay.inputs += 1
        if verdict.accepted { replay.accepted += 1 }
        if let problem = verdict.problem { replay.problems.append("\(file): \(problem)") }
    }
    return replay
}
