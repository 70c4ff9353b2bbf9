import ArgumentParser
import CommandLineSupport
import Drivers
import Foundation
import RackswarmCore

extension Dev {
    /// `reconcile dev bmc-sim`: many simulated IPMI BMCs in one process, some silent, until killed (benchmarks).
    struct BMCSim: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bmc-sim",
            abstract: "Answer as COUNT IPMI v2.0 BMCs on consecutive loopback addresses until killed.",
            discussion: """
                Writes one line per BMC to --list (URL, then on, off or silent), then prints 'ready'. Every third \
                BMC is on; --silent-percent of them, spread evenly, never answer. User admin, the password from \
                --credentials.
                """)

        @Option(help: "How many BMCs.") var count = 100
        @Option(help: "The first BMC's address; the others follow it (stay on 127.0.0.0/8).")
        var firstAddress = "127.77.0.1"
        @Option(help: "The UDP port of every BMC (0: each its own, picked by the kernel).") var port = 0
        @Option(help: "Share of BMCs that never answer, in percent.") var silentPercent = 20
        @Option(help: "Where the BMC password is: env:NAME or file:PATH.") var credentials = "env:RACKSWARM_BMC_PASSWORD"
        @Option(help: "Event loop threads answering.") var threads = 1
        @Option(help: "The file to write the BMC list to.") var list: String

        @OptionGroup var logging: LoggingOptions

        func validate() throws {
            guard (1...1_000_000).contains(count), (0...100).contains(silentPercent), (1...64).contains(threads),
                (0...65535).contains(port)
            else { throw ValidationError("--count 1…1000000, --silent-percent 0…100, --threads 1…64, --port 0…65535") }
            guard SecretReference(parsing: credentials) != nil else {
                throw ValidationError("--credentials must be env:NAME or file:PATH")
            }
        }

        func run() async throws {
            guard let reference = SecretReference(parsing: credentials) else { throw ExitCode.validationFailure }
            let password = try reference.resolve()
            let bmcs = try await SimulatedBMCs.start(
                count: count, firstAddress: firstAddress, port: port, silentPercent: silentPercent,
                username: "admin", password: password, threads: threads)
            let lines = bmcs.urls.enumerated().map { index, url in
                "\(url) \(bmcs.isSilent(index) ? "silent" : bmcs.isPoweredOn(index) ? "on" : "off")\n"
            }
            try Data(lines.joined().utf8).write(to: URL(fileURLWithPath: list))
            Terminal.standardOutput.write("ready\n")
            // Until SIGTERM or SIGINT, whose default action ends the process (and closes every socket).
            while true { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}
