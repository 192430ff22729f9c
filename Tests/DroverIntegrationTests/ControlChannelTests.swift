import DroverClient
import DroverCore
import DroverSystem
import DroverWire
import Foundation
import Testing

/// `ControlChannel` against a peer this test plays by hand on a real Unix socket: the reply
/// wait (poll(2), then read) times out on a silent peer, joins a reply sent in pieces, and
/// reports a hang-up.
@Suite("control channel")
struct ControlChannelTests {
  /// A listener in a fresh directory and the accepted end of one connection to it.
  static func connected() throws -> (DroverSystem.UnixListener, ControlChannel, Int32, String) {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "drover-chan.\(UUID().uuidString.prefix(8))"
    ).path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let listener = try UnixSocket.listen(path: dir + "/c.sock")
    let channel = try ControlChannel(socketPath: dir + "/c.sock")
    var peer: Int32?
    for _ in 0..<500 where peer == nil {
      peer = try UnixSocket.accept(listener.fd)
      if peer == nil { usleep(10_000) }
    }
    let fd = try #require(peer)
    return (listener, channel, fd, dir)
  }

  @Test func aSilentPeerTimesOutAndAReplyInPiecesIsOneLine() throws {
    let (listener, channel, peer, dir) = try Self.connected()
    defer {
      FD.close(peer)
      listener.close()
      try? FileManager.default.removeItem(atPath: dir)
    }
    #expect(throws: ControlChannelError.timedOut(.milliseconds(200))) {
      _ = try channel.readLine(timeout: .milliseconds(200))
    }
    try FD.writeAll(peer, #"{"ok": tr"#)
    let sender = Thread {
      usleep(100_000)
      try? FD.writeAll(peer, "ue}\n{\"ok\": false}\n")
    }
    sender.start()
    #expect(try channel.readLine(timeout: .seconds(30)) == #"{"ok": true}"#)
    #expect(try channel.readLine(timeout: .seconds(30)) == #"{"ok": false}"#)
    FD.close(peer)
    // Hung up: end of stream, and the next request fails at its write (no SIGPIPE).
    #expect(try channel.readLine(timeout: .seconds(30)) == nil)
    let error = #expect(throws: ControlChannelError.self) {
      _ = try channel.pipeline([.status], timeout: .seconds(30))
    }
    #expect(error.map { "\($0)".contains("Broken pipe") } == true, "\(String(describing: error))")
  }
}
