import Foundation
import ReconcilerModel

/// An action an operator asked for through the console (or any authenticated client), as the store audits it.
public struct OperatorAction: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// Run a reconcile pass now instead of at the next tick.
        case requestPass
        /// Stop starting new actions on a rack's nodes.
        case suspendRack
        case resumeRack
    }

    public var id: Int64
    /// Who asked: the name the token file gives the token that was presented.
    public var actor: String
    public var kind: Kind
    /// The rack, for suspend and resume.
    public var target: String?
    /// The client's address, when known.
    public var remote: String?
    public var at: Date

    public init(id: Int64, actor: String, kind: Kind, target: String?, remote: String?, at: Date) {
        self.id = id
        self.actor = actor
        self.kind = kind
        self.target = target
        self.remote = remote
        self.at = at
    }
}

/// A rack an operator suspended: the reconciler starts no new action on its nodes until it is resumed.
public struct RackSuspension: Sendable, Hashable, Codable {
    public var rack: String
    public var actor: String
    public var since: Date

    public init(rack: String, actor: String, since: Date) {
        self.rack = rack
        self.actor = actor
        self.since = since
    }
}

/// A pending request for a reconcile pass; the loop runs one and clears it.
public struct PassRequest: Sendable, Hashable, Codable {
    public var actor: String
    public var at: Date

    public init(actor: String, at: Date) {
        self.actor = actor
        self.at = at
    }
}

/// One install report's byte counters at the time it arrived: the history behind swarm rates.
public struct InstallSample: Sendable, Hashable, Codable {
    public var node: String
    /// `name@version`.
    public var image: String
    public var at: Date
    public var downloaded: Int64
    public var uploaded: Int64
    public var fromSeed: Int64

    public init(node: String, image: String, at: Date, downloaded: Int64, uploaded: Int64, fromSeed: Int64) {
        self.node = node
        self.image = image
        self.at = at
        self.downloaded = downloaded
        self.uploaded = uploaded
        self.fromSeed = fromSeed
    }
}

/// How long install samples are kept: a day of swarm history is enough for the console's rate chart.
public let installSampleRetention: TimeInterval = 24 * 3600
