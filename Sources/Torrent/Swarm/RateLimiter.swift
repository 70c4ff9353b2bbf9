import NIOCore

/// A token bucket that caps a transfer rate.
struct TokenBucket {
    let rate: Int
    private(set) var tokens: Int

    init(bytesPerSecond: Int) {
        rate = bytesPerSecond
        tokens = bytesPerSecond / 10
    }

    /// Adds the tokens earned over `seconds`, up to a burst of a quarter second.
    mutating func refill(seconds: Double) {
        tokens = min(max(rate / 4, 256 << 10), tokens + Int(Double(rate) * seconds))
    }

    /// Takes `bytes` if available.
    mutating func take(_ bytes: Int) -> Bool {
        guard tokens >= bytes else { return false }
        tokens -= bytes
        return true
    }
}

/// Caps the upload rate and shares it fairly: each round, the tokens are split evenly among the peers waiting for
/// blocks, starting from a different peer each round, so that one peer with a deep queue cannot take it all.
///
/// Pure: the caller passes the elapsed time between rounds.
struct UploadLimiter {
    private(set) var bucket: TokenBucket
    private var round: UInt64 = 0

    init(bytesPerSecond: Int) {
        bucket = TokenBucket(bytesPerSecond: bytesPerSecond)
    }

    /// Starts a round after `elapsed`: each waiting peer (any order) with the most bytes it may send in it.
    mutating func shares(waiting: [PeerKey], elapsed: TimeAmount) -> [(peer: PeerKey, bytes: Int)] {
        bucket.refill(seconds: Double(elapsed.nanoseconds) / 1e9)
        guard !waiting.isEmpty else { return [] }
        let ordered = waiting.sorted()
        let start = Int(round % UInt64(ordered.count))
        round &+= 1
        let share = max(PiecePicker.blockSize, bucket.tokens / ordered.count)
        return (ordered[start...] + ordered[..<start]).map { ($0, share) }
    }

    /// Takes `bytes` from the bucket if they are there.
    mutating func take(_ bytes: Int) -> Bool { bucket.take(bytes) }
}
