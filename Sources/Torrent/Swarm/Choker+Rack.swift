/// Upload slots when the rack rule is on (issue 21, section 4; `SwarmDriver.rackPreferred`): rack peers first.
///
/// The regular slots go to rack peers first, by rate, except `crossRackSlots` of them, which the fastest peers
/// outside the rack keep while any is interested: pieces must still get into and out of the rack (another rack's
/// member imports its share from us). The optimistic slot and the slots of peers behind are as without racks. A
/// regular slot no interested rack peer wants goes to the next peer outside the rack by rate, so an upload never
/// idles while a peer could use it; between rounds, `fill` gives a freed slot to a waiting rack peer first. Without
/// the rule every candidate's `sameRack` is false and the order is the rate order, unchanged.
extension Choker {
    /// Regular slots kept for peers outside the rack while rack peers want them all.
    static let crossRackSlots = 1

    /// `byRate` (fastest first) with the rack's peers moved ahead of all but the first `crossRackSlots` of the
    /// others; the order within each class is kept.
    static func rackFirst(_ byRate: [Candidate]) -> [Candidate] {
        guard byRate.contains(where: \.sameRack) else { return byRate }
        let outside = byRate.filter { !$0.sameRack }
        return outside.prefix(crossRackSlots) + byRate.filter(\.sameRack) + outside.dropFirst(crossRackSlots)
    }
}
