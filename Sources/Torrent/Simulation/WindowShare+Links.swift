/// The flows on each link, as `WindowShare` reads them: every flow that pays a link's price (its data or its
/// acknowledgements cross it), those that load it (its data) first, and the links that it solves as one pair.
struct WindowLinks {
    /// Where each link's entries start in `entryFlow`; one more than links.
    private(set) var rowStart: [Int]
    /// How many of a link's entries load it (they come first).
    private(set) var loaders: [Int]
    /// Each entry's flow, and how often its paths cross the link (2 for a core crossed by data and acknowledgements).
    private(set) var entryFlow: [Int32]
    private(set) var entryCrossings: [Double]
    /// The link paired with this one (-1: none); see `init`.
    private(set) var partner: [Int]

    /// Pairs links 2k and 2k + 1 (in `SimulatedNetwork`, a node's up and down link, or a rack uplink's two
    /// directions) when both are loaded and the same flows pay both, once each: a node's uploads load its up link
    /// and acknowledge through its down link, its downloads the other way round. Such a pair's flows all see the
    /// sum of its two prices, so the pair is solved as one price (`WindowShare`); checked here, link by link, not
    /// assumed, so any other layout is solved link by link.
    init(_ data: FlowPaths, _ acks: FlowPaths, linkCount: Int) {
        let flowCount = data.count
        var entries = [Int](repeating: 0, count: linkCount)
        loaders = [Int](repeating: 0, count: linkCount)
        for flow in 0..<flowCount {
            let path = data.path(flow)
            for link in path {
                entries[Int(link)] += 1
                loaders[Int(link)] += 1
            }
            for link in acks.path(flow) where !path.contains(link) { entries[Int(link)] += 1 }
        }
        rowStart = [Int](repeating: 0, count: linkCount + 1)
        for link in 0..<linkCount { rowStart[link + 1] = rowStart[link] + entries[link] }
        var nextLoader = Array(rowStart.dropLast())
        var nextPayer = nextLoader
        for link in 0..<linkCount { nextPayer[link] += loaders[link] }
        entryFlow = [Int32](repeating: 0, count: rowStart[linkCount])
        entryCrossings = [Double](repeating: 0, count: rowStart[linkCount])
        for flow in 0..<flowCount {
            let path = data.path(flow)
            let ackPath = acks.path(flow)
            for link in path.map(Int.init) {
                entryFlow[nextLoader[link]] = Int32(flow)
                entryCrossings[nextLoader[link]] = 1 + Double(ackPath.count { Int($0) == link })
                nextLoader[link] += 1
            }
            for link in ackPath.map(Int.init) where !path.contains(Int32(link)) {
                entryFlow[nextPayer[link]] = Int32(flow)
                entryCrossings[nextPayer[link]] = 1
                nextPayer[link] += 1
            }
        }
        partner = [Int](repeating: -1, count: linkCount)
        var mark = [Int](repeating: -1, count: flowCount)
        for even in stride(from: 0, to: linkCount - 1, by: 2) where loaders[even] > 0 && loaders[even + 1] > 0 {
            guard entries[even] == entries[even + 1], onceEach(even), onceEach(even + 1) else { continue }
            for position in rowStart[even]..<rowStart[even + 1] { mark[Int(entryFlow[position])] = even }
            if (rowStart[even + 1]..<rowStart[even + 2]).allSatisfy({ mark[Int(entryFlow[$0])] == even }) {
                partner[even] = even + 1
                partner[even + 1] = even
            }
        }
    }

    private func onceEach(_ link: Int) -> Bool {
        entryCrossings[rowStart[link]..<rowStart[link + 1]].allSatisfy { $0 == 1 }
    }

    /// The flows that load `link`.
    func loading(_ link: Int) -> ArraySlice<Int32> { entryFlow[rowStart[link]..<rowStart[link] + loaders[link]] }

    /// The rate through `link` of the flows that load it, at these round trips.
    func load(_ link: Int, _ delay: [Double]) -> Double {
        var load = 0.0
        for position in rowStart[link]..<rowStart[link] + loaders[link] { load += 1 / delay[Int(entryFlow[position])] }
        return load
    }

    /// Adds `change` times its crossings of `link` to the round trip of every flow that pays its price.
    func shift(_ link: Int, by change: Double, _ delay: inout [Double]) {
        for position in rowStart[link]..<rowStart[link + 1] {
            delay[Int(entryFlow[position])] += entryCrossings[position] * change
        }
    }

    /// The price p of `link` at which the rates 1 / (m·p + r) of the flows loading it add up to `capacity`, r being
    /// the rest of a flow's round trip and m how often it crosses the link (for a pair, p is the pair's sum, which
    /// every flow crosses once); 0 when they stay below it at p = 0. Newton's method on a convex decreasing sum:
    /// from `current` if it is below the root, else from where one step from it lands, which is below.
    func price(_ link: Int, current: Double, capacity: Double, _ delay: [Double], _ rest: inout [Double]) -> Double {
        let first = rowStart[link]
        rest.removeAll(keepingCapacity: true)
        var alone = 0.0
        for position in first..<first + loaders[link] {
            let crossings = entryCrossings[position]
            let other = max(0, delay[Int(entryFlow[position])] - crossings * current)
            rest.append(other)
            if other <= 0 { alone += 1 / crossings }
        }
        // Where the flows with nothing else in their way alone fill the link: at or below the root.
        let lower = alone / capacity
        var p = max(lower, current)
        var fromBelow = p == lower
        for _ in 0..<100 {
            var sum = 0.0
            var slope = 0.0
            for (offset, other) in rest.enumerated() {
                let crossings = entryCrossings[first + offset]
                let d = crossings * p + other
                guard d > 0 else { continue }
                sum += 1 / d
                slope += crossings / (d * d)
            }
            let excess = sum - capacity
            if !fromBelow {
                // Above the root: the tangent's zero is below it (the sum is convex), and not below `lower`.
                fromBelow = true
                if excess < 0 {
                    p = slope > 0 ? max(lower, p + excess / slope) : lower
                    continue
                }
            }
            guard excess > 0, slope > 0 else { break }
            let step = excess / slope
            p += step
            if step <= p * 1e-15 { break }
        }
        return p
    }
}
