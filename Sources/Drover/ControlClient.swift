import DroverClient
import DroverCore
import DroverWire

/// The CLI's blocking client of the control socket: `ControlChannel` (shared with the Swift
/// `DroverClient`) with its errors as one-line `CLIError`s.
///
/// Its calls stay `mutating` (they were when the connection state lived here): callers hold
/// it in a `var`, and the channel's buffer is state a call does change.
struct ControlClient {
  let channel: ControlChannel

  /// Connects, or fails with a line that says whether a supervisor is running at all.
  init(socketPath: String, timeout: Duration = .seconds(5)) throws(CLIError) {
    do {
      channel = try ControlChannel(socketPath: socketPath, timeout: timeout)
    } catch {
      throw CLIError(error.description)
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

  func close() { channel.close() }

  /// The next line the supervisor sends (without its newline), waiting at most `timeout`
  /// (nil: without limit); nil at end of stream.
  mutating func readLine(timeout: Duration?) throws(CLIError) -> String? {
    do { return try channel.readLine(timeout: timeout) } catch { throw CLIError(error.description) }
  }

  /// Sends every request at once (pipelined on one connection), then reads one reply per
  /// request, in order (a reply that is not JSON reads as `.null`).
  mutating func pipeline(_ requests: [ControlRequest], timeout: Duration = .seconds(30))
    throws(CLIError) -> [JSONValue]
  {
    do { return try channel.pipeline(requests, timeout: timeout) } catch {
      throw CLIError(error.description)
    }
  }
}
