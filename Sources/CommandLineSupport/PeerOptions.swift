import ArgumentParser
import RackswarmCore

/// `--listen HOST:PORT`: where a torrent client (`reconcile seed`, `provision-agent fetch` and `install`) accepts
/// peers, checked when the flags are parsed.
public struct PeerListenOption: ParsableArguments, Sendable {
    /// Where peers are accepted when `--listen` is not given: every address, BitTorrent's customary port.
    public static let defaultAddress = HostPort(host: "0.0.0.0", port: 6881)

    @Option(help: "Accept peers on HOST:PORT.")
    public var listen: String = Self.defaultAddress.description

    public init() {}

    public func validate() throws {
        guard HostPort(parsing: listen) != nil else { throw ValidationError("--listen wants HOST:PORT") }
    }

    /// The address `--listen` names.
    public var address: HostPort { HostPort(parsing: listen) ?? Self.defaultAddress }
}

/// `--upload-limit RATE`: a torrent client's upload cap, in the one size syntax of every flag and the YAML.
public struct UploadLimitOption: ParsableArguments, Sendable {
    @Option(help: "Upload cap in bytes per second (e.g. 50M = 50 MiB/s, 50MB = 50 MB/s).",
            transform: Quantity.bytesFlag(in: Quantity.rates))
    public var uploadLimit: Int64?

    public init() {}

    /// The cap as `TorrentConfiguration.uploadLimit` takes it; nil: none.
    public var bytesPerSecond: Int? { uploadLimit.map { Int($0) } }
}
