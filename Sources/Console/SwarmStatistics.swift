import Foundation
import Drivers
import Reconciler

/// Rates, sizes and the ETA to convergence, computed from install reports and their samples.
///
/// - An image's size is what a report implies (`downloaded × 100 / percent`, the largest over its reports) or,
///   before any report, the size of the image file in the site directory.
/// - The swarm rate is the sum over nodes of the bytes each downloaded in the last `window` (from the first to
///   the last sample of that node in the window), divided by the time those samples span.
/// - The ETA is the remaining bytes (the whole image for every node still to install it, minus what the nodes
///   downloading it already have) divided by that rate. It counts image bytes only: reboots and service
///   installs come on top.
struct SwarmStatistics: Sendable {
    static let window: TimeInterval = 120

    /// Bytes per image reference, when known.
    var imageSizes: [String: Int64]
    /// Bytes per second downloaded by all nodes together over the window; nil without two samples to compare.
    var rate: Double?
    var remainingBytes: Int64?
    /// Nodes that still need their image.
    var nodesToInstall: Int

    var eta: TimeInterval? {
        guard let remainingBytes else { return nil }
        if remainingBytes == 0 { return 0 }
        guard let rate, rate > 0 else { return nil }
        return Double(remainingBytes) / rate
    }

    init(snapshot: ConsoleSnapshot, samples: [InstallSample]) {
        imageSizes = Self.imageSizes(snapshot: snapshot)
        rate = Self.rate(samples, now: snapshot.now, window: Self.window)
        var remaining: Int64 = 0
        var known = true
        var count = 0
        for node in snapshot.desired.nodes where node.state == .present {
            let wanted = snapshot.wantedImage(node)
            let record = snapshot.record(node.name)
            if record?.status.image == wanted, record?.status.phase == .ready { continue }
            count += 1
            guard let size = imageSizes[wanted] else {
                known = false
                continue
            }
            var have: Int64 = 0
            if let report = snapshot.install(node.name)?.report, report.image == wanted {
                have = report.phase == .downloading || report.phase == .booted ? report.downloaded : size
            }
            remaining += max(0, size - have)
        }
        nodesToInstall = count
        remainingBytes = known ? remaining : nil
    }

    /// The largest image size a report may imply: the largest image a torrent may describe (4 TiB).
    static let maxImpliedSize: Int64 = 1 << 42

    static func imageSizes(snapshot: ConsoleSnapshot) -> [String: Int64] {
        var sizes: [String: Int64] = [:]
        for progress in snapshot.nodes.values.lazy.compactMap(\.install) where progress.report.percent > 0 {
            // A tiny percent implies a size past any Int64: such a report says nothing about the size.
            let implied = (Double(progress.report.downloaded) * 100 / progress.report.percent).rounded()
            guard let size = Int64(exactly: implied), size <= maxImpliedSize else { continue }
            sizes[progress.report.image] = max(sizes[progress.report.image] ?? 0, size)
        }
        for image in snapshot.desired.images where sizes[image.reference] == nil {
            guard case .file(let path) = image.source else { continue }
            let full = path.hasPrefix("/") ? path : (snapshot.site.directory.map { $0 + "/" + path } ?? path)
            if let size = (try? FileManager.default.attributesOfItem(atPath: full))?[.size] as? NSNumber {
                sizes[image.reference] = size.int64Value
            }
        }
        return sizes
    }

    /// Download rate over the last `window` seconds before `now`, all nodes together.
    static func rate(_ samples: [InstallSample], now: Date, window: TimeInterval) -> Double? {
        let recent = samples.filter { $0.at >= now.addingTimeInterval(-window) && $0.at <= now }
        guard let first = recent.map(\.at).min(), let last = recent.map(\.at).max() else { return nil }
        let span = last.timeIntervalSince(first)
        guard span >= 1 else { return nil }
        var bytes: Int64 = 0
        for (_, nodeSamples) in Dictionary(grouping: recent, by: { "\($0.node)\u{0}\($0.image)" }) {
            guard let a = nodeSamples.first, let b = nodeSamples.last else { continue }
            bytes += max(0, b.downloaded - a.downloaded)
        }
        return Double(bytes) / span
    }

    /// One point of a rate chart: the middle of a bucket and the bytes per second in it.
    struct RatePoint: Sendable, Hashable, Codable {
        var at: Date
        var download: Double
        var upload: Double
    }

    /// Download and upload rates over time for one image, in `buckets` equal slices of the samples' span.
    static func rateSeries(_ samples: [InstallSample], buckets: Int = 30) -> [RatePoint] {
        guard let start = samples.map(\.at).min(), let end = samples.map(\.at).max(), end > start, buckets > 0
        else { return [] }
        let width = end.timeIntervalSince(start) / Double(buckets)
        var download = [Double](repeating: 0, count: buckets)
        var upload = [Double](repeating: 0, count: buckets)
        for (_, nodeSamples) in Dictionary(grouping: samples, by: \.node) {
            let ordered = nodeSamples.sorted { $0.at < $1.at }
            for (previous, sample) in zip(ordered, ordered.dropFirst()) {
                let index = min(buckets - 1, Int(sample.at.timeIntervalSince(start) / width))
                download[index] += Double(max(0, sample.downloaded - previous.downloaded))
                upload[index] += Double(max(0, sample.uploaded - previous.uploaded))
            }
        }
        return (0..<buckets).map { index in
            RatePoint(at: start.addingTimeInterval(width * (Double(index) + 0.5)),
                      download: download[index] / width, upload: upload[index] / width)
        }
    }
}

/// Human spellings of bytes, rates and durations.
enum Units {
    /// Binary units with one decimal, as the command line prints them (`Quantity.rounded`).
    static func bytes(_ value: Int64) -> String { Quantity.rounded(bytes: value) }

    static func rate(_ bytesPerSecond: Double) -> String { bytes(Int64(bytesPerSecond.rounded())) + "/s" }

    static func duration(_ seconds: TimeInterval) -> String {
        guard seconds.magnitude < 100 * 365 * 86_400 else { return "over 100 years" }
        let total = Int(seconds.rounded())
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m \(total % 60)s" }
        return "\(total / 3600)h \(total % 3600 / 60)m"
    }

    static func percent(_ value: Double) -> String { String(format: "%.0f%%", value) }

    static func time(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
