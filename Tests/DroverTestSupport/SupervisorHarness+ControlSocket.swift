import DroverSystem
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A blocking client connection to a control socket, for tests that speak the raw protocol
/// (pipelining, garbage). Writes never raise SIGPIPE; every read is bounded.
public final class ControlSocket {
  public let fd: Int32
  private var pending: [UInt8] = []

  public init(path: String) throws {
    do { fd = try UnixSocket.connect(path: path, timeout: .seconds(5)) } catch {
      throw HarnessError("cannot connect to \(path): \(error)")
    }
  }

  deinit { Glibc.close(fd) }

  /// Sends text.
  public func send(_ text: String) throws { try send(Array(text.utf8)) }

  /// Sends bytes, all of them, or throws (EPIPE when the supervisor hung up: no signal).
  public func send(_ bytes: [UInt8], timeout: Duration = .seconds(10)) throws {
    let deadline = ContinuousClock.now + timeout
    var off = 0
    while off < bytes.count {
      let n = bytes.withUnsafeBytes {
        Glibc.send(
          fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
      }
      if n > 0 {
        off += n
        continue
      }
      let e = errno
      if e == EINTR { continue }
      guard e == EAGAIN || e == EWOULDBLOCK else {
        throw HarnessError(
          "send failed after \(off) of \(bytes.count) bytes: \(String(cString: strerror(e)))")
      }
      guard ContinuousClock.now < deadline else {
        throw HarnessError("send blocked for \(timeout) after \(off) of \(bytes.count) bytes")
      }
      var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
      _ = poll(&p, 1, 50)
    }
  }

  /// The next line (without its newline); nil at end of file. Throws after `timeout`, or on a
  /// read error such as ECONNRESET.
  public func readLine(timeout: Duration = .seconds(10)) throws -> String? {
    let deadline = ContinuousClock.now + timeout
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
      if let nl = pending.firstIndex(of: 0x0A) {
        let line = String(decoding: pending[..<nl], as: UTF8.self)
        pending.removeSubrange(...nl)
        return line
      }
      let left = deadline - ContinuousClock.now
      guard left > .zero else { throw HarnessError("no reply line within \(timeout)") }
      var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      let ms = Int32(
        clamping: left.components.seconds * 1000 + left.components.attoseconds
          / 1_000_000_000_000_000 + 1)
      let r = poll(&p, 1, ms)
      if r < 0 && errno == EINTR { continue }
      if r <= 0 { continue }
      let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
      if n < 0 {
        let e = errno
        if e == EINTR || e == EAGAIN { continue }
        throw HarnessError("read failed: \(String(cString: strerror(e)))")
      }
      if n == 0 {
        if pending.isEmpty { return nil }
        let line = String(decoding: pending, as: UTF8.self)
        pending = []
        return line
      }
      pending.append(contentsOf: buf[0..<n])
    }
  }

  /// Half-closes the writing side (the supervisor sees end of file after the last line).
  public func shutdownWrite() { _ = shutdown(fd, Int32(SHUT_WR)) }
}
