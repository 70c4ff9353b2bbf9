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
/// Solved by Gauss-Seidel price iteration: sweeping the links in order, each takes the price at which its flows' rates,
/// with the other prices as they are, add up to its capacity (0 if they cannot fill it; `WindowLinks.price`), and the
/// flows' round trips follow at once. A node's up and down link (and a rack uplink's two directions) are paid by the
/// same flows, so only their sum matters to any flow: such a pair is solved as one price, the sum at which its fuller
/// link is full, held by that link (`WindowLinks.init`); link by link, the two would hand the sum back and forth in
/// small steps for thousands of sweeps. Sweeps converge slowly along directions in which two units trade a price (two
/// full links that the same flow crosses, each with few other flows), so from the third sweep on, when few units still
/// move, a Newton step on their prices follows (kept only if it brings their links nearer their capacities;
/// `newtonStep`). The sweeps stop when the rates are balanced (no link over its capacity by more than `tolerance`, none
/// with a price under it) or no price moves more than `tolerance` of its link's scale (flows / capacity). Deterministic
/// (a fixed order of operations).
///
/// Warm start: the simulator passes the prices of its last solve (`prices`), as most flows persist from one step to the
/// next; a link that no flow loads now has no price. The equilibrium's rates do not depend on where the sweeps start,
/// except where the model leaves them open: a flow alone on two full links of different nodes can hold its round trip
/// on either, and another flow whose acknowledgements cross one of them then gets a rate that depends on the split (see
/// `WindowShareTests`).
enum WindowShare {
    static let tolerance = 1e-9
    static let maxRounds = 5_000
    /// From this sweep on, a sweep that leaves at most `newtonLimit` units moving is followed by a Newton step on
    /// them (`newtonStep`).
    static let newtonAfter = 3
    static let newtonLimit = 100

    /// The rates from a cold start (`rates(_:acks:capacities:prices:)`).
    static func rates(_ data: FlowPaths, acks: FlowPaths, capacities: [Double]) -> (rates: [Double], rounds: Int) {
        var prices: [Double] = []
        return rates(data, acks: acks, capacities: capacities, prices: &prices)
    }

    /// The rates of flows whose data crosses `data`'s links and whose acknowledgements cross `acks`'s (only data
    /// loads a link; both pay its price), and how many sweeps it took (`maxRounds`: not settled). `prices`: each
    /// link's price to start from, replaced by the solution's; empty (or of another length) for a cold start, from
    /// the delays of one window per flow in each link's queue (flows / capacity, the link's scale).
    static func rates(
        _ data: FlowPaths, acks: FlowPaths, capacities: [Double], prices: inout [Double]
    ) -> (rates: [Double], rounds: Int) {
        let flowCount = data.count
        guard flowCount > 0 else { return ([], 0) }
        let linkCount = capacities.count
        let links = WindowLinks(data, acks, linkCount: linkCount)
        let scale = (0..<linkCount).map { Double(links.loaders[$0]) / capacities[$0] }
        if prices.count != linkCount { prices = scale }
        for link in 0..<linkCount where links.loaders[link] == 0 { prices[link] = 0 }
        // Each link solved on its own, or a pair's first link for both.
        let units = (0..<linkCount).filter {
            links.loaders[$0] > 0 && (links.partner[$0] < 0 || links.partner[$0] > $0)
        }
        var delay = [Double](repeating: 0, count: flowCount)
        var rest: [Double] = []
        var rounds = 0
        while rounds < maxRounds {
            rounds += 1
            // Fresh round trips each sweep: the sweep's own updates add and subtract.
            for flow in 0..<flowCount { delay[flow] = pathDelay(flow, data, acks, prices) }
            var moved = false
            var settled = true
            var movers: [Int] = []
            for link in units {
                let other = links.partner[link]
                let pair = other >= 0
                let current = pair ? prices[link] + prices[other] : prices[link]
                let use = pair
                    ? max(links.load(link, delay) / capacities[link], links.load(other, delay) / capacities[other])
                    : links.load(link, delay) / capacities[link]
                let unitScale = pair ? max(scale[link], scale[other]) : scale[link]
                if use <= 1 + tolerance && (use >= 1 - tolerance || current <= tolerance * unitScale) { continue }
                var solved = links.price(link, current: current, capacity: capacities[link], delay, &rest)
                if pair {
                    let second = links.price(other, current: current, capacity: capacities[other], delay, &rest)
                    (prices[link], prices[other]) = solved >= second ? (solved, 0) : (0, second)
                    solved = max(solved, second)
                } else {
                    prices[link] = solved
                }
                let change = solved - current
                guard change != 0 else { continue }
                moved = true
                links.shift(link, by: change, &delay)
                guard abs(change) > tolerance * unitScale else { continue }
                settled = false
                if solved > 0 { movers.append(link) }
            }
            if !moved || settled { break }
            if rounds >= newtonAfter && movers.count <= newtonLimit {
                newtonStep(movers, links, data, acks, capacities, &prices)
            }
        }
        return ((0..<flowCount).map { 1 / pathDelay($0, data, acks, prices) }, rounds)
    }

    /// A flow's round trip at `price`: the queueing delays of the links its data and its acknowledgements cross.
    static func pathDelay(_ flow: Int, _ data: FlowPaths, _ acks: FlowPaths, _ price: [Double]) -> Double {
        var sum = 0.0
        for position in Int(data.starts[flow])..<Int(data.starts[flow + 1]) { sum += price[Int(data.links[position])] }
        for position in Int(acks.starts[flow])..<Int(acks.starts[flow + 1]) { sum += price[Int(acks.links[position])] }
        return sum
    }
}
