import DroverCore
import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// A browser failure: chromium missing or dead, a DevTools command refused or unanswered, a
/// page condition that never came true. The text says which, with chromium's stderr tail
/// where it helps.
public struct BrowserError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// What one page (a DevTools session) reported by itself, outside any command's reply.
struct SessionLog: Sendable {
  /// `Page.loadEventFired` events so far: a navigation is done when this grows.
  var loads = 0
  /// Console errors, uncaught exceptions and browser log errors, in order.
  var problems: [String] = []
  /// Every `console.*` message, `TYPE: text`.
  var console: [String] = []
  /// Every JavaScript dialog that opened, `TYPE: message` (all are answered automatically).
  var dialogs: [String] = []
  /// Whether a `confirm` dialog is accepted (true) or dismissed.
  var acceptDialogs = true
}

/// The DevTools connection to one chromium: NUL-terminated JSON messages over a socket that
/// chromium sees as fds 3 (it reads) and 4 (it writes).
///
/// A socket rather than two pipes: `send(MSG_NOSIGNAL)` gets EPIPE instead of a SIGPIPE that
/// would kill the test process when chromium dies. A reader thread parses every message as it
/// arrives (so chromium never blocks on a full socket while a test is busy elsewhere): replies
/// are filed by id for the command that waits on them, events update the session's
/// `SessionLog`, and a JavaScript dialog is answered at once on that thread (a page blocked
/// in `alert()` would otherwise never answer another command).
final class ChromiumConnection: Sendable {
  private struct Inbox: Sendable {
    var replies: [Int64: JSONValue] = [:]
    var sessions: [String: SessionLog] = [:]
    /// Ids whose replies nobody waits for (the dialog answers).
    var ignored: Set<Int64> = []
    /// Set once chromium's end is gone (EOF or a read error), with the reason.
    var closed: String?
  }

  private let fd: Int32
  private let inbox = Mutex(Inbox())
  private let nextID = Atomic<Int64>(1)
  /// Serializes whole messages on the socket (the reader thread writes dialog answers).
  private let writing = Mutex(())

  /// Takes ownership of `fd` (our end of the socket) and starts the reader thread.
  init(fd: Int32) {
    self.fd = fd
    let thread = Thread { [self] in self.readLoop() }
    thread.name = "chromium-devtools-reader"
    thread.start()
  }

  deinit { Glibc.close(fd) }

  /// Why the connection is gone, or nil while it is up.
  var closedReason: String? { inbox.withLock { $0.closed } }

  /// Sends a command and returns its id (the reply is filed under it).
  func send(_ method: String, _ params: JSONValue, session: String?) throws -> Int64 {
    let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
    var fields: [JSONField] = [
      JSONField("id", .int(id)), JSONField("method", .string(method)),
      JSONField("params", params),
    ]
    if let session { fields.append(JSONField("sessionId", .string(session))) }
    try write(Array(JSONValue.object(fields).render().utf8) + [0])
    return id
  }

  /// The reply to command `id`, once it arrived; throws when chromium is gone or `timeout`
  /// passes first.
  func reply(_ id: Int64, method: String, timeout: Duration) throws -> JSONValue {
    let deadline = ContinuousClock.now + timeout
    var pause = Duration.microseconds(100)
    while true {
      let (reply, closed) = inbox.withLock { ($0.replies.removeValue(forKey: id), $0.closed) }
      if let reply { return reply }
      if let closed { throw BrowserError("chromium went away while running \(method): \(closed)") }
      if ContinuousClock.now >= deadline {
        throw BrowserError("chromium did not answer \(method) within \(timeout)")
      }
      SupervisorHarness.pause(pause)
      pause = min(pause * 2, .milliseconds(5))
    }
  }

  /// Reads or changes a session's log.
  func withSession<R>(_ session: String, _ body: (inout SessionLog) -> R) -> R {
    inbox.withLock { body(&$0.sessions[session, default: SessionLog()]) }
  }

