/// Rates of window-limited TCP flows at equilibrium, where queueing delay on the data's path and on its
/// acknowledgements' path sets each flow's rate (`--sharing window`; benchmarks/README.md, "What the lab's TCP does").
///
/// In the namespace lab (tbf queues of up to 50 ms, BBR whose minimum round trip is the veth's ~10 µs) every flow
/// is held by its congestion window, not its pacing: its rate is window / round trip, and the round trip is the sum
/// of the queueing delays of the saturated links it crosses, both the links its data crosses and the links its
/// acknowledgements cross (the receiver's up link, the sender's down link). With equal windows this is the
/// delay-price equilibrium of window-based TCP (proportional fairness, the link prices being queueing delays): a
/// flow's rate is 1 / (the sum of its prices); a link that is not full has no queue, so no price; a full one has
/// the price at which the rates through it add up to its capacity. The common window cancels out: no parameter.
/// Unlike max-min, a flow whose acknowledgements queue behind a receiver's full up link, or whose data crosses
/// two full links, gets less than a flow that meets one queue on the same bottleneck.
///
/// Solved by price iteration (Jacobi with exact link solves): each round takes every full link's price as the one
/// at which its flows' rates, with the other prices as they are, add up to its capacity (0 if they cannot fill it;
/// Newton's method on a convex decreasing sum, from below the root), and moves halfway there; until the rates are
/// balanced (no link over its capacity by more than `tolerance`, none with a price under it) or no price moves more
/// than `tolerance` of its link's scale (flows / capacity). Deterministic (a fixed order of operations).
enum WindowShare {
    static let tolerance = 1e-9
    static let maxRounds = 5_000

    /// The rates of flows whose data crosses `data`'s links and whose acknowledgements cross `acks`'s (only data
    /// loads a link; both pay its price), and how many rounds it took (`maxRounds`: not settled).
    static func rates(_ data: FlowPaths, acks: FlowPaths, capacities: [Double]) -> (rates: [Double], rounds: Int) {
        let flowCount = data.count
        guard flowCount > 0 else { return ([], 0) }
        let linkCount = capacities.count
        // The flows loading each link (compressed rows).
        var rowStart = [Int](repeating: 0, count: linkCount + 1)
        for link in data.links { rowStart[Int(link) + 1] += 1 }
        for link in 0..<linkCount { rowStart[link + 1] += rowStart[link] }
        var fill = rowStart
        var byLink = [Int32](repeating: 0, count: data.links.count)
        for flow in 0..<flowCount {
            for link in data.path(flow) {
                byLink[fill[Int(link)]] = Int32(flow)
                fill[Int(link)] += 1
            }
        }
        // Start from the delays of one window per flow in each link's queue (n / c): each link's scale.
        let scale = (0..<linkCount).map { Double(rowStart[$0 + 1] - rowStart[$0]) / capacities[$0] }
        var price = scale
        var delay = [Double](repeating: 0, count: flowCount)
        var next = price
        var rounds = 0
        while rounds < maxRounds {
            rounds += 1
            for flow in 0..<flowCount { delay[flow] = pathDelay(flow, data, acks, price) }
            // Settled when the rates are: every link at most full, and full where it has a price (several prices
            // can give the same rates, as for a flow alone on both its links, so the prices need not settle).
            var balanced = true
            for link in 0..<linkCount where rowStart[link + 1] > rowStart[link] {
                var load = 0.0
                for flow in byLink[rowStart[link]..<rowStart[link + 1]] { load += 1 / delay[Int(flow)] }
                let use = load / capacities[link]
                if use > 1 + tolerance || (use < 1 - tolerance && price[link] > tolerance * scale[link]) {
                    balanced = false
                    break
                }
            }
            if balanced { break }
            var settled = true
            for link in 0..<linkCount where rowStart[link + 1] > rowStart[link] {
                let flows = byLink[rowStart[link]..<rowStart[link + 1]]
                let solved = linkPrice(link, flows, data, acks, delay, price[link], capacities[link])
                next[link] = (price[link] + solved) / 2
                if abs(next[link] - price[link]) > tolerance * scale[link] { settled = false }
            }
            swap(&price, &next)
            if settled { break }
        }
        // The prices may have moved since `delay` was last filled (a round that settled them).
        return ((0..<flowCount).map { 1 / pathDelay($0, data, acks, price) }, rounds)
    }

    /// A flow's round trip at `price`: the queueing delays of the links its data and its acknowledgements cross.
    private static func pathDelay(_ flow: Int, _ data: FlowPaths, _ acks: FlowPaths, _ price: [Double]) -> Double {
        var sum = 0.0
        for link in data.path(flow) { sum += price[Int(link)] }
        for link in acks.path(flow) { sum += price[Int(link)] }
        return sum
    }

    /// The price p of `link` at which its flows' rates 1 / (m·p + r) add up to `capacity`, r being the rest of a
    /// flow's delay and m how often its paths cross the link; 0 when they stay below it at p = 0.
    private static func linkPrice(
        _ link: Int, _ flows: ArraySlice<Int32>, _ data: FlowPaths, _ acks: FlowPaths, _ delay: [Double],
        _ current: Double, _ capacity: Double
    ) -> Double {
        var crossings: [(m: Double, rest: Double)] = []
        crossings.reserveCapacity(flows.count)
        var alone = 0.0
        for flow in flows {
            var m = 0.0
            for crossed in data.path(Int(flow)) where Int(crossed) == link { m += 1 }
            for crossed in acks.path(Int(flow)) where Int(crossed) == link { m += 1 }
            let rest = max(0, delay[Int(flow)] - m * current)
            crossings.append((m, rest))
            if rest <= 0 { alone += 1 / m }
        }
        // Below the root: 0, or where the flows with nothing else in their way alone fill the link.
        var p = alone / capacity
        for _ in 0..<100 {
            var sum = 0.0
            var slope = 0.0
            for (m, rest) in crossings {
                let d = m * p + rest
                guard d > 0 else { continue }
                sum += 1 / d
                slope += m / (d * d)
            }
            let excess = sum - capacity
            guard excess > 0, slope > 0 else { break }
            let step = excess / slope
            p += step
            if step <= p * 1e-15 { break }
        }
        return p
    }
}
