import DroverTestSupport
import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// A throwaway HTTP/1.1 server on 127.0.0.1 serving fixed pages, one request per connection:
/// what the browser harness's own test loads (the dashboard's tests use the real supervisor).
final class StaticSite: Sendable {
  struct Page: Sendable {
    var contentType = "text/html; charset=utf-8"
    var headers: [String] = []
    var body: String
  }

  let port: Int
  private let pages: [String: Page]
  private let stopped = Atomic<Bool>(false)
  /// Request lines received, `METHOD /path`.
  private let seen = Mutex<[String]>([])

  var base: String { "http://127.0.0.1:\(port)" }
  var requests: [String] { seen.withLock { $0 } }

  init(_ pages: [String: Page]) throws {
    self.pages = pages
    let (fd, port) = try LoopbackListener.open(backlog: 16)
    self.port = port
    Thread { [weak self] in
      defer { Glibc.close(fd) }
      while true {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&p, 1, 50) > 0
        guard let me = self, !me.stopped.load(ordering: .relaxed) else { return }
        guard ready else { continue }
        let c = accept(fd, nil, nil)
        guard c >= 0 else { continue }
        // A thread per connection: chromium preconnects sockets it may never send on.
        Thread { [weak me] in
          defer { Glibc.close(c) }
          me?.serve(c)
        }.start()
      }
    }.start()
  }

  deinit { stopped.store(true, ordering: .relaxed) }

  private func serve(_ fd: Int32) {
    var buffer: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 8192)
    while true {
      var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      guard poll(&p, 1, 5000) > 0 else { return }
      let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      guard n > 0 else { return }
      buffer += chunk[0..<n]
      if String(decoding: buffer, as: UTF8.self).contains("\r\n\r\n") { break }
    }
    let line = String(decoding: buffer, as: UTF8.self).prefix { $0 != "\r" }
    let parts = line.split(separator: " ")
    let path = parts.count > 1 ? String(parts[1]) : "/"
    seen.withLock { $0.append("\(parts.first ?? "?") \(path)") }
    let page = pages[String(path.prefix { $0 != "?" })]
    let body = Array((page?.body ?? "not found").utf8)
    let head =
      "HTTP/1.1 \(page == nil ? "404 Not Found" : "200 OK")\r\n"
      + "Content-Type: \(page?.contentType ?? "text/plain")\r\n"
      + (page?.headers ?? []).map { "\($0)\r\n" }.joined()
      + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
    let reply = Array(head.utf8) + body
    var off = 0
    while off < reply.count {
      let n = reply.withUnsafeBytes {
        send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL))
      }
      guard n > 0 else { return }
      off += n
    }
  }
}

/// A browser-test setup failure.
struct BrowserTestError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
