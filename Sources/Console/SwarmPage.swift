import Foundation
import Drivers
import Reconciler

/// The swarm page: per image, what each rack holds, seed versus peer bytes, the rate over time, and the percent
/// at which nodes started uploading.
struct SwarmView: Sendable, Codable {
    struct RackRow: Sendable, Codable {
        var rack: String
        /// Nodes of the rack that reported on this image.
        var nodes: Int
        var downloaded: Int64
        /// Pieces held, when the piece size is known: whole pieces' worth of the bytes each node reported
        /// (reports carry byte counts, not piece maps), all of them once a node reports 100%.
        var pieces: Int64?
        /// Pieces the rack's nodes would hold with the image complete on all of them.
        var piecesTotal: Int64?
        var fromSeed: Int64
        var fromPeers: Int64
        var uploaded: Int64
    }

    struct UploadStart: Sendable, Codable {
        var node: String
        var percent: Double
    }

    struct ImageView: Sendable, Codable {
        var image: String
        var size: Int64?
        var pieceSize: Int?
        var racks: [RackRow]
        var fromSeed: Int64
        var fromPeers: Int64
        var rates: [SwarmStatistics.RatePoint]
        var uploadStarts: [UploadStart]
        /// The median of `uploadStarts`.
        var medianUploadStart: Double?
    }

    var images: [ImageView]

    init(_ snapshot: ConsoleSnapshot, samples: [InstallSample]) {
        let sizes = SwarmStatistics.imageSizes(snapshot: snapshot)
        let rackOf = Dictionary(snapshot.desired.nodes.map { ($0.name, $0.rack.value) },
                                uniquingKeysWith: { first, _ in first })
        let reports = Dictionary(grouping: snapshot.installs.sorted { $0.key < $1.key }, by: \.value.report.image)
        var references = Set(reports.keys)
        for node in snapshot.desired.nodes where node.state == .present {
            references.insert(snapshot.wantedImage(node))
        }
        images = references.sorted().map { reference in
            let image = snapshot.desired.images.first { $0.reference == reference }
            let size = sizes[reference]
            let pieceSize = image?.pieceSize
            let piecesPerNode = size.flatMap { size in pieceSize.map { (size + Int64($0) - 1) / Int64($0) } }
            var racks: [String: RackRow] = [:]
            var starts: [UploadStart] = []
            for (node, progress) in reports[reference] ?? [] {
                let report = progress.report
                let rack = rackOf[node] ?? "(not in the site)"
                var row = racks[rack] ?? RackRow(rack: rack, nodes: 0, downloaded: 0, pieces: pieceSize.map { _ in 0 },
                                                 piecesTotal: piecesPerNode.map { _ in 0 }, fromSeed: 0, fromPeers: 0,
                                                 uploaded: 0)
                row.nodes += 1
                row.downloaded += report.downloaded
                if let pieceSize, let perNode = piecesPerNode {
                    let held = report.percent >= 100 ? perNode : report.downloaded / Int64(pieceSize)
                    row.pieces = (row.pieces ?? 0) + held
                    row.piecesTotal = (row.piecesTotal ?? 0) + perNode
                }
                row.fromSeed += report.fromSeed
                row.fromPeers += max(0, report.downloaded - report.fromSeed)
                row.uploaded += report.uploaded
                racks[rack] = row
                if let percent = report.uploadStartedAtPercent {
                    starts.append(UploadStart(node: node, percent: percent))
                }
            }
            let rows = racks.values.sorted { $0.rack < $1.rack }
            let sorted = starts.map(\.percent).sorted()
            let median: Double? = sorted.isEmpty ? nil
                : sorted.count % 2 == 1 ? sorted[sorted.count / 2]
                : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
            return ImageView(
                image: reference, size: size, pieceSize: pieceSize, racks: rows,
                fromSeed: rows.map(\.fromSeed).reduce(0, +), fromPeers: rows.map(\.fromPeers).reduce(0, +),
                rates: SwarmStatistics.rateSeries(samples.filter { $0.image == reference }),
                uploadStarts: starts.sorted { $0.node < $1.node }, medianUploadStart: median)
        }
    }

    func html(_ layout: Layout) -> HTML {
        .group([el("h1", [], text("Swarm"))] + (images.isEmpty
            ? [el("p", [("class", "muted")], text("No images."))]
            : images.map(imageHTML)))
    }

