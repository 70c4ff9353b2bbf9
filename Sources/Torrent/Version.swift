/// The BitTorrent engine's client identity, used in peer ids and `created by`.
public enum TorrentVersion {
    /// Azureus-style peer-id prefix: `-RS0100-`.
    public static let peerIDPrefix = "-RS0100-"
    /// The value written into a torrent's `created by` key.
    public static let createdBy = "rackswarm 0.1"
}
