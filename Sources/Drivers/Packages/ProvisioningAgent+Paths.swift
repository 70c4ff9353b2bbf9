extension ProvisioningAgent {
    /// Where a script named in a definition lives on this host: under the install root when there is one. The
    /// path comes from the network, so it must be absolute and free of `..` (nil otherwise): `/../x` cannot
    /// escape the root.
    public static func hostPath(_ path: String, installRoot: String?) -> String? {
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        guard path.hasPrefix("/"), !components.isEmpty, !components.contains(".."), !path.utf8.contains(0) else {
            return nil
        }
        guard let root = installRoot else { return path }
        return (root.hasSuffix("/") ? String(root.dropLast()) : root) + "/" + components.joined(separator: "/")
    }
}
