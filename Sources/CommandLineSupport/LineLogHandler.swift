import Foundation
import Logging

/// A log handler that writes one line per event to standard error: readable text on a terminal, or one JSON object
/// per line for journald and Loki.
///
/// JSON lines carry `ts` (RFC 3339 with milliseconds, UTC), `level`, `logger`, `msg` and every metadata key as
/// given (dotted keys such as `node`, `action.kind`, `error.code` stay flat, so Loki's `| json` and journald's
/// field import see them as they are named).
public struct LineLogHandler: LogHandler {
    /// How lines look.
    public enum Format: String, Sendable, CaseIterable {
        case text
        case json
    }

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let format: Format
    let sink: @Sendable (String) -> Void

    /// A handler for `label` writing `format` lines to `sink` (standard error by default).
    public init(label: String, level: Logger.Level, format: Format,
                sink: @escaping @Sendable (String) -> Void = LineLogHandler.standardError) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        if let error = event.error, merged["error"] == nil { merged["error"] = "\(error)" }
        let now = Date()
        switch format {
        case .text: sink(Self.text(now, level: event.level, label: label, message: "\(event.message)", merged))
        case .json: sink(Self.json(now, level: event.level, label: label, message: "\(event.message)", merged))
        }
    }

    /// `2026-12-04T15:00:00.123Z warning rackswarm.reconcile: node stopped node=r1n1 action.kind=powerCycle`.
    static func text(_ date: Date, level: Logger.Level, label: String, message: String,
                     _ metadata: Logger.Metadata) -> String {
        var line = "\(timestamp(date)) \(level) \(label): \(message)"
        for key in metadata.keys.sorted() {
            let value = flatten(metadata[key] ?? "")
            let quoted = value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" })
            line += " \(key)=" + (quoted ? quote(value) : value)
        }
        return line + "\n"
    }

    /// One JSON object on one line; keys in a fixed order (the four fixed ones, then metadata sorted).
    static func json(_ date: Date, level: Logger.Level, label: String, message: String,
                     _ metadata: Logger.Metadata) -> String {
        var fields = [("ts", timestamp(date)), ("level", level.rawValue), ("logger", label), ("msg", message)]
        let reserved: Set<String> = ["ts", "level", "logger", "msg"]
        for key in metadata.keys.sorted() {
            fields.append((reserved.contains(key) ? "meta." + key : key, flatten(metadata[key] ?? "")))
        }
        return "{" + fields.map { quote($0.0) + ":" + quote($0.1) }.joined(separator: ",") + "}\n"
    }

    /// Nested metadata as text: lists as `[a, b]`, dictionaries as `{k: v}` (sorted), as swift-log prints them.
    static func flatten(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): return text
        case .stringConvertible(let convertible): return convertible.description
        case .array(let values): return "[" + values.map(flatten).joined(separator: ", ") + "]"
        case .dictionary(let values):
            return "{" + values.keys.sorted().map { "\($0): \(flatten(values[$0] ?? ""))" }.joined(separator: ", ")
                + "}"
        }
    }

    /// A JSON string literal (RFC 8259 escapes; control characters as \u00XX).
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// Writes a line to standard error in one `write` (lines of concurrent tasks never interleave mid-line).
    public static let standardError: @Sendable (String) -> Void = { line in
        var bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { buffer in
                write(2, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
            }
            if written <= 0 { return }
            offset += written
        }
    }
}
