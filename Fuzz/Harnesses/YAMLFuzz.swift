// libFuzzer entry point for the site loader: YAML bytes → documents → decoded model → cross-file checks →
// rendered diagnostics. Built by scripts/fuzz.sh.
// Property: any bytes give a desired state or located diagnostics (with lines and columns), never a trap.

import FuzzDriver
@testable import ReconcilerLoading
@testable import ReconcilerModel

/// libFuzzer's driver, on this harness's LLVMFuzzerTestOneInput.
@main
enum YAMLHarness {
    static func main() { runLibFuzzer() }
}

/// libFuzzer's entry point (`main` hands it to libFuzzer's driver): one input, checked by `drive`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzYAML(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    drive(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

func drive(_ bytes: [UInt8]) {
    let (documents, yamlDiagnostics) = YAMLParser(file: "fuzz.yaml").parse(bytes)
    var decoder = DocumentDecoder(file: "fuzz.yaml")
    var decoded: [DecodedDocument] = []
    for document in documents {
        guard let root = document.root, !root.isNull else { continue }
        if let value = decoder.decode(root) { decoded.append(value) }
    }
    var diagnostics = yamlDiagnostics + decoder.diagnostics
    let earlierErrors = diagnostics.contains { $0.severity == .error }
    // The validator may build a state next to errors; the loader drops it then (SiteLoader.load).
    let (_, more) = CrossReferenceValidator.validate([decoded], root: "/fuzz", fileCount: 1,
                                                     earlierErrors: earlierErrors)
    diagnostics += more
    for diagnostic in diagnostics {
        precondition(diagnostic.location.line >= 0 && diagnostic.location.column >= 0, "a negative location")
    }
    let rendered = DiagnosticRenderer(sources: ["fuzz.yaml": String(decoding: bytes, as: UTF8.self)])
        .render(diagnostics)
    precondition(diagnostics.isEmpty || !rendered.isEmpty)
}
