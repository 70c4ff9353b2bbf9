import Drivers
import Foundation
import MemberwiseInit

/// A commit's signature and the exact bytes it signs, as libgit2 extracts them (`git_commit_extract_signature`).
public struct CommitSignature: Sendable, Hashable {
    /// The `gpgsig` header: an armoured OpenPGP or SSH signature.
    public var signature: String
    /// The commit object without its signature header: what the signer signed.
    public var signedData: String
}

/// Checks a commit signature against trusted public keys with the system's own verifiers: `ssh-keygen -Y verify`
/// for SSH signatures, `gpgv` for OpenPGP ones (what `git verify-commit` runs).
///
/// Keys are given as text: OpenSSH public key lines, or OpenPGP public keys (ASCII-armoured or binary). Every
/// check runs in a fresh temporary directory holding only those keys, so no keyring of the host is trusted.
@PublicMemberwiseInit
public struct CommitVerifier: Sendable {
    public enum Format: String, Sendable, Hashable {
        case ssh
        case gpg
    }

    /// What the check found.
    public struct Verdict: Sendable, Hashable {
        public var trusted: Bool
        /// The signing key's fingerprint when trusted; otherwise why not, from the verifier.
        public var detail: String
    }

    public let format: Format
    public let keys: [String]

    /// What a verifier printed and how it exited.
    struct Result {
        var status: Int32
        var output: String
        var errorOutput: String
        var succeeded: Bool { status == 0 }
    }

    /// Runs a short-lived verifier (`ssh-keygen`, `gpgv`) through `/bin/sh`, its output in files of `directory`.
    private func run(_ arguments: [String], environment: [String: String] = [:], in directory: String) -> Result {
        let out = (directory as NSString).appendingPathComponent("stdout")
        let err = (directory as NSString).appendingPathComponent("stderr")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        guard FileManager.default.createFile(atPath: out, contents: nil),
              FileManager.default.createFile(atPath: err, contents: nil),
              let outHandle = FileHandle(forWritingAtPath: out), let errHandle = FileHandle(forWritingAtPath: err)
        else { return Result(status: 127, output: "", errorOutput: "cannot create the verifier's output files") }
        process.standardOutput = outHandle
        process.standardError = errHandle
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return Result(status: 127, output: "", errorOutput: "cannot run /bin/sh: \(error)")
        }
        process.waitUntilExit()
        try? outHandle.close()
        try? errHandle.close()
        func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        return Result(status: process.terminationStatus, output: read(out), errorOutput: read(err))
    }

    /// The namespace git signs commits in with SSH keys.
    static let namespace = "git"
    /// The one principal every trusted SSH key is listed under.
    static let principal = "rackswarm-trusted"

    public func verify(_ signature: CommitSignature?) async -> Verdict {
        guard let signature else { return Verdict(trusted: false, detail: "the commit is not signed") }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "rackswarm-verify-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            return Verdict(trusted: false, detail: "cannot create a temporary directory: \(error)")
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("commit").path
        let sig = directory.appendingPathComponent("commit.sig").path
        guard FileManager.default.createFile(atPath: data, contents: Data(signature.signedData.utf8)),
              FileManager.default.createFile(atPath: sig, contents: Data(signature.signature.utf8))
        else { return Verdict(trusted: false, detail: "cannot write the signature to check") }
        switch format {
        case .ssh: return await verifySSH(directory: directory.path, data: data, signature: sig)
        case .gpg: return await verifyGPG(directory: directory.path, data: data, signature: sig)
        }
    }

    private func verifySSH(directory: String, data: String, signature: String) async -> Verdict {
        let lines = keys.flatMap { $0.split(whereSeparator: \.isNewline) }
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        let allowed = (directory as NSString).appendingPathComponent("allowed_signers")
        let text = lines.map { "\(Self.principal) namespaces=\"\(Self.namespace)\" \($0)\n" }.joined()
        guard FileManager.default.createFile(atPath: allowed, contents: Data(text.utf8)) else {
            return Verdict(trusted: false, detail: "cannot write the trusted keys")
        }
        let result = run(["-c", "exec ssh-keygen -Y verify -f \"$1\" -I \"$2\" -n \"$3\" -s \"$4\" < \"$5\"", "sh",
                          allowed, Self.principal, Self.namespace, signature, data], in: directory)
        guard result.succeeded, result.output.contains("Good \"\(Self.namespace)\" signature") else {
            return Verdict(trusted: false, detail: Self.firstLine(result.errorOutput + result.output))
        }
        let fingerprint = result.output.split(separator: " ").last.map { String($0).trimmingCharacters(
            in: .whitespacesAndNewlines) } ?? "?"
        return Verdict(trusted: true, detail: fingerprint)
    }

    private func verifyGPG(directory: String, data: String, signature: String) async -> Verdict {
        var keyring = Data()
        for key in keys {
            guard let binary = Self.dearmor(key) else {
                return Verdict(trusted: false, detail: "a trusted key is not an OpenPGP public key")
            }
            keyring.append(binary)
        }
        let path = (directory as NSString).appendingPathComponent("trusted.gpg")
        guard FileManager.default.createFile(atPath: path, contents: keyring) else {
            return Verdict(trusted: false, detail: "cannot write the trusted keys")
        }
        let result = run(["-c", "exec gpgv --homedir \"$1\" --keyring \"$2\" --status-fd 1 \"$3\" \"$4\"", "sh",
                          directory, path, signature, data], environment: ["LC_ALL": "C"], in: directory)
        let valid = result.output.split(whereSeparator: \.isNewline).first { $0.hasPrefix("[GNUPG:] VALIDSIG ") }
        guard result.succeeded, let valid else {
            let reason = result.output.split(whereSeparator: \.isNewline).first {
                $0.hasPrefix("[GNUPG:] BADSIG") || $0.hasPrefix("[GNUPG:] ERRSIG") || $0.hasPrefix("[GNUPG:] NO_PUBKEY")
            }
            return Verdict(trusted: false, detail: reason.map(String.init) ?? Self.firstLine(result.errorOutput))
        }
        return Verdict(trusted: true, detail: String(valid.split(separator: " ").dropFirst(2).first ?? "?"))
    }

    /// The binary OpenPGP packets of an armoured block (or the bytes as they are when not armoured).
    static func dearmor(_ text: String) -> Data? {
        guard text.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") else {
            return text.isEmpty ? nil : Data(text.utf8)
        }
        var body = ""
        var inBlock = false
        var inHeaders = false
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
                inBlock = true
                inHeaders = true
            } else if line.hasPrefix("-----END PGP PUBLIC KEY BLOCK-----") {
                inBlock = false
            } else if inBlock && inHeaders {
                // Armour headers ("Comment: …") end at the first empty line.
                if line.isEmpty { inHeaders = false } else if !line.contains(":") {
                    inHeaders = false
                    body += line
                }
            } else if inBlock && !line.hasPrefix("=") {
                body += line
            }
        }
        return Data(base64Encoded: body)
    }

    private static func firstLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).first.map(String.init) ?? "the verifier gave no reason"
    }
}
