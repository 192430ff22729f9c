public import DroverCore
import DroverSystem
public import DroverWire

/// Why talking to the supervisor's control socket failed.
public enum ControlChannelError: Error, Sendable, Hashable, CustomStringConvertible {
  /// No supervisor listens at the socket (or it cannot be reached).
  case cannotConnect(path: String, reason: String)
  /// No reply within the timeout.
  case timedOut(Duration)
  /// The supervisor closed the connection before every reply came.
  case closed
  /// A read or write on the socket failed.
  case io(String)

  public var description: String {
    switch self {
    case .cannotConnect(let path, let reason):
      "cannot reach the supervisor at \(path) (is `drover serve` running?): \(reason)"
    case .timedOut(let d): "the supervisor did not answer within \(DurationText.format(d))"
    case .closed: "the supervisor closed the connection"
    case .io(let what): "control socket: \(what)"
    }
  }
}

/// A blocking connection to the control socket: request lines out, reply lines back, in
/// order (CONTRACT.md "Control socket"). Shared by the CLI and `DroverClient`, which runs it
/// on a thread of its own.
///
/// Not thread-safe: one caller at a time. Closed by `close()` or when released.
public final class ControlChannel {
  /// The connected socket (-1 once closed).
  public private(set) var fd: Int32
  private var pending: [UInt8] = []
  /// The socket's current SO_RCVTIMEO (a read after poll(2) never waits; the send timeout is
  /// what matters).
  private var receiveTimeout: Duration?
  /// One read buffer for the connection's life.
  private var buffer = [UInt8](repeating: 0, count: 65536)
  /// Bounds what spins before a wait cost when replies are slow or lines sparse (an event
  /// stream).
  private var spin = SpinGovernor()

  /// Connects, waiting at most `timeout` for a busy listener.
  public init(socketPath: String, timeout: Duration = .seconds(5)) throws(ControlChannelError) {
    do {
      fd = try UnixSocket.connect(path: socketPath, timeout: timeout)
    } catch {
      throw .cannotConnect(path: socketPath, reason: "\(error)")
    }
  }

  deinit { close() }

  /// Closes the connection; harmless when already closed.
  public func close() {
    guard fd >= 0 else { return }
    FD.close(fd)
    fd = -1
  }

  /// Sends every request at once (pipelined on one connection), then reads one reply per
  /// request, in order (a reply that is not JSON reads as `.null`).
  public func pipeline(_ requests: [ControlRequest], timeout: Duration = .seconds(30))
    throws(ControlChannelError) -> [JSONValue]
  {
    guard !requests.isEmpty else { return [] }
    var text = ""
    for r in requests { text += r.line + "\n" }
    do { try FD.writeAll(fd, text) } catch { throw .io("\(error)") }
    var replies: [JSONValue] = []
    replies.reserveCapacity(requests.count)
    while replies.count < requests.count {
      guard let line = try readLine(timeout: timeout) else { throw .closed }
      replies.append((try? JSONValue.parse(line)) ?? .null)
    }
    return replies
  }

  /// The next line the supervisor sends (without its newline), waiting at most `timeout`
  /// (nil: without limit); nil at end of stream.
  public func readLine(timeout: Duration?) throws(ControlChannelError) -> String? {
    while true {
      if let nl = pending.firstIndex(of: 0x0A) {
        let line = String(decoding: pending[..<nl], as: UTF8.self)
        pending.removeSubrange(...nl)
        return line
      }
      do {
        if receiveTimeout != timeout {
          try UnixSocket.setTimeouts(fd, receive: timeout, send: timeout ?? .seconds(30))
          receiveTimeout = timeout
        }
        // poll(2) first, not a blocking read alone: a reader asleep in read(2) is also woken
        // each time the supervisor reads our request (the socket's write space wakes every
        // sleeper on it), a wasted wake-up per call; poll waits for input only. And a short
        // spin before that sleep: most replies come within it (see `Spin`).
        let fd = self.fd
        let spun = try spin.spin { () throws(SystemError) in
          try FD.waitUntilReadable(fd, timeout: .zero)
        }
        guard try spun || FD.waitUntilReadable(fd, timeout: timeout),
          let n = try FD.read(fd, into: &buffer)
        else {
          throw ControlChannelError.timedOut(timeout ?? .zero)
        }
        if n == 0 { return nil }
        pending.append(contentsOf: buffer[0..<n])
      } catch let e as ControlChannelError {
        throw e
      } catch {
        throw .io("\(error)")
      }
    }
  }
}
