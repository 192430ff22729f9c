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
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
      if let nl = pending.firstIndex(of: 0x0A) {
        let line = String(decoding: pending[..<nl], as: UTF8.self)
        pending.removeSubrange(...nl)
        return line
      }
      do {
        if receiveTimeout != timeout {
          try UnixSocket.setTimeouts(fd, receive: timeout, send: .seconds(30))
          receiveTimeout = timeout
        }
        guard let n = try FD.read(fd, into: &buf) else {
          throw CLIError("the supervisor sent nothing for \(DurationText.format(timeout ?? .zero))")
        }
        if n == 0 { return nil }
        pending.append(contentsOf: buf[0..<n])
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
  /// request, in order.
  mutating func pipeline(_ requests: [ControlRequest], timeout: Duration = .seconds(30))
    throws(CLIError) -> [JSONValue]
  {
    guard !requests.isEmpty else { return [] }
    var text = ""
    for r in requests { text += r.line + "\n" }
    do { try FD.writeAll(fd, text) } catch { throw CLIError("control socket: \(error)") }
    var replies: [JSONValue] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while replies.count < requests.count {
      while let nl = pending.firstIndex(of: 0x0A), replies.count < requests.count {
        let line = String(decoding: pending[..<nl], as: UTF8.self)
        pending.removeSubrange(...nl)
        replies.append((try? JSONValue.parse(line)) ?? .null)
      }
      if replies.count == requests.count { break }
      do {
        if receiveTimeout != timeout {
          try UnixSocket.setTimeouts(fd, receive: timeout, send: timeout)
          receiveTimeout = timeout
        }
        guard let n = try FD.read(fd, into: &buf) else {
          throw CLIError("the supervisor did not answer within \(DurationText.format(timeout))")
        }
        if n == 0 { throw CLIError("the supervisor closed the connection") }
        pending.append(contentsOf: buf[0..<n])
      } catch let e as CLIError {
        throw e
      } catch {
        throw CLIError("control socket: \(error)")
      }
    }
    return replies
  }
}
