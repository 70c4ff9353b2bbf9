/// An element of a `MinHeap`: `before` orders the elements, the first one out first.
protocol HeapOrdered {
    static func before(_ left: Self, _ right: Self) -> Bool
}

/// A binary min-heap: the simulator's event queue and the fair-share solver's link shares.
struct MinHeap<Element: HeapOrdered> {
    private var items: [Element] = []

    var first: Element? { items.first }
    var count: Int { items.count }

    mutating func push(_ element: Element) {
        items.append(element)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Element.before(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        guard !items.isEmpty else { return first }
        items[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var best = parent
            if left < items.count, Element.before(items[left], items[best]) { best = left }
            if right < items.count, Element.before(items[right], items[best]) { best = right }
            guard best != parent else { break }
            items.swapAt(parent, best)
            parent = best
        }
        return first
    }
}
