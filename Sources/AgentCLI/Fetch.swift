import ArgumentParser

/// `provision-agent fetch`: downloads a torrent's image straight to a file or block device.
struct Fetch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Download an image over BitTorrent.")

    func run() async throws {}
}