  private func write(_ bytes: [UInt8]) throws {
    try writing.withLock { _ in
      var off = 0
      while off < bytes.count {
        let n = bytes.withUnsafeBytes {
          Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL))
        }
        if n > 0 {
          off += n
        } else if errno != EINTR {
          throw BrowserError(
            "cannot write to chromium: \(String(cString: strerror(errno)))"
              + (closedReason.map { " (\($0))" } ?? ""))
        }
      }
    }
  }

  // MARK: The reader thread

  private func readLoop() {
    var buffer: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 {
        let why = n == 0 ? "chromium closed its DevTools pipe" : String(cString: strerror(errno))
        inbox.withLock { $0.closed = why }
        return
      }
      // Only the new bytes can hold a terminator: scan those, not the whole buffer again.
      var start = 0
      for i in 0..<n where chunk[i] == 0 {
        buffer += chunk[start..<i]
        handle(buffer)
        buffer.removeAll(keepingCapacity: true)
        start = i + 1
      }
      buffer += chunk[start..<n]
    }
  }

  private func handle(_ bytes: [UInt8]) {
    guard let message = try? JSONValue.parse(String(decoding: bytes, as: UTF8.self)) else {
      let text = String(decoding: bytes.prefix(200), as: UTF8.self)
      inbox.withLock { $0.closed = "chromium sent a message that is not JSON: \(text)" }
      return
    }
    if let id = message["id"]?.intValue {
      inbox.withLock {
        if $0.ignored.remove(id) == nil { $0.replies[id] = message }
      }
      return
    }
    guard let method = message["method"]?.stringValue,
      let session = message["sessionId"]?.stringValue
    else { return }
    let params = message["params"] ?? .null
    switch method {
    case "Page.loadEventFired":
      withSession(session) { $0.loads += 1 }
    case "Page.javascriptDialogOpening":
      let type = params["type"]?.stringValue ?? "dialog"
      let accept = withSession(session) { log -> Bool in
        log.dialogs.append("\(type): \(params["message"]?.stringValue ?? "")")
        return log.acceptDialogs
      }
      if let id = try? send(
        "Page.handleJavaScriptDialog", ["accept": .bool(accept)], session: session)
      {
        _ = inbox.withLock { $0.ignored.insert(id) }
      }
    case "Runtime.consoleAPICalled":
      let type = params["type"]?.stringValue ?? "log"
      let text = (params["args"]?.arrayValue ?? []).map(Self.describe).joined(separator: " ")
      withSession(session) { log in
        log.console.append("\(type): \(text)")
        if type == "error" || type == "assert" { log.problems.append("console.\(type): \(text)") }
      }
    case "Runtime.exceptionThrown":
      let details = params["exceptionDetails"] ?? .null
      let text =
        details["exception"]?["description"]?.stringValue ?? details["text"]?.stringValue ?? "?"
      let at = details["url"]?.stringValue.map {
        " at \($0):\(details["lineNumber"]?.intValue ?? 0)"
      }
      withSession(session) { $0.problems.append("uncaught exception: \(text)\(at ?? "")") }
    case "Log.entryAdded":
      let entry = params["entry"] ?? .null
      guard entry["level"]?.stringValue == "error" else { return }
      let text = entry["text"]?.stringValue ?? "?"
      // The browser asks for /favicon.ico by itself, whatever the page says: not the page's.
      if entry["url"]?.stringValue?.hasSuffix("/favicon.ico") == true { return }
      let url = entry["url"]?.stringValue.map { " (\($0))" } ?? ""
      withSession(session) {
        $0.problems.append("\(entry["source"]?.stringValue ?? "log") error: \(text)\(url)")
      }
    default:
      break
    }
  }

  /// A console argument (a `Runtime.RemoteObject`) as text.
  private static func describe(_ object: JSONValue) -> String {
    if let s = object["value"]?.stringValue { return s }
    if let v = object["value"], !v.isNull { return v.render() }
    return object["description"]?.stringValue ?? object["type"]?.stringValue ?? "?"
  }
}
