import NIOCore
import Testing

@testable import Torrent

/// The announcer, the dial backoff and the web-seed fallback, each driven alone in virtual time.
struct AnnouncerTests {
    static let start = NIODeadline.uptimeNanoseconds(5_000_000_000)

    @Test func oneAnnounceAtATimeAndCompletedExactlyOnce() {
        var announcer = Announcer(complete: false)
        var sent: [Bool] = []
        sent.append(announcer.begin(.started))
        sent.append(announcer.begin(nil))  // one in flight
        sent.append(announcer.begin(.completed))  // deferred while another is in flight
        sent.append(announcer.finished(interval: 30, now: Self.start))  // the deferred completed goes out now
        sent.append(announcer.begin(.completed))
        sent.append(announcer.finished(interval: 30, now: Self.start))
        sent.append(announcer.begin(.completed))  // never twice
        #expect(sent == [true, false, false, true, true, false, false])
        #expect(!announcer.isDue(now: Self.start + .seconds(29)))
        #expect(announcer.isDue(now: Self.start + .seconds(30)))
        let stopping = announcer.begin(.stopped)
        #expect(stopping)
    }

    @Test func intervalsAreClampedAndFailuresRetried() {
        var announcer = Announcer(complete: true)
        let completed = announcer.begin(.completed)
        #expect(!completed, "a session complete at start never sends completed")
        _ = announcer.begin(nil)
        _ = announcer.finished(interval: 1, now: Self.start)
        #expect(announcer.nextAt == Self.start + .seconds(10))
        _ = announcer.begin(nil)
        _ = announcer.finished(interval: .max, now: Self.start)
        #expect(announcer.nextAt == Self.start + .seconds(Announcer.maximumInterval))
        _ = announcer.begin(nil)
        _ = announcer.finished(interval: nil, now: Self.start)
        #expect(announcer.nextAt == Self.start + .seconds(15))
    }
}

struct DialBackoffTests {
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func backoffDoublesWithJitterUpToTheCapAndResetsOnData() throws {
        var dialer = DialBackoff()
        var random = SwarmRandom(seed: 4)
        dialer.add("10.0.0.2:6881")
        #expect(dialer.due(now: Self.start) == ["10.0.0.2:6881"])
        var previous: Int64 = 0
        for attempt in 0..<10 {
            dialer.failed("10.0.0.2:6881", now: Self.start, using: &random)
            let wait = try #require(dialer.nextDial("10.0.0.2:6881")) - Self.start
            let base = min(30_000, previous * 2 + 250)
            #expect(wait >= .milliseconds(base) && wait <= .milliseconds(base + base / 5), "attempt \(attempt)")
            previous = base
        }
        #expect(dialer.due(now: Self.start + .seconds(1)).isEmpty)
        dialer.succeeded("10.0.0.2:6881")
        #expect(dialer.due(now: Self.start) == ["10.0.0.2:6881"])
        dialer.remove("10.0.0.2:6881")
        #expect(dialer.due(now: Self.start).isEmpty)
    }
}

struct WebSeedFallbackPartTests {
    @Test func twoFetchesAtATimeAndGivesUpAfterFiveFailures() {
        var fallback = WebSeedFallback(urls: ["http://10.0.0.1:8080/images/"], name: "os image.img")
        var random = SwarmRandom(seed: 6)
        let fetches = fallback.start(orphans: [3, 4, 5], using: &random)
        #expect(fetches.map(\.piece) == [3, 4])
        #expect(fetches[0].path == "/images/os%20image.img" && fetches[0].port == 8080)
        #expect(fallback.room == 0)
        fallback.finished(3, ok: true)
        #expect(fallback.room == 1)
        for _ in 0..<4 { fallback.finished(4, ok: false) }
        #expect(fallback.isActive)
        fallback.servedBadPiece()
        #expect(!fallback.isActive && fallback.room == 0)
    }

    @Test func aURLThatDoesNotParseStopsTheFallback() {
        var fallback = WebSeedFallback(urls: ["ftp://mirror/x.img"], name: "x.img")
        var random = SwarmRandom(seed: 6)
        let fetches = fallback.start(orphans: [0], using: &random)
        #expect(fetches.isEmpty)
        #expect(!fallback.isActive)
    }
}
