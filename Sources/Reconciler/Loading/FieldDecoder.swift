import Foundation
import RackswarmCore
import ReconcilerModel

/// Typed reads of YAML nodes for one file; every failure becomes a located diagnostic and a nil result.
struct FieldDecoder {
    let file: String
    /// `file` interned once: every location of the file shares it.
    let fileID: SourceFiles.ID
    var diagnostics: [Diagnostic] = []
    /// Values many documents of the file repeat (label maps, a Redfish system path), each kept once: the nodes
    /// share its storage instead of holding a copy each (label maps were 1.4 MB at 10,000 nodes).
    private var sharedMaps: Set<[String: String]> = []
    private var sharedTexts: Set<String> = []

    init(file: String) {
        self.file = file
        fileID = SourceFiles.intern(file)
    }

    func location(_ node: YAMLNode) -> SourceLocation {
        SourceLocation(fileID: fileID, line: node.line, column: node.column)
    }

    mutating func error(_ node: YAMLNode, _ message: String, hint: String? = nil) {
        guard node.tag != YAMLNode.poisonTag else { return }
        diagnostics.append(.error(at: location(node), message, hint: hint))
    }

    // MARK: Mappings

    /// Opens a mapping, reporting a wrong shape, non-string keys and keys outside `known`.
    mutating func mapping(_ node: YAMLNode, _ context: String, known: [String]) -> MappingReader? {
        guard case .mapping(let pairs) = node.content else {
            error(node, "expected a mapping for \(context), found \(node.shapeName)")
            return nil
        }
        for pair in pairs {
            guard case .scalar = pair.key.content else {
                error(pair.key, "keys of \(context) must be strings, found \(pair.key.shapeName)")
                continue
            }
        }
        let reader = MappingReader(node: node, context: context, pairs: pairs)
        for pair in reader.unknownKeys(known: known) {
            let key = pair.key.scalar ?? ""
            error(pair.key, "unknown field '\(key)' in \(context)", hint: Suggestions.didYouMean(key, in: known))
        }
        return reader
    }

    /// The value of a required key, or a "missing field" diagnostic at the mapping.
    mutating func require(_ reader: MappingReader, _ key: String) -> YAMLNode? {
        if let value = reader.value(key), !value.isNull { return value }
        if let value = reader.value(key) {
            error(value, "'\(key)' in \(reader.context) must not be empty")
        } else {
            error(reader.node, "missing required field '\(key)' in \(reader.context)")
        }
        return nil
    }

    // MARK: Scalars

    /// A string. Plain scalars that YAML 1.1 reads as numbers, booleans or dates are refused with a hint to quote.
    /// `what` names the value in a diagnostic and is built only for one: a map's keys and values each name
    /// their own.
    mutating func string(_ node: YAMLNode, _ what: @autoclosure () -> String) -> String? {
        guard case .scalar(let text, let style) = node.content else {
            error(node, "expected a string for \(what()), found \(node.shapeName)")
            return nil
        }
        if style == .plain && node.tag == nil {
            let resolved = PlainScalarType(resolving: text)
            if resolved != .string {
                error(node, "expected a string for \(what()), found \(resolved.name) '\(text)'",
                      hint: "YAML reads this unquoted value as \(resolved.name); quote it: \"\(text)\"")
                return nil
            }
        }
        return text
    }

    /// A string, or nil when the node is absent or null.
    mutating func optionalString(_ node: YAMLNode?, _ what: String) -> String? {
        guard let node, !node.isNull else { return nil }
        return string(node, what)
    }

    mutating func int(_ node: YAMLNode, _ what: String, range: ClosedRange<Int>) -> Int? {
        guard case .scalar(let text, .plain) = node.content, let value = Int(text.replacingUnderscores) else {
            error(node, "expected an integer for \(what), found \(node.shapeName)")
            return nil
        }
        guard range.contains(value) else {
            let bound = range.upperBound == Int.max ? "at least \(range.lowerBound)"
                : "between \(range.lowerBound) and \(range.upperBound)"
            error(node, "\(what) must be \(bound), found \(value)")
            return nil
        }
        return value
    }

