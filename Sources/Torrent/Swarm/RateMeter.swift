/// A transfer rate over a sliding window of one-second buckets.
struct RateMeter {
    private var buckets: [Int]
    private var current = 0
    private(set) var total: Int64 = 0

    init(seconds: Int = 5) {
        buckets = [Int](repeating: 0, count: seconds)
    }

    mutating func add(_ bytes: Int) {
        buckets[current] += bytes
        total += Int64(bytes)
    }

    /// Moves to the next second.
    mutating func tick() {
        current = (current + 1) % buckets.count
        buckets[current] = 0
    }

    /// Bytes per second over the completed buckets of the window.
    var rate: Double {
        let sum = buckets.enumerated().reduce(0) { $0 + ($1.offset == current ? 0 : $1.element) }
        return Double(sum) / Double(max(1, buckets.count - 1))
    }
}