    private func imageHTML(_ image: ImageView) -> HTML {
        let total = image.fromSeed + image.fromPeers
        let seedShare = total > 0 ? Double(image.fromSeed) * 100 / Double(total) : nil
        let rows = image.racks.map { row in
            Layout.row([text(row.rack), text(String(row.nodes)),
                        text(row.pieces.map { "\($0) / \(row.piecesTotal ?? 0)" } ?? "— (piece size not set)"),
                        text(Units.bytes(row.downloaded)), text(Units.bytes(row.fromSeed)),
                        text(Units.bytes(row.fromPeers)), text(Units.bytes(row.uploaded))],
                       attributes: [("data-rack", row.rack)])
        }
        return el("section", [("class", "image"), ("data-image", image.image)],
                  el("h2", [], text(image.image)),
                  el("p", [], text("size \(image.size.map(Units.bytes) ?? "unknown")"
                                   + (image.pieceSize.map { ", pieces of \(Units.bytes(Int64($0)))" } ?? "")
                                   + "; from the seed \(Units.bytes(image.fromSeed)), between peers "
                                   + "\(Units.bytes(image.fromPeers))"
                                   + (seedShare.map { " (seed share \(Units.percent($0)))" } ?? ""))),
                  rows.isEmpty ? el("p", [("class", "muted")], text("No install reports yet."))
                    : Layout.table(["rack", "nodes", "pieces held", "downloaded", "from seed", "from peers",
                                    "uploaded"], rows),
                  el("h3", [], text("Rate over time")),
                  RateChart(points: image.rates).html(),
                  el("h3", [], text("Upload start")),
                  image.uploadStarts.isEmpty ? el("p", [("class", "muted")], text("No node has uploaded yet."))
                    : .group([
                        el("p", [], text("median: nodes started uploading at "
                                         + (image.medianUploadStart.map(Units.percent) ?? "—") + " downloaded")),
                        Layout.table(["node", "uploading from"], image.uploadStarts.map { start in
                            Layout.row([text(start.node), text(Units.percent(start.percent))])
                        }),
                    ]))
    }
}

/// An inline SVG line chart of download and upload rates, drawn on the server.
struct RateChart {
    var points: [SwarmStatistics.RatePoint]
    var width = 640.0
    var height = 180.0

    func html() -> HTML {
        guard points.count >= 2, let first = points.first?.at, let last = points.last?.at else {
            return el("p", [("class", "muted")], text("Not enough install reports for a chart yet."))
        }
        let left = 70.0, bottom = 24.0, top = 24.0, right = 10.0
        let peak = max(1, points.map { max($0.download, $0.upload) }.max() ?? 1)
        let span = max(1, last.timeIntervalSince(first))
        func x(_ date: Date) -> Double { left + (width - left - right) * date.timeIntervalSince(first) / span }
        func y(_ value: Double) -> Double { top + (height - top - bottom) * (1 - value / peak) }
        func line(_ value: (SwarmStatistics.RatePoint) -> Double) -> String {
            points.map { String(format: "%.1f,%.1f", x($0.at), y(value($0))) }.joined(separator: " ")
        }
        let size = "0 0 \(Int(width)) \(Int(height))"
        return el("svg", [("class", "chart"), ("viewBox", size), ("width", String(Int(width))),
                          ("height", String(Int(height))), ("xmlns", "http://www.w3.org/2000/svg"),
                          ("role", "img"), ("aria-label", "download and upload rate over time")],
                  el("line", [("class", "axis"), ("x1", String(left)), ("y1", String(height - bottom)),
                              ("x2", String(width - right)), ("y2", String(height - bottom))]),
                  el("line", [("class", "axis"), ("x1", String(left)), ("y1", String(top)), ("x2", String(left)),
                              ("y2", String(height - bottom))]),
                  el("text", [("x", "4"), ("y", String(top + 8))], text(Units.rate(peak))),
                  el("text", [("x", "4"), ("y", String(height - bottom))], text("0")),
                  el("text", [("x", String(left)), ("y", String(height - 6))], text(Units.time(first))),
                  el("text", [("x", String(width - right)), ("y", String(height - 6)), ("text-anchor", "end")],
                     text("+" + Units.duration(span))),
                  el("polyline", [("class", "download"), ("points", line(\.download))]),
                  el("polyline", [("class", "upload"), ("points", line(\.upload))]),
                  el("text", [("x", String(left + 8)), ("y", "14"), ("class", "legend-download")],
                     text("download, all nodes")),
                  el("text", [("x", String(left + 140)), ("y", "14"), ("class", "legend-upload")],
                     text("upload, all nodes")))
    }
}
