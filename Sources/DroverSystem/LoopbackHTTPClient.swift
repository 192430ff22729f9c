import Glibc

/// A small blocking HTTP/1.1 client for 127.0.0.1, one keep-alive connection: what the
/// process-level tests and `drover bench` use against a real `drover serve` (no Foundation
/// networking, no event loop: a request is a `write` and `read`s). Understands
/// `Content-Length` and chunked replies; not a general client.
public final class LoopbackHTTPClient {
  /// One reply.
  public struct Reply: Sendable {
    public var status: Int
    /// Header names lowercased.
    public var headers: [String: String]
    public var body: [UInt8]
    public var text: String { String(decoding: body, as: UTF8.self) }
  }

  public let port: Int
  private var fd: Int32 = -1
  private var buffer: [UInt8] = []
  private var chunk = [UInt8](repeating: 0, count: 64 * 1024)
  /// Each read waits at most this long.
  public var timeout: Duration

  public init(port: Int, timeout: Duration = .seconds(30)) {
    self.port = port
    self.timeout = timeout
  }

  deinit { close() }

  /// Closes the connection (the next request opens another).
  public func close() {
    if fd >= 0 { FD.close(fd) }
    fd = -1
    buffer.removeAll()
  }

  private func connectIfNeeded() throws(SystemError) {
    guard fd < 0 else { return }
    let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard s >= 0 else { throw SystemError(call: "socket", code: errno) }
    var one: Int32 = 1
    setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    let rc = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        Glibc.connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard rc == 0 else {
      let e = errno
      FD.close(s)
      throw SystemError(call: "connect 127.0.0.1:\(port)", code: e)
    }
    fd = s
  }

  /// Sends one request and reads its reply. `headers` are added as given (`Content-Length`
  /// is added for a body). A connection the server closed is reopened once.
  public func request(
    _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []
  ) throws(SystemError) -> Reply {
    var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
    for (k, v) in headers { head += "\(k): \(v)\r\n" }
    if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
    head += "\r\n"
    let bytes = Array(head.utf8) + body
    for attempt in 0..<2 {
      try connectIfNeeded()
      do throws(SystemError) {
        try FD.writeAll(fd, bytes)
        return try readReply()
      } catch {
        close()
        if attempt == 1 { throw error }
      }
    }
    throw SystemError(call: "request", code: EIO)
  }

  /// A request with a string body.
  public func request(
    _ method: String, _ path: String, headers: [(String, String)] = [], body: String
  ) throws(SystemError) -> Reply {
    try request(method, path, headers: headers, body: Array(body.utf8))
  }

  private func fill() throws(SystemError) {
    guard try FD.waitUntilReadable(fd, timeout: timeout) else {
      throw SystemError(call: "read (timed out)", code: ETIMEDOUT)
    }
    guard let n = try FD.read(fd, into: &chunk), n > 0 else {
      throw SystemError(call: "read (closed)", code: ECONNRESET)
    }
    buffer += chunk[..<n]
  }

  private func line() throws(SystemError) -> String {
    while true {
      if let i = buffer.firstIndex(of: 0x0A) {
        let l = buffer[..<i]
        buffer.removeFirst(i + 1)
        return String(decoding: l.last == 0x0D ? l.dropLast() : l, as: UTF8.self)
      }
      try fill()
    }
  }

  private func take(_ n: Int) throws(SystemError) -> [UInt8] {
    while buffer.count < n { try fill() }
    let out = Array(buffer[..<n])
    buffer.removeFirst(n)
    return out
  }

  private func readReply() throws(SystemError) -> Reply {
    let statusLine = try line()
    let parts = statusLine.split(separator: " ")
    guard parts.count >= 2, let status = Int(parts[1]) else {
      throw SystemError(call: "bad status line \(statusLine)", code: EPROTO)
    }
    var headers: [String: String] = [:]
    while true {
      let l = try line()
      if l.isEmpty { break }
      guard let colon = l.firstIndex(of: ":") else { continue }
      let value = l[l.index(after: colon)...].drop { $0 == " " }
      headers[l[..<colon].lowercased()] = String(value)
    }
    var body: [UInt8] = []
    if let n = headers["content-length"].flatMap({ Int($0) }) {
      body = try take(n)
    } else if headers["transfer-encoding"]?.lowercased() == "chunked" {
      while true {
        let size = Int(try line().prefix { $0 != ";" }, radix: 16) ?? 0
        if size == 0 {
          _ = try line()
          break
        }
        body += try take(size)
        _ = try line()
      }
    }
    if headers["connection"]?.lowercased() == "close" { close() }
    return Reply(status: status, headers: headers, body: body)
  }
}
