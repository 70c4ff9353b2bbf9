// What every harness's `main` calls: libFuzzer's driver, with the command line and the harness's
// LLVMFuzzerTestOneInput. SwiftPM links each executable with `--defsym main=<module>_main` (the harness's @main under
// the name the compiler gives it), and a linker's symbol assignment takes precedence over the `main` in libFuzzer's
// archive, so the harness's is the one that runs. scripts/fuzz.sh explains why the harnesses are built this way.

import CLibFuzzer

#if canImport(Glibc)
import Glibc
#endif

/// Runs libFuzzer on the harness's `LLVMFuzzerTestOneInput` with this process's arguments, and exits with its status.
public func runLibFuzzer() -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput))
}
