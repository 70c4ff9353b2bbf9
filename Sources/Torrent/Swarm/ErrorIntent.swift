/// What the caller should do about a failure: the reconciler maps this onto its requeue policy.
public enum ErrorIntent: Sendable, Equatable {
    /// A human must act (a corrupt torrent, a target that is too small, a port taken by another program).
    case stalled
    /// Retry after the given delay (e.g. the tracker is not up yet).
    case waiting(retryAfter: Duration)
    /// Retry with exponential backoff and jitter (I/O hiccups, peers gone).
    case transient
}

extension MetainfoError {
    /// A torrent that does not parse or match its data needs a human; I/O errors may pass.
    public var intent: ErrorIntent { code == .io ? .transient : .stalled }
}

extension StorageError {
    /// Opening or sizing the target needs a human; a failed read or write may pass.
    public var intent: ErrorIntent {
        switch code {
        case .open, .tooSmall: .stalled
        case .read, .write: .transient
        }
    }
}

extension TorrentError {
    /// Tracker failures are retried; a listen failure waits for the port; storage failures need a look.
    public var intent: ErrorIntent {
        switch code {
        case .tracker: .transient
        case .listen: .waiting(retryAfter: .seconds(5))
        case .storage: .stalled
        case .stopped: .transient
        }
    }
}
