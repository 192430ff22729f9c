import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// A real HTTP/1.1 server on 127.0.0.1 (an ephemeral port) that records every request and
/// answers with scripted status codes: the webhook end of alert tests. An accept thread hands
/// each connection to a thread of its own, which serves keep-alive requests until the peer
/// closes. Bounded: it stops with `stop()` or when dropped, and serves only loopback.
public final class HTTPReceiver: Sendable {
  /// One request as received.
  public struct Request: Sendable {
    /// `POST`, …
    public var method: String
    /// The request target, e.g. `/hook`.
    public var path: String
    /// Header names lowercased.
    public var headers: [String: String]
    /// The body as text.
    public var body: String
    /// When it was received.
    public var at: ContinuousClock.Instant
  }

  /// The port it listens on, on 127.0.0.1.
  public let port: Int
  /// `http://127.0.0.1:PORT/hook`.
  public var url: String { "http://127.0.0.1:\(port)/hook" }
  private let received = Mutex<[Request]>([])
  /// Status codes for the next requests, in order; 200 once used up.
  private let script = Mutex<[Int]>([])
  /// While true, every request is answered 503 (a receiver that is down but reachable).
  private let refusing = Atomic<Bool>(false)
  private let stopped = Atomic<Bool>(false)

  /// Listens on 127.0.0.1 (an ephemeral port) and starts accepting.
  public init() throws {
    let (fd, port) = try LoopbackListener.open(backlog: 64)
    self.port = port
    let thread = Thread { [weak self] in
      defer { Glibc.close(fd) }
      while true {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&p, 1, 50) > 0
        guard let me = self, !me.stopped.load(ordering: .sequentiallyConsistent) else { return }
        guard ready else { continue }
        let c = accept(fd, nil, nil)
        guard c >= 0 else { continue }
        _ = fcntl(c, F_SETFD, FD_CLOEXEC)
        let conn = Thread { [weak me] in
          defer { Glibc.close(c) }
          me?.serve(c)
        }
        conn.start()
      }
    }
    thread.start()
  }

  deinit { stop() }

  /// Stops accepting (requests received so far stay readable; open connections end when
  /// their peer sends again or closes).
  public func stop() { stopped.store(true, ordering: .sequentiallyConsistent) }

  /// Answers the next requests with `codes`, in order (then 200 again).
  public func answer(_ codes: [Int]) { script.withLock { $0 += codes } }

  /// While `on`, every request is answered 503.
  public func refuse(_ on: Bool) { refusing.store(on, ordering: .sequentiallyConsistent) }

  /// Every request so far, in arrival order.
  public var requests: [Request] { received.withLock { $0 } }

  /// The bodies received so far, parsed as JSON objects.
  public var bodies: [[String: Any]] {
    requests.compactMap {
      (try? JSONSerialization.jsonObject(with: Data($0.body.utf8))) as? [String: Any]
    }
  }

  /// The hex HMAC-SHA256 of `text` keyed with `key`, by `openssl dgst`: a second
  /// implementation to check a signature against (nil when openssl cannot run).
  public static func hmacSHA256Hex(_ text: String, key: String) -> String? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    p.arguments = ["dgst", "-sha256", "-hmac", key, "-r"]
    let input = Pipe()
    let output = Pipe()
    p.standardInput = input
    p.standardOutput = output
    guard (try? p.run()) != nil else { return nil }
    input.fileHandleForWriting.write(Data(text.utf8))
    try? input.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self).split(separator: " ").first.map(String.init)
  }

  // MARK: A connection's thread

  private func serve(_ fd: Int32) {
    var buffer: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16384)
    while !stopped.load(ordering: .sequentiallyConsistent) {
      // A whole request: headers, then Content-Length bytes of body.
      guard let end = find(buffer, Array("\r\n\r\n".utf8)) else {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, 100) >= 0 else { return }
        if p.revents == 0 { continue }
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return }
        buffer += chunk[0..<n]
        continue
      }
      let head = String(decoding: buffer[0..<end], as: UTF8.self)
      var lines = head.components(separatedBy: "\r\n")
      let requestLine = lines.removeFirst().split(separator: " ")
      var headers: [String: String] = [:]
      for line in lines {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
          .trimmingCharacters(in: .whitespaces)
      }
      let length = Int(headers["content-length"] ?? "0") ?? 0
      while buffer.count < end + 4 + length {
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return }
        buffer += chunk[0..<n]
      }
      let body = String(decoding: buffer[(end + 4)..<(end + 4 + length)], as: UTF8.self)
      buffer.removeFirst(end + 4 + length)
      received.withLock {
        $0.append(
          Request(
            method: requestLine.first.map(String.init) ?? "",
            path: requestLine.count > 1 ? String(requestLine[1]) : "", headers: headers,
            body: body, at: .now))
      }
      var code = script.withLock { $0.isEmpty ? 200 : $0.removeFirst() }
      if refusing.load(ordering: .sequentiallyConsistent) { code = 503 }
      let reply = "HTTP/1.1 \(code) X\r\nContent-Length: 0\r\n\r\n"
      let sent = reply.utf8CString.withUnsafeBytes {
        send(fd, $0.baseAddress, reply.utf8.count, Int32(MSG_NOSIGNAL))
      }
      guard sent == reply.utf8.count else { return }
    }
  }

  private func find(_ haystack: [UInt8], _ needle: [UInt8]) -> Int? {
    guard haystack.count >= needle.count else { return nil }
    for i in 0...(haystack.count - needle.count)
    where haystack[i..<(i + needle.count)].elementsEqual(needle) {
      return i
    }
    return nil
  }
}
