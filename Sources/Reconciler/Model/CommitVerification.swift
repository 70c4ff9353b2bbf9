import MemberwiseInit

/// Which commits may drive actions: those signed by one of these keys (Flux's `verify`).
@PublicMemberwiseInit
public struct CommitVerification: Sendable, Hashable {
    /// How signatures are checked.
    public enum Provider: String, Sendable, Hashable, Codable, CaseIterable {
        /// SSH signatures (`git commit -S` with `gpg.format=ssh`), checked with `ssh-keygen -Y verify`.
        case ssh
        /// OpenPGP signatures, checked with `gpgv`.
        case gpg
    }

    /// A trusted public key: written in the site, or a file on the reconciler's host.
    public enum Key: Sendable, Hashable {
        /// An OpenSSH public key line, or an ASCII-armoured OpenPGP public key block.
        case inline(String)
        /// An absolute path on the reconciler's host: outside the repo, so a commit cannot change it.
        case file(String)
    }

    public var provider: Provider
    public var keys: [Key]
    public var location: SourceLocation
}
