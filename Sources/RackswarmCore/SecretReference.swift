import Foundation

/// A pointer to a secret that lives outside git: an environment variable or a file.
///
/// The site repo only ever names where a secret is (`env:BMC_RACK1` or `file:/etc/rackswarm/bmc-rack1`);
/// the value is read when a driver needs it and never appears in a description, log line or error.
public enum SecretReference: Sendable, Hashable, Codable, CustomStringConvertible {
    case environment(String)
    case file(String)

    /// Parses `env:NAME` or `file:PATH`; returns nil for anything else.
    public init?(parsing text: String) {
        if text.hasPrefix("env:") {
            let name = String(text.dropFirst(4))
            guard Self.isValidEnvironmentName(name) else { return nil }
            self = .environment(name)
        } else if text.hasPrefix("file:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { return nil }
            self = .file(path)
        } else {
            return nil
        }
    }

    /// The reference as written in YAML or on the command line; never the secret.
    public var description: String {
        switch self {
        case .environment(let name): "env:\(name)"
        case .file(let path): "file:\(path)"
        }
    }

    /// Reads the secret. A trailing newline in a file is dropped. `environment` stands in for the process's.
    public func resolve(environment: [String: String]? = nil) throws(SecretError) -> String {
        switch self {
        case .environment(let name):
            // The one variable, not ProcessInfo's whole environment as a dictionary: `reconcile power` resolves a
            // password per BMC, and building that dictionary 10,000 times was 8% of its CPU time.
            guard let value = environment.map({ $0[name] }) ?? getenv(name).map({ String(cString: $0) }),
                !value.isEmpty
            else {
                throw SecretError(code: .missingEnvironmentVariable, reference: self)
            }
            return value
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw SecretError(code: .unreadableFile, reference: self)
            }
            guard var value = String(data: data, encoding: .utf8) else {
                throw SecretError(code: .notText, reference: self)
            }
            while value.hasSuffix("\n") || value.hasSuffix("\r") { value.removeLast() }
            guard !value.isEmpty else { throw SecretError(code: .empty, reference: self) }
            return value
        }
    }

    /// True for a POSIX-style environment variable name (`[A-Za-z_][A-Za-z0-9_]*`).
    public static func isValidEnvironmentName(_ name: String) -> Bool {
        guard let first = name.utf8.first, first == UInt8(ascii: "_") || isLetter(first) else { return false }
        return name.utf8.allSatisfy { $0 == UInt8(ascii: "_") || isLetter($0) || ($0 >= 48 && $0 <= 57) }
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
    }
}

/// A secret could not be read. Names the reference, never the value.
public struct SecretError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case missingEnvironmentVariable
        case unreadableFile
        case notText
        case empty
    }

    public let code: Code
    public let reference: SecretReference

    public var description: String {
        switch code {
        case .missingEnvironmentVariable: "secret \(reference): environment variable is not set or empty"
        case .unreadableFile: "secret \(reference): file cannot be read"
        case .notText: "secret \(reference): file is not UTF-8 text"
        case .empty: "secret \(reference): file is empty"
        }
    }
}
