import Foundation
import var LabSupport.builtBinaries
import Testing

@testable import Torrent

/// The built `reconcile image publish`, `reconcile seed` and `provision-agent fetch` commands, end to end.
@Suite(.serialized)
struct CommandLineEndToEndTests {
    @Test func publishSeedAndFetchWithTrackerAndWithPeer() async throws {
        let bin = try #require(builtBinaries, "build the executables first (swift build --build-tests)")
        let directory = try TemporaryDirectory()
        let image = directory.file("os.img")
        try writeRandomFile(image, size: 5_242_885, seed: 31)
        let trackerPort = freePort()
        let seedPort = freePort()
        let torrent = directory.file("os.torrent")
        let publish = try await runCommand(
            "\(bin)/reconcile",
            [
                "image", "publish", image, "--out-file", torrent, "--piece-size", "256K",
                "--tracker", "http://127.0.0.1:\(trackerPort)/announce",
            ]
        )
        #expect(publish.status == 0, "\(publish.output)")
        let metainfo = try Metainfo(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: torrent))))
        #expect(metainfo.pieceLength == 256 << 10)
        #expect(publish.output.contains(metainfo.infoHash.hex))

        let seed = try ChildProcess(
            "\(bin)/reconcile",
            [
                "seed", torrent, "--data", image, "--listen", "127.0.0.1:\(seedPort)",
                "--tracker-listen", "127.0.0.1:\(trackerPort)", "-o", "json",
            ],
            outputFile: directory.file("seed.log")
        )
        #expect(await waitForOutput(seed, "\"event\":\"seeding\""), "\(seed.log)")
        // `-o json`: the status line is one JSON object naming the torrent and the port.
        let seeding = try #require(seed.log.split(separator: "\n").first { $0.hasPrefix("{") })
        let status = try #require(try JSONSerialization.jsonObject(with: Data(seeding.utf8)) as? [String: Any])
        #expect(status["infoHash"] as? String == metainfo.infoHash.hex && status["port"] as? Int == seedPort)
        #expect(status["tracker"] as? String == "http://127.0.0.1:\(trackerPort)/announce")

        let viaTracker = directory.file("via-tracker.img")
        let fetch = try ChildProcess(
            "\(bin)/provision-agent",
            ["fetch", torrent, "--out-file", viaTracker, "--listen", "127.0.0.1:0", "--verbose"],
            outputFile: directory.file("fetch1.log")
        )
        #expect(await fetch.wait(timeout: 60) == 0, "\(fetch.log)")
        #expect(filesEqual(image, viaTracker))
        #expect(fetch.log.contains("100.0%"))
        // `--verbose` (the shared option group) lowers the log to debug: the tracker announces are logged.
        #expect(fetch.log.contains(" debug rackswarm.agent.fetch: announced"), "\(fetch.log)")

        let viaPeer = directory.file("via-peer.img")
        let direct = try ChildProcess(
            "\(bin)/provision-agent",
            [
                "fetch", torrent, "--out-file", viaPeer, "--listen", "127.0.0.1:0", "--tracker", "none",
                "--peer", "127.0.0.1:\(seedPort)",
            ],
            outputFile: directory.file("fetch2.log")
        )
        #expect(await direct.wait(timeout: 60) == 0, "\(direct.log)")
        #expect(filesEqual(image, viaPeer))
        #expect(!direct.log.contains(" debug "), "without --verbose the log starts at info")

        // On a terminal (a pty from script(1)) the progress is a bar redrawn in place.
        let viaTTY = directory.file("via-tty.img")
        let command =
            "\(bin)/provision-agent fetch \(torrent) --out-file \(viaTTY) --listen 127.0.0.1:0 "
            + "--tracker none --peer 127.0.0.1:\(seedPort)"
        let tty = try await runCommand("/usr/bin/script", ["-q", "-e", "-c", command, "/dev/null"])
        #expect(tty.status == 0, "\(tty.output)")
        #expect(tty.output.contains("\r[##############################] 100.0%"))
        #expect(filesEqual(image, viaTTY))
        // Its progress lines are JSON too, counting the bytes it uploaded.
        #expect(await waitForOutput(seed, "\"event\":\"progress\""), "\(seed.log)")
        let uploaded = seed.log.split(separator: "\n").filter { $0.hasPrefix("{") }.compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["uploadedBytes"] as? Int
        }
        #expect(uploaded.max() ?? 0 > 0, "\(seed.log)")
        kill(seed.pid, SIGTERM)
        #expect(await seed.wait(timeout: 10) == 0, "seed stops cleanly on SIGTERM: \(seed.log)")
    }

    /// `--rack` and `--rack-preference` reach the session's configuration (its start line names them), and without
    /// the flag the preference is off.
    @Test func fetchPassesTheRackFlagsToTheSession() async throws {
        let (bin, directory, _, torrent) = try await publishedSmallImage(seed: 37)
        for (flags, preference) in [(["--rack-preference"], "true"), ([], "false")] {
            // No tracker and no peer: the fetch waits, started, until it is stopped.
            let fetch = try ChildProcess(
                "\(bin)/provision-agent",
                [
                    "fetch", torrent, "--out-file", directory.file("out-\(preference).img"), "--listen", "127.0.0.1:0",
                    "--tracker", "none", "--rack", "r7",
                ] + flags,
                outputFile: directory.file("fetch-\(preference).log")
            )
            #expect(await waitForOutput(fetch, "torrent session started"), "\(fetch.log)")
            let started = fetch.log.split(separator: "\n").first { $0.contains("torrent session started") } ?? ""
            #expect(started.contains(" torrent.rack=r7 "), "\(started)")
            #expect(started.contains(" torrent.rack_preference=\(preference)"), "\(flags): \(started)")
            kill(fetch.pid, SIGTERM)
            #expect(await fetch.wait(timeout: 30) != nil, "the fetch stops on SIGTERM")
        }
    }

    /// `reconcile seed --super-seed-in-flight` reaches the seed's session (its start line names it); without the flag
    /// the engine's default holds; a count under 1, or one without super-seeding, is refused before anything starts.
    @Test func seedPassesItsOffersInFlightToTheSession() async throws {
        let (bin, directory, image, torrent) = try await publishedSmallImage(seed: 41)
        let engine = TorrentConfiguration().superSeedInFlight
        let cases = [(["--super-seed-in-flight", "24"], "24"), ([], "\(engine)"), (["--no-super-seed"], "-")]
        for (flags, inFlight) in cases {
            let seed = try ChildProcess(
                "\(bin)/reconcile", ["seed", torrent, "--data", image, "--listen", "127.0.0.1:0"] + flags,
                outputFile: directory.file("seed-\(inFlight).log"))
            #expect(await waitForOutput(seed, "torrent session started"), "\(seed.log)")
            let started = seed.log.split(separator: "\n").first { $0.contains("torrent session started") } ?? ""
            #expect(started.contains(" torrent.super_seed_in_flight=\(inFlight)"), "\(flags): \(started)")
            kill(seed.pid, SIGTERM)
            #expect(await seed.wait(timeout: 30) == 0, "the seed stops on SIGTERM: \(seed.log)")
        }
        // A count under 1, and one without super-seeding (where it would do nothing), are refused, not ignored. A
        // seed that starts anyway runs until stopped: the wait gives up, the case fails, and the process is killed
        // when released, instead of hanging the test.
        let refusals = [
            (["0"], "--super-seed-in-flight must be at least 1"), (["16", "--no-super-seed"], "needs super-seeding"),
            (["16", "--keep-in-rack"], "needs super-seeding"),
        ]
        for (flags, reason) in refusals {
            let seed = try ChildProcess(
                "\(bin)/reconcile",
                ["seed", torrent, "--data", image, "--listen", "127.0.0.1:0", "--super-seed-in-flight"] + flags,
                outputFile: directory.file("refused-\(flags.joined()).log"))
            let status = await seed.wait(timeout: 20)
            #expect(status.map { $0 != 0 } == true, "\(flags): \(seed.log)")
            #expect(seed.log.contains(reason), "\(flags): \(seed.log)")
        }
    }

    /// A 100 kB image and its torrent (no tracker), for tests that only start a session and read its start line.
    private func publishedSmallImage(seed: UInt64) async throws
        -> (bin: String, directory: TemporaryDirectory, image: String, torrent: String)
    {
        let bin = try #require(builtBinaries, "build the executables first (swift build --build-tests)")
        let directory = try TemporaryDirectory()
        let image = directory.file("os.img")
        try writeRandomFile(image, size: 100_000, seed: seed)
        let torrent = directory.file("os.torrent")
        let publish = try await runCommand("\(bin)/reconcile", ["image", "publish", image, "--out-file", torrent])
        #expect(publish.status == 0, "\(publish.output)")
        return (bin, directory, image, torrent)
    }

    @Test func fetchRejectsBadArguments() async throws {
        let bin = try #require(builtBinaries)
        let result = try await runCommand(
            "\(bin)/provision-agent", ["fetch", "x.torrent", "--out-file", "y", "--peer", "nope"])
        #expect(result.status != 0)
        #expect(result.output.contains("HOST:PORT"))
    }
}
