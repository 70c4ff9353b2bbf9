/// The simulated nodes' addresses: node i is host 10.x.y.z with x.y.z = i + 1, all on one port.
extension SwarmSimulator {
    static func host(_ node: Int) -> String {
        let value = node + 1
        return "10.\(value >> 16 & 255).\(value >> 8 & 255).\(value & 255)"
    }

    func target(_ node: Int) -> String { "\(Self.host(node)):\(Self.port)" }

    /// The node a `host:port` (or a bare host) names, if any.
    ///
    /// The dotted quad is read byte by byte (each node's redials and announce answers name a few a second: splitting
    /// strings was 4 % of a run); anything but four fields of one to three digits takes the general way.
    func node(forTarget target: String) -> Int? {
        var fields = (0, 0, 0, 0)
        var count = 0
        var value = 0
        var digits = 0
        for byte in target.utf8 {
            if byte >= 0x30, byte <= 0x39, digits < 3 {
                value = value * 10 + Int(byte - 0x30)
                digits += 1
                continue
            }
            guard byte == 0x2E || byte == 0x3A, digits > 0, count < 4 else { return node(splitting: target) }
            switch count {
            case 0: fields.0 = value
            case 1: fields.1 = value
            case 2: fields.2 = value
            default: fields.3 = value
            }
            count += 1
            (value, digits) = (0, 0)
            if byte == 0x3A { break }
            if count == 4 { return node(splitting: target) }
        }
        if count == 3, digits > 0 {
            (fields.3, count) = (value, 4)
        }
        guard count == 4 else { return node(splitting: target) }
        return node(fields.1 << 16 | fields.2 << 8 | fields.3)
    }

    private func node(splitting target: String) -> Int? {
        let parts = target.split(separator: ":")[0].split(separator: ".").compactMap { Int($0) }
        guard parts.count == 4 else { return nil }
        return node(parts[1] << 16 | parts[2] << 8 | parts[3])
    }

    private func node(_ address: Int) -> Int? {
        let node = address - 1
        return node >= 0 && node < nodes.count ? node : nil
    }
}
