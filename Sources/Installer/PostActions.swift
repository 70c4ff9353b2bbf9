import Drivers
import Foundation

/// Runs an image's post-install actions in order, as `InstallInstructions.PostAction` documents: `/bin/sh -c RUN`,
/// working directory the node's root, environment `RACKSWARM_NODE`, `RACKSWARM_ROOT`, `RACKSWARM_DISK`,
/// `RACKSWARM_IMAGE`. The first action that fails ends the run.
public struct PostActions: Sendable {
    public var node: String
    public var root: String
    public var disk: String
    public var image: String
    public var timeout: Duration
    public var commands: any CommandRunning

    public init(node: String, root: String, disk: String, image: String, timeout: Duration = .seconds(600),
                commands: any CommandRunning = ProcessCommandRunner())
    {
        self.node = node
        self.root = root
        self.disk = disk
        self.image = image
        self.timeout = timeout
        self.commands = commands
    }

    public var environment: [String: String] {
        ["RACKSWARM_NODE": node, "RACKSWARM_ROOT": root, "RACKSWARM_DISK": disk, "RACKSWARM_IMAGE": image]
    }

    /// Runs every action; throws `postAction` naming the first that failed, how, and the tail of its stderr.
    public func run(_ actions: [InstallInstructions.PostAction],
                    onFinished: @Sendable (InstallInstructions.PostAction, CommandResult) async -> Void = { _, _ in })
        async throws(InstallError)
    {
        for action in actions {
            // The runner has no working-directory option: a tiny outer shell changes into the root, then runs
            // the action as its own `sh -c`, so the action's text is passed as an argument and never re-quoted.
            let result = await commands.run(
                "/bin/sh", ["-c", #"cd -- "$RACKSWARM_ROOT" || exit 126; exec /bin/sh -c "$1""#, "rackswarm-post",
                            action.run],
                environment: environment, timeout: timeout)
            await onFinished(action, result)
            guard result.succeeded else {
                let tail = Self.lastLines(result.errorOutput)
                throw InstallError(
                    .postAction, "post action '\(action.name)' \(result.summary)" + (tail.isEmpty ? "" : ": \(tail)"))
            }
        }
    }

    /// The last few lines of `text` on one line, at most 300 characters.
    static func lastLines(_ text: String, count: Int = 3) -> String {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        let joined = lines.suffix(count).joined(separator: " | ")
        return joined.count > 300 ? "…" + String(joined.suffix(299)) : joined
    }
}
