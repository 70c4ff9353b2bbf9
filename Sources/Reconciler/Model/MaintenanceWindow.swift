import Foundation
import MemberwiseInit

/// When a site's (or a rack's) actions may start: weekly ranges or cron-like openings, each in its own time zone.
///
/// With no window nothing is held. With windows, destructive actions (reimages, power cycles of running nodes,
/// power-offs) start only while one is open; with `scope: all`, every action does.
@PublicMemberwiseInit
public struct MaintenanceWindows: Sendable, Hashable {
    /// Which actions the windows hold back.
    public enum Scope: String, Sendable, Hashable, Codable, CaseIterable {
        case destructive
        case all
    }

    public var windows: [MaintenanceWindow]
    public var scope: Scope = .destructive

    /// No window: nothing is held.
    public static let none = MaintenanceWindows(windows: [])

    /// True when the windows say something about an action of this kind.
    public func restricts(destructive: Bool) -> Bool { !windows.isEmpty && (destructive || scope == .all) }

    /// The end of the opening `date` falls in (the latest one when several are open), or nil when none is.
    public func openUntil(_ date: Date) -> Date? {
        windows.compactMap { $0.openUntil(date) }.max()
    }

    /// The next time a window opens after `date`; nil when none opens within a year.
    public func nextOpening(after date: Date) -> Date? {
        windows.compactMap { $0.nextOpening(after: date) }.min()
    }
}

/// One recurring opening in a time zone.
@PublicMemberwiseInit
public struct MaintenanceWindow: Sendable, Hashable {
    public enum Schedule: Sendable, Hashable {
        /// Days of the week (0 = Sunday … 6 = Saturday) and a local start and end in minutes after midnight; an end
        /// at or before the start is on the next day.
        case weekly(days: Set<Int>, start: Int, end: Int)
        /// Opens at every minute the expression matches, for `minutes`.
        case cron(CronExpression, minutes: Int)
    }

    public var schedule: Schedule
    public var timeZone: TimeZone
    public var location: SourceLocation

    private static let week = 7 * 1440

    /// The end of the opening `date` is in, or nil when the window is closed then.
    public func openUntil(_ date: Date) -> Date? {
        let minute = date.wholeMinute
        switch schedule {
        case .weekly(let days, let start, let end):
            let length = Self.length(start: start, end: end)
            let now = local(minute).minuteOfWeek
            let into = days.map { (now - ($0 * 1440 + start) + Self.week) % Self.week }.filter { $0 < length }
            guard let least = into.min() else { return nil }
            return minute.addingTimeInterval(Double(length - least) * 60)
        case .cron(let expression, let minutes):
            for back in 0..<minutes {
                let start = minute.addingTimeInterval(-Double(back) * 60)
                if expression.matches(local(start)) { return start.addingTimeInterval(Double(minutes) * 60) }
            }
            return nil
        }
    }

    /// The next start after `date` (strictly later), or nil when there is none within a year.
    public func nextOpening(after date: Date) -> Date? {
        let minute = date.wholeMinute
        switch schedule {
        case .weekly(let days, let start, _):
            let now = local(minute).minuteOfWeek
            let deltas = days.map { day -> Int in
                let delta = (day * 1440 + start - now + Self.week) % Self.week
                return delta == 0 ? Self.week : delta
            }
            guard let delta = deltas.min() else { return nil }
            let naive = minute.addingTimeInterval(Double(delta) * 60)
            // Across a daylight-saving change the local clock moved: keep the local start time.
            let shift = timeZone.secondsFromGMT(for: minute) - timeZone.secondsFromGMT(for: naive)
            return naive.addingTimeInterval(Double(shift))
        case .cron(let expression, _):
            var candidate = minute.addingTimeInterval(60)
            let limit = minute.addingTimeInterval(366 * 86_400)
            while candidate < limit {
                let parts = local(candidate)
                if !expression.matchesDay(parts) {
                    candidate = candidate.addingTimeInterval(Double(1440 - parts.hour * 60 - parts.minute) * 60)
                } else if !expression.hours.contains(parts.hour) {
                    candidate = candidate.addingTimeInterval(Double(60 - parts.minute) * 60)
                } else if expression.minutes.contains(parts.minute) {
                    return candidate
                } else {
                    candidate = candidate.addingTimeInterval(60)
                }
            }
            return nil
        }
    }

