import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// A stand-in for systemd's notification socket: a datagram socket in a folder, read by a
/// background thread so the sender never finds its queue full.
public final class NotifyListener: Sendable {
  /// One datagram and when it arrived.
  public struct Message: Sendable {
    public var text: String
    public var at: ContinuousClock.Instant
    /// Its `NAME=value` assignments.
    public var fields: [String: String] {
      var out: [String: String] = [:]
      for line in text.split(separator: "\n") {
        guard let eq = line.firstIndex(of: "=") else { continue }
        out[String(line[..<eq])] = String(line[line.index(after: eq)...])
      }
      return out
    }
  }

  public let path: String
  private let received = Mutex<[Message]>([])
  private let stopped = Atomic<Bool>(false)

  public init(path: String) throws {
    self.path = path
    let fd: Int32
    switch bindUnixSocket(path: path, type: Int32(SOCK_DGRAM.rawValue)) {
    case .success(let bound): fd = bound
    case .failure(let e): throw HarnessError("\(e)")
    }
    // The thread owns the descriptor and closes it when the listener is stopped or gone; it
    // holds the listener only weakly, so dropping the listener ends it.
    let thread = Thread { [weak self] in
      var buf = [UInt8](repeating: 0, count: 65536)
      defer { Glibc.close(fd) }
      while true {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&p, 1, 50) > 0
        guard let me = self, !me.stopped.load(ordering: .sequentiallyConsistent) else { return }
        guard ready else { continue }
        let n = buf.withUnsafeMutableBytes {
          recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
        }
        guard n > 0 else { continue }
        let m = Message(text: String(decoding: buf[0..<n], as: UTF8.self), at: .now)
        me.received.withLock { $0.append(m) }
      }
    }
    thread.start()
  }

  deinit { stop() }

  /// Stops listening (the messages received so far stay readable).
  public func stop() { stopped.store(true, ordering: .sequentiallyConsistent) }

  /// Every datagram so far, in arrival order.
  public var messages: [Message] { received.withLock { $0 } }
}
