/// The paths of a set of flows through numbered links, packed in two arrays (no array per flow).
struct FlowPaths {
    /// Every flow's links, one flow after another.
    private(set) var links: [Int32] = []
    /// Where each flow's links start in `links`; one more entry than flows.
    private(set) var starts: [Int32] = [0]

    var count: Int { starts.count - 1 }

    mutating func append(_ path: some Sequence<Int32>) {
        links.append(contentsOf: path)
        starts.append(Int32(links.count))
    }

    /// Adds a link to the flow being built; `endFlow` closes it.
    mutating func add(_ link: Int32) { links.append(link) }

    mutating func endFlow() { starts.append(Int32(links.count)) }

    mutating func removeAll() {
        links.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        starts.append(0)
    }

    func path(_ flow: Int) -> ArraySlice<Int32> { links[Int(starts[flow])..<Int(starts[flow + 1])] }
}

/// Max-min fair rates for flows sharing links: the simulator's model of competing TCP flows.
///
/// Progressive filling: the link whose capacity, split evenly among its flows not yet fixed, is smallest fixes
/// those flows at that share; their rate is taken off every other link they cross, and so on. No flow can then
/// get more without taking from a flow that has less. One flow alone on a link gets the whole capacity; n flows
/// with nothing else in their way get capacity / n each. O(links in all paths + links × log links): a link's heap
/// entry is refreshed lazily, when it comes to the top.
enum FairShare {
    static func rates(_ paths: FlowPaths, capacities: [Double]) -> [Double] {
        let flowCount = paths.count
        var rates = [Double](repeating: 0, count: flowCount)
        guard flowCount > 0 else { return rates }
        var remaining = capacities
        var unfixed = [Int32](repeating: 0, count: capacities.count)
        for link in paths.links { unfixed[Int(link)] += 1 }
        // Flows by link (compressed rows).
        var rowStart = [Int32](repeating: 0, count: capacities.count + 1)
        for link in 0..<capacities.count { rowStart[link + 1] = rowStart[link] + unfixed[link] }
        var fill = rowStart
        var byLink = [Int32](repeating: 0, count: paths.links.count)
        for flow in 0..<flowCount {
            for link in paths.path(flow) {
                byLink[Int(fill[Int(link)])] = Int32(flow)
                fill[Int(link)] += 1
            }
        }
        var fixed = [Bool](repeating: false, count: flowCount)
        var version = [Int32](repeating: 0, count: capacities.count)
        var heap = MinHeap<ShareEntry>()
        for link in 0..<capacities.count where unfixed[link] > 0 {
            heap.push(.init(share: remaining[link] / Double(unfixed[link]), link: Int32(link), version: 0))
        }
        while let top = heap.pop() {
            let link = Int(top.link)
            guard unfixed[link] > 0 else { continue }
            // Shares only grow as flows get fixed (a flow fixed elsewhere takes at most this link's share), so a
            // stale entry is low: refresh it when it reaches the top instead of pushing every change.
            guard top.version == version[link] else {
                heap.push(.init(share: remaining[link] / Double(unfixed[link]), link: top.link, version: version[link]))
                continue
            }
            let share = max(0, top.share)
            for position in Int(rowStart[link])..<Int(rowStart[link + 1]) {
                let flow = Int(byLink[position])
                guard !fixed[flow] else { continue }
                fixed[flow] = true
                rates[flow] = share
                for crossed in paths.path(flow) {
                    let other = Int(crossed)
                    remaining[other] -= share
                    unfixed[other] -= 1
                    version[other] &+= 1
                }
            }
        }
        return rates
    }
}

/// A link's share in the fair-share solver's heap (stale entries are skipped by version when popped).
struct ShareEntry: HeapOrdered {
    var share: Double
    var link: Int32
    var version: Int32

    static func before(_ left: ShareEntry, _ right: ShareEntry) -> Bool { left.share < right.share }
}
