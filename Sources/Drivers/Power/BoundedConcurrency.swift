/// Runs `transform` over `items` with at most `limit` running at once; results keep the input order.
///
/// One reconciler drives many BMCs at once; the cap keeps sockets, memory and the BMC network in check.
/// With an `executor` (e.g. `PowerDriverResources.executor`), the work starts on it rather than hopping there.
public func boundedConcurrentMap<Item: Sendable, Result: Sendable>(
    _ items: [Item], limit: Int, executor: (any TaskExecutor)? = nil,
    _ transform: @escaping @Sendable (Item) async -> Result
) async -> [Result] {
    guard !items.isEmpty else { return [] }
    let limit = max(1, limit)
    return await withTaskGroup(of: (Int, Result).self) { group in
        var results = [Result?](repeating: nil, count: items.count)
        var next = 0
        while next < min(limit, items.count) {
            let index = next
            group.addTask(executorPreference: executor) { (index, await transform(items[index])) }
            next += 1
        }
        while let (index, result) = await group.next() {
            results[index] = result
            if next < items.count {
                let index = next
                group.addTask(executorPreference: executor) { (index, await transform(items[index])) }
                next += 1
            }
        }
        return results.compactMap { $0 }
    }
}