    mutating func bool(_ node: YAMLNode, _ what: String) -> Bool? {
        guard case .scalar(let text, .plain) = node.content, PlainScalarType.booleans.contains(text) else {
            error(node, "expected true or false for \(what), found \(node.shapeName)")
            return nil
        }
        return PlainScalarType.trueWords.contains(text)
    }

    mutating func enumeration<E: RawRepresentable & CaseIterable>(_ node: YAMLNode, _ what: String) -> E?
    where E.RawValue == String {
        guard let text = string(node, what) else { return nil }
        if let value = E(rawValue: text) { return value }
        let names = E.allCases.map(\.rawValue)
        error(node, "unknown \(what) '\(text)'; expected one of \(names.joined(separator: ", "))",
              hint: Suggestions.didYouMean(text, in: names))
        return nil
    }

    /// `90s`, `5m`, `1h30m`, or an integer number of seconds, within `Quantity.durations` (see `Quantity`).
    mutating func duration(_ node: YAMLNode, _ what: String) -> Duration? {
        quantity(node, what) { text throws(QuantityError) in try Quantity.duration(text, in: Quantity.durations) }
    }

    /// A size such as `4MiB`, `500MB` or `65536` (see `Quantity`), within `range`.
    mutating func byteSize(_ node: YAMLNode, _ what: String, in range: ClosedRange<Int64>) -> Int64? {
        quantity(node, what) { text throws(QuantityError) in try Quantity.bytes(text, in: range) }
    }

    /// A quantity written as a plain whole number or as text, read by `parse`; its error is located at `node`.
    private mutating func quantity<Value>(
        _ node: YAMLNode, _ what: String, _ parse: (String) throws(QuantityError) -> Value
    ) -> Value? {
        let text: String
        if case .scalar(let raw, .plain) = node.content, !raw.isEmpty, raw.allSatisfy(\.isNumber) {
            text = raw
        } else {
            guard let quoted = string(node, what) else { return nil }
            text = quoted
        }
        do {
            return try parse(text)
        } catch {
            self.error(node, "\(error.message) for \(what)", hint: error.hint)
            return nil
        }
    }

    mutating func stringList(_ node: YAMLNode, _ what: String) -> [Located<String>]? {
        guard case .sequence(let items) = node.content else {
            error(node, "expected a list for \(what), found \(node.shapeName)")
            return nil
        }
        var result: [Located<String>] = []
        for item in items {
            if let text = string(item, "an entry of \(what)") { result.append(Located(text, at: location(item))) }
        }
        return result
    }

    mutating func stringMap(_ node: YAMLNode, _ what: String) -> [String: String] {
        guard case .mapping(let pairs) = node.content else {
            error(node, "expected a mapping for \(what), found \(node.shapeName)")
            return [:]
        }
        var result: [String: String] = [:]
        for pair in pairs {
            guard let key = string(pair.key, "a key of \(what)"),
                  let value = string(pair.value, "'\(key)' in \(what)") else { continue }
            result[key] = value
        }
        return Self.shared(result, in: &sharedMaps)
    }

    /// `value`, or the equal one kept in `kept` before.
    private static func shared<Value: Hashable>(_ value: Value, in kept: inout Set<Value>) -> Value {
        if let index = kept.firstIndex(of: value) { return kept[index] }
        kept.insert(value)
        return value
    }

    // MARK: Network values

