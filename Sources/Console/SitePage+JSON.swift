import Foundation
import Reconciler

extension SiteView {
    /// The bytes `encoder` writes for this view, with the racks and their cells written by hand.
    ///
    /// `encoder` is the console's (sorted keys, slashes unescaped, ISO 8601 dates). At 100,000 nodes it spent most
    /// of `/api/v1/site` on the cells; here it writes only the rest of the page, and any tile or cell holding a
    /// value whose spelling it decides (a number, a date, text outside printable ASCII or with a quote or a
    /// backslash) goes through it as well, so the bytes are the same.
    func json(encoder: JSONEncoder) throws -> [UInt8] {
        var shell = self
        shell.racks = []
        var racksJSON: [UInt8] = []
        racksJSON.reserveCapacity(racks.reduce(0) { $0 + 16 + $1.nodes.count * 48 })
        racksJSON.append(UInt8(ascii: "["))
        for (index, tile) in racks.enumerated() {
            if index > 0 { racksJSON.append(UInt8(ascii: ",")) }
            try Self.write(tile, encoder: encoder, to: &racksJSON)
        }
        racksJSON.append(UInt8(ascii: "]"))
        return try Self.splice(racksJSON, into: Array(encoder.encode(shell)), at: #""racks":[]"#)
    }

    /// `shell` with the empty array after `key` (the first occurrence: keys are sorted and the values before it
    /// cannot hold that key, quotes in them being escaped) replaced by `array`.
    private static func splice(_ array: [UInt8], into shell: [UInt8], at key: String) throws -> [UInt8] {
        let marker = Array(key.utf8)
        guard let start = shell.indices.dropLast(marker.count - 1).first(where: {
            shell[$0..<($0 + marker.count)].elementsEqual(marker)
        }) else {
            throw EncodingError.invalidValue(key, .init(codingPath: [], debugDescription: "no \(key) in the shell"))
        }
        var out = shell
        out.replaceSubrange((start + marker.count - 2)..<(start + marker.count), with: array)
        return out
    }

    private static func write(_ tile: RackTile, encoder: JSONEncoder, to out: inout [UInt8]) throws {
        var cells: [UInt8] = [UInt8(ascii: "[")]
        cells.reserveCapacity(2 + tile.nodes.count * 48)
        for (index, cell) in tile.nodes.enumerated() {
            if index > 0 { cells.append(UInt8(ascii: ",")) }
            try write(cell, encoder: encoder, to: &cells)
        }
        cells.append(UInt8(ascii: "]"))
        // A tile with a suspension or a server address (or a name that needs escaping) goes through the encoder.
        guard tile.suspension == nil, tile.server == nil, plain(tile.name), tile.holder.map(plain) ?? true else {
            var shell = tile
            shell.nodes = []
            out += try splice(cells, into: Array(encoder.encode(shell)), at: #""nodes":[]"#)
            return
        }
        out.append(UInt8(ascii: "{"))
        if let holder = tile.holder { append(#""holder":""#, holder, "\",", to: &out) }
        append(#""name":""#, tile.name, #"","nodes":"#, to: &out)
        out += cells
        out.append(UInt8(ascii: "}"))
    }

    private static func write(_ cell: Cell, encoder: JSONEncoder, to out: inout [UInt8]) throws {
        guard cell.percent == nil, plain(cell.node), cell.lastError.map(plain) ?? true else {
            out += try encoder.encode(cell)
            return
        }
        out.append(UInt8(ascii: "{"))
        if let error = cell.lastError { append(#""lastError":""#, error, "\",", to: &out) }
        append(#""node":""#, cell.node, #"","phase":""#, to: &out)
        append("", cell.phase.rawValue, "\"}", to: &out)
    }

    private static func append(_ before: StaticString, _ value: String, _ after: StaticString, to out: inout [UInt8]) {
        before.withUTF8Buffer { out += $0 }
        out += value.utf8
        after.withUTF8Buffer { out += $0 }
    }

    /// Text the encoder writes as it is between quotes: printable ASCII without `"` and `\`.
    private static func plain(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
    }
}
