import Foundation

/// Which actions the maintenance windows let start, from one moment on: pure, computed once per pass.
///
/// A rack's windows replace the site's for its nodes. At the moment the gate is made it knows, per rack, until
/// when the windows stay open (nil: closed) and when they open next, so a check while the executor runs is a
/// comparison, cheap at 100,000 nodes. A node is held whole: if any of its actions may not start, none does, so a
/// node is never left with its boot entry written and its power cycle waiting for next week.
public struct MaintenanceGate: Sendable {
    struct RackState: Sendable {
        var windows: MaintenanceWindows
        var openUntil: Date?
        var nextOpening: Date?
    }

    private let site: RackState
    private let racks: [String: RackState]

    public init(_ desired: DesiredState, at now: Date) {
        func state(_ windows: MaintenanceWindows) -> RackState {
            guard !windows.windows.isEmpty else { return RackState(windows: windows) }
            let until = windows.openUntil(now)
            return RackState(windows: windows, openUntil: until,
                             nextOpening: until == nil ? windows.nextOpening(after: now) : nil)
        }
        site = state(desired.site.windows)
        var racks: [String: RackState] = [:]
        for rack in desired.racks { if let windows = rack.windows { racks[rack.name] = state(windows) } }
        self.racks = racks
    }

    /// True when no window is set anywhere: nothing is ever held.
    public var isEmpty: Bool { site.windows.windows.isEmpty && racks.isEmpty }

    /// Nil when `action` may start at `date`; otherwise why not (`held until 2026-12-08T02:00Z`).
    public func hold(_ action: PlannedAction, at date: Date) -> String? {
        let state = racks[action.rack] ?? site
        guard state.windows.restricts(destructive: action.destructive) else { return nil }
        if let until = state.openUntil, date < until { return nil }
        // Closed when the gate was made, or closed since: the next opening is after `until`.
        let next = state.nextOpening ?? state.openUntil.flatMap { state.windows.nextOpening(after: $0) }
        return next.map { "held until " + Self.format($0) } ?? "held: no maintenance window opens within a year"
    }

    /// The next time a window opens for the site (or `rack`), nil when one is open now or none is set.
    public func nextOpening(rack: String? = nil) -> Date? {
        (rack.flatMap { racks[$0] } ?? site).nextOpening
    }

    /// Marks every action of a node held when any of its actions is, at `date`.
    public func marking(_ plan: Plan, at date: Date) -> Plan {
        guard !isEmpty else { return plan }
        var heldNodes: [String: String] = [:]
        for action in plan.actions where heldNodes[action.node] == nil {
            if let why = hold(action, at: date) { heldNodes[action.node] = why }
        }
        guard !heldNodes.isEmpty else { return plan }
        var marked = plan
        for index in marked.actions.indices {
            if let why = heldNodes[marked.actions[index].node] { marked.actions[index].held = why }
        }
        return marked
    }

    /// `2026-12-08T02:00Z`: UTC, to the minute.
    public static func format(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let p = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        func two(_ value: Int?) -> String { String(format: "%02d", value ?? 0) }
        return "\(p.year ?? 0)-\(two(p.month))-\(two(p.day))T\(two(p.hour)):\(two(p.minute))Z"
    }
}