    mutating func mac(_ node: YAMLNode) -> MACAddress? {
        if case .scalar(let text, .plain) = node.content, PlainScalarType(resolving: text) == .int {
            error(node, "MAC address \(text) reads as a YAML 1.1 sexagesimal number",
                  hint: "quote it: \"\(text)\"")
            return nil
        }
        guard let text = string(node, "mac") else { return nil }
        guard let mac = MACAddress(text) else {
            error(node, "malformed MAC address '\(text)'", hint: "write six hex pairs like 52:54:00:aa:00:01")
            return nil
        }
        return mac
    }

    mutating func ipv4(_ node: YAMLNode, _ what: String) -> IPv4Address? {
        parsed(node, what, IPv4Address.init, malformed: "malformed IPv4 address",
               hint: "write four octets like 10.77.0.11")
    }

    mutating func network(_ node: YAMLNode, _ what: String) -> IPv4Network? {
        parsed(node, what, IPv4Network.init, malformed: "malformed subnet",
               hint: "write it in CIDR form with host bits zero, like 10.77.0.0/24")
    }

    /// A string read by `parse`; one that does not parse is reported as `malformed 'text' for what`.
    private mutating func parsed<Value>(
        _ node: YAMLNode, _ what: String, _ parse: (String) -> Value?, malformed: String, hint: String
    ) -> Value? {
        guard let text = string(node, what) else { return nil }
        guard let value = parse(text) else {
            error(node, "\(malformed) '\(text)' for \(what)", hint: hint)
            return nil
        }
        return value
    }

    /// A list whose items are mappings of exactly two required fields (`postInstall`'s name and run, a
    /// repository's name and baseurl), each read by its function and the pair made into an item by `make`. An
    /// item's second field is not read when its first fails, so one mistake gives one diagnostic.
    mutating func pairList<First, Second, Item>(
        _ node: YAMLNode, _ what: String, item context: String,
        _ first: (key: String, read: (inout FieldDecoder, YAMLNode) -> First?),
        _ second: (key: String, read: (inout FieldDecoder, YAMLNode) -> Second?), make: (First, Second) -> Item
    ) -> [Item] {
        guard case .sequence(let items) = node.content else {
            error(node, "expected a list for \(what), found \(node.shapeName)")
            return []
        }
        return items.compactMap { item in
            guard let reader = mapping(item, context, known: [first.key, second.key]),
                  let a = require(reader, first.key).flatMap({ first.read(&self, $0) }),
                  let b = require(reader, second.key).flatMap({ second.read(&self, $0) })
            else { return nil }
            return make(a, b)
        }
    }

    /// A name as used in `metadata.name` and references: lower-case letters, digits, `-`, `.`, `_`.
    mutating func name(_ node: YAMLNode, _ what: String) -> String? {
        guard let text = string(node, what) else { return nil }
        guard Self.isValidName(text) else {
            error(node, "invalid \(what) '\(text)'",
                  hint: "use 1–63 lower-case letters, digits, '-', '.' or '_', starting and ending with a letter or digit")
            return nil
        }
        return text
    }

    static func isValidName(_ text: String) -> Bool {
        let bytes = text.utf8
        guard (1...63).contains(bytes.count) else { return false }
        func alnum(_ b: UInt8) -> Bool { (b >= 97 && b <= 122) || (b >= 48 && b <= 57) }
        guard let first = bytes.first, let last = bytes.last, alnum(first), alnum(last) else { return false }
        return bytes.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") }
    }

    /// A reference to a secret: `{env: NAME}` or `{file: PATH}`. A scalar here is a password literal.
    mutating func secret(_ node: YAMLNode, _ what: String) -> SecretReference? {
        if case .scalar = node.content {
            error(node, "\(what) is a literal; secrets never go in git",
                  hint: "reference it instead: '{env: BMC_PASSWORD}' or '{file: /etc/rackswarm/bmc-password}'")
            return nil
        }
        guard let reader = mapping(node, what, known: ["env", "file"]) else { return nil }
        let env = reader.value("env")
        let file = reader.value("file")
        switch (env, file) {
        case (let env?, nil):
            guard let name = string(env, "env") else { return nil }
            guard SecretReference.isValidEnvironmentName(name) else {
                error(env, "invalid environment variable name '\(name)'")
                return nil
            }
            return .environment(name)
        case (nil, let file?):
            guard let path = string(file, "file") else { return nil }
            guard path.hasPrefix("/") else {
                error(file, "secret file '\(path)' must be an absolute path")
                return nil
            }
            return .file(path)
        default:
            error(node, "\(what) needs exactly one of 'env' or 'file'")
            return nil
        }
    }