    private static func length(start: Int, end: Int) -> Int { end > start ? end - start : end + 1440 - start }

    private func local(_ date: Date) -> LocalTime {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.weekday, .hour, .minute, .day, .month], from: date)
        return LocalTime(weekday: (parts.weekday ?? 1) - 1, hour: parts.hour ?? 0, minute: parts.minute ?? 0,
                         day: parts.day ?? 1, month: parts.month ?? 1)
    }
}

/// A wall-clock time broken into the fields a schedule looks at.
public struct LocalTime: Sendable, Hashable {
    /// 0 = Sunday … 6 = Saturday.
    public var weekday: Int
    public var hour: Int
    public var minute: Int
    public var day: Int
    public var month: Int

    var minuteOfWeek: Int { weekday * 1440 + hour * 60 + minute }
}

/// A five-field cron expression (`minute hour day-of-month month day-of-week`): `*`, lists, ranges and steps.
public struct CronExpression: Sendable, Hashable {
    public var minutes: Set<Int>
    public var hours: Set<Int>
    public var days: Set<Int>
    public var months: Set<Int>
    public var weekdays: Set<Int>
    /// Whether the day-of-month and day-of-week fields were `*` (cron ORs them when both are restricted).
    var anyDay: Bool
    var anyWeekday: Bool

    /// Parses an expression; the error says which field is wrong and why.
    public init(parsing text: String) throws(CronError) {
        let fields = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count == 5 else {
            throw CronError("expected 5 fields (minute hour day-of-month month day-of-week), found \(fields.count)")
        }
        minutes = try Self.field(fields[0], "minute", 0...59)
        hours = try Self.field(fields[1], "hour", 0...23)
        days = try Self.field(fields[2], "day-of-month", 1...31)
        months = try Self.field(fields[3], "month", 1...12)
        // 7 is Sunday too.
        weekdays = Set(try Self.field(fields[4], "day-of-week", 0...7).map { $0 % 7 })
        anyDay = fields[2] == "*"
        anyWeekday = fields[4] == "*"
    }

    func matchesDay(_ time: LocalTime) -> Bool {
        guard months.contains(time.month) else { return false }
        let day = days.contains(time.day)
        let weekday = weekdays.contains(time.weekday)
        if anyDay || anyWeekday { return day && weekday }
        return day || weekday
    }

    func matches(_ time: LocalTime) -> Bool {
        matchesDay(time) && hours.contains(time.hour) && minutes.contains(time.minute)
    }

    private static func field(_ text: String, _ name: String, _ range: ClosedRange<Int>) throws(CronError) -> Set<Int> {
        var values: Set<Int> = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw CronError("bad \(name) field '\(text)'") }
            var step = 1
            if pieces.count == 2 {
                guard let value = Int(pieces[1]), value > 0 else { throw CronError("bad step in \(name) '\(text)'") }
                step = value
            }
            let span: ClosedRange<Int>
            if pieces[0] == "*" {
                span = range
            } else {
                let bounds = pieces[0].split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
                guard (1...2).contains(bounds.count), let low = bounds[0], let high = bounds.last ?? nil, low <= high,
                      range.contains(low), range.contains(high)
                else {
                    throw CronError("\(name) '\(part)' must be within \(range.lowerBound)-\(range.upperBound)")
                }
                span = low...(pieces.count == 2 && bounds.count == 1 ? range.upperBound : high)
            }
            values.formUnion(stride(from: span.lowerBound, through: span.upperBound, by: step))
        }
        return values
    }
}

/// A cron expression that does not parse.
public struct CronError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}

extension Date {
    /// This time with its seconds dropped.
    var wholeMinute: Date { Date(timeIntervalSince1970: (timeIntervalSince1970 / 60).rounded(.down) * 60) }
}
