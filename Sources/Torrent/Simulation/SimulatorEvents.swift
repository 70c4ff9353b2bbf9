/// What happens at a moment of virtual time.
enum SimulatorEvent {
    case message(SimulatedPeer, SimulatedMessage)
    case batch([SwarmSimulator.Envelope])
    case connect(from: Int, generation: Int, to: Int)
    case start(Int)
    case tick(node: Int, generation: Int)
    case redial(node: Int, generation: Int)
    case announced(node: Int, generation: Int, event: AnnounceRequest.Event?)
    case kill(Int, returns: Bool)
    case revive(Int)
}

/// Events by time, then by the order they were scheduled in (so messages on one connection stay in order).
struct EventQueue {
    struct Entry: HeapOrdered {
        var time: Double
        var sequence: UInt64
        var event: SimulatorEvent

        static func before(_ left: Entry, _ right: Entry) -> Bool {
            left.time < right.time || (left.time == right.time && left.sequence < right.sequence)
        }
    }

    private var heap = MinHeap<Entry>()
    private var sequence: UInt64 = 0

    var peekTime: Double? { heap.first?.time }
    var count: Int { heap.count }

    mutating func push(at time: Double, _ event: SimulatorEvent) {
        sequence += 1
        heap.push(Entry(time: time, sequence: sequence, event: event))
    }

    mutating func pop() -> Entry? { heap.pop() }
}
