import Foundation

/// A real `ipmi_sim` BMC (openipmi) on 127.0.0.1 in its own temp directory, with a chassis hook that records
/// every power and boot change to a file the test can read. Stopped and removed by `stop()` (call it in `defer`).
final class IPMISimulator: @unchecked Sendable {
    let port: Int
    let directory: URL
    let username: String
    let password: String
    private let process: Process

    /// Starts one simulated BMC and waits (without blocking a thread) until its UDP port is bound.
    static func start(username: String = "admin", password: String = "pass") async throws -> IPMISimulator {
        let sim = try IPMISimulator(username: username, password: password)
        let deadline = ContinuousClock.now.advanced(by: .seconds(10))
        while !udpPortIsBound(sim.port) {
            guard ContinuousClock.now < deadline, sim.process.isRunning else {
                sim.stop()
                throw SimulatorError(message: "ipmi_sim did not bind 127.0.0.1:\(sim.port)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return sim
    }

    private init(username: String, password: String, port: Int? = nil) throws {
        self.port = try port ?? freeUDPPort()
        self.username = username
        self.password = password
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("rackswarm-ipmisim-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("state"), withIntermediateDirectories: true)
        let hook = directory.appendingPathComponent("chassis.sh")
        try Self.hookScript.write(to: hook, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook.path)
        try "0\n".write(to: directory.appendingPathComponent("power"), atomically: true, encoding: .utf8)
        let lan = """
            name "bmc\(self.port)"
            set_working_mc 0x20
              chassis_control "\(hook.path)"
              startlan 1
                addr 127.0.0.1 \(self.port)
                priv_limit admin
                allowed_auths_callback none md2 md5 straight
                allowed_auths_user none md2 md5 straight
                allowed_auths_operator none md2 md5 straight
                allowed_auths_admin none md2 md5 straight
                guid a123456789abcdefa123456789abcdef
              endlan
              user 2 true "\(username)" "\(password)" admin 10 none md2 md5 straight
            """
        try lan.write(to: directory.appendingPathComponent("lan.conf"), atomically: true, encoding: .utf8)
        let emu = """
            mc_setbmc 0x20
            mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
            sel_enable 0x20 1000 0x0a
            mc_enable 0x20

            """
        try emu.write(to: directory.appendingPathComponent("bmc.emu"), atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ipmi_sim")
        process.arguments = [
            "-c", directory.appendingPathComponent("lan.conf").path, "-f",
            directory.appendingPathComponent("bmc.emu").path, "-s", directory.appendingPathComponent("state").path,
            "-n",
        ]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// Kills the simulator by PID (it ignores SIGTERM) and removes its directory.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// The `ipmi://` URL of this BMC.
    var url: String { "ipmi://127.0.0.1:\(port)" }

    /// The power state the hook holds ("0" or "1").
    var hookPower: String {
        (try? String(contentsOf: directory.appendingPathComponent("power"), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    /// Every `set` the hook received, one per line (`power 1`, `boot pxe`, ...).
    var hookLog: [String] {
        ((try? String(contentsOf: directory.appendingPathComponent("log"), encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    /// The hook: `get power|boot ...` prints `power:N`/`boot:X`; `set KEY VALUE ...` records; always exits 0.
    static let hookScript = """
        #!/bin/sh
        dir=$(dirname "$0")
        op=$1; shift
        if [ "$op" = get ]; then
            for what in "$@"; do
                case "$what" in
                    power) echo "power:$(cat "$dir/power" 2>/dev/null || echo 0)" ;;
                    boot) echo "boot:$(cat "$dir/boot" 2>/dev/null || echo default)" ;;
                esac
            done
        else
            while [ $# -ge 2 ]; do
                echo "$1 $2" >> "$dir/log"
                case "$1" in
                    power) echo "$2" > "$dir/power" ;;
                    boot) echo "$2" > "$dir/boot" ;;
                esac
                shift 2
            done
        fi
        exit 0

        """
}

struct SimulatorError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// A UDP port on 127.0.0.1 that nothing is bound to right now.
func freeUDPPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { throw SimulatorError(message: "socket failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
            bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
        }
    }
    guard bound else { throw SimulatorError(message: "bind failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// True when /proc/net/udp lists a socket bound to 127.0.0.1:port.
///
/// Read to EOF with a file handle: /proc files report size 0, and a size-based read stops at the first page.
func udpPortIsBound(_ port: Int) -> Bool {
    guard let handle = FileHandle(forReadingAtPath: "/proc/net/udp") else { return false }
    defer { try? handle.close() }
    let table = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
    let needle = String(format: "0100007F:%04X", port)
    return table.contains(needle)
}
