/// The Newton step of `WindowShare`'s solve, for the directions along which its sweeps crawl.
extension WindowShare {
    /// One Newton step on the prices of the units still moving (`movers`: each a link, or a pair's first link),
    /// the others held: solves J·Δ = capacity − load for each unit's binding link (the one holding its price), J
    /// being how that link's load changes with each mover's price, and clamps the new prices at 0. Kept only if the
    /// binding links end nearer their capacities (summed squares of their relative excess); else the prices stay
    /// as the sweep left them.
    static func newtonStep(
        _ movers: [Int], _ links: WindowLinks, _ data: FlowPaths, _ acks: FlowPaths, _ capacities: [Double],
        _ prices: inout [Double]
    ) {
        let count = movers.count
        guard count > 0 else { return }
        var row = [Int](repeating: -1, count: capacities.count)
        var weight = [Double](repeating: 1, count: capacities.count)
        var binding = movers
        for (index, link) in movers.enumerated() {
            row[link] = index
            let other = links.partner[link]
            guard other >= 0 else { continue }
            row[other] = index
            // A flow crosses both links of a pair (data one way, acknowledgements the other) and pays their sum once.
            (weight[link], weight[other]) = (0.5, 0.5)
            if prices[other] > prices[link] { binding[index] = other }
        }
        var matrix = [Double](repeating: 0, count: count * count)
        var step = [Double](repeating: 0, count: count)
        var before = 0.0
        for (index, link) in binding.enumerated() {
            var load = 0.0
            for entry in links.loading(link) {
                let flow = Int(entry)
                let delay = pathDelay(flow, data, acks, prices)
                load += 1 / delay
                let slope = 1 / (delay * delay)
                for position in Int(data.starts[flow])..<Int(data.starts[flow + 1]) {
                    let crossed = Int(data.links[position])
                    if row[crossed] >= 0 { matrix[index * count + row[crossed]] -= slope * weight[crossed] }
                }
                for position in Int(acks.starts[flow])..<Int(acks.starts[flow + 1]) {
                    let crossed = Int(acks.links[position])
                    if row[crossed] >= 0 { matrix[index * count + row[crossed]] -= slope * weight[crossed] }
                }
            }
            step[index] = capacities[link] - load
            before += (step[index] / capacities[link]) * (step[index] / capacities[link])
        }
        guard solve(&matrix, &step, count) else { return }
        let kept = prices
        for (index, link) in binding.enumerated() {
            let other = links.partner[link]
            let sum = prices[link] + (other >= 0 ? prices[other] : 0)
            prices[link] = max(0, sum + step[index])
            if other >= 0 { prices[other] = 0 }
        }
        if !(excess(binding, links, data, acks, capacities, prices) < before) { prices = kept }
    }

    /// The summed squares of the links' loads over their capacities, less 1.
    private static func excess(
        _ binding: [Int], _ links: WindowLinks, _ data: FlowPaths, _ acks: FlowPaths, _ capacities: [Double],
        _ prices: [Double]
    ) -> Double {
        var sum = 0.0
        for link in binding {
            var load = 0.0
            for flow in links.loading(link) { load += 1 / pathDelay(Int(flow), data, acks, prices) }
            let relative = load / capacities[link] - 1
            sum += relative * relative
        }
        return sum
    }

    /// Gaussian elimination with partial pivoting, in place: `rhs` becomes the solution; false if singular.
    private static func solve(_ matrix: inout [Double], _ rhs: inout [Double], _ count: Int) -> Bool {
        for column in 0..<count {
            var pivot = column
            for candidate in column + 1..<count
            where abs(matrix[candidate * count + column]) > abs(matrix[pivot * count + column]) {
                pivot = candidate
            }
            guard abs(matrix[pivot * count + column]) > 0 else { return false }
            if pivot != column {
                for k in 0..<count { matrix.swapAt(pivot * count + k, column * count + k) }
                rhs.swapAt(pivot, column)
            }
            let diagonal = matrix[column * count + column]
            for other in column + 1..<count {
                let factor = matrix[other * count + column] / diagonal
                guard factor != 0 else { continue }
                for k in column..<count { matrix[other * count + k] -= factor * matrix[column * count + k] }
                rhs[other] -= factor * rhs[column]
            }
        }
        for column in stride(from: count - 1, through: 0, by: -1) {
            var value = rhs[column]
            for k in column + 1..<count { value -= matrix[column * count + k] * rhs[k] }
            rhs[column] = value / matrix[column * count + column]
        }
        return rhs.allSatisfy(\.isFinite)
    }
}