    /// A BMC URL whose scheme names the power driver, read with the one BMC URL parser (`BMCURL`).
    mutating func bmcEndpoint(_ node: YAMLNode) -> BMCEndpoint? {
        guard let text = string(node, "bmc.url") else { return nil }
        let url: BMCURL
        do {
            url = try BMCURL(parsing: text)
        } catch let failure {
            switch failure {
            case .credentials:
                error(node, "the BMC URL carries credentials; secrets never go in git",
                      hint: "drop 'user:password@' and set bmc.username and bmc.password: {env: …}")
            case .invalidPort: error(node, "malformed port in BMC URL '\(text)'")
            case .invalidHost(let why): error(node, "malformed host in BMC URL '\(text)': \(why)")
            case .noScheme, .invalidScheme:
                error(node, "malformed BMC URL '\(text)'", hint: "write it like ipmi://10.0.0.5 or ilo://bmc-r1-n1")
            }
            return nil
        }
        guard let scheme = BMCScheme(rawValue: url.scheme) else {
            let names = BMCScheme.allCases.map(\.rawValue)
            error(node, "unknown BMC scheme '\(url.scheme)'; expected one of \(names.joined(separator: ", "))",
                  hint: Suggestions.didYouMean(url.scheme, in: names))
            return nil
        }
        guard Self.isValidHost(url.host) else {
            error(node, "malformed host '\(url.host)' in BMC URL '\(text)'")
            return nil
        }
        let port = url.port ?? scheme.defaultPort
        var path = url.path
        switch scheme {
        case .ipmi:
            guard path.isEmpty || path == "/" else {
                error(node, "an ipmi:// BMC URL takes no path",
                      hint: "write ipmi://\(url.host)\(port == scheme.defaultPort ? "" : ":\(port)")")
                return nil
            }
            path = ""
        case .redfishHTTP, .redfishHTTPS, .ilo:
            if path.isEmpty || path == "/" { path = "/redfish/v1/Systems/1" }
            guard path.hasPrefix("/redfish/v1/Systems/"), path.utf8.count > "/redfish/v1/Systems/".utf8.count else {
                error(node, "a Redfish BMC URL's path must name a system, like /redfish/v1/Systems/1")
                return nil
            }
        }
        return BMCEndpoint(scheme: scheme, host: url.host, port: port, path: Self.shared(path, in: &sharedTexts))
    }

    static func isValidHost(_ host: String) -> Bool {
        guard !host.isEmpty, host.utf8.count <= 253 else { return false }
        if IPv4Address(host) != nil { return true }
        if host.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || $0 == 46 }) { return false }
        // Dot-separated labels of 1–63 letters, digits and '-', none starting or ending with '-': one pass, no
        // array of labels.
        var length = 0
        var previous: UInt8 = 46
        for byte in host.utf8 {
            if byte == 46 {
                guard length > 0, previous != 45 else { return false }
                length = 0
            } else {
                let allowed = (byte >= 97 && byte <= 122) || (byte >= 65 && byte <= 90) || (byte >= 48 && byte <= 57)
                    || byte == 45
                guard allowed, length > 0 || byte != 45, length < 63 else { return false }
                length += 1
            }
            previous = byte
        }
        return length > 0 && previous != 45
    }
}

extension String {
    fileprivate var replacingUnderscores: String {
        contains("_") ? filter { $0 != "_" } : self
    }
}
