import DroverCore
import DroverSystem
import DroverWire

/// A blocking client of the control socket: one request line out, one reply line back.
struct ControlClient {
  let fd: Int32
  var pending: [UInt8] = []
  /// The socket's current SO_RCVTIMEO: a blocking read with a kernel timeout costs one
  /// syscall per reply instead of poll + read.
  var receiveTimeout: Duration?
  /// One read buffer for the connection's life.
  var buffer = [UInt8](repeating: 0, count: 65536)

  /// Connects, or fails with a line that says whether a supervisor is running at all.
  init(socketPath: String, timeout: Duration = .seconds(5)) throws(CLIError) {
    do {
      fd = try UnixSocket.connect(path: socketPath, timeout: timeout)
    } catch {
      throw CLIError(
        "cannot reach the supervisor at \(socketPath) (is `drover serve` running?): \(error)")
    }
  }

  /// Sends one request and waits for its reply (at most `timeout`).
  mutating func call(_ request: ControlRequest, timeout: Duration = .seconds(30)) throws(CLIError)
    -> JSONValue
  {
    let reply = try pipeline([request], timeout: timeout)[0]
    guard reply != .null else { throw CLIError("the supervisor sent a reply that is not JSON") }
    return reply
  }

  func close() { FD.close(fd) }

  /// The next line the supervisor sends (without its newline), waiting at most `timeout`
  /// (nil: without limit); nil at end of stream.
  mutating func readLine(timeout: Duration?) throws(CLIError) -> String? {
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
        guard let n = try FD.read(fd, into: &buffer) else {
          throw CLIError(
            "the supervisor did not answer within \(DurationText.format(timeout ?? .zero))")
        }
        if n == 0 { return nil }
        pending.append(contentsOf: buffer[0..<n])
      } catch let e as CLIError {
        throw e
      } catch {
        throw CLIError("control socket: \(error)")
      }
    }
  }
}

extension ControlClient {
  /// Sends every request at once (pipelined on one connection), then reads one reply per
  /// request, in order (a reply that is not JSON reads as `.null`).
  mutating func pipeline(_ requests: [ControlRequest], timeout: Duration = .seconds(30))
    throws(CLIError) -> [JSONValue]
  {
    guard !requests.isEmpty else { return [] }
    var text = ""
    for r in requests { text += r.line + "\n" }
    do { try FD.writeAll(fd, text) } catch { throw CLIError("control socket: \(error)") }
    var replies: [JSONValue] = []
    replies.reserveCapacity(requests.count)
    while replies.count < requests.count {
      guard let line = try readLine(timeout: timeout) else {
        throw CLIError("the supervisor closed the connection")
      }
      replies.append((try? JSONValue.parse(line)) ?? .null)
    }
    return replies
  }
}
