import Drivers

/// Reads the `rackswarm.*` install arguments from a kernel command line (`/proc/cmdline`).
public enum KernelCommandLine {
    /// The argument names every install entry carries.
    public static let required = ["node", "torrent", "tracker", "sha256", "report"]

    /// Splits a command line at whitespace (install entries never quote: docs/network-boot.md).
    public static func split(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
    }

    /// The install arguments, or `missingArgument` naming every `rackswarm.*` argument that is absent or empty.
    public static func installArguments(_ arguments: [String], source: String) throws(InstallError)
        -> InstallArguments
    {
        let present = Set(arguments.compactMap { argument -> String? in
            guard argument.hasPrefix("rackswarm."), let equals = argument.firstIndex(of: "="),
                argument.index(after: equals) < argument.endIndex
            else { return nil }
            return String(argument[argument.index(argument.startIndex, offsetBy: 10)..<equals])
        })
        let missing = required.filter { !present.contains($0) }
        guard missing.isEmpty, let parsed = InstallArguments(parsing: arguments) else {
            let names = missing.map { "rackswarm.\($0)=" }.joined(separator: ", ")
            throw InstallError(.missingArgument, "\(source): missing kernel argument\(missing.count > 1 ? "s" : "") "
                               + names)
        }
        guard parsed.sha256.count == 64, parsed.sha256.allSatisfy({ $0.isHexDigit && $0.isASCII }) else {
            throw InstallError(.missingArgument,
                               "\(source): rackswarm.sha256= wants 64 hex digits, got '\(parsed.sha256)'")
        }
        return parsed
    }
}
