import NIOCore

/// One connected peer: its protocol state (`PeerState`) and its channel, owned by the session's event loop.
///
/// The parts keep their own books by `key` (requests, offers, blame); this holds the connection and what the
/// session needs to answer the peer's messages.
final class Peer: PeerState {
    let channel: any Channel
    var remoteID: [UInt8] = []
    /// Messages without data this second (keep-alives, state changes, unknown ones).
    var chatter = 0

    init(key: PeerKey, channel: any Channel, outgoing: Bool, address: String, host: String, pieceCount: Int,
         now: NIODeadline) {
        self.channel = channel
        super.init(key: key, outgoing: outgoing, address: address, host: host, pieceCount: pieceCount, now: now)
    }

    func popIncoming() -> BlockRequest? {
        guard incomingHead < incoming.count else { return nil }
        let next = incoming[incomingHead]
        incomingHead += 1
        if incomingHead > 256, incomingHead * 2 > incoming.count {
            incoming.removeFirst(incomingHead)
            incomingHead = 0
        }
        return next
    }

    func send(_ message: PeerMessage, flush: Bool = true) {
        var buffer = channel.allocator.buffer(capacity: 32)
        message.write(into: &buffer)
        channel.write(buffer, promise: nil)
        if flush { channel.flush() }
    }
}
