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
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in
      raw.copyBytes(from: bytes)
      raw[bytes.count] = 0
    }
    let rc = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    guard rc == 0 else {
      Glibc.close(fd)
      throw HarnessError("bind \(path): \(String(cString: strerror(errno)))")
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
