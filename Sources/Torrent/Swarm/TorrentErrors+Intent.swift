import RackswarmCore

// Every Torrent error maps onto the shared `ErrorIntent` (RackswarmCore), so the executor treats them like any other.

extension MetainfoError {
    /// A torrent that does not parse or match its data needs a human; I/O errors may pass.
    public var intent: ErrorIntent { code == .io ? .transient : .stalled }
}

extension StorageError {
    /// Opening or sizing the target needs a human; a failed read or write may pass.
    public var intent: ErrorIntent {
        switch code {
        case .open, .tooSmall, .tooLarge: .stalled
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
