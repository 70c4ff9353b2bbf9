import Foundation
import MemberwiseInit
import ReconcilerModel

/// An action an operator asked for through the console (or any authenticated client), as the store audits it.
@PublicMemberwiseInit
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
}

/// A rack an operator suspended: the reconciler starts no new action on its nodes until it is resumed.
@PublicMemberwiseInit
public struct RackSuspension: Sendable, Hashable, Codable {
    public var rack: String
    public var actor: String
    public var since: Date
}

/// A pending request for a reconcile pass; the loop runs one and clears it.
@PublicMemberwiseInit
public struct PassRequest: Sendable, Hashable, Codable {
    public var actor: String
    public var at: Date
}

/// One install report's byte counters at the time it arrived: the history behind swarm rates.
@PublicMemberwiseInit
public struct InstallSample: Sendable, Hashable, Codable {
    public var node: String
    /// `name@version`.
    public var image: String
    public var at: Date
    public var downloaded: Int64
    public var uploaded: Int64
    public var fromSeed: Int64
}

/// How long install samples are kept: a day of swarm history is enough for the console's rate chart.
public let installSampleRetention: TimeInterval = 24 * 3600
